// libFuzzer entry point for the reader of results.jsonl and report.json
// (reports/results_file.h), used by `racegate report` and `racegate merge`.
//
// Any byte string is a file. parse_results_text either throws InputError
// (whose message starts with the file name and a line number) or returns a
// run that writes back as results.jsonl and reads again to the same units.
// Seeds: tests/fuzz/seeds/results/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "racegate/reports/results_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rr = racegate::reports;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  rr::Run run;
  try {
    run = rr::parse_results_text(text, "in.jsonl", warnings);
  } catch (const rr::InputError& e) {
    const std::string_view what = e.what();
    // "in.jsonl:LINE: ..." with LINE a positive number.
    if (what.substr(0, 9) != "in.jsonl:" || what.size() < 11 || what[9] < '1' || what[9] > '9') std::abort();
    return 0;
  }
  std::string again = rr::results_header_line(run.info);
  for (const auto& u : run.units) again += rr::results_unit_line(u);
  std::vector<std::string> none;
  rr::Run back = rr::parse_results_text(again, "again.jsonl", none);
  if (back.units.size() != run.units.size() || !none.empty()) std::abort();
  for (std::size_t i = 0; i < run.units.size(); ++i) {
    if (back.units[i].verdict != run.units[i].verdict || back.units[i].case_id.empty()) std::abort();
  }
  return 0;
}
