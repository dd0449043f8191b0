// racegate/reports/parse.h — sanitizer logs into Findings.
//
// The parsers take the text of a sanitizer log (a TSan/ASan/UBSan
// `log_path` file, or stderr with reports mixed into other output) and return
// every report found in it. They never throw on bad input and never lose
// text: a truncated, interleaved or garbled log yields the findings that can
// be read, each with its raw text, and text that belongs to no report is
// ignored. Both clang's (columns, BuildIds) and gcc's (library source frames)
// formats are accepted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "racegate/reports/finding.h"

namespace racegate::reports {

struct ParseOptions {
  // Frames whose file starts with one of these prefixes (or whose module is a
  // sanitizer runtime, libc or libstdc++) are not "user" frames: the
  // location and signature skip them.
  std::vector<std::string> system_prefixes = {"/usr/include/", "/usr/lib/", "/lib/",
                                              "/usr/src/", "/build/"};
};

// Every report in `log`, in order.
std::vector<Finding> parse_sanitizer_log(std::string_view log, const ParseOptions& options = {});

// Whether `frame` is user code (not a sanitizer interceptor, runtime,
// standard library or system header).
bool is_user_frame(const Frame& frame, const ParseOptions& options = {});

// Fills `finding.location` (innermost user frame of the first stack that has
// one) and `finding.signature`.
void finalize_finding(Finding& finding, const ParseOptions& options = {});

}  // namespace racegate::reports
