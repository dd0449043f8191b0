// Sanitizer log parsers (reports/parse.h) on real logs.
//
// The fixtures in tests/fixtures/*.log were written by the sanitizer runtimes
// of this toolchain (tests/fixtures/regenerate.sh builds and runs the programs
// in tests/fixtures/src/). Expected source lines are not written here: each
// fixture program marks its lines with "RG-LOC: <tag>" and the test looks the
// tag up. Expected pids, addresses and offsets are read from the log text
// itself with regular expressions independent of the parser.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/reports/parse.h"
#include "support/sanitizer.h"

namespace rr = racegate::reports;

namespace {

const std::string kFixtures = RACEGATE_FIXTURES_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture(const std::string& name) { return read_file(kFixtures + "/" + name + ".log"); }

std::vector<rr::Finding> parse_fixture(const std::string& name) {
  std::string log = fixture(name);
  EXPECT_FALSE(log.empty()) << name;
  return rr::parse_sanitizer_log(log);
}

// Line number of the "RG-LOC: <tag>" marker in tests/fixtures/src/<source>.
int marker_line(const std::string& source, const std::string& tag) {
  std::istringstream in(read_file(kFixtures + "/src/" + source));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("RG-LOC: " + tag) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no marker " << tag << " in " << source;
  return -1;
}

std::string basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

void expect_location(const rr::Finding& f, const std::string& source, const std::string& tag,
                     const std::string& function) {
  EXPECT_EQ(basename(f.location.file), source) << f.raw;
  EXPECT_EQ(f.location.line, marker_line(source, tag)) << f.raw;
  EXPECT_EQ(f.location.function, function) << f.raw;
}

std::set<std::string> roles(const rr::Finding& f) {
  std::set<std::string> out;
  for (const auto& s : f.stacks) out.insert(s.role);
  return out;
}

const rr::Stack* stack_with_role(const rr::Finding& f, const std::string& role) {
  for (const auto& s : f.stacks) {
    if (s.role == role) return &s;
  }
  return nullptr;
}

// The innermost user frame of a stack.
const rr::Frame* top_user_frame(const rr::Stack& s) {
  for (const auto& fr : s.frames) {
    if (rr::is_user_frame(fr)) return &fr;
  }
  return nullptr;
}

// Every pid the log text names, read independently of the parser.
std::set<int> pids_in(const std::string& log) {
  std::set<int> out;
  static const std::regex kPid(R"(\(pid=(\d+)\)|==(\d+)==)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kPid); it != std::sregex_iterator();
       ++it) {
    out.insert(std::stoi((*it)[1].matched ? (*it)[1].str() : (*it)[2].str()));
  }
  return out;
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

}  // namespace

// ------------------------------------------------------------ ThreadSanitizer

TEST(ParseTsan, DataRaceClang) {
  std::string log = fixture("tsan_data_race");
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u);
  const rr::Finding& f = fs[0];
  EXPECT_EQ(f.tool, "tsan");
  EXPECT_EQ(f.kind, "data-race");
  EXPECT_FALSE(f.truncated);
  EXPECT_EQ(f.headline.rfind("WARNING: ThreadSanitizer: data race (pid=", 0), 0u);
  EXPECT_EQ(f.summary.rfind("SUMMARY: ThreadSanitizer: data race ", 0), 0u);
  ASSERT_EQ(pids_in(log).size(), 1u);
  EXPECT_EQ(f.pid, *pids_in(log).begin());
  // The whole report, from separator to separator.
  EXPECT_EQ(f.raw.rfind("==================\nWARNING: ThreadSanitizer: data race", 0), 0u);
  EXPECT_NE(f.raw.find("SUMMARY: ThreadSanitizer"), std::string::npos);
  EXPECT_EQ(f.raw.find("reported 1 warnings"), std::string::npos);
  EXPECT_TRUE(log.find(f.raw) != std::string::npos);

  EXPECT_EQ(roles(f), (std::set<std::string>{"access", "previous-access", "thread-creation"}));
  // The two accesses: one at each marker, whichever TSan calls "previous".
  const rr::Stack* cur = stack_with_role(f, "access");
  const rr::Stack* prev = stack_with_role(f, "previous-access");
  ASSERT_TRUE(cur && prev);
  ASSERT_TRUE(top_user_frame(*cur) && top_user_frame(*prev));
  std::set<std::pair<std::string, int>> sites{
      {top_user_frame(*cur)->function, top_user_frame(*cur)->line},
      {top_user_frame(*prev)->function, top_user_frame(*prev)->line}};
  EXPECT_EQ(sites, (std::set<std::pair<std::string, int>>{
                       {"writer_main()", marker_line("tsan_data_race.cpp", "main")},
                       {"writer_thread()", marker_line("tsan_data_race.cpp", "writer")}}));
  // Location is the current access.
  EXPECT_EQ(f.location.function, top_user_frame(*cur)->function);
  EXPECT_EQ(f.location.line, top_user_frame(*cur)->line);
  EXPECT_GT(f.location.column, 0);  // clang prints columns

  ASSERT_EQ(f.threads.size(), 1u);
  EXPECT_EQ(f.threads[0].rfind("Thread T1 (tid=", 0), 0u);
  EXPECT_TRUE(f.threads[0].ends_with(") created by main thread")) << f.threads[0];
  EXPECT_TRUE(f.mutexes.empty());
}

TEST(ParseTsan, ClangFrameFields) {
  std::string log = fixture("tsan_data_race");
  // "#0 writer_main() /path/tsan_data_race.cpp:L:C (tsan_data_race+0xOFF) (BuildId: ...)"
  std::smatch m;
  static const std::regex kFrame(
      R"(#0 writer_main\(\) (\S+):(\d+):(\d+) \((\S+)\+0x([0-9a-f]+)\) \(BuildId: [0-9a-f]+\))");
  ASSERT_TRUE(std::regex_search(log, m, kFrame));
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u);
  const rr::Frame* fr = nullptr;
  for (const auto& s : fs[0].stacks) {
    for (const auto& x : s.frames) {
      if (x.function == "writer_main()") fr = &x;
    }
  }
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(fr->index, 0);
  EXPECT_EQ(fr->file, m[1].str());
  EXPECT_EQ(fr->line, std::stoi(m[2].str()));
  EXPECT_EQ(fr->column, std::stoi(m[3].str()));
  EXPECT_EQ(fr->module, m[4].str());
  EXPECT_EQ(fr->module_offset, std::stoull(m[5].str(), nullptr, 16));
  // "<null> <null> (libstdc++.so.6+0x...)": unknown function and file.
  bool saw_null = false;
  for (const auto& s : fs[0].stacks) {
    for (const auto& x : s.frames) {
      if (x.module == "libstdc++.so.6" && x.function.empty() && x.file.empty()) saw_null = true;
    }
  }
  EXPECT_TRUE(saw_null);
}

TEST(ParseTsan, SameProgramSameSignatureAcrossRuns) {
  std::string a = fixture("tsan_data_race");
  std::string b = fixture("tsan_data_race.run2");
  ASSERT_NE(pids_in(a), pids_in(b));  // really two runs
  ASSERT_NE(a, b);
  auto fa = rr::parse_sanitizer_log(a);
  auto fb = rr::parse_sanitizer_log(b);
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fa[0].signature.size(), 16u);
  EXPECT_EQ(fa[0].signature.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(fa[0].signature, fb[0].signature);

  auto other = parse_fixture("tsan_data_race_other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].kind, "data-race");
  EXPECT_NE(other[0].signature, fa[0].signature);
  expect_location(other[0], "tsan_data_race_other.cpp", "hit", "count_hit()");
  EXPECT_EQ(other[0].threads.size(), 2u);
}

TEST(ParseTsan, SignatureIgnoresAccessOrderAndRunDetails) {
  auto fs = parse_fixture("tsan_data_race");
  ASSERT_EQ(fs.size(), 1u);
  rr::Finding f = fs[0];
  // TSan may print either access first: swap them, and change every number.
  auto cur = std::find_if(f.stacks.begin(), f.stacks.end(), [](auto& s) { return s.role == "access"; });
  auto prev = std::find_if(f.stacks.begin(), f.stacks.end(),
                           [](auto& s) { return s.role == "previous-access"; });
  ASSERT_TRUE(cur != f.stacks.end() && prev != f.stacks.end());
  std::swap(cur->frames, prev->frames);
  for (auto& s : f.stacks) {
    s.title = "Write of size 4 at 0xdeadbeef by thread T7:";
    for (auto& fr : s.frames) {
      fr.module_offset += 0x1000;
      fr.module = "renamed-" + fr.module;
    }
  }
  f.pid = 424242;
  f.headline = "WARNING: ThreadSanitizer: data race (pid=424242)";
  rr::finalize_finding(f);
  EXPECT_EQ(f.signature, fs[0].signature);
  // But a different function at the access is a different finding.
  for (auto& fr : cur->frames) {
    if (fr.function == "writer_main()" || fr.function == "writer_thread()") fr.function = "elsewhere()";
  }
  rr::finalize_finding(f);
  EXPECT_NE(f.signature, fs[0].signature);
}

TEST(ParseTsan, DataRaceGccFormat) {
  std::string a = fixture("gcc_tsan_data_race");
  std::string b = fixture("gcc_tsan_data_race.run2");
  ASSERT_NE(pids_in(a), pids_in(b));
  auto fa = rr::parse_sanitizer_log(a);
  auto fb = rr::parse_sanitizer_log(b);
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  for (const rr::Finding* f : {&fa[0], &fb[0]}) {
    EXPECT_EQ(f->tool, "tsan");
    EXPECT_EQ(f->kind, "data-race");
    EXPECT_EQ(basename(f->location.file), "gcc_tsan_data_race.cpp");
    EXPECT_EQ(f->location.column, 0);  // gcc 12 prints no columns
    if (f->location.function == "audit(Account const&)") {
      EXPECT_EQ(f->location.line, marker_line("gcc_tsan_data_race.cpp", "audit"));
    } else {
      EXPECT_EQ(f->location.function, "deposit(Account&)");
      EXPECT_EQ(f->location.line, marker_line("gcc_tsan_data_race.cpp", "deposit"));
    }
    EXPECT_EQ(roles(*f), (std::set<std::string>{"access", "previous-access", "allocation",
                                                 "thread-creation"}));
    ASSERT_EQ(f->threads.size(), 1u);
    EXPECT_EQ(f->threads[0].rfind("Thread T1 (tid=", 0), 0u);
    // gcc symbolizes library source frames: they are parsed, and not user code.
    bool saw_header_frame = false;
    bool saw_runtime_frame = false;
    for (const auto& s : f->stacks) {
      for (const auto& fr : s.frames) {
        if (fr.file.rfind("/usr/include/c++/12/bits/", 0) == 0) {
          saw_header_frame = true;
          EXPECT_FALSE(rr::is_user_frame(fr)) << fr.file;
        }
        if (fr.module.rfind("libtsan.so", 0) == 0) {
          saw_runtime_frame = true;
          EXPECT_FALSE(rr::is_user_frame(fr)) << fr.function;
          EXPECT_GT(fr.line, 0);  // "../../../../src/libsanitizer/...:64"
        }
      }
    }
    EXPECT_TRUE(saw_header_frame);
    EXPECT_TRUE(saw_runtime_frame);
  }
  EXPECT_EQ(fa[0].signature, fb[0].signature);
  // Built by another compiler with other names: not the clang race.
  EXPECT_NE(fa[0].signature, parse_fixture("tsan_data_race")[0].signature);
}

TEST(ParseTsan, LockOrderInversion) {
  auto fs = parse_fixture("tsan_lock_order");
  ASSERT_EQ(fs.size(), 1u);
  const rr::Finding& f = fs[0];
  EXPECT_EQ(f.tool, "tsan");
  EXPECT_EQ(f.kind, "lock-order-inversion");
  EXPECT_EQ(std::count_if(f.stacks.begin(), f.stacks.end(),
                          [](auto& s) { return s.role == "mutex-acquisition"; }),
            2);
  EXPECT_TRUE(roles(f).count("thread-creation"));
  // The innermost user frame skips pthread_mutex_lock and the libstdc++ headers
  // (spelled /usr/bin/../lib/gcc/.../include/c++/12/... by clang).
  std::set<std::string> expected_fns{"lock_a_then_b()", "lock_b_then_a()"};
  EXPECT_TRUE(expected_fns.count(f.location.function)) << f.location.function;
  std::string tag = f.location.function == "lock_a_then_b()" ? "a-then-b" : "b-then-a";
  expect_location(f, "tsan_lock_order.cpp", tag, f.location.function);
  ASSERT_EQ(f.mutexes.size(), 2u);
  EXPECT_EQ(f.mutexes[0].rfind("Mutex M", 0), 0u);
  EXPECT_EQ(f.threads.size(), 2u);
  // The SUMMARY names the interceptor; the location does not.
  EXPECT_NE(f.summary.find("in pthread_mutex_lock"), std::string::npos);
}

TEST(ParseTsan, HeapUseAfterFree) {
  auto fs = parse_fixture("tsan_heap_use_after_free");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].tool, "tsan");
  EXPECT_EQ(fs[0].kind, "heap-use-after-free");
  expect_location(fs[0], "tsan_heap_use_after_free.cpp", "use", "late_writer()");
  const rr::Stack* prev = stack_with_role(fs[0], "previous-access");
  ASSERT_NE(prev, nullptr);
  ASSERT_FALSE(prev->frames.empty());
  EXPECT_EQ(prev->frames[0].function, "operator delete(void*)");
  EXPECT_FALSE(rr::is_user_frame(prev->frames[0]));  // the runtime's operator delete
  EXPECT_EQ(fs[0].threads.size(), 1u);
}

TEST(ParseTsan, ThreadLeak) {
  auto fs = parse_fixture("tsan_thread_leak");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].kind, "thread-leak");
  EXPECT_EQ(roles(fs[0]), std::set<std::string>{"thread-creation"});
  expect_location(fs[0], "tsan_thread_leak.cpp", "create", "main");
  EXPECT_NE(fs[0].summary.find("__interceptor_pthread_create"), std::string::npos);
  ASSERT_EQ(fs[0].threads.size(), 1u);
  EXPECT_NE(fs[0].threads[0].find("finished"), std::string::npos);
}

TEST(ParseTsan, SignalUnsafeCallAndErrno) {
  auto fs = parse_fixture("tsan_signal_unsafe");
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].kind, "signal-unsafe-call");
  expect_location(fs[0], "tsan_signal_unsafe.cpp", "malloc", "on_signal(int)");
  ASSERT_FALSE(fs[0].stacks.empty());
  EXPECT_EQ(fs[0].stacks[0].role, "error");
  EXPECT_EQ(fs[0].stacks[0].frames.at(0).function, "malloc");
  // __tsan::CallUserSignalHandler(...) tsan_interceptors_posix.cpp.o: a runtime frame.
  bool saw_runtime = false;
  for (const auto& fr : fs[0].stacks[0].frames) {
    if (fr.function.rfind("__tsan::CallUserSignalHandler", 0) == 0) {
      saw_runtime = true;
      EXPECT_EQ(fr.file, "tsan_interceptors_posix.cpp.o");
      EXPECT_FALSE(rr::is_user_frame(fr));
    }
  }
  EXPECT_TRUE(saw_runtime);
  // malloc in the handler also changed errno.
  EXPECT_EQ(fs[1].kind, "errno-spoiled");
  EXPECT_EQ(fs[0].pid, fs[1].pid);

  auto e = parse_fixture("tsan_errno_spoiled");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "errno-spoiled");
  expect_location(e[0], "tsan_errno_spoiled.cpp", "handler", "on_signal(int)");
  EXPECT_EQ(e[0].location.column, 0);  // printed as file:line
}

TEST(ParseTsan, MutexMisuse) {
  auto destroy = parse_fixture("tsan_destroy_locked");
  ASSERT_EQ(destroy.size(), 1u);
  EXPECT_EQ(destroy[0].kind, "destroy-of-locked-mutex");
  expect_location(destroy[0], "tsan_destroy_locked.cpp", "destroy", "main");
  EXPECT_EQ(roles(destroy[0]), (std::set<std::string>{"error", "mutex-acquisition", "other"}));
  ASSERT_EQ(destroy[0].mutexes.size(), 1u);
  EXPECT_EQ(destroy[0].mutexes[0].rfind("Mutex M0 (0x", 0), 0u);
  EXPECT_NE(destroy[0].mutexes[0].find("created at"), std::string::npos);

  auto unlock = parse_fixture("tsan_unlock_unlocked");
  ASSERT_EQ(unlock.size(), 1u);
  EXPECT_EQ(unlock[0].kind, "unlock-of-unlocked-mutex");
  expect_location(unlock[0], "tsan_unlock_unlocked.cpp", "unlock", "main");
  EXPECT_NE(unlock[0].summary.find("__interceptor_pthread_mutex_unlock"), std::string::npos);
  EXPECT_EQ(unlock[0].mutexes.size(), 1u);

  auto dbl = parse_fixture("tsan_double_lock");
  ASSERT_EQ(dbl.size(), 1u);
  EXPECT_EQ(dbl[0].kind, "double-lock");
  expect_location(dbl[0], "tsan_double_lock.cpp", "second-lock", "second_locker(void*)");
  EXPECT_EQ(dbl[0].mutexes.size(), 1u);

  // Unlock of a destroyed mutex: TSan reports both a bad unlock and an invalid mutex.
  auto invalid = parse_fixture("tsan_invalid_mutex");
  ASSERT_EQ(invalid.size(), 2u);
  EXPECT_EQ(invalid[0].kind, "unlock-of-unlocked-mutex");
  EXPECT_EQ(invalid[1].kind, "invalid-mutex-use");
  for (const auto& f : invalid) {
    expect_location(f, "tsan_invalid_mutex.cpp", "unlock-destroyed", "main");
    EXPECT_FALSE(f.truncated);
    EXPECT_EQ(f.mutexes.size(), 1u);  // "created at:" followed by "[failed to restore the stack]"
  }
  EXPECT_NE(invalid[0].signature, invalid[1].signature);
  EXPECT_NE(invalid[0].signature, unlock[0].signature);  // other program, other file
}

// ------------------------------------------------------------ AddressSanitizer

TEST(ParseAsan, HeapUseAfterFree) {
  std::string log = fixture("asan_heap_use_after_free");
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u);
  const rr::Finding& f = fs[0];
  EXPECT_EQ(f.tool, "asan");
  EXPECT_EQ(f.kind, "heap-use-after-free");
  EXPECT_EQ(f.pid, *pids_in(log).begin());
  expect_location(f, "asan_heap_use_after_free.cpp", "read", "read_after_free(int*)");
  ASSERT_EQ(f.stacks.size(), 3u);
  EXPECT_EQ(f.stacks[0].role, "access");
  EXPECT_EQ(f.stacks[0].title.rfind("READ of size 4 at 0x", 0), 0u);
  EXPECT_EQ(f.stacks[1].role, "deallocation");
  EXPECT_EQ(f.stacks[2].role, "allocation");
  // The report runs to ==pid==ABORTING, shadow dump included.
  EXPECT_NE(f.raw.find("Shadow byte legend"), std::string::npos);
  EXPECT_TRUE(f.raw.ends_with("==ABORTING\n")) << f.raw;
  EXPECT_FALSE(f.truncated);
  // "#0 0x... in __interceptor_free (/path/prog+0x...) (BuildId: ...)"
  const rr::Frame& free_frame = f.stacks[1].frames.at(0);
  EXPECT_EQ(free_frame.function, "__interceptor_free");
  EXPECT_TRUE(free_frame.file.empty());
  EXPECT_EQ(basename(free_frame.module), "asan_heap_use_after_free");
  EXPECT_GT(free_frame.module_offset, 0u);
}

TEST(ParseAsan, SummaryNamingInterceptorIsNotTheLocation) {
  // clang 14: "SUMMARY: AddressSanitizer: double-free (...) in __interceptor_free".
  auto fs = parse_fixture("asan_double_free");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].kind, "double-free");
  EXPECT_NE(fs[0].summary.find("in __interceptor_free"), std::string::npos);
  expect_location(fs[0], "asan_double_free.cpp", "free", "release(void*)");
  EXPECT_EQ(roles(fs[0]), (std::set<std::string>{"error", "deallocation", "allocation"}));

  auto bad = parse_fixture("asan_bad_free");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].kind, "bad-free");
  EXPECT_NE(bad[0].summary.find("in __interceptor_free"), std::string::npos);
  expect_location(bad[0], "asan_bad_free.cpp", "free", "main");

  auto mismatch = parse_fixture("asan_alloc_dealloc_mismatch");
  ASSERT_EQ(mismatch.size(), 1u);
  EXPECT_EQ(mismatch[0].kind, "alloc-dealloc-mismatch");
  expect_location(mismatch[0], "asan_alloc_dealloc_mismatch.cpp", "delete", "dispose(int*)");
  // "==pid==HINT: ..." after SUMMARY still belongs to the report.
  EXPECT_NE(mismatch[0].raw.find("HINT: if you don't care"), std::string::npos);
}

TEST(ParseAsan, MemoryErrorKinds) {
  struct Case {
    const char* fixture;
    const char* kind;
    const char* tag;
    const char* function;
    const char* role;
  };
  const Case cases[] = {
      {"asan_heap_buffer_overflow", "heap-buffer-overflow", "write", "fill(int*, int)", "allocation"},
      {"asan_stack_buffer_overflow", "stack-buffer-overflow", "read", "sum_first(int const*, int)",
       "location"},
      {"asan_global_buffer_overflow", "global-buffer-overflow", "read", "lookup(int)", "access"},
      {"asan_stack_use_after_return", "stack-use-after-return", "read", "use(int*)", "location"},
      {"asan_stack_use_after_scope", "stack-use-after-scope", "write", "main", "location"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    std::string log = fixture(c.fixture);
    auto fs = rr::parse_sanitizer_log(log);
    auto asan = std::find_if(fs.begin(), fs.end(), [](auto& f) { return f.tool == "asan"; });
    ASSERT_NE(asan, fs.end());
    EXPECT_EQ(std::count_if(fs.begin(), fs.end(), [](auto& f) { return f.tool == "asan"; }), 1);
    EXPECT_EQ(asan->kind, c.kind);
    expect_location(*asan, std::string(c.fixture) + ".cpp", c.tag, c.function);
    EXPECT_EQ(asan->stacks.at(0).role, "access");
    EXPECT_TRUE(roles(*asan).count(c.role));
    EXPECT_FALSE(asan->truncated);
    EXPECT_NE(asan->summary.find(std::string("AddressSanitizer: ") + c.kind), std::string::npos);
    EXPECT_EQ(asan->pid, *pids_in(log).begin());
  }
}

TEST(ParseAsan, SegvAfterUbsanNullStore) {
  // The ASan+UBSan build reports the null store (UBSan, recoverable), then
  // the store faults (ASan's deadly signal report).
  auto fs = parse_fixture("asan_segv");
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].tool, "ubsan");
  EXPECT_EQ(fs[0].kind, "null-pointer-use");
  EXPECT_EQ(fs[0].location.line, marker_line("asan_segv.cpp", "write"));
  EXPECT_EQ(fs[1].tool, "asan");
  EXPECT_EQ(fs[1].kind, "segv");
  expect_location(fs[1], "asan_segv.cpp", "write", "poke(int*)");
  ASSERT_EQ(fs[1].stacks.size(), 1u);
  EXPECT_EQ(fs[1].stacks[0].title, "");  // "==pid==Hint: ..." is not a stack title
  EXPECT_NE(fs[0].signature, fs[1].signature);
}

// ------------------------------------------------------------ LeakSanitizer

TEST(ParseLsan, OneFindingPerLeak) {
  std::string log = fixture("lsan_leak");
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), count_lines_starting(log, "Direct leak of") +
                           count_lines_starting(log, "Indirect leak of"));
  ASSERT_EQ(fs.size(), 3u);
  std::set<std::string> sigs;
  for (const auto& f : fs) {
    EXPECT_EQ(f.tool, "lsan");
    EXPECT_EQ(f.kind, "memory-leak");
    EXPECT_EQ(f.pid, *pids_in(log).begin());
    EXPECT_NE(f.headline.find("ERROR: LeakSanitizer: detected memory leaks"), std::string::npos);
    EXPECT_NE(f.summary.find("leaked in 3 allocation(s)"), std::string::npos);
    ASSERT_EQ(f.stacks.size(), 1u);
    EXPECT_EQ(f.stacks[0].role, "error");
    EXPECT_EQ(f.raw.rfind(f.stacks[0].title, 0), 0u);  // the block's own text
    EXPECT_FALSE(f.truncated);
    sigs.insert(f.signature);
    const std::string& title = f.stacks[0].title;
    if (title.rfind("Indirect leak of 100 byte(s)", 0) == 0) {
      expect_location(f, "lsan_leak.cpp", "indirect", "make_node()");
    } else if (title.rfind("Direct leak of 8 byte(s)", 0) == 0) {
      expect_location(f, "lsan_leak.cpp", "direct", "make_node()");
    } else {
      EXPECT_EQ(title.rfind("Direct leak of 7 byte(s)", 0), 0u) << title;
      expect_location(f, "lsan_leak.cpp", "plain", "leak_plain()");
    }
  }
  EXPECT_EQ(sigs.size(), 3u);
}

// ------------------------------------------------------------ UBSan

TEST(ParseUbsan, SignedOverflowWithAndWithoutStack) {
  auto plain = parse_fixture("ubsan_signed_overflow");
  auto stack = parse_fixture("ubsan_signed_overflow.stack");
  auto asan = parse_fixture("ubsan_signed_overflow.asan");
  ASSERT_EQ(plain.size(), 1u);
  ASSERT_EQ(stack.size(), 1u);
  ASSERT_EQ(asan.size(), 1u);
  int line = marker_line("ubsan_signed_overflow.cpp", "add");
  for (const auto* f : {&plain[0], &stack[0], &asan[0]}) {
    EXPECT_EQ(f->tool, "ubsan");
    EXPECT_EQ(f->kind, "signed-integer-overflow");
    EXPECT_NE(f->headline.find("runtime error: signed integer overflow"), std::string::npos);
    EXPECT_EQ(f->summary.rfind("SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior", 0), 0u);
    EXPECT_EQ(basename(f->location.file), "ubsan_signed_overflow.cpp");
    EXPECT_EQ(f->location.line, line);
    EXPECT_GT(f->location.column, 0);
    EXPECT_FALSE(f->truncated);
  }
  EXPECT_TRUE(plain[0].stacks.empty());
  EXPECT_EQ(plain[0].location.function, "");  // no stack: only the headline's place
  EXPECT_EQ(stack[0].location.function, "add(int, int)");
  ASSERT_EQ(stack[0].stacks.size(), 1u);
  EXPECT_EQ(stack[0].stacks[0].role, "error");
  EXPECT_EQ(plain[0].signature, stack[0].signature);
  EXPECT_EQ(plain[0].signature, asan[0].signature);
}

TEST(ParseUbsan, SeveralErrorsThenDeadlySignal) {
  auto fs = parse_fixture("ubsan_multi");
  ASSERT_EQ(fs.size(), 5u);
  const char* kinds[] = {"invalid-shift-exponent", "out-of-bounds-index", "signed-integer-overflow",
                         "integer-divide-by-zero", "fpe"};
  const char* tags[] = {"shift", "index", "negate", "divide", "divide"};
  const char* fns[] = {"shift(int, int)", "index(int)", "negate(int)", "divide(int, int)",
                       "divide(int, int)"};
  std::set<std::string> sigs;
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(kinds[i]);
    EXPECT_EQ(fs[i].tool, "ubsan");
    EXPECT_EQ(fs[i].kind, kinds[i]);
    expect_location(fs[i], "ubsan_multi.cpp", tags[i], fns[i]);
    EXPECT_FALSE(fs[i].truncated);
    sigs.insert(fs[i].signature);
  }
  EXPECT_EQ(sigs.size(), 5u);
  EXPECT_EQ(fs[0].pid, 0);  // runtime errors carry no pid
  EXPECT_GT(fs[4].pid, 0);  // "==pid==ERROR: UndefinedBehaviorSanitizer: FPE ..."
}

// ------------------------------------------------------------ damaged logs

TEST(ParseRobustness, EmptyAndBlank) {
  EXPECT_TRUE(rr::parse_sanitizer_log("").empty());
  EXPECT_TRUE(rr::parse_sanitizer_log("\n\n\r\n   \n").empty());
  EXPECT_TRUE(rr::parse_sanitizer_log("==================\n").empty());
  EXPECT_TRUE(rr::parse_sanitizer_log("    #0 main /a.cpp:1:1 (a+0x1)\n").empty());
}

TEST(ParseRobustness, UnrelatedOutputAround) {
  std::string log = fixture("tsan_data_race");
  auto alone = rr::parse_sanitizer_log(log);
  std::string noisy = "[ RUN      ] Suite.Case\nstarting 2 threads\n#1 is not a frame\n  indented\n" +
                      log + "program says bye\nWARNING: not a sanitizer\nSUMMARY: nothing\n";
  auto fs = rr::parse_sanitizer_log(noisy);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].raw, alone[0].raw);
  EXPECT_EQ(fs[0].signature, alone[0].signature);
  EXPECT_EQ(fs[0].stacks.size(), alone[0].stacks.size());
  EXPECT_FALSE(fs[0].truncated);

  // An ASan report followed by program output (halt_on_error=0: no ABORTING line).
  std::string asan = fixture("asan_heap_use_after_free");
  std::string cut = asan.substr(0, asan.find("==", asan.find("Right alloca redzone")));
  auto fa = rr::parse_sanitizer_log(cut + "program output after the report\nmore\n");
  ASSERT_EQ(fa.size(), 1u);
  EXPECT_EQ(fa[0].raw.find("program output"), std::string::npos);
  EXPECT_FALSE(fa[0].truncated);
}

TEST(ParseRobustness, CrLfLineEnds) {
  std::string log = fixture("tsan_lock_order");
  std::string crlf;
  for (char c : log) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto a = rr::parse_sanitizer_log(log);
  auto b = rr::parse_sanitizer_log(crlf);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].signature, b[0].signature);
  EXPECT_EQ(a[0].location.line, b[0].location.line);
  EXPECT_EQ(a[0].location.file, b[0].location.file);
}

TEST(ParseRobustness, TruncatedInsideStack) {
  std::string log = fixture("tsan_data_race");
  // Cut in the middle of the second frame of the "Previous write" stack.
  std::size_t prev = log.find("  Previous write");
  ASSERT_NE(prev, std::string::npos);
  std::size_t frame1 = log.find("#1 ", prev);
  ASSERT_NE(frame1, std::string::npos);
  auto fs = rr::parse_sanitizer_log(std::string_view(log).substr(0, frame1 + 20));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_TRUE(fs[0].truncated);
  EXPECT_EQ(fs[0].kind, "data-race");
  EXPECT_TRUE(fs[0].summary.empty());
  ASSERT_EQ(fs[0].stacks.size(), 2u);
  EXPECT_EQ(fs[0].stacks[0].role, "access");
  EXPECT_EQ(fs[0].stacks[0].frames.size(), 2u);
  EXPECT_EQ(fs[0].stacks[1].frames.at(0).function, "writer_thread()");
  EXPECT_FALSE(fs[0].location.empty());
  EXPECT_EQ(fs[0].raw, log.substr(0, frame1 + 20));

  // ASan cut inside the "freed by" stack; LSan cut before its SUMMARY.
  std::string asan = fixture("asan_heap_use_after_free");
  auto fa = rr::parse_sanitizer_log(asan.substr(0, asan.find("#1", asan.find("freed by")) + 5));
  ASSERT_EQ(fa.size(), 1u);
  EXPECT_TRUE(fa[0].truncated);
  EXPECT_EQ(fa[0].kind, "heap-use-after-free");
  EXPECT_EQ(fa[0].location.function, "read_after_free(int*)");
  std::string lsan = fixture("lsan_leak");
  auto fl = rr::parse_sanitizer_log(lsan.substr(0, lsan.find("SUMMARY")));
  ASSERT_EQ(fl.size(), 3u);
  for (const auto& f : fl) EXPECT_TRUE(f.truncated);

  // Every prefix of a log parses (cut anywhere, even mid-line).
  for (std::size_t n = 0; n <= log.size(); n += 7) {
    auto part = rr::parse_sanitizer_log(std::string_view(log).substr(0, n));
    EXPECT_LE(part.size(), 1u);
  }
}

TEST(ParseRobustness, ConcatenatedReports) {
  std::string log = fixture("tsan_data_race") + fixture("asan_heap_use_after_free") +
                    fixture("lsan_leak") + fixture("ubsan_signed_overflow") +
                    fixture("tsan_invalid_mutex");
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u + 1u + 3u + 1u + 2u);
  std::vector<std::string> tools;
  for (const auto& f : fs) {
    tools.push_back(f.tool);
    EXPECT_FALSE(f.truncated) << f.raw;
  }
  EXPECT_EQ(tools, (std::vector<std::string>{"tsan", "asan", "lsan", "lsan", "lsan", "ubsan",
                                             "tsan", "tsan"}));
}

TEST(ParseRobustness, InterleavedProcesses) {
  // Process A's TSan report is interrupted by process B's ASan report and
  // then continues: both are read whole.
  std::string tsan = fixture("tsan_data_race");
  std::string asan = fixture("asan_heap_use_after_free");
  std::size_t cut = tsan.find("\n  Previous write");
  ASSERT_NE(cut, std::string::npos);
  ++cut;
  std::string log = tsan.substr(0, cut) + asan + tsan.substr(cut);
  auto alone_t = rr::parse_sanitizer_log(tsan);
  auto alone_a = rr::parse_sanitizer_log(asan);
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].tool, "tsan");
  EXPECT_EQ(fs[1].tool, "asan");
  EXPECT_FALSE(fs[0].truncated);
  EXPECT_FALSE(fs[1].truncated);
  EXPECT_EQ(fs[0].stacks.size(), alone_t[0].stacks.size());
  EXPECT_EQ(fs[0].signature, alone_t[0].signature);
  EXPECT_EQ(fs[0].summary, alone_t[0].summary);
  EXPECT_EQ(fs[0].raw, alone_t[0].raw);
  EXPECT_EQ(fs[1].raw, alone_a[0].raw);
  EXPECT_EQ(fs[1].signature, alone_a[0].signature);

  // Line by line interleaving of two TSan reports cannot be untangled; it
  // must still end, and what it yields is well formed.
  std::string other = fixture("tsan_lock_order");
  std::istringstream a(tsan), b(other);
  std::string mixed, la, lb;
  while (true) {
    bool more_a = static_cast<bool>(std::getline(a, la));
    bool more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) break;
    if (more_a) mixed += la + "\n";
    if (more_b) mixed += lb + "\n";
  }
  auto mf = rr::parse_sanitizer_log(mixed);
  EXPECT_GE(mf.size(), 1u);
  for (const auto& f : mf) {
    EXPECT_EQ(f.tool, "tsan");
    EXPECT_FALSE(f.kind.empty());
    EXPECT_EQ(f.signature.size(), 16u);
  }
}

TEST(ParseRobustness, GarbageInput) {
  std::mt19937 rng(12345);
  std::string noise(1 << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(rng() & 0xff);
  auto fs = rr::parse_sanitizer_log(noise);
  EXPECT_TRUE(fs.empty());

  // Damaged copies of real logs: bytes flipped, lines dropped or duplicated.
  std::vector<std::string> logs = {fixture("tsan_lock_order"), fixture("asan_stack_use_after_return"),
                                   fixture("lsan_leak"), fixture("ubsan_multi"),
                                   fixture("gcc_tsan_data_race")};
  for (int round = 0; round < 300; ++round) {
    std::string log = logs[static_cast<std::size_t>(round) % logs.size()];
    for (int k = 0; k < 20; ++k) {
      std::size_t at = rng() % log.size();
      switch (rng() % 4) {
        case 0: log[at] = static_cast<char>(rng() & 0xff); break;
        case 1: log.erase(at, rng() % 40); break;
        case 2: log.insert(at, log.substr(rng() % log.size(), rng() % 80)); break;
        default: log[at] = "#:()+ \n="[rng() % 8]; break;
      }
      if (log.empty()) log = "x";
    }
    auto found = rr::parse_sanitizer_log(log);
    for (const auto& f : found) {
      EXPECT_FALSE(f.tool.empty());
      EXPECT_FALSE(f.kind.empty());
      EXPECT_EQ(f.signature.size(), 16u);
    }
  }
}

TEST(ParseRobustness, LargeLogIsLinear) {
  std::string unit = fixture("tsan_lock_order") + "some program output line\n" +
                     fixture("asan_heap_use_after_free") + fixture("lsan_leak");
  std::size_t per_unit = rr::parse_sanitizer_log(unit).size();
  std::string big;
  big.reserve(10u << 20);
  std::size_t units = 0;
  while (big.size() < (10u << 20)) {
    big += unit;
    ++units;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto fs = rr::parse_sanitizer_log(big);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(fs.size(), per_unit * units);
  // Well under a second in an optimized build; sanitizer/debug builds are ~10x slower.
  double limit = (racegate::test::kAddressSanitizer || racegate::test::kThreadSanitizer) ? 10.0 : 2.0;
  EXPECT_LT(seconds, limit) << big.size() << " bytes";
  RecordProperty("parse_seconds_10MB", std::to_string(seconds));
}

namespace {

// A replace-all for the tests below.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

TEST(ParseRobustness, HundredMegabyteLog) {
  // 100 MB of program output with a real report every ~1 MB: every report is
  // found, in order, with its raw text whole.
  const std::string report = fixture("tsan_data_race");
  const std::string one = rr::parse_sanitizer_log(report).at(0).raw;
  std::string filler;
  for (int i = 0; filler.size() < (1u << 20); ++i) filler += "output line " + std::to_string(i) + " of the program\n";
  std::string big;
  big.reserve((100u << 20) + (2u << 20));
  std::size_t reports = 0;
  while (big.size() < (100u << 20)) {
    big += filler;
    big += report;
    ++reports;
  }
  ASSERT_GE(big.size(), 100u << 20);
  auto t0 = std::chrono::steady_clock::now();
  auto fs = rr::parse_sanitizer_log(big);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  big.clear();
  big.shrink_to_fit();
  ASSERT_EQ(fs.size(), reports);
  for (const auto& f : fs) {
    EXPECT_EQ(f.kind, "data-race");
    EXPECT_EQ(f.raw, one);
  }
  RecordProperty("parse_seconds_100MB", std::to_string(seconds));
}

TEST(ParseRobustness, MegabyteLines) {
  // A 1 MB line of output before and after a report, a 1 MB function name in
  // one of its frames and a 1 MB line of nothing but spaces inside it: the
  // report is read and the long name is kept whole.
  const std::string huge_name(1u << 20, 'F');
  std::string log = fixture("tsan_data_race");
  log = replaced(log, "writer_main()", huge_name + "()");
  const std::string cut = "\n  Previous write";
  log.insert(log.find(cut), "\n" + std::string(1u << 20, ' '));
  log = std::string(1u << 20, 'x') + "\n" + log + std::string(1u << 20, '#') + "\n";
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].kind, "data-race");
  ASSERT_FALSE(fs[0].stacks.empty());
  ASSERT_FALSE(fs[0].stacks[0].frames.empty());
  EXPECT_EQ(fs[0].stacks[0].frames[0].function, huge_name + "()");
  EXPECT_NE(fs[0].raw.find(huge_name), std::string::npos);
  EXPECT_EQ(fs[0].raw.find(std::string(1u << 20, 'x')), std::string::npos) << "output before the report is not in it";
}

TEST(ParseRobustness, UnknownReportKinds) {
  // Report kinds this parser has never seen, from each family: each is a
  // finding with a kind made of its words, its stack read and its text kept.
  std::string tsan = replaced(fixture("tsan_data_race"), "ThreadSanitizer: data race",
                              "ThreadSanitizer: quantum entanglement of mutexes");
  std::string asan = replaced(fixture("asan_heap_use_after_free"), "AddressSanitizer: heap-use-after-free",
                              "AddressSanitizer: heap-time-travel");
  std::string ubsan = replaced(fixture("ubsan_signed_overflow"), "runtime error: signed integer overflow",
                               "runtime error: integer became sentient");
  ASSERT_NE(tsan, fixture("tsan_data_race"));
  ASSERT_NE(asan, fixture("asan_heap_use_after_free"));
  ASSERT_NE(ubsan, fixture("ubsan_signed_overflow"));

  auto t = rr::parse_sanitizer_log(tsan);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].tool, "tsan");
  EXPECT_EQ(t[0].kind, "quantum-entanglement-of-mutexes");
  EXPECT_FALSE(t[0].stacks.empty());
  EXPECT_NE(t[0].raw.find("quantum entanglement of mutexes"), std::string::npos);

  auto a = rr::parse_sanitizer_log(asan);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].tool, "asan");
  EXPECT_EQ(a[0].kind, "heap-time-travel");
  EXPECT_FALSE(a[0].stacks.empty());
  EXPECT_NE(a[0].raw.find("heap-time-travel"), std::string::npos);

  auto u = rr::parse_sanitizer_log(ubsan);
  ASSERT_FALSE(u.empty());
  EXPECT_EQ(u[0].tool, "ubsan");
  EXPECT_FALSE(u[0].kind.empty());
  EXPECT_NE(u[0].raw.find("integer became sentient"), std::string::npos);
  for (const auto* fs : {&t, &a, &u}) {
    for (const auto& f : *fs) EXPECT_EQ(f.signature.size(), 16u);
  }
}

TEST(ParseRobustness, NonUtf8PathsAndSymbols) {
  // Bytes that are not UTF-8 (a Latin-1 path, a lone continuation byte, a cut
  // multi-byte sequence, 0xff) in file paths and symbol names: read and kept
  // byte for byte.
  const std::string bad_fn = "writer_\xe9t\xe9\x80\xff()";
  const std::string bad_dir = "/work/r\xe9pertoire\xc3/";
  std::string log = replaced(fixture("tsan_data_race"), "writer_main()", bad_fn);
  log = replaced(log, "/work/main/tests/fixtures/src/", bad_dir);
  auto fs = rr::parse_sanitizer_log(log);
  ASSERT_EQ(fs.size(), 1u);
  const auto& fr = fs[0].stacks.at(0).frames.at(0);
  EXPECT_EQ(fr.function, bad_fn);
  EXPECT_EQ(fr.file, bad_dir + "tsan_data_race.cpp");
  EXPECT_EQ(fs[0].location.function, bad_fn);
  EXPECT_EQ(fs[0].location.file, bad_dir + "tsan_data_race.cpp");
  EXPECT_NE(fs[0].raw.find(bad_fn), std::string::npos);
  // The signature does not depend on the bytes being valid: another bad name
  // is another signature, the same one the same.
  auto again = rr::parse_sanitizer_log(log);
  EXPECT_EQ(again.at(0).signature, fs[0].signature);
  auto other = rr::parse_sanitizer_log(replaced(log, bad_fn, "writer_\xfe()"));
  EXPECT_NE(other.at(0).signature, fs[0].signature);
}

// ------------------------------------------------------------ user frames

TEST(ParseUserFrames, Classification) {
  auto frame = [](std::string fn, std::string file, std::string module) {
    rr::Frame f;
    f.function = std::move(fn);
    f.file = std::move(file);
    f.module = std::move(module);
    return f;
  };
  EXPECT_TRUE(rr::is_user_frame(frame("main", "/work/app/main.cpp", "app")));
  EXPECT_TRUE(rr::is_user_frame(frame("f()", "src/relative.cpp", "")));
  EXPECT_FALSE(rr::is_user_frame(frame("__interceptor_free", "", "app")));
  EXPECT_FALSE(rr::is_user_frame(frame("free", "", "app")));  // no source: a runtime interceptor
  EXPECT_FALSE(rr::is_user_frame(frame("__tsan_read4", "/work/x.cpp", "app")));
  EXPECT_FALSE(rr::is_user_frame(frame("__asan_report_load4", "/work/x.cpp", "app")));
  EXPECT_FALSE(rr::is_user_frame(
      frame("std::mutex::lock()",
            "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/std_mutex.h",
            "app")));
  EXPECT_FALSE(rr::is_user_frame(frame("x", "/usr/include/c++/12/bits/invoke.h", "app")));
  EXPECT_FALSE(rr::is_user_frame(
      frame("pthread_create", "../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp",
            "libtsan.so.2")));
  EXPECT_FALSE(rr::is_user_frame(
      frame("__libc_start_call_main", "csu/../sysdeps/nptl/libc_start_call_main.h", "libc.so.6")));
  EXPECT_FALSE(rr::is_user_frame(frame("g", "/work/lib.cpp", "/lib/x86_64-linux-gnu/libstdc++.so.6")));
  rr::ParseOptions opts;
  opts.system_prefixes.push_back("/work/third_party/");
  EXPECT_FALSE(rr::is_user_frame(frame("h", "/work/third_party/z.cpp", "app"), opts));
  EXPECT_TRUE(rr::is_user_frame(frame("h", "/work/mine/z.cpp", "app"), opts));
}
