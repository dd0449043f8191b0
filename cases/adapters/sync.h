// Catalog sections 5-8: the adapter concepts the lock, event, condition and
// semaphore cases are written over, once, for every implementation.
//
// An adapter is a struct of static members: a `name` ("reference.mp.Lock",
// "std.mutex", "boost.interprocess_mutex"), a `Handle` that the parties of a
// case share (copied into threads, or inherited by forked processes), a
// factory, the operations the catalog needs, and what the implementation
// can and cannot do, as constexpr data. Where it differs from CPython (a
// std::mutex released by a non-owner is undefined behaviour, not an error)
// the data says so with the reason, and a case skips that check out loud
// (CaseContext::skip_check) instead of executing it.
//
// Adapters: reference (sync_reference.h), std:: (sync_std.h), Boost.Interprocess
// (sync_boost.h); the deliberately broken ones live in tests/broken/sync_adapters.h.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <type_traits>
#include <unistd.h>

namespace racegate::cases::sync_cases {

using Seconds = std::chrono::duration<double>;

// An operation or property an implementation has, or lacks and why.
struct Feature {
  bool has = true;
  std::string_view why_not{};

  static constexpr Feature yes() { return {true, {}}; }
  static constexpr Feature no(std::string_view why) { return {false, why}; }
};

// What an implementation does on a call CPython answers with an error or
// allows (releasing an unlocked lock, a non-owner's release, ...).
struct Misuse {
  enum class Rule {
    kAllowed,    // works and raises nothing
    kRaises,     // raises `type` (python_type() for racegate errors) with what() == `message`
    kUndefined,  // undefined behaviour: never executed by a case
    kAbsent,     // cannot even be written for this type
  };
  Rule rule = Rule::kAllowed;
  std::string_view type{};
  std::string_view message{};
  std::string_view why{};  // how this differs from CPython, and why (empty: it does not)

  static constexpr Misuse allowed(std::string_view why = {}) { return {Rule::kAllowed, {}, {}, why}; }
  static constexpr Misuse raises(std::string_view type, std::string_view message,
                                 std::string_view why = {}) {
    return {Rule::kRaises, type, message, why};
  }
  static constexpr Misuse undefined(std::string_view why) { return {Rule::kUndefined, {}, {}, why}; }
  static constexpr Misuse absent(std::string_view why) { return {Rule::kAbsent, {}, {}, why}; }

  [[nodiscard]] constexpr bool is_allowed() const { return rule == Rule::kAllowed; }
  [[nodiscard]] constexpr bool is_raises() const { return rule == Rule::kRaises; }
};

// ---- objects in anonymous shared memory ------------------------------------------------------

// A T placed in its own anonymous shared mapping (mmap MAP_SHARED |
// MAP_ANONYMOUS) made before any fork, so every process forked afterwards
// uses the same object. No name in /dev/shm: nothing can outlive the
// processes. A handle: copies share the object. The last copy in the
// creating process destroys it and unmaps it; forked children never do
// (they end with _exit, and a copy dying elsewhere only unmaps its view).
template <class T>
class SharedObject {
 public:
  template <class... Args>
  static SharedObject make(Args&&... args) {
    void* mem = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    T* obj = nullptr;
    try {
      obj = new (mem) T(std::forward<Args>(args)...);
    } catch (...) {
      munmap(mem, sizeof(T));
      throw;
    }
    const pid_t creator = getpid();
    SharedObject s;
    s.ptr_ = std::shared_ptr<T>(obj, [creator](T* p) {
      if (getpid() == creator) p->~T();
      munmap(static_cast<void*>(p), sizeof(T));
    });
    return s;
  }

  T& operator*() const noexcept { return *ptr_; }
  T* operator->() const noexcept { return ptr_.get(); }
  T* get() const noexcept { return ptr_.get(); }

 private:
  std::shared_ptr<T> ptr_;
};

// ---- the concepts -----------------------------------------------------------------------------

template <class A>
concept NamedAdapter = requires {
  { A::name } -> std::convertible_to<std::string_view>;
  { A::kProcessShared } -> std::convertible_to<Feature>;
  typename A::Handle;
  requires std::copy_constructible<typename A::Handle>;
};

// Lock and RLock. kRecursive says which CPython type the adapter stands for.
//   acquire(h)       blocking acquire() (returns bool where kAcquireReturnsTrue.has)
//   try_acquire(h)   acquire(False)
//   acquire_for(h,t) acquire(timeout=t), where kTimedAcquire.has
//   release(h)       release()
//   locked(h)        locked(), where kLockedQuery.has
//   with(h, body)    `with lock: body()` through the type's own scoped guard
template <class A>
concept LockAdapter =
    NamedAdapter<A> && requires(typename A::Handle& h, Seconds t, std::function<void()> body) {
      { A::kRecursive } -> std::convertible_to<bool>;
      { A::kTimedAcquire } -> std::convertible_to<Feature>;
      { A::kLockedQuery } -> std::convertible_to<Feature>;
      { A::kAcquireReturnsTrue } -> std::convertible_to<Feature>;
      { A::kTryByHolder } -> std::convertible_to<Feature>;
      { A::kTimedByHolder } -> std::convertible_to<Feature>;
      { A::kReleaseUnlocked } -> std::convertible_to<Misuse>;
      { A::kNonOwnerRelease } -> std::convertible_to<Misuse>;
      { A::make() } -> std::same_as<typename A::Handle>;
      A::acquire(h);
      { A::try_acquire(h) } -> std::same_as<bool>;
      A::release(h);
      A::with(h, body);
    } && (!A::kTimedAcquire.has || requires(typename A::Handle& h, Seconds t) {
      { A::acquire_for(h, t) } -> std::same_as<bool>;
    }) && (!A::kLockedQuery.has || requires(typename A::Handle& h) {
      { A::locked(h) } -> std::same_as<bool>;
    }) && (!A::kAcquireReturnsTrue.has || requires(typename A::Handle& h) {
      { A::acquire(h) } -> std::same_as<bool>;
    });

// Semaphore and BoundedSemaphore. kBounded says which CPython type it
// stands for; kMaxValue is the largest value the type can hold;
// kBoundedVariant whether the implementation has a bounded kind at all.
//   make(v)          Semaphore(v) (v < 0 only where kNegativeInitial is kRaises)
//   value(h)         get_value() / _value, where kValueQuery.has
template <class A>
concept SemaphoreAdapter =
    NamedAdapter<A> && requires(typename A::Handle& h, Seconds t, int v) {
      { A::kBounded } -> std::convertible_to<bool>;
      { A::kMaxValue } -> std::convertible_to<int>;
      { A::kTimedAcquire } -> std::convertible_to<Feature>;
      { A::kValueQuery } -> std::convertible_to<Feature>;
      { A::kBoundedVariant } -> std::convertible_to<Feature>;
      { A::kOverRelease } -> std::convertible_to<Misuse>;
      { A::kNegativeInitial } -> std::convertible_to<Misuse>;
      { A::make(v) } -> std::same_as<typename A::Handle>;
      A::acquire(h);
      { A::try_acquire(h) } -> std::same_as<bool>;
      A::release(h);
    } && (!A::kTimedAcquire.has || requires(typename A::Handle& h, Seconds t) {
      { A::acquire_for(h, t) } -> std::same_as<bool>;
    }) && (!A::kValueQuery.has || requires(typename A::Handle& h) {
      { A::value(h) } -> std::same_as<int>;
    });

// Event: set(), clear(), is_set(), wait() and wait(t), both returning the flag.
template <class A>
concept EventAdapter = NamedAdapter<A> && requires(typename A::Handle& h, Seconds t) {
  { A::make() } -> std::same_as<typename A::Handle>;
  A::set(h);
  A::clear(h);
  { A::is_set(h) } -> std::same_as<bool>;
  { A::wait(h) } -> std::same_as<bool>;
  { A::wait_for(h, t) } -> std::same_as<bool>;
};

// Condition (with its lock).
//   acquire(h) / release(h)        the condition's lock
//   wait(h, t)                     with the lock held: wait(t) (t empty: for ever); true when notified
//   wait_predicate(h, pred, t)     with the lock held: wait_for(pred, t)
//   notify(h) / notify_all(h)      with the lock held
//   wait_unlocked(h)               wait() without the lock, where kWaitWithoutLock is kRaises
//   notify_unlocked(h, all)        notify()/notify_all() without the lock, where kNotifyWithoutLock is defined
// kBareWait says whether a bare wait() returns only on a notification or its
// timeout (false where the type may wake spuriously: its adapter then waits
// for a notification count kept under the lock, as such types must be used).
template <class A>
concept ConditionAdapter =
    NamedAdapter<A> &&
    requires(typename A::Handle& h, std::optional<Seconds> t, Seconds s, std::function<bool()> pred) {
      { A::kBareWait } -> std::convertible_to<Feature>;
      { A::kWaitWithoutLock } -> std::convertible_to<Misuse>;
      { A::kNotifyWithoutLock } -> std::convertible_to<Misuse>;
      { A::make() } -> std::same_as<typename A::Handle>;
      A::acquire(h);
      A::release(h);
      { A::wait(h, t) } -> std::same_as<bool>;
      { A::wait_predicate(h, pred, s) } -> std::same_as<bool>;
      A::notify(h);
      A::notify_all(h);
    } && (!A::kWaitWithoutLock.is_raises() || requires(typename A::Handle& h) {
      A::wait_unlocked(h);
    }) && (!(A::kNotifyWithoutLock.is_raises() || A::kNotifyWithoutLock.is_allowed()) ||
           requires(typename A::Handle& h, bool all) { A::notify_unlocked(h, all); });

// Where the parties of a case run: forked processes for process-shared
// types, threads of the case's process otherwise.
template <class A>
constexpr bool across_processes() {
  return A::kProcessShared.has;
}

}  // namespace racegate::cases::sync_cases
