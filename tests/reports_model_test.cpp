// The report model survives a JSON round trip (results.jsonl -> Run).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/catalog.h"
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

// gate --explore: run.explore survives the round trip (racegate report
// re-renders from it) and summary.md shows it.
TEST(ReportModel, GateExploreRoundTripAndSummary) {
  rr::Run run;
  run.info.mode = "gate";
  run.info.explore_json = R"({"mode":"pct","depth":2,"steps":12,"runs":30,"failed_runs":3,)"
                          R"("outcomes":{"deadlock":3,"pass":27},"threads_max":3,"steps_max":12,)"
                          R"("miss_bound":0.43,"first_failing_token":"mode=pct,seed=4,depth=2,steps=12"})";
  run.units.resize(1);
  nlohmann::json j = run;
  ASSERT_TRUE(j["run"].contains("explore"));
  EXPECT_EQ(j["run"]["explore"]["failed_runs"], 3);
  auto back = j.get<rr::Run>();
  EXPECT_EQ(nlohmann::json::parse(back.info.explore_json), nlohmann::json::parse(run.info.explore_json));
  const std::string md = rr::make_reporter("md")->render(back, rr::ReportConfig{});
  EXPECT_NE(md.find("### Exploration"), std::string::npos) << md;
  EXPECT_NE(md.find("| pct | 2 | 12 | 3 | 30 | 3 | 0.43 |"), std::string::npos) << md;
  EXPECT_NE(md.find("3 deadlock, 27 pass"), std::string::npos) << md;
  EXPECT_NE(md.find("mode=pct,seed=4,depth=2,steps=12"), std::string::npos) << md;
  // A run without exploration has no explore object.
  run.info.explore_json.clear();
  EXPECT_FALSE(nlohmann::json(run)["run"].contains("explore"));
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

// The behavior catalog: ids, kind tags, seed documents of the first sentence
// only, continuation lines, sections; broken items named by line.
TEST(Catalog, ParsesItemsKindsAndSeeds) {
  const std::string text =
      "# Catalog\n\n## 1. Process (`process.*`)\n\n"
      "- **process.join.blocks_until_exit** [D], 001_41cd22346628bbc0.txt. `join()` blocks; see\n"
      "  also 002_b9c4f45d0419849c.txt on the next line.\n"
      "- **process.misuse_errors** [D]. *CPython:* a second `start()` raises.\n\n"
      "## 4. Unlocked counter (`counter.*`)\n\n"
      "- **counter.unlocked_race** [R], 004_7648374c0ccc69dc.txt, 002_b9c4f45d0419849c.txt. The race.\n"
      "- **semaphore.max_concurrency** [D for the bound, R for reaching it], 001_41cd22346628bbc0.txt,\n"
      "  000_78ac54c149ecb25e.txt. *CPython* peaks.\n"
      "- An ordinary list item is not an entry.\n";
  const rr::Catalog c = rr::parse_catalog(text, "cat.md");
  ASSERT_EQ(c.entries.size(), 4u);
  const auto* join = c.find("process.join.blocks_until_exit");
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->kind, "D");
  EXPECT_EQ(join->seed_documents, std::vector<std::string>{"001_41cd22346628bbc0.txt"});
  EXPECT_NE(join->text.find("on the next line"), std::string::npos);
  EXPECT_EQ(join->section, "1. Process (`process.*`)");
  EXPECT_EQ(join->line, 5);
  EXPECT_TRUE(c.find("process.misuse_errors")->seed_documents.empty());
  const auto* race = c.find("counter.unlocked_race");
  EXPECT_TRUE(race->racy());
  EXPECT_FALSE(race->deterministic());
  EXPECT_EQ(race->seed_documents,
            (std::vector<std::string>{"004_7648374c0ccc69dc.txt", "002_b9c4f45d0419849c.txt"}));
  const auto* sem = c.find("semaphore.max_concurrency");
  EXPECT_FALSE(sem->racy());
  EXPECT_FALSE(sem->deterministic());
  EXPECT_EQ(sem->seed_documents,
            (std::vector<std::string>{"001_41cd22346628bbc0.txt", "000_78ac54c149ecb25e.txt"}));
  EXPECT_EQ(c.find("nope"), nullptr);
}

TEST(Catalog, BrokenItemsAreNamedByLine) {
  try {
    rr::parse_catalog("## A\n- **a.b** [D]. x\n- **a.b** [T]. again\n", "cat.md");
    FAIL() << "a duplicate id was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cat.md:3: catalog id a.b is given twice");
  }
  try {
    rr::parse_catalog("## A\n\n- **a.c** no tag here.\n", "cat.md");
    FAIL() << "an item without a tag was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cat.md:3: catalog item a.c has no [kind] tag right after its id");
  }
  EXPECT_THROW(rr::load_catalog("/nonexistent/behavior-catalog.md"), std::runtime_error);
}

TEST(Catalog, CaseIdsNameImplementationsAndAreas) {
  EXPECT_EQ(rr::catalog_id_of("lock.release_unlocked@std.mutex"), "lock.release_unlocked");
  EXPECT_EQ(rr::implementation_of("lock.release_unlocked@std.mutex"), "std.mutex");
  EXPECT_EQ(rr::catalog_id_of("pipe.duplex_default"), "pipe.duplex_default");
  EXPECT_EQ(rr::implementation_of("pipe.duplex_default"), "reference");
  EXPECT_EQ(rr::area_of("tqueue.task_done_join"), "queues");
  EXPECT_EQ(rr::area_of("joinablequeue.task_done_join@x"), "queues");
  EXPECT_EQ(rr::area_of("threadpool.get_timeout_does_not_cancel"), "pool");
  EXPECT_EQ(rr::area_of("process.join.blocks_until_exit"), "process");
  EXPECT_EQ(rr::report_areas().front(), "process");
  EXPECT_EQ(rr::report_areas().size(), 16u);
}
