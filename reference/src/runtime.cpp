#include "racegate/internal/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <memory>
#include <mutex>
#include <typeinfo>

#include "racegate/errors.h"

namespace racegate::internal {
namespace {

void run_exit_handlers() {
  // CPython order: threading._shutdown() first, then multiprocessing's handler.
  try {
    join_nondaemon_threads();
    terminate_and_join_children();
  } catch (...) {
    char buf[512];
    std::fprintf(stderr, "racegate: error at exit: %s\n",
                 describe_current_exception(buf, sizeof buf));
  }
}

}  // namespace

void ensure_exit_hook() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(run_exit_handlers); });
}

std::string short_type_name(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string name = (status == 0 && demangled) ? demangled.get() : mangled;
  if (auto lt = name.find('<'); lt != std::string::npos) name.resize(lt);
  if (auto colon = name.rfind("::"); colon != std::string::npos) name.erase(0, colon + 2);
  return name;
}

const char* describe_current_exception(char* buf, unsigned long size) noexcept {
  try {
    throw;
  } catch (const racegate::Error& e) {
    std::snprintf(buf, size, "%s: %s", e.python_type(), e.what());
  } catch (const std::exception& e) {
    std::string type;
    try {
      type = short_type_name(typeid(e).name());
    } catch (...) {
      type = "exception";
    }
    std::snprintf(buf, size, "%s: %s", type.c_str(), e.what());
  } catch (...) {
    std::snprintf(buf, size, "unknown exception");
  }
  return buf;
}

}  // namespace racegate::internal
