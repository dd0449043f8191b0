// Internal: how values cross a process boundary. Do not use directly.
//
// Every value a racegate primitive sends to another process (queue items,
// pipe messages, pool arguments and results, manager requests) is serialized
// with cereal's portable binary archive: T must be serializable by cereal
// (arithmetic types, std::string, the standard containers with cereal's
// headers, and user types with a serialize() member).
//
// Synchronization objects can never be sent as values: they are shared by
// inheritance at fork. Sending one is a compile-time error that says so, as
// CPython's run-time error does ("Lock objects should only be shared between
// processes through inheritance").
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "racegate/errors.h"

namespace racegate::internal {

// Specialized to std::true_type (next to each type) for the types that may
// only be inherited: mp::Lock, mp::RLock, mp::Event, mp::Semaphore,
// mp::Condition, mp::Barrier, Connection, queues, Value, Array.
template <class T>
struct inherit_only : std::false_type {};

template <class T>
inline constexpr bool inherit_only_v = inherit_only<std::remove_cvref_t<T>>::value;

template <class T>
void reject_inherit_only() {
  static_assert(!inherit_only_v<T>,
                "Lock objects should only be shared between processes through inheritance: "
                "capture it in the Process target (or pass it as a Process/Pool initializer argument) "
                "instead of sending it as a value");
}

// Serializes `value` to bytes.
template <class T>
std::string dumps(const T& value) {
  reject_inherit_only<T>();
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(value);
  }
  return std::move(out).str();
}

// Deserializes bytes made by dumps<T>. Throws ValueError on malformed input.
template <class T>
T loads(std::string_view bytes) {
  reject_inherit_only<T>();
  std::istringstream in(std::string(bytes), std::ios::binary);
  T value{};
  try {
    cereal::PortableBinaryInputArchive ar(in);
    ar(value);
  } catch (const cereal::Exception& e) {
    throw ValueError(std::string("malformed serialized value: ") + e.what());
  }
  return value;
}

}  // namespace racegate::internal
