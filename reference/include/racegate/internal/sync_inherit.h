// Internal: a declaration of internal::inherit_only (defined in
// internal/serialize.h), so that the process-level primitives can mark
// themselves inherit-only without pulling in the serialization headers.
// Do not use directly.
#pragma once

#include <type_traits>

namespace racegate::internal {

template <class T>
struct inherit_only;

}  // namespace racegate::internal
