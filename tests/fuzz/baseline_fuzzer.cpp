// libFuzzer entry point for the gate's baseline file (reports/baseline.h).
//
// Any byte string is a baseline. parse_baseline either throws InputError
// ("FILE:LINE: ...") or returns entries whose baseline_text reads back to the
// same signatures. Seeds: tests/fuzz/seeds/baseline/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "racegate/reports/baseline.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rr = racegate::reports;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rr::Baseline b;
  try {
    b = rr::parse_baseline(text, "baseline.json");
  } catch (const rr::InputError& e) {
    if (std::string_view(e.what()).substr(0, 14) != "baseline.json:") std::abort();
    return 0;
  }
  rr::Baseline back = rr::parse_baseline(rr::baseline_text(b), "again.json");
  if (back.findings.size() != b.findings.size()) std::abort();
  for (const auto& k : b.findings) {
    if (!back.find(k.signature)) std::abort();
  }
  return 0;
}
