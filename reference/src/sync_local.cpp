// threading::local: per-object storage keyed by thread, and the per-thread
// list of storages to clean when the thread ends.
#include <memory>
#include <utility>
#include <vector>

#include "racegate/internal/sync_ids.h"
#include "racegate/threading/local.h"

namespace racegate::internal {
namespace {

// The storages the current thread has a value in; each drops that value when
// the thread ends (if the storage still exists).
struct ThreadExitList {
  std::vector<std::weak_ptr<LocalStorage>> storages;
  ~ThreadExitList() {
    const unsigned long long key = this_thread_key();
    for (auto& weak : storages) {
      if (auto storage = weak.lock()) storage->forget(key);
    }
  }
};

thread_local ThreadExitList t_exit_list;

}  // namespace

void* LocalStorage::find() noexcept {
  const unsigned long long key = this_thread_key();
  std::lock_guard lk(mu_);
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : it->second.get();
}

void* LocalStorage::insert(std::shared_ptr<void> value) {
  const unsigned long long key = this_thread_key();
  void* p = value.get();
  {
    std::lock_guard lk(mu_);
    auto [it, inserted] = values_.emplace(key, std::move(value));
    if (!inserted) return it->second.get();  // the factory used this local itself
  }
  auto& list = t_exit_list.storages;
  if (list.size() >= 64 && (list.size() & (list.size() - 1)) == 0) {
    std::erase_if(list, [](const std::weak_ptr<LocalStorage>& w) { return w.expired(); });
  }
  list.push_back(weak_from_this());
  return p;
}

void LocalStorage::forget(unsigned long long key) noexcept {
  std::shared_ptr<void> doomed;  // destroyed outside the lock
  {
    std::lock_guard lk(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return;
    doomed = std::move(it->second);
    values_.erase(it);
  }
}

}  // namespace racegate::internal
