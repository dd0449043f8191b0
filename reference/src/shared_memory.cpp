#include "racegate/internal/shared_memory.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/mman.h>

#include "racegate/errors.h"

namespace racegate::internal {

void* map_shared(std::size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    throw OSError("mmap(MAP_SHARED|MAP_ANONYMOUS, " + std::to_string(size) +
                  " bytes) failed: " + std::strerror(err));
  }
  return p;
}

void unmap_shared(void* p, std::size_t size) noexcept { munmap(p, size); }

}  // namespace racegate::internal
