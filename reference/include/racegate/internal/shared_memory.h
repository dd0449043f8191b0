// Internal: placement of process-shared objects. Do not use directly.
//
// Objects are placed in anonymous shared mappings (mmap MAP_SHARED |
// MAP_ANONYMOUS), which forked children inherit at the same address. There is
// no name in /dev/shm, so nothing can outlive the processes that map it, even
// after a crash or SIGKILL.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace racegate::internal {

// Maps `size` bytes of zeroed shared memory; throws racegate::OSError.
void* map_shared(std::size_t size);
void unmap_shared(void* p, std::size_t size) noexcept;

// Constructs a T in its own shared mapping. The returned pointer unmaps it
// when the last owner in this process lets go; other processes keep their own
// mapping until they exit or let go too.
template <class T, class... Args>
std::shared_ptr<T> make_shared_object(Args&&... args) {
  static_assert(std::is_trivially_destructible_v<T>,
                "process-shared objects must not need destruction in every process");
  void* mem = map_shared(sizeof(T));
  T* obj = new (mem) T(std::forward<Args>(args)...);
  return std::shared_ptr<T>(obj, [](T* p) { unmap_shared(p, sizeof(T)); });
}

}  // namespace racegate::internal
