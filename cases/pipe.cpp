// Catalog section 12: multiprocessing.Pipe, over the pipe adapter.
//
// The templates live in cases/primitives/queue_pipe.h; they run for the
// reference's mp::Pipe under the catalog ids. (boost::interprocess has no
// pipe: no end-of-stream, no per-process handle closing to compare.)
#include "cases/adapters/queue_pipe.h"
#include "cases/primitives/queue_pipe.h"

namespace {

using namespace racegate::cases::queues;
using racegate::cases::queue_adapters::RefPipe;

bool reg(std::string_view id, CaseSpec spec, void (*body)(CaseContext&)) {
  return register_queue_case<RefPipe>(id, std::move(spec), body);
}

[[maybe_unused]] const bool kRegistered =
    reg("pipe.duplex_default", duplex_default_spec(), &duplex_default<RefPipe>) &&
    reg("pipe.simplex_ends", simplex_ends_spec(), &simplex_ends<RefPipe>) &&
    reg("pipe.recv_blocks", recv_blocks_spec(), &recv_blocks<RefPipe>) &&
    reg("pipe.recv_eof_after_close", recv_eof_after_close_spec(), &recv_eof_after_close<RefPipe>) &&
    reg("pipe.blog_example_never_eofs", blog_example_never_eofs_spec(), &blog_example_never_eofs<RefPipe>) &&
    reg("pipe.closed_handle", closed_handle_spec(), &closed_handle<RefPipe>);

}  // namespace
