// Internal: framed messages over file descriptors (pipes, socketpairs, Unix
// sockets). Do not use directly.
//
// A frame is a 4-byte little-endian length followed by that many bytes. Reads
// and writes retry on EINTR and short transfers. A closed peer is reported as
// end of stream (read_frame returns false), never as a partial frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "racegate/internal/deadline.h"

namespace racegate::internal {

// Writes all of `data`; throws OSError (EPIPE included) on failure.
void write_all(int fd, std::string_view data);

// Writes one frame (length + bytes); throws OSError on failure, ValueError when
// the frame is larger than 2 GiB - 1.
void write_frame(int fd, std::string_view payload);

// Reads one frame into `out`. Returns false at end of stream before the
// frame's first byte; throws EofError when the stream ends inside a frame
// and OSError on failure.
bool read_frame(int fd, std::string& out);

// Waits until `fd` is readable (data or end of stream) or `deadline` passes.
bool wait_readable(int fd, const Deadline& deadline);

}  // namespace racegate::internal
