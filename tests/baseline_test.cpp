// The files `racegate gate` judges findings by: baseline, ignore list and
// TSan suppressions (reports/include/racegate/reports/baseline.h).
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "racegate/reports/baseline.h"

namespace rr = racegate::reports;
namespace fs = std::filesystem;

namespace {

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "racegate-baseline-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const rr::InputError& e) {
    return e.what();
  }
  return "";
}

rr::Finding race(const std::string& function, const std::string& file, const std::string& module) {
  rr::Finding f;
  f.tool = "tsan";
  f.kind = "data-race";
  f.stacks = {{"access", "Write", {{0, function, file, 9, 0, module, 0}, {1, "main", "main.cpp", 3, 0, module, 0}}}};
  return f;
}

}  // namespace

TEST_F(Files, BaselineRoundTripIsSortedAndStable) {
  rr::Baseline b;
  b.findings.push_back({"ff01", "tsan", "data-race", {"src/b.cpp", 4, 0, "g"}, "2026-12-06T00:00:00Z", "second"});
  b.findings.push_back({"0a02", "asan", "heap-use-after-free", {"src/a.cpp", 7, 2, "f"}, "2026-12-05T00:00:00Z", "first"});
  auto p = write("baseline.json", rr::baseline_text(b));
  auto back = rr::load_baseline(p);
  ASSERT_EQ(back.findings.size(), 2u);
  EXPECT_EQ(back.findings[0].signature, "0a02");  // sorted by signature
  EXPECT_EQ(back.findings[0].location.line, 7);
  EXPECT_EQ(back.findings[1].reason, "second");
  ASSERT_NE(back.find("ff01"), nullptr);
  EXPECT_EQ(back.find("ffff"), nullptr);
  EXPECT_EQ(rr::baseline_text(back), rr::baseline_text(b));
}

TEST_F(Files, BadBaselinesNameTheFileAndLine) {
  EXPECT_NE(error_of([&] { rr::load_baseline(dir_ / "missing.json"); }).find("no such baseline file"),
            std::string::npos);
  auto not_json = write("a.json", "{\"schema\": \"racegate-baseline/1\",\n\"findings\": [,]}");
  EXPECT_NE(error_of([&] { rr::load_baseline(not_json); }).find("a.json:2: not valid JSON"), std::string::npos);
  auto wrong_schema = write("b.json", "{\"schema\": \"other\", \"findings\": []}");
  EXPECT_NE(error_of([&] { rr::load_baseline(wrong_schema); }).find("not a racegate baseline"), std::string::npos);
  auto twice = write("c.json",
                     "{\"schema\": \"racegate-baseline/1\", \"findings\": [\n{\"signature\": \"ab\"},\n"
                     "{\"signature\": \"ab\"}]}");
  EXPECT_NE(error_of([&] { rr::load_baseline(twice); }).find("c.json:3: finding 2: signature ab is listed twice"),
            std::string::npos);
  auto not_hex = write("d.json", "{\"schema\": \"racegate-baseline/1\", \"findings\": [{\"signature\": \"xyz\"}]}");
  EXPECT_NE(error_of([&] { rr::load_baseline(not_hex); }).find("not a hex string"), std::string::npos);
}

TEST_F(Files, IgnoreListNeedsAReasonPerEntry) {
  auto ok = write("ignore.txt", "# comment\n\nab12   a known race, #4\n");
  auto entries = rr::load_ignore_list(ok);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].signature, "ab12");
  EXPECT_EQ(entries[0].reason, "a known race, #4");
  EXPECT_EQ(entries[0].line, 3);
  auto bad = write("bad.txt", "ab12 fine\ncd34\n");
  EXPECT_NE(error_of([&] { rr::load_ignore_list(bad); }).find("bad.txt:2: signature cd34 has no reason"),
            std::string::npos);
}

TEST_F(Files, SuppressionsFileIsChecked) {
  auto ok = write("tsan.supp", "# c\nrace:Cache::put\ncalled_from_lib:libfoo.so\n");
  auto rules = rr::load_tsan_suppressions(ok);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[1].type, "called_from_lib");
  EXPECT_EQ(rules[1].line, 3);
  auto typo = write("t.supp", "race:x\nrcae:y\n");
  EXPECT_NE(error_of([&] { rr::load_tsan_suppressions(typo); }).find("t.supp:2: unknown suppression type 'rcae'"),
            std::string::npos);
  auto no_colon = write("u.supp", "race\n");
  EXPECT_NE(error_of([&] { rr::load_tsan_suppressions(no_colon); }).find("u.supp:1:"), std::string::npos);
}

TEST(Suppressions, MatchAsTSanDoes) {
  const auto f = race("Cache::put(int)", "/src/cache.cpp", "/usr/lib/libapp.so");
  auto rule = [](std::string type, std::string pattern) { return rr::SuppressionRule{type, pattern, 1}; };
  EXPECT_TRUE(rr::suppression_matches(rule("race", "Cache::put"), f));        // substring
  EXPECT_TRUE(rr::suppression_matches(rule("race", "^Cache::*(int)$"), f));   // anchors and '*'
  EXPECT_FALSE(rr::suppression_matches(rule("race", "^put"), f));
  EXPECT_FALSE(rr::suppression_matches(rule("race", "Cache::put$"), f));
  EXPECT_TRUE(rr::suppression_matches(rule("race", "cache.cpp"), f));          // file
  EXPECT_TRUE(rr::suppression_matches(rule("race", "main"), f));               // any frame
  EXPECT_FALSE(rr::suppression_matches(rule("race_top", "main"), f));          // only the top frame
  EXPECT_TRUE(rr::suppression_matches(rule("called_from_lib", "libapp.so"), f));
  EXPECT_FALSE(rr::suppression_matches(rule("thread", "Cache::put"), f));      // another kind
  EXPECT_FALSE(rr::suppression_matches(rule("race", "Other"), f));
  rr::Finding asan = f;
  asan.tool = "asan";
  EXPECT_FALSE(rr::suppression_matches(rule("race", "Cache::put"), asan));     // TSan's rules, TSan's reports
}
