// What Pool and ThreadPool share: results, options, the task registry, the
// error table, cpu_count().
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <cxxabi.h>
#include <memory>
#include <mutex>
#include <sched.h>
#include <string>
#include <typeinfo>
#include <unistd.h>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/pool_engine.h"
#include "racegate/internal/pool_result.h"
#include "racegate/internal/pool_task.h"
#include "racegate/mp/pool.h"
#include "racegate/threading/thread.h"

namespace racegate::internal::pool {
namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                           std::free);
  return (status == 0 && d) ? std::string(d.get()) : std::string(mangled);
}

// The racegate types a worker's error keeps across the process boundary.
// Index = ErrorInfo::exact; the table is the same in parent and workers.
struct ErrorType {
  const std::type_info* type;
  std::exception_ptr (*make)(const std::string& message);
  void (*raise)(const std::string& message);
};

template <class E>
std::exception_ptr make_error(const std::string& message) {
  return std::make_exception_ptr(E(message));
}

template <class E>
void raise_error(const std::string& message) {
  throw E(message);
}

#define RACEGATE_ERROR_TYPE(E) {&typeid(E), &make_error<E>, &raise_error<E>}

const ErrorType kErrorTypes[] = {
    RACEGATE_ERROR_TYPE(Error),
    RACEGATE_ERROR_TYPE(AssertionError),
    RACEGATE_ERROR_TYPE(ValueError),
    RACEGATE_ERROR_TYPE(RuntimeError),
    RACEGATE_ERROR_TYPE(OSError),
    RACEGATE_ERROR_TYPE(TimeoutError),
    RACEGATE_ERROR_TYPE(TypeError),
    RACEGATE_ERROR_TYPE(AttributeError),
    RACEGATE_ERROR_TYPE(KeyError),
    RACEGATE_ERROR_TYPE(IndexError),
    RACEGATE_ERROR_TYPE(ProcessError),
    RACEGATE_ERROR_TYPE(BufferTooShort),
    RACEGATE_ERROR_TYPE(AuthenticationError),
    RACEGATE_ERROR_TYPE(Full),
    RACEGATE_ERROR_TYPE(Empty),
    RACEGATE_ERROR_TYPE(EofError),
    RACEGATE_ERROR_TYPE(BrokenBarrierError),
    RACEGATE_ERROR_TYPE(BrokenPoolError),
    RACEGATE_ERROR_TYPE(OwnerDiedError),
};
#undef RACEGATE_ERROR_TYPE

// The standard exception types a copy can be made of (message only).
const ErrorType kStdTypes[] = {
    {&typeid(std::runtime_error), nullptr, &raise_error<std::runtime_error>},
    {&typeid(std::logic_error), nullptr, &raise_error<std::logic_error>},
    {&typeid(std::invalid_argument), nullptr, &raise_error<std::invalid_argument>},
    {&typeid(std::domain_error), nullptr, &raise_error<std::domain_error>},
    {&typeid(std::length_error), nullptr, &raise_error<std::length_error>},
    {&typeid(std::out_of_range), nullptr, &raise_error<std::out_of_range>},
    {&typeid(std::range_error), nullptr, &raise_error<std::range_error>},
    {&typeid(std::overflow_error), nullptr, &raise_error<std::overflow_error>},
    {&typeid(std::underflow_error), nullptr, &raise_error<std::underflow_error>},
};

constexpr std::int32_t kErrorTypeCount = static_cast<std::int32_t>(sizeof kErrorTypes / sizeof kErrorTypes[0]);

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<void>> objects;  // guarded by mu
  std::atomic<std::uint64_t> generation{0};
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: workers may run at exit
  return *r;
}

}  // namespace

ErrorInfo describe_current_exception() {
  ErrorInfo info;
  try {
    throw;
  } catch (const RemoteError& e) {
    info.type = e.python_type();
    info.message = e.what();
  } catch (const Error& e) {
    info.type = e.python_type();
    info.message = e.what();
    for (std::int32_t i = 0; i < kErrorTypeCount; ++i) {
      if (typeid(e) == *kErrorTypes[i].type) {
        info.exact = i;
        break;
      }
    }
  } catch (const mp::SystemExit& e) {
    info.type = "SystemExit";
    info.message = std::to_string(e.code());
  } catch (const std::exception& e) {
    info.type = demangle(typeid(e).name());
    info.message = e.what();
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    info.type = t ? demangle(t->name()) : "unknown exception";
  }
  return info;
}

std::exception_ptr rebuild_exception(const ErrorInfo& info) {
  if (info.exact >= 0 && info.exact < kErrorTypeCount) return kErrorTypes[info.exact].make(info.message);
  return std::make_exception_ptr(RemoteError(info.type, info.message));
}

void rethrow_fresh(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const RemoteError& e) {
    throw RemoteError(e.python_type(), std::string(e.what()));
  } catch (const Error& e) {
    for (const auto& t : kErrorTypes) {
      if (typeid(e) == *t.type) t.raise(std::string(e.what()));
    }
    throw;
  } catch (const mp::SystemExit& e) {
    throw mp::SystemExit(e.code());
  } catch (const std::bad_alloc&) {
    throw std::bad_alloc();
  } catch (const std::exception& e) {
    for (const auto& t : kStdTypes) {
      if (typeid(e) == *t.type) t.raise(std::string(e.what()));
    }
    throw;
  }
}

RemoteError describe_as_remote_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (...) {
    ErrorInfo info = describe_current_exception();
    return RemoteError(info.type, info.message);
  }
}

std::uint64_t register_object(std::shared_ptr<void> object) {
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  r.objects.push_back(std::move(object));
  // The object exists before its generation is published: a pool that reads
  // this generation (or a later one) before forking has the object.
  return r.generation.fetch_add(1, std::memory_order_acq_rel) + 1;
}

std::uint64_t registry_generation() noexcept {
  return registry().generation.load(std::memory_order_acquire);
}

void report_callback_exception(const char* kind) noexcept {
  try {
    ErrorInfo info = describe_current_exception();
    std::string thread = threading::current_thread_name();
    std::fprintf(stderr, "Exception in callback of %s (thread %s):\n%s: %s\n", kind, thread.c_str(),
                 info.type.c_str(), info.message.c_str());
    std::fflush(stderr);
  } catch (...) {
  }
}

std::size_t check_chunksize(long long chunksize) {
  if (chunksize < 1) throw ValueError("Chunksize must be 1+, not " + std::to_string(chunksize));
  return static_cast<std::size_t>(chunksize);
}

std::size_t default_chunksize(std::size_t length, std::size_t workers) noexcept {
  if (length == 0) return 0;
  std::size_t per = workers * 4;
  return length / per + (length % per ? 1 : 0);
}

int check_processes(std::optional<int> processes) {
  int n = processes ? *processes : mp::cpu_count();
  if (n < 1) throw ValueError("Number of processes must be at least 1");
  return n;
}

// ---- ResultBase ------------------------------------------------------------------------

bool ResultBase::successful() const {
  if (!ready()) throw ValueError(repr() + " not ready");
  return success_;
}

std::string ResultBase::repr() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "<multiprocessing.pool.%s object at %p>", kind_,
                static_cast<const void*>(this));
  return buf;
}

void ResultBase::wait_for_get(std::optional<Seconds> timeout) const {
  event_.wait(timeout);
  if (!event_.is_set()) throw TimeoutError("");
  if (!success_) rethrow_fresh(error_);
}

}  // namespace racegate::internal::pool

namespace racegate::mp {

int cpu_count() {
  // Grow the mask until the kernel's fits (machines with > 1024 CPUs).
  for (int ncpus = 1024; ncpus <= (1 << 20); ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (set == nullptr) break;
    std::size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      int n = CPU_COUNT_S(size, set);
      CPU_FREE(set);
      return n > 0 ? n : 1;
    }
    CPU_FREE(set);
    if (errno != EINVAL) break;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace racegate::mp
