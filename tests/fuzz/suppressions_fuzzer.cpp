// libFuzzer entry point for the TSan suppressions file and the ignore list
// (reports/baseline.h), and for the matching of the rules read.
//
// Any byte string is such a file. Each parser either throws InputError
// ("FILE:LINE: ...", LINE within the file) or returns rules with a type, a
// pattern and their line; matching every rule against a finding returns.
// Seeds: tests/fuzz/seeds/suppressions/.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "racegate/reports/baseline.h"

namespace {

// The line number after "NAME:" in a message, or 0.
int line_in(std::string_view what, std::string_view name) {
  if (what.substr(0, name.size()) != name || what.size() <= name.size() || what[name.size()] != ':') return 0;
  int n = 0;
  for (std::size_t i = name.size() + 1; i < what.size() && what[i] >= '0' && what[i] <= '9' && n < 1000000; ++i) {
    n = n * 10 + (what[i] - '0');
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rr = racegate::reports;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  try {
    auto rules = rr::parse_tsan_suppressions(text, "supp.txt");
    rr::Finding f;
    f.tool = "tsan";
    f.kind = "data-race";
    rr::Stack s;
    rr::Frame fr;
    fr.function = std::string(text.substr(0, 64));
    fr.file = "/src/a.cpp";
    fr.module = "app";
    s.frames = {fr, fr};
    f.stacks = {s};
    for (const auto& r : rules) {
      if (r.type.empty() || r.pattern.empty() || r.line < 1 || r.line > lines) std::abort();
      for (const char* kind : {"data-race", "thread-leak", "lock-order-inversion", "double-lock"}) {
        f.kind = kind;
        (void)rr::suppression_matches(r, f);
      }
    }
  } catch (const rr::InputError& e) {
    int n = line_in(e.what(), "supp.txt");
    if (n < 1 || n > lines) std::abort();
  }
  try {
    for (const auto& e : rr::parse_ignore_list(text, "ignore.txt")) {
      if (e.signature.empty() || e.reason.empty() || e.line < 1 || e.line > lines) std::abort();
    }
  } catch (const rr::InputError& e) {
    int n = line_in(e.what(), "ignore.txt");
    if (n < 1 || n > lines) std::abort();
  }
  return 0;
}
