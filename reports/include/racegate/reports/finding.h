// racegate/reports/finding.h — a sanitizer report as structured data.
//
// A Finding is one report of ThreadSanitizer, AddressSanitizer,
// LeakSanitizer or UBSan: its kind, where it points in the user's source, the
// stacks and threads it names, and the raw text it was parsed from. Plain
// values, no behaviour: parsing lives in parse.h, printing in the writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace racegate::reports {

// One frame of a stack, as the sanitizer printed it.
struct Frame {
  int index = 0;             // #N
  std::string function;      // demangled; empty when unknown (<null>)
  std::string file;          // source file; empty when unknown
  int line = 0;              // 0 when unknown
  int column = 0;            // 0 when unknown
  std::string module;        // binary or shared object ("conformance_test", "libc.so.6")
  std::uint64_t module_offset = 0;  // offset within the module (for offline symbolization)
};

// A stack and what it stands for.
struct Stack {
  // What the stack shows: "access" (the current access of a race or memory
  // error), "previous-access", "thread-creation", "mutex-acquisition",
  // "allocation", "deallocation", "location", "error" (UBSan, LSan leak) or
  // "other".
  std::string role;
  std::string title;  // the line above the stack, e.g. "Write of size 4 at 0x... by thread T1:"
  std::vector<Frame> frames;
};

struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string function;
  [[nodiscard]] bool empty() const { return file.empty() && function.empty(); }
};

struct Finding {
  std::string tool;     // "tsan", "asan", "lsan", "ubsan"
  // The report kind in lower case with dashes: "data-race",
  // "lock-order-inversion", "heap-use-after-free", "thread-leak",
  // "signal-unsafe-call", "errno-spoiled", "destroy-of-locked-mutex",
  // "unlock-of-unlocked-mutex", "double-lock", "invalid-mutex-use",
  // "memory-leak", "stack-buffer-overflow", "signed-integer-overflow", ...
  std::string kind;
  std::string headline; // the WARNING/ERROR/runtime-error line, addresses included
  std::string summary;  // the SUMMARY line when present
  SourceLocation location;  // innermost frame in the user's code (not a runtime interceptor)
  std::vector<Stack> stacks;
  std::vector<std::string> threads;   // "Thread T1 (tid=12, running) created by main thread"
  std::vector<std::string> mutexes;   // "Mutex M1 (0x...) created at:" titles
  int pid = 0;                        // of the reporting process, when printed
  std::string raw;                    // the report's text, unchanged
  // Stable across runs, pids, addresses and ASLR: tool, kind and the
  // function/file (no line numbers of runtime frames) of the top user frames of each
  // access stack. Hex string.
  std::string signature;
  bool truncated = false;             // the log ended inside this report
  // `racegate gate` only (empty/default in `racegate run`): the finding
  // deduplicated by signature across every log of the command.
  std::string state;                  // "new", "known" (in the baseline) or "suppressed" (ignore list)
  std::string state_reason;           // the baseline's or the ignore list's reason
  int occurrences = 1;                // reports with this signature
  std::vector<int> pids;              // processes that reported it, ascending
};

void to_json(nlohmann::json& j, const Frame& f);
void from_json(const nlohmann::json& j, Frame& f);
void to_json(nlohmann::json& j, const Stack& s);
void from_json(const nlohmann::json& j, Stack& s);
void to_json(nlohmann::json& j, const SourceLocation& l);
void from_json(const nlohmann::json& j, SourceLocation& l);
void to_json(nlohmann::json& j, const Finding& f);
void from_json(const nlohmann::json& j, Finding& f);

}  // namespace racegate::reports
