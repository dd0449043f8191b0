// reports/src/parse_finalize.cpp — user frames, locations and signatures of
// parsed findings (see parse.h).
//
// User frame: a frame with a source file that is not in the sanitizer runtime
// (interceptors such as __interceptor_free, __tsan_* / __asan_* entry points,
// compiler-rt or gcc libsanitizer sources), not in libc, libstdc++ or another
// system library, and not in a system header (/usr/include/..., also when the
// path is spelled /usr/bin/../lib/gcc/.../include/c++/12/... as clang prints
// it). A frame without a source file is never a user frame: clang 14's static
// runtimes print their interceptors as "malloc <null> (prog+0x...)", in the
// user's own module.
//
// Signature: FNV-1a 64 (16 hex digits) of a canonical text made of
//   - the tool and the kind;
//   - for a UBSan "runtime error:" report, the file basename, line and column
//     that UBSan prints in front of "runtime error:" (UBSan reports each source
//     location once; it is the identity of the check, with or without a stack);
//   - otherwise, for each "access", "previous-access", "error" and
//     "mutex-acquisition" stack (or, when there is none, the first stack), the
//     function and file basename of its top 3 user frames. Line numbers are
//     left out on purpose, so that an edit elsewhere in a file does not turn
//     a known (baselined) finding into a new one; two different races in one
//     function share a signature. A stack without user frames contributes the
//     function and module basename of its top 3 named frames instead. For LSan,
//     whether the leak is direct or indirect is part of it.
//   The per-stack parts are sorted, so the order in which TSan prints the two
//   accesses of a race (which one is "Previous") does not matter.
// Nothing that changes between runs enters it: no address, pid, thread number,
// BuildId, module offset, directory or (non-UBSan) line number.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "racegate/reports/parse.h"

namespace racegate::reports {
namespace {

using std::string_view;

constexpr std::size_t kSignatureFrames = 3;

bool starts_with(string_view s, string_view p) { return s.substr(0, p.size()) == p; }
bool contains(string_view s, string_view n) { return s.find(n) != string_view::npos; }

string_view basename(string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == string_view::npos ? path : path.substr(slash + 1);
}

// "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/x.h"
// -> "/usr/include/c++/12/x.h" (purely lexical).
std::string lexically_normal(string_view path) {
  if (!contains(path, "/.") && !starts_with(path, "./") && !starts_with(path, "../"))
    return std::string(path);
  bool absolute = starts_with(path, "/");
  std::vector<string_view> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == string_view::npos) slash = path.size();
    string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out.append(parts[i]);
  }
  return out;
}

bool is_runtime_function(string_view fn) {
  static constexpr std::array<string_view, 12> kPrefixes{
      "__interceptor_", "___interceptor_", "__interception", "__sanitizer", "__tsan",
      "__asan",         "__lsan",          "__ubsan",        "__msan",      "__hwasan",
      "__dfsan",        "__cxa_guard_"};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](string_view p) { return starts_with(fn, p); });
}

bool is_system_module(string_view module) {
  static constexpr std::array<string_view, 16> kPrefixes{
      "libtsan.",    "libasan.",   "libubsan.",     "liblsan.",     "libhwasan.",
      "libclang_rt", "libc.so",    "libc-",         "libstdc++.",   "libgcc_s.",
      "libm.so",     "libpthread", "ld-linux",      "libdl.",       "librt.",
      "libc++"};
  string_view base = basename(module);
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](string_view p) { return starts_with(base, p); });
}

bool is_runtime_or_system_file(string_view file, const ParseOptions& options) {
  std::string norm = lexically_normal(file);
  string_view f = norm;
  for (const std::string& prefix : options.system_prefixes) {
    if (!prefix.empty() && starts_with(f, prefix)) return true;
  }
  return contains(f, "/libsanitizer/") || starts_with(f, "libsanitizer/") ||
         contains(f, "compiler-rt/lib/") || contains(f, "/sanitizer_common/") ||
         contains(f, "/include/c++/") || contains(f, "/sysdeps/") || starts_with(f, "sysdeps/") ||
         starts_with(f, "csu/") || starts_with(f, "nptl/");
}

void fnv1a(std::uint64_t& h, string_view s) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
}

std::string to_hex16(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

bool is_signature_role(string_view role) {
  return role == "access" || role == "previous-access" || role == "error" ||
         role == "mutex-acquisition";
}

std::string stack_part(const Stack& s, const ParseOptions& options) {
  std::string part;
  if (starts_with(s.title, "Indirect leak of")) part = "indirect: ";
  std::size_t taken = 0;
  for (const Frame& f : s.frames) {
    if (taken == kSignatureFrames) break;
    if (!is_user_frame(f, options)) continue;
    if (taken++ > 0) part += " < ";
    part += f.function;
    part += '@';
    part.append(basename(f.file));
  }
  if (taken > 0) return part;
  for (const Frame& f : s.frames) {
    if (taken == kSignatureFrames) break;
    if (f.function.empty() || is_runtime_function(f.function)) continue;
    if (taken++ > 0) part += " < ";
    part += f.function;
    part += '@';
    part.append(basename(f.module));
  }
  return part;
}

// "path/file.cpp:12:5: runtime error: ..." -> "file.cpp:12:5"; empty when the
// headline is not a UBSan runtime error.
std::string ubsan_site(string_view headline) {
  std::size_t at = headline.find(": runtime error: ");
  if (at == string_view::npos) return {};
  string_view loc = headline.substr(0, at);
  std::size_t sp = loc.find_last_of(" \t");
  if (sp != string_view::npos) loc = loc.substr(sp + 1);
  return std::string(basename(loc));
}

}  // namespace

bool is_user_frame(const Frame& frame, const ParseOptions& options) {
  if (frame.file.empty()) return false;
  if (is_runtime_function(frame.function)) return false;
  if (!frame.module.empty() && is_system_module(frame.module)) return false;
  return !is_runtime_or_system_file(frame.file, options);
}

void finalize_finding(Finding& finding, const ParseOptions& options) {
  // Location: innermost user frame of the first stack that has one; a UBSan
  // report without a stack keeps the location its headline gave.
  bool located = false;
  for (const Stack& s : finding.stacks) {
    for (const Frame& f : s.frames) {
      if (!is_user_frame(f, options)) continue;
      finding.location.file = f.file;
      finding.location.line = f.line;
      finding.location.column = f.column;
      finding.location.function = f.function;
      located = true;
      break;
    }
    if (located) break;
  }

  std::vector<std::string> parts;
  std::string site = finding.tool == "ubsan" ? ubsan_site(finding.headline) : std::string();
  if (!site.empty()) {
    parts.push_back("at " + site);
  } else {
    bool any_role = std::any_of(finding.stacks.begin(), finding.stacks.end(),
                                [](const Stack& s) { return is_signature_role(s.role); });
    for (const Stack& s : finding.stacks) {
      if (any_role ? !is_signature_role(s.role) : &s != &finding.stacks.front()) continue;
      std::string part = stack_part(s, options);
      if (!part.empty()) parts.push_back(std::move(part));
    }
    if (parts.empty() && !finding.location.empty()) {
      parts.push_back("at " + std::string(basename(finding.location.file)) + ':' +
                      std::to_string(finding.location.line));
    }
  }
  std::sort(parts.begin(), parts.end());

  std::uint64_t h = 0xcbf29ce484222325ull;
  fnv1a(h, finding.tool);
  fnv1a(h, "\n");
  fnv1a(h, finding.kind);
  for (const std::string& p : parts) {
    fnv1a(h, "\n");
    fnv1a(h, p);
  }
  finding.signature = to_hex16(h);
}

}  // namespace racegate::reports
