// Test support: small helpers shared by the reference's tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace racegate::test {

// The message of the E that f() throws, or "<no error>" when it throws none.
// (Another exception type propagates and fails the test.)
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no error>";
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A string of n bytes whose content depends on the position and `seed`: a
// 4 KiB block that depends on the seed, repeated, with each block's index
// stamped in front (so a misplaced page shows). Cheap under TSan.
inline std::string pattern(std::size_t n, unsigned seed = 1) {
  char block[4096];
  for (std::size_t i = 0; i < sizeof block; ++i) block[i] = static_cast<char>((i * 131 + seed * 7) & 0xff);
  std::string s;
  s.reserve(n);
  for (std::uint32_t k = 0; s.size() < n; ++k) {
    std::memcpy(block, &k, sizeof k);
    s.append(block, std::min(sizeof block, n - s.size()));
  }
  return s;
}

}  // namespace racegate::test
