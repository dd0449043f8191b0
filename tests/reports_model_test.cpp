// The report model survives a JSON round trip (results.jsonl -> Run).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/reporter.h"
#include "racegate/reports/run.h"

namespace rr = racegate::reports;

TEST(ReportModel, UnitResultRoundTrip) {
  rr::UnitResult u;
  u.case_id = "counter.unlocked_race";
  u.variant = "tsan";
  u.seed = 18446744073709551615ull;
  u.verdict = rr::Verdict::kMissed;
  u.exit_code = 66;
  u.outcomes = {{"final=0", "acceptable", 3}, {"final!=0", "interesting", 7}};
  rr::Finding f;
  f.tool = "tsan";
  f.kind = "data-race";
  f.stacks = {{"access", "Write of size 4", {{0, "main", "a.cpp", 3, 7, "bin", 0x1234}}}};
  u.findings = {f};
  nlohmann::json j = u;
  auto back = j.get<rr::UnitResult>();
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_EQ(back.verdict, rr::Verdict::kMissed);
  EXPECT_EQ(back.seed, u.seed);
  EXPECT_FALSE(back.signal.has_value());
  EXPECT_EQ(back.findings.at(0).stacks.at(0).frames.at(0).module_offset, 0x1234u);
}

TEST(ReportModel, WorstVerdict) {
  rr::Run run;
  EXPECT_EQ(run.worst(), rr::Verdict::kPass);
  run.units.resize(2);
  run.units[0].verdict = rr::Verdict::kPass;
  run.units[1].verdict = rr::Verdict::kTimeout;
  EXPECT_EQ(run.worst(), rr::Verdict::kTimeout);
  EXPECT_STREQ(rr::verdict_name(rr::Verdict::kRace), "RACE");
  EXPECT_EQ(rr::parse_verdict("CRASH"), rr::Verdict::kCrash);
  EXPECT_FALSE(rr::parse_verdict("nope").has_value());
}

TEST(ReportModel, AtomicWriteReplacesWholeFile) {
  auto dir = std::filesystem::temp_directory_path() / ("racegate-model-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "report.json";
  rr::write_file_atomically(path, "first version, longer than the second");
  rr::write_file_atomically(path, "second");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "second");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporary left
  EXPECT_THROW(rr::write_file_atomically(dir / "missing" / "x.json", "x"), std::runtime_error);
  std::filesystem::remove_all(dir);
}
