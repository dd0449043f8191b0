// Test support: a value in anonymous shared memory, to read back what a forked
// child wrote (the reference's own mp::Value comes later).
#pragma once

#include <atomic>
#include <memory>

#include "racegate/internal/shared_memory.h"

namespace racegate::test {

template <class T>
std::shared_ptr<std::atomic<T>> make_shared_atomic(T initial) {
  return racegate::internal::make_shared_object<std::atomic<T>>(initial);
}

}  // namespace racegate::test
