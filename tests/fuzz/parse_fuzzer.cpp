// libFuzzer entry point for the sanitizer log parsers (reports/parse.h).
//
// Any byte string is a log: parse_sanitizer_log must return (never crash,
// throw or hang) and every finding it returns must be well formed and
// survive finalize_finding again unchanged. Seed corpus: tests/fixtures/*.log.
// See docs/fuzzing.md for how to run it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "racegate/reports/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view log(reinterpret_cast<const char*>(data), size);
  auto findings = racegate::reports::parse_sanitizer_log(log);
  for (auto& f : findings) {
    std::string before = f.signature;
    racegate::reports::finalize_finding(f);
    // Invariants: a report has a tool and a kind, a 16-digit signature that
    // finalize reproduces, and raw text no larger than the log.
    if (f.tool.empty() || f.kind.empty() || f.signature.size() != 16 || f.signature != before ||
        f.raw.size() > size) {
      std::abort();
    }
  }
  return 0;
}
