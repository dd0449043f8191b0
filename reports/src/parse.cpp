// reports/src/parse.cpp — sanitizer logs into Findings (see parse.h).
//
// The log is scanned once, line by line. A report starts at a header line:
//
//   WARNING: ThreadSanitizer: <what> (pid=N)            (tsan, and msan)
//   ==N==ERROR: <Name>Sanitizer: <what>                  (asan, lsan, ubsan deadly signals, ...)
//   file:line:col: runtime error: <what>                 (ubsan)
//
// and ends at the report's own terminator:
//
//   tsan   the "==================" separator after the report;
//   error  "==N==ABORTING", or the first line after the SUMMARY line that is not
//          part of ASan's shadow-memory dump (reports printed with halt_on_error=0
//          have no ABORTING line);
//   leak   the SUMMARY line (one Finding per Direct/Indirect leak block);
//   ubsan  the SUMMARY line, or the first line that is neither a frame, a note,
//          an indented snippet line nor blank.
//
// Inside a report, a line "#N ..." is a frame; the last non-frame line before
// the first frame of a stack is the stack's title, and the title decides the
// stack's role. A header that arrives while another report is still open
// suspends the open one (two processes writing into one stream); when the new
// report has ended and the next non-blank line looks like a continuation of the
// suspended one (a frame, an indented title, its SUMMARY), that report is
// resumed, otherwise it is kept as truncated. A report is "truncated" when the
// log ends (or it is abandoned) before its SUMMARY line was read.
//
// Everything is std::string_view scanning: linear in the size of the log, no
// regular expressions, no exceptions of its own (only std::bad_alloc can
// escape, as from any allocation).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "racegate/reports/parse.h"

namespace racegate::reports {
namespace {

using std::string_view;

constexpr std::size_t kMaxSuspended = 8;
// Names kept per report (threads, mutexes): real reports name a handful; the
// cap keeps the de-duplication linear on hostile input.
constexpr std::size_t kMaxNames = 256;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

string_view trim_left(string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return s.substr(i);
}
string_view trim_right(string_view s) {
  std::size_t n = s.size();
  while (n > 0 && is_space(s[n - 1])) --n;
  return s.substr(0, n);
}
string_view trim(string_view s) { return trim_right(trim_left(s)); }

bool all_digits(string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
}

int to_int(string_view digits) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  (void)ptr;
  return ec == std::errc() ? v : 0;
}

std::uint64_t to_hex(string_view digits) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
  (void)ptr;
  return ec == std::errc() ? v : 0;
}

// "==1234==rest" -> rest (and the pid); anything else unchanged.
string_view strip_pid_prefix(string_view s, int* pid = nullptr) {
  if (s.size() < 5 || s[0] != '=' || s[1] != '=' || !is_digit(s[2])) return s;
  std::size_t i = 2;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (s.substr(i, 2) != "==") return s;
  if (pid != nullptr) *pid = to_int(s.substr(2, i - 2));
  return s.substr(i + 2);
}

bool is_separator(string_view line) {
  string_view t = trim(line);
  return t.size() >= 10 && std::all_of(t.begin(), t.end(), [](char c) { return c == '='; });
}

// ---------------------------------------------------------------- frames

// "path:line:col", "path:line", "path" or "<null>".
void parse_location(string_view loc, Frame& f) {
  if (loc.empty() || loc == "<null>" || loc == "<unknown>") return;
  std::size_t c1 = loc.rfind(':');
  if (c1 != string_view::npos && c1 > 0 && all_digits(loc.substr(c1 + 1))) {
    int last = to_int(loc.substr(c1 + 1));
    string_view head = loc.substr(0, c1);
    std::size_t c2 = head.rfind(':');
    if (c2 != string_view::npos && c2 > 0 && all_digits(head.substr(c2 + 1))) {
      f.file = std::string(head.substr(0, c2));
      f.line = to_int(head.substr(c2 + 1));
      f.column = last;
    } else {
      f.file = std::string(head);
      f.line = last;
    }
    return;
  }
  f.file = std::string(loc);
}

// Whether the last token of an ASan-style frame ("in func [location]") is a
// source location rather than the end of a function name with spaces in it
// ("operator new(unsigned long)", "foo() const").
bool looks_like_location(string_view token) {
  if (token.empty()) return false;
  if (token == "<null>") return true;
  if (token.find_first_of("()<>") != string_view::npos) return false;
  if (token.find('/') != string_view::npos) return true;
  std::size_t colon = token.rfind(':');
  return colon != string_view::npos && colon > 0 && all_digits(token.substr(colon + 1)) &&
         token[colon - 1] != ':';
}

// One frame line, in any of the formats the runtimes print:
//   clang TSan  "#0 func file:line:col (module+0xoff) (BuildId: ...)"
//   gcc TSan    "#0 func file:line (module+0xoff)"
//   ASan/UBSan  "#0 0xpc in func file:line:col", "#0 0xpc in func (module+0xoff)",
//               "#0 0xpc (module+0xoff)"
// "<null>" stands for an unknown function or file.
std::optional<Frame> parse_frame(string_view line) {
  string_view s = trim(line);
  if (s.size() < 3 || s[0] != '#' || !is_digit(s[1])) return std::nullopt;
  std::size_t i = 1;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i >= s.size() || !is_space(s[i])) return std::nullopt;
  Frame f;
  f.index = to_int(s.substr(1, i - 1));
  s = trim(s.substr(i));

  // Trailing "(BuildId: ...)".
  if (!s.empty() && s.back() == ')') {
    std::size_t b = s.rfind("(BuildId:");
    if (b != string_view::npos) s = trim_right(s.substr(0, b));
  }
  // Trailing "(module+0xoff)".
  if (!s.empty() && s.back() == ')') {
    std::size_t open = s.rfind('(');
    if (open != string_view::npos) {
      string_view inside = s.substr(open + 1, s.size() - open - 2);
      std::size_t plus = inside.rfind("+0x");
      if (plus != string_view::npos && inside.find(')') == string_view::npos) {
        f.module = std::string(inside.substr(0, plus));
        f.module_offset = to_hex(inside.substr(plus + 3));
        s = trim_right(s.substr(0, open));
      }
    }
  }

  bool asan_style = false;
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
    std::size_t j = 2;
    while (j < s.size() && is_hex(s[j])) ++j;
    if (j == s.size() || is_space(s[j])) {
      s = trim_left(s.substr(j));
      if (s.substr(0, 3) == "in ") s = trim_left(s.substr(3));
      asan_style = true;
    }
  }
  if (s.empty()) return f;

  string_view function = s;
  string_view location;
  std::size_t sp = s.rfind(' ');
  if (sp != string_view::npos) {
    string_view last = s.substr(sp + 1);
    // TSan always prints "function location"; ASan omits the location when it
    // has none.
    if (!asan_style || looks_like_location(last)) {
      function = trim_right(s.substr(0, sp));
      location = last;
    }
  } else if (!asan_style && looks_like_location(s) && s != "<null>") {
    function = {};
    location = s;
  }
  if (function != "<null>") f.function = std::string(function);
  parse_location(location, f);
  return f;
}

// ---------------------------------------------------------------- headers

enum class Family { kTsan, kError, kLeak, kUbsan };

struct Header {
  Family family = Family::kError;
  std::string tool;
  std::string kind;
  int pid = 0;
};

std::string tool_of(string_view sanitizer_name) {
  if (sanitizer_name == "Thread") return "tsan";
  if (sanitizer_name == "Address") return "asan";
  if (sanitizer_name == "Leak") return "lsan";
  if (sanitizer_name == "UndefinedBehavior") return "ubsan";
  if (sanitizer_name == "Memory") return "msan";
  if (sanitizer_name == "HWAddress") return "hwasan";
  std::string t;
  for (char c : sanitizer_name) t += to_lower(c);
  return t + "san";
}

// Words of `text` up to the first ':' or ',', without parenthesized parts and
// without words that carry numbers or addresses, joined by dashes:
// "thread T1 finished with ignores enabled" -> "thread-finished-with-ignores-enabled".
std::string slug(string_view text) {
  std::string out;
  int depth = 0;
  int words = 0;
  std::string word;
  bool word_has_digit = false;
  auto flush = [&] {
    if (!word.empty() && !word_has_digit && words < 8) {
      if (!out.empty()) out += '-';
      out += word;
      ++words;
    }
    word.clear();
    word_has_digit = false;
  };
  for (char c : text) {
    if (c == '(') {
      ++depth;
      continue;
    }
    if (c == ')') {
      if (depth > 0) --depth;
      continue;
    }
    if (depth > 0) continue;
    if (c == ':' || c == ',' || c == ';') break;
    if (is_alnum(c) || c == '-' || c == '_') {
      if (is_digit(c)) word_has_digit = true;
      word += (c == '_') ? '-' : to_lower(c);
    } else if (is_space(c)) {
      flush();
    }
    // other punctuation is dropped
  }
  flush();
  return out.empty() ? std::string("unknown") : out;
}

// A "dash-word" such as "heap-use-after-free" or an upper-case signal name
// ("SEGV", "FPE") at the start of `text`, lower-cased; empty when none.
std::string leading_kind_token(string_view text) {
  std::size_t end = 0;
  while (end < text.size() && (is_alnum(text[end]) || text[end] == '-' || text[end] == '_')) ++end;
  string_view tok = text.substr(0, end);
  if (tok.empty() || !is_alpha(tok[0])) return {};
  if (end < text.size() && !(is_space(text[end]) || text[end] == ':' || text[end] == '('))
    return {};
  bool has_dash = tok.find('-') != string_view::npos;
  bool all_upper = std::all_of(tok.begin(), tok.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || is_digit(c);
  });
  if (!has_dash && !(all_upper && tok.size() >= 3)) return {};
  std::string k;
  for (char c : tok) k += (c == '_') ? '-' : to_lower(c);
  return k;
}

std::string tsan_kind(string_view text) {
  struct Entry {
    string_view prefix;
    string_view kind;
  };
  static constexpr std::array<Entry, 15> kTable{{
      {"data race on vptr", "data-race-vptr"},
      {"data race", "data-race"},
      {"heap-use-after-free (virtual call vs free)", "heap-use-after-free-vptr"},
      {"heap-use-after-free", "heap-use-after-free"},
      {"thread leak", "thread-leak"},
      {"destroy of a locked mutex", "destroy-of-locked-mutex"},
      {"double lock of a mutex", "double-lock"},
      {"use of an invalid mutex", "invalid-mutex-use"},
      {"unlock of an unlocked mutex", "unlock-of-unlocked-mutex"},
      {"read lock of a write locked mutex", "read-lock-of-write-locked-mutex"},
      {"read unlock of a write locked mutex", "read-unlock-of-write-locked-mutex"},
      {"signal-unsafe call inside of a signal", "signal-unsafe-call"},
      {"signal handler spoils errno", "errno-spoiled"},
      {"lock-order-inversion", "lock-order-inversion"},
      {"race on ", "external-race"},
  }};
  for (const auto& e : kTable) {
    if (text.substr(0, e.prefix.size()) == e.prefix) return std::string(e.kind);
  }
  return slug(text);
}

// ASan and the other "ERROR: XSanitizer: <what>" reports.
std::string error_kind(string_view text) {
  struct Entry {
    string_view prefix;
    string_view kind;
  };
  static constexpr std::array<Entry, 9> kTable{{
      {"attempting double-free", "double-free"},
      {"attempting free on address which was not malloc()-ed", "bad-free"},
      {"requested allocation size", "allocation-size-too-big"},
      {"allocator is out of memory", "out-of-memory"},
      {"out of memory", "out-of-memory"},
      {"calloc parameters overflow", "calloc-overflow"},
      {"reallocarray parameters overflow", "reallocarray-overflow"},
      {"invalid alignment requested", "invalid-allocation-alignment"},
      {"attempting to call malloc_usable_size()", "malloc-usable-size-not-owned"},
  }};
  for (const auto& e : kTable) {
    if (text.substr(0, e.prefix.size()) == e.prefix) return std::string(e.kind);
  }
  std::string k = leading_kind_token(text);
  return k.empty() ? slug(text) : k;
}

bool contains(string_view s, string_view needle) { return s.find(needle) != string_view::npos; }

// UBSan's check names (as report_error_type=1 prints them) from the text after
// "runtime error: ".
std::string ubsan_kind(string_view text) {
  if (contains(text, "unsigned integer overflow")) return "unsigned-integer-overflow";
  if (contains(text, "signed integer overflow")) return "signed-integer-overflow";
  if (text.substr(0, 12) == "negation of ")
    return contains(text, "'unsigned") ? "unsigned-integer-overflow" : "signed-integer-overflow";
  if (text.substr(0, 12) == "division of ") return "signed-integer-overflow";
  if (contains(text, "division by zero")) return "integer-divide-by-zero";
  if (contains(text, "shift exponent")) return "invalid-shift-exponent";
  if (contains(text, "left shift of")) return "invalid-shift-base";
  if (text.substr(0, 6) == "index " && contains(text, "out of bounds")) return "out-of-bounds-index";
  if (contains(text, "misaligned address")) return "misaligned-pointer-use";
  if (text.substr(0, 9) == "applying ") {
    if (contains(text, "zero offset") && !contains(text, "non-zero")) return "nullptr-with-offset";
    if (contains(text, "to null pointer")) return "nullptr-with-nonzero-offset";
    if (contains(text, "produced null pointer")) return "nullptr-after-nonzero-offset";
    return "pointer-overflow";
  }
  if (contains(text, "null pointer passed as argument")) return "invalid-null-argument";
  if (contains(text, "null pointer returned from function")) return "invalid-null-return";
  if (contains(text, "null pointer")) return "null-pointer-use";
  if (contains(text, "pointer index expression") || contains(text, "unsigned offset"))
    return "pointer-overflow";
  if (contains(text, "for type 'bool'") && contains(text, "not a valid value"))
    return "invalid-bool-load";
  if (contains(text, "not a valid value for type")) return "invalid-enum-load";
  if (contains(text, "end of a value-returning function")) return "missing-return";
  if (contains(text, "unreachable program point")) return "unreachable-call";
  if (contains(text, "variable length array bound")) return "non-positive-vla-index";
  if (contains(text, "outside the range of representable values")) return "float-cast-overflow";
  if (contains(text, "through pointer to incorrect function type")) return "function-type-mismatch";
  if (contains(text, "does not point to an object of type")) return "dynamic-type-mismatch";
  if (contains(text, "implicit conversion from")) return "implicit-conversion";
  if (text.substr(0, 11) == "passing zero to") return "invalid-builtin-use";
  if (contains(text, "alignment assumption")) return "alignment-assumption";
  if (contains(text, "control flow integrity check")) return "cfi-bad-type";
  if (contains(text, "insufficient space") || contains(text, "insufficient object size"))
    return "insufficient-object-size";
  return slug(text);
}

// "WARNING: ThreadSanitizer: " or "ERROR: AddressSanitizer: " somewhere in
// `line`: the sanitizer name ("Thread") and the text after the header.
bool find_sanitizer_header(string_view line, string_view level, string_view* name,
                           string_view* text) {
  std::size_t from = 0;
  while (true) {
    std::size_t at = line.find(level, from);
    if (at == string_view::npos) return false;
    std::size_t b = at + level.size();
    std::size_t e = b;
    while (e < line.size() && is_alpha(line[e])) ++e;
    string_view ident = line.substr(b, e - b);
    constexpr string_view kSan = "Sanitizer";
    if (ident.size() > kSan.size() && ident.substr(ident.size() - kSan.size()) == kSan &&
        line.substr(e, 2) == ": ") {
      *name = ident.substr(0, ident.size() - kSan.size());
      *text = trim(line.substr(e + 2));
      return true;
    }
    from = at + 1;
  }
}

std::optional<Header> detect_header(string_view line) {
  string_view name;
  string_view text;
  if (find_sanitizer_header(line, "WARNING: ", &name, &text) &&
      (name == "Thread" || name == "Memory")) {
    Header h;
    h.tool = tool_of(name);
    h.family = name == "Thread" ? Family::kTsan : Family::kError;
    std::size_t p = text.rfind("(pid=");
    if (p != string_view::npos) {
      std::size_t e = p + 5;
      while (e < text.size() && is_digit(text[e])) ++e;
      h.pid = to_int(text.substr(p + 5, e - p - 5));
      text = trim_right(text.substr(0, p));
    }
    h.kind = name == "Thread" ? tsan_kind(text) : error_kind(text);
    return h;
  }
  if (find_sanitizer_header(line, "ERROR: ", &name, &text)) {
    Header h;
    h.tool = tool_of(name);
    (void)strip_pid_prefix(trim_left(line), &h.pid);
    if (name == "Leak" && text.substr(0, 21) == "detected memory leaks") {
      h.family = Family::kLeak;
      h.kind = "memory-leak";
    } else {
      h.family = Family::kError;
      h.kind = error_kind(text);
    }
    return h;
  }
  constexpr string_view kRuntimeError = ": runtime error: ";
  std::size_t at = line.find(kRuntimeError);
  if (at != string_view::npos) {
    Header h;
    h.family = Family::kUbsan;
    h.tool = "ubsan";
    h.kind = ubsan_kind(trim(line.substr(at + kRuntimeError.size())));
    return h;
  }
  return std::nullopt;
}

// The kind token of "SUMMARY: XSanitizer: <kind> ..." ("undefined-behavior",
// "heap-use-after-free", "SEGV" -> "segv"), empty when it has none.
std::string summary_kind(string_view summary) {
  std::size_t at = summary.find("Sanitizer: ");
  if (at == string_view::npos) return {};
  return leading_kind_token(summary.substr(at + 11));
}

// ---------------------------------------------------------------- stacks

std::string role_of(string_view title) {
  auto starts = [&](string_view p) { return title.substr(0, p.size()) == p; };
  if (title.empty()) return "error";
  if (starts("Previous ")) return "previous-access";
  if (starts("Read of size") || starts("Write of size") || starts("Atomic read of size") ||
      starts("Atomic write of size") || starts("READ of size") || starts("WRITE of size"))
    return "access";
  if (starts("Location is heap block")) return "allocation";
  if (starts("Location is ")) return "location";
  if (starts("Address ") && contains(title, " is located in stack")) return "location";
  if (starts("Thread T") && contains(title, " created by ")) return "thread-creation";
  if (starts("Mutex M") &&
      (contains(title, " acquired here") || contains(title, " previously acquired")))
    return "mutex-acquisition";
  if (title == "and:") return "mutex-acquisition";  // destroy of a locked mutex: where it was locked
  if (starts("Direct leak of") || starts("Indirect leak of")) return "error";
  if (contains(title, "freed by thread")) return "deallocation";
  if (contains(title, "allocated by thread")) return "allocation";
  return "other";
}

// "Thread T1 (tid=12, running) created by main thread at:" -> without " at:".
std::string thread_name(string_view title) {
  string_view t = trim(title);
  if (!t.empty() && t.back() == ':') t.remove_suffix(1);
  for (string_view tail : {string_view(" at"), string_view(" here")}) {
    if (t.size() > tail.size() && t.substr(t.size() - tail.size()) == tail) {
      t.remove_suffix(tail.size());
      break;
    }
  }
  return std::string(t);
}

// "Mutex M12 ..." -> "M12".
string_view mutex_id(string_view s) {
  if (s.substr(0, 7) == "Mutex M") s.remove_prefix(6);
  std::size_t e = 1;
  while (e < s.size() && is_digit(s[e])) ++e;
  return s.substr(0, e);
}

struct Line {
  std::size_t begin = 0;  // offset of the first character
  std::size_t end = 0;    // offset after the line's '\n' (or the end of the log)
  string_view text;       // without the line break
};

struct OpenReport {
  Finding finding;
  Family family = Family::kError;
  std::size_t start = 0;  // offset of the first line, for ordering
  std::vector<std::pair<std::size_t, std::size_t>> segments;
  std::size_t seg_begin = 0;
  std::size_t seg_end = 0;  // after the last non-blank line appended
  std::size_t seg_end_any = 0;  // after the last line appended, blank or not
  bool in_stack = false;
  std::string pending_title;
  bool seen_summary = false;
  bool tail = false;  // error family: after SUMMARY, in the shadow dump
  std::vector<std::pair<std::size_t, std::size_t>> stack_ranges;  // per stack, for leak blocks
};

class Scanner {
 public:
  explicit Scanner(string_view log) : log_(log) {}

  std::vector<Finding> run() {
    split_lines();
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      // A line is looked at again only after the report it ended was closed,
      // at most a few times: each pass closes or resumes something.
      for (int pass = 0; pass < 4; ++pass) {
        if (!process(i)) break;
      }
    }
    if (open_) close(/*truncated=*/!open_->seen_summary);
    abandon_suspended();
    std::stable_sort(done_.begin(), done_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Finding> out;
    out.reserve(done_.size());
    for (auto& [start, f] : done_) out.push_back(std::move(f));
    return out;
  }

 private:
  void split_lines() {
    std::size_t pos = 0;
    while (pos < log_.size()) {
      std::size_t nl = log_.find('\n', pos);
      std::size_t stop = nl == string_view::npos ? log_.size() : nl;
      Line l;
      l.begin = pos;
      l.end = nl == string_view::npos ? log_.size() : nl + 1;
      l.text = log_.substr(pos, stop - pos);
      if (!l.text.empty() && l.text.back() == '\r') l.text.remove_suffix(1);
      lines_.push_back(l);
      pos = l.end;
    }
  }

  bool next_is_header(std::size_t i) const {
    return i + 1 < lines_.size() && detect_header(lines_[i + 1].text).has_value();
  }

  // Handles line i; returns true when it must be looked at again.
  bool process(std::size_t i) {
    const Line& line = lines_[i];
    // A separator right before a header belongs to the new report.
    if (is_separator(line.text) && next_is_header(i)) {
      if (open_) {
        if (open_->seen_summary) {
          close(false);
        } else {
          suspend();
        }
      }
      return false;
    }
    if (auto header = detect_header(line.text)) {
      if (open_) {
        if (open_->seen_summary) {
          close(false);
        } else {
          suspend();
        }
      }
      start(i, *header);
      return false;
    }
    if (!open_) {
      if (suspended_.empty() || trim(line.text).empty()) return false;
      if (!is_continuation(suspended_.back(), line.text)) {
        abandon_suspended();
        return false;
      }
      open_ = std::move(suspended_.back());
      suspended_.pop_back();
      open_->seg_begin = line.begin;
      open_->seg_end = line.begin;
      open_->seg_end_any = line.begin;
    }
    return feed(i);
  }

  static bool is_continuation(const OpenReport& r, string_view text) {
    string_view t = trim(text);
    if (parse_frame(t)) return true;
    if (t.substr(0, 9) == "SUMMARY: ") return true;
    if (r.family == Family::kTsan) return !text.empty() && is_space(text[0]);
    if (r.family == Family::kLeak)
      return t.substr(0, 14) == "Direct leak of" || t.substr(0, 16) == "Indirect leak of";
    if (r.family == Family::kError)
      return role_of(t) != "other" || contains(t, " is located ");
    return false;
  }

  void start(std::size_t i, const Header& h) {
    open_.emplace();
    OpenReport& r = *open_;
    r.family = h.family;
    r.finding.tool = h.tool;
    r.finding.kind = h.kind;
    r.finding.pid = h.pid;
    r.finding.headline = std::string(trim(lines_[i].text));
    std::size_t first = i;
    if (i > 0 && i - 1 >= consumed_until_ && is_separator(lines_[i - 1].text)) first = i - 1;
    r.start = lines_[first].begin;
    r.seg_begin = lines_[first].begin;
    r.seg_end = lines_[i].end;
    r.seg_end_any = lines_[i].end;
    consumed_until_ = i + 1;
    if (h.family == Family::kUbsan) {
      // The location UBSan puts in front of "runtime error:".
      string_view t = trim(lines_[i].text);
      string_view loc = t.substr(0, t.find(": runtime error: "));
      std::size_t sp = loc.rfind(' ');
      if (sp != string_view::npos) loc = loc.substr(sp + 1);
      Frame f;
      parse_location(loc, f);
      r.finding.location.file = f.file;
      r.finding.location.line = f.line;
      r.finding.location.column = f.column;
    }
  }

  // Appends line i to the open report; returns true when the report ended
  // without taking the line (the caller looks at it again).
  bool feed(std::size_t i) {
    OpenReport& r = *open_;
    const Line& line = lines_[i];
    string_view t = trim(line.text);
    string_view body = strip_pid_prefix(t);

    if (r.tail) {
      bool dump = t.empty() || is_space(line.text[0]) || t.substr(0, 2) == "=>" ||
                  t.substr(0, 12) == "Shadow bytes" || t.substr(0, 11) == "Shadow byte" ||
                  body.size() != t.size();
      if (!dump) {
        close(false);
        return true;
      }
      append(i);
      if (body.substr(0, 8) == "ABORTING") close(false);
      return false;
    }

    if (r.family == Family::kTsan && is_separator(t)) {
      append(i);
      close(false);
      return false;
    }
    if (t.substr(0, 9) == "SUMMARY: ") {
      r.finding.summary = std::string(t);
      r.seen_summary = true;
      r.in_stack = false;
      append(i);
      if (r.family == Family::kError) {
        r.tail = true;
        std::string k = summary_kind(t);
        if (!k.empty() && r.finding.kind == slug(strip_header_text(r.finding.headline))) {
          r.finding.kind = k;
        }
      } else if (r.family == Family::kUbsan) {
        std::string k = summary_kind(t);
        if (!k.empty() && k != "undefined-behavior") r.finding.kind = k;
        close(false);
      } else if (r.family == Family::kLeak) {
        close(false);
      }
      return false;
    }
    if (r.family == Family::kError && body.substr(0, 8) == "ABORTING") {
      append(i);
      close(false);
      return false;
    }

    std::optional<Frame> frame = parse_frame(t);
    if (r.family == Family::kUbsan && !frame && !t.empty() && !is_space(line.text[0]) &&
        !contains(t, ": note: ")) {
      close(false);
      return true;
    }
    append(i);
    if (frame) {
      if (!r.in_stack || (frame->index == 0 && !r.finding.stacks.empty() &&
                          !r.finding.stacks.back().frames.empty())) {
        Stack s;
        s.title = r.pending_title;
        s.role = role_of(s.title);
        r.finding.stacks.push_back(std::move(s));
        r.stack_ranges.emplace_back(r.pending_title.empty() ? line.begin : title_begin_, line.end);
        r.pending_title.clear();
      }
      r.finding.stacks.back().frames.push_back(std::move(*frame));
      r.stack_ranges.back().second = line.end;
      r.in_stack = true;
      return false;
    }
    r.in_stack = false;
    if (t.empty()) {
      r.pending_title.clear();
      return false;
    }
    note_names(r, t);
    // "==N==Hint: ..." lines are remarks, not stack titles.
    if (body.size() == t.size()) {
      r.pending_title = std::string(t);
      title_begin_ = line.begin;
    } else {
      r.pending_title.clear();
    }
    return false;
  }

  static string_view strip_header_text(string_view headline) {
    std::size_t at = headline.find("Sanitizer: ");
    return at == string_view::npos ? headline : trim(headline.substr(at + 11));
  }

  // Thread and mutex names mentioned by a line of the report.
  static void note_names(OpenReport& r, string_view t) {
    Finding& f = r.finding;
    if (f.threads.size() >= kMaxNames || f.mutexes.size() >= kMaxNames) return;
    if (t.substr(0, 8) == "Thread T" && contains(t, " created by ")) {
      std::string name = thread_name(t);
      if (std::find(f.threads.begin(), f.threads.end(), name) == f.threads.end())
        f.threads.push_back(std::move(name));
      return;
    }
    if (t.substr(0, 7) == "Mutex M" && contains(t, " created at")) {
      string_view id = mutex_id(t);
      for (auto& m : f.mutexes) {
        if (mutex_id(m) == id) {
          m = std::string(t);
          return;
        }
      }
      f.mutexes.emplace_back(t);
      return;
    }
    constexpr string_view kCycle = "Cycle in lock order graph: ";
    if (t.substr(0, kCycle.size()) == kCycle) {
      string_view rest = t.substr(kCycle.size());
      while (!rest.empty()) {
        std::size_t arrow = rest.find(" => ");
        string_view item = trim(rest.substr(0, arrow));
        rest = arrow == string_view::npos ? string_view() : rest.substr(arrow + 4);
        if (item.find('(') == string_view::npos) continue;  // the cycle's closing "M0"
        string_view id = mutex_id(item);
        bool known = std::any_of(f.mutexes.begin(), f.mutexes.end(),
                                 [&](const std::string& m) { return mutex_id(m) == id; });
        if (!known) f.mutexes.push_back("Mutex " + std::string(item));
      }
    }
  }

  void append(std::size_t i) {
    OpenReport& r = *open_;
    consumed_until_ = i + 1;
    r.seg_end_any = lines_[i].end;
    if (!trim(lines_[i].text).empty()) r.seg_end = lines_[i].end;
  }

  void suspend() {
    OpenReport& r = *open_;
    r.in_stack = false;
    r.pending_title.clear();
    // Blank lines before the interruption are the report's own (its stacks
    // are separated by them); trailing blank lines of a finished report are not.
    std::size_t end = std::max(r.seg_end, r.seg_end_any);
    if (end > r.seg_begin) r.segments.emplace_back(r.seg_begin, end);
    suspended_.push_back(std::move(r));
    open_.reset();
    if (suspended_.size() > kMaxSuspended) {
      finish(std::move(suspended_.front()), true);
      suspended_.erase(suspended_.begin());
    }
  }

  void abandon_suspended() {
    for (auto& r : suspended_) finish(std::move(r), !r.seen_summary);
    suspended_.clear();
  }

  void close(bool truncated) {
    OpenReport& r = *open_;
    if (r.seg_end > r.seg_begin) r.segments.emplace_back(r.seg_begin, r.seg_end);
    finish(std::move(r), truncated);
    open_.reset();
  }

  void finish(OpenReport&& r, bool truncated) {
    std::string raw;
    for (auto [b, e] : r.segments) raw.append(log_.substr(b, e - b));
    r.finding.truncated = truncated;
    if (r.family != Family::kLeak) {
      r.finding.raw = std::move(raw);
      done_.emplace_back(r.start, std::move(r.finding));
      return;
    }
    // One Finding per leak block; a leak report without blocks stays whole.
    std::vector<std::size_t> leaks;
    for (std::size_t k = 0; k < r.finding.stacks.size(); ++k) {
      const std::string& title = r.finding.stacks[k].title;
      if (title.rfind("Direct leak of", 0) == 0 || title.rfind("Indirect leak of", 0) == 0)
        leaks.push_back(k);
    }
    if (leaks.empty()) {
      r.finding.raw = std::move(raw);
      done_.emplace_back(r.start, std::move(r.finding));
      return;
    }
    for (std::size_t k : leaks) {
      Finding f;
      f.tool = r.finding.tool;
      f.kind = r.finding.kind;
      f.headline = r.finding.headline;
      f.summary = r.finding.summary;
      f.pid = r.finding.pid;
      f.truncated = truncated;
      f.stacks.push_back(r.finding.stacks[k]);
      auto [b, e] = r.stack_ranges[k];
      if (b < e && e <= log_.size()) f.raw = std::string(log_.substr(b, e - b));
      done_.emplace_back(b, std::move(f));
    }
  }

  string_view log_;
  std::vector<Line> lines_;
  std::optional<OpenReport> open_;
  std::vector<OpenReport> suspended_;
  std::vector<std::pair<std::size_t, Finding>> done_;
  std::size_t consumed_until_ = 0;  // lines before this index belong to some report
  std::size_t title_begin_ = 0;
};

}  // namespace

std::vector<Finding> parse_sanitizer_log(std::string_view log, const ParseOptions& options) {
  std::vector<Finding> findings = Scanner(log).run();
  for (Finding& f : findings) finalize_finding(f, options);
  return findings;
}

}  // namespace racegate::reports
