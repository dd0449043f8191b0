// racegate/threading/local.h — threading.local: a value of which every thread
// has its own copy.
//
// local<T> gives each thread that touches it a T of its own, made on the
// thread's first get() (default-constructed, or by the factory given to the
// constructor, called on that thread). A thread never sees another thread's
// value.
//
//   racegate::threading::local<int> calls;        // 0 in every thread
//   void handler() { ++*calls; }                   // counts per thread
//
// Lifetime: a thread's value is destroyed on that thread when it ends (any
// std::thread, racegate Thread or the main thread at exit), or when the local
// is destroyed, whichever comes first; a reference from get() stays valid
// until then. A forked child keeps the values of the thread that forked.
// Not copyable or movable.
//
// Memory ordering: nothing to order — no thread reads another's value. The
// factory runs on the calling thread.
//
// Thread-safety: get() may be called concurrently from any thread. The local
// itself must outlive every use of it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace racegate::internal {

// The per-object storage of a local<T>: one value per thread key. Threads
// that made a value are told to drop it when they end (through weak
// references, so a local that is gone is simply skipped).
class LocalStorage : public std::enable_shared_from_this<LocalStorage> {
 public:
  virtual ~LocalStorage() = default;

  // The calling thread's value, or nullptr.
  void* find() noexcept;
  // Stores the calling thread's value (made outside the lock) and returns it.
  void* insert(std::shared_ptr<void> value);
  // Drops the value of the thread `key` (called as that thread ends).
  void forget(unsigned long long key) noexcept;

 private:
  std::mutex mu_;
  std::unordered_map<unsigned long long, std::shared_ptr<void>> values_;
};

}  // namespace racegate::internal

namespace racegate::threading {

template <class T>
class local {
 public:
  // Each thread's value is a default-constructed T.
  local()
    requires std::is_default_constructible_v<T>
      : make_([] { return std::make_shared<T>(); }) {}

  // Each thread's value is `factory()`, called on that thread.
  template <class F>
    requires std::is_invocable_r_v<T, F&>
  explicit local(F factory)
      : make_([factory = std::move(factory)]() mutable {
          return std::make_shared<T>(factory());
        }) {}

  local(const local&) = delete;
  local& operator=(const local&) = delete;

  // local::get(): the calling thread's value, made on first use.
  T& get() {
    if (void* p = storage_->find()) return *static_cast<T*>(p);
    std::shared_ptr<T> made = make_();
    return *static_cast<T*>(storage_->insert(std::move(made)));
  }

  T& operator*() { return get(); }
  T* operator->() { return &get(); }

 private:
  std::function<std::shared_ptr<T>()> make_;
  std::shared_ptr<racegate::internal::LocalStorage> storage_ =
      std::make_shared<racegate::internal::LocalStorage>();
};

}  // namespace racegate::threading
