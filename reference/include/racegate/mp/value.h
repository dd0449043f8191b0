// racegate/mp/value.h — multiprocessing.Value: one value of T in shared
// memory, with the lock that guards it.
//
// T must be trivially copyable (the ctypes types of CPython: int, double,
// char, and plain structs of them). A forked child that inherited the Value
// reads and writes the very same memory as its parent.
//
//   racegate::mp::Value<int> counter(0);
//   racegate::mp::Process p([counter]() mutable {
//     racegate::threading::LockGuard guard(counter.get_lock());   // with counter.get_lock():
//     counter.set_value(counter.value() + 1);                      //     counter.value += 1
//   });
//
// Access, as CPython's Synchronized wrapper:
//  - value() and set_value(v) take the lock for the one read or write (the
//    `.value` property). `v.set_value(v.value() + 1)` is therefore NOT atomic:
//    two processes doing it at once can lose an update, exactly as
//    `v.value += 1` in CPython.
//  - get_lock() is the lock; hold it across a read-modify-write.
//  - get_obj() is the raw object, without any lock (racy unless you hold
//    get_lock() or otherwise order the accesses; ThreadSanitizer reports
//    unordered accesses between threads, nothing sees them between
//    processes).
//
// The lock is a racegate::mp::RLock, CPython's default (Value(..., lock=True)
// makes an RLock): the thread holding get_lock() may call value() and
// set_value() again, so `with v.get_lock(): v.value += 1` translates
// directly. Another thread or process blocks until the holder releases it.
//
// Memory ordering: a set_value() (or a write through get_obj() under the
// lock) is visible to every later value() (or read under the lock), in any
// process.
//
// Lifetime and sharing: a Value is a handle; copies share the memory and the
// lock, and forked children inherit both. The memory is an anonymous shared
// mapping that disappears with the last process using it. A Value crosses a
// process boundary only by inheritance: serializing one is a compile-time
// error.
//
// Thread- and process-safety: value(), set_value() and the lock may be used
// concurrently from any thread of any process sharing the Value.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/serialize.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/mp/rlock.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>,
                "mp::Value<T> needs a trivially copyable T (it lives in raw shared memory)");

 public:
  // A new value in shared memory, initialized to `initial` (zero by default,
  // as ctypes). Throws OSError when the shared memory cannot be mapped.
  explicit Value(T initial = T{})
      : storage_(racegate::internal::make_shared_object<Storage>(Storage{initial})),
        lock_(std::make_shared<RLock>()) {}

  // Value::value: reads the value under the lock.
  [[nodiscard]] T value() const {
    lock_->acquire();
    T v = storage_->value;
    lock_->release();
    return v;
  }

  // Value::value = v: writes the value under the lock.
  void set_value(const T& v) {
    lock_->acquire();
    storage_->value = v;
    lock_->release();
  }

  // Value::get_lock(): the lock guarding the value (shared by every copy).
  [[nodiscard]] RLock& get_lock() const noexcept { return *lock_; }

  // Value::get_obj(): the raw shared object, without locking (racy; see above).
  [[nodiscard]] T& get_obj() const noexcept { return storage_->value; }

  // Value::acquire / release (CPython's Synchronized forwards them to the lock).
  // (Not annotated for -Wthread-safety: the capability is the shared lock.)
  bool acquire() RG_NO_THREAD_SAFETY_ANALYSIS { return lock_->acquire(); }
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_NO_THREAD_SAFETY_ANALYSIS {
    return lock_->acquire(block, timeout);
  }
  void release() RG_NO_THREAD_SAFETY_ANALYSIS { lock_->release(); }

 private:
  struct Storage {
    T value;
  };
  std::shared_ptr<Storage> storage_;
  std::shared_ptr<RLock> lock_;  // a handle to the shared lock; held by pointer so get_lock() is const
};

}  // namespace racegate::mp

namespace racegate::internal {
template <class T>
struct inherit_only<mp::Value<T>> : std::true_type {};
}  // namespace racegate::internal
