// racegate/mp/array.h — multiprocessing.Array: a fixed-size array of T in
// shared memory, with the lock that guards it.
//
// T must be trivially copyable. A forked child that inherited the Array reads
// and writes the very same elements as its parent.
//
//   racegate::mp::Array<int> a(3);                           // Array('i', 3): [0, 0, 0]
//   racegate::mp::Array<double> b(std::vector<double>{1.5, 2.5});   // Array('d', [1.5, 2.5])
//   racegate::mp::Process p([a]() mutable { a.set(-1, 7); });        // a[-1] = 7
//
// Access, as CPython's SynchronizedArray:
//  - get(i) / operator[](i) and set(i, v) take the lock for one element;
//    to_vector() (a[:]) and assign(values) (a[:] = values) for all of them.
//    A negative index counts from the end; an index outside the array raises
//    IndexError("invalid index") (ctypes' message). assign() with a different
//    length raises ValueError("Can only assign sequence of same size").
//  - get_lock() is the lock: hold it across a read-modify-write.
//  - get_obj() is the raw span of elements, without locking (racy unless
//    the lock is held).
//  - The lock is a racegate::mp::RLock, as CPython's default: the thread
//    holding get_lock() may still call get(), set() and the others.
//
// Construction: Array<T>(n) gives n zeroed elements (Array('i', 3));
// Array<T>(std::vector<T>{...}) copies the values (Array('i', [1, 2, 3])).
//
// Memory ordering: a set() (or a write under the lock) is visible to every
// later get() (or read under the lock), in any process.
//
// Lifetime and sharing: as racegate::mp::Value (a handle; anonymous shared
// mapping; crosses a process boundary only by inheritance).
//
// Thread- and process-safety: every member but get_obj() may be used
// concurrently from any thread of any process sharing the Array.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/deadline.h"
#include "racegate/internal/serialize.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/mp/rlock.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

template <class T>
class Array {
  static_assert(std::is_trivially_copyable_v<T>,
                "mp::Array<T> needs a trivially copyable T (it lives in raw shared memory)");

 public:
  // `n` zeroed elements. Throws OSError when the memory cannot be mapped.
  explicit Array(std::size_t n) : size_(n), data_(map(n)), lock_(std::make_shared<RLock>()) {}

  // A copy of `init`.
  explicit Array(const std::vector<T>& init) : Array(init.size()) {
    if (!init.empty()) std::memcpy(data_.get(), init.data(), init.size() * sizeof(T));
  }

  // len(a)
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // a[i]: the element under the lock. Throws IndexError("invalid index").
  [[nodiscard]] T get(long long i) const {
    const std::size_t k = index(i);
    lock_->acquire();
    T v = data_.get()[k];
    lock_->release();
    return v;
  }
  [[nodiscard]] T operator[](long long i) const { return get(i); }

  // a[i] = v under the lock. Throws IndexError("invalid index").
  void set(long long i, const T& v) {
    const std::size_t k = index(i);
    lock_->acquire();
    data_.get()[k] = v;
    lock_->release();
  }

  // a[:]: every element, read under the lock at once.
  [[nodiscard]] std::vector<T> to_vector() const {
    std::vector<T> out(size_);
    lock_->acquire();
    if (size_ != 0) std::memcpy(out.data(), data_.get(), size_ * sizeof(T));
    lock_->release();
    return out;
  }

  // a[:] = values, under the lock at once. Throws ValueError("Can only assign
  // sequence of same size") when the lengths differ.
  void assign(const std::vector<T>& values) {
    if (values.size() != size_) throw ValueError("Can only assign sequence of same size");
    lock_->acquire();
    if (size_ != 0) std::memcpy(data_.get(), values.data(), size_ * sizeof(T));
    lock_->release();
  }

  // Array::get_lock(): the lock guarding the elements (shared by every copy).
  [[nodiscard]] RLock& get_lock() const noexcept { return *lock_; }

  // Array::get_obj(): the raw elements, without locking (racy; see above).
  [[nodiscard]] std::span<T> get_obj() const noexcept { return {data_.get(), size_}; }

  // Array::acquire / release, forwarded to the lock.
  bool acquire() RG_NO_THREAD_SAFETY_ANALYSIS { return lock_->acquire(); }
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_NO_THREAD_SAFETY_ANALYSIS {
    return lock_->acquire(block, timeout);
  }
  void release() RG_NO_THREAD_SAFETY_ANALYSIS { lock_->release(); }

 private:
  static std::shared_ptr<T> map(std::size_t n) {
    const std::size_t bytes = n == 0 ? 1 : n * sizeof(T);
    void* mem = racegate::internal::map_shared(bytes);  // zero-filled
    return std::shared_ptr<T>(static_cast<T*>(mem),
                              [bytes](T* p) { racegate::internal::unmap_shared(p, bytes); });
  }

  std::size_t index(long long i) const {
    const auto n = static_cast<long long>(size_);
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw IndexError("invalid index");
    return static_cast<std::size_t>(i);
  }

  std::size_t size_;
  std::shared_ptr<T> data_;
  std::shared_ptr<RLock> lock_;
};

}  // namespace racegate::mp

namespace racegate::internal {
template <class T>
struct inherit_only<mp::Array<T>> : std::true_type {};
}  // namespace racegate::internal
