// libFuzzer entry point for the result-pipe message: what a case binary
// writes on --result-fd, judged by the runner's verdict engine (judge()).
//
// Any byte string is a message. judge() must return (never throw, crash or
// hang); a message that is not a JSON object with "status" never gives PASS;
// and the unit's results.jsonl line is valid JSON that reads back.
// Seeds: tests/fuzz/seeds/result/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/src/runner/runner.h"
#include "racegate/reports/results_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rr = racegate::reports;
  racegate::runner::Unit unit;
  unit.c.id = "fuzz.case";
  unit.c.expectation = "holds";
  unit.c.variant = "plain";
  unit.timeout_seconds = 1;
  racegate::runner::Observation obs;
  obs.result_text.assign(reinterpret_cast<const char*>(data), size);
  obs.exit_code = 0;
  rr::UnitResult u;
  u.case_id = unit.c.id;
  u.variant = unit.c.variant;
  racegate::runner::judge(unit, obs, u);

  auto parsed = nlohmann::json::parse(obs.result_text, nullptr, false);
  const bool well_formed = !parsed.is_discarded() && parsed.is_object() && parsed.contains("status");
  if (!well_formed && u.verdict == rr::Verdict::kPass) std::abort();

  std::string text = rr::results_header_line(rr::RunInfo{}) + rr::results_unit_line(u);
  std::vector<std::string> warnings;
  rr::Run back = rr::parse_results_text(text, "fuzz", warnings);  // throws (and so fails) if invalid
  if (back.units.size() != 1 || back.units[0].verdict != u.verdict || !warnings.empty()) std::abort();
  return 0;
}
