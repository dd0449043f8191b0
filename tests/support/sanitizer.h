// Test support: which sanitizer this test binary was built with.
#pragma once

namespace racegate::test {

#if defined(RACEGATE_SANITIZER_THREAD)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

#if defined(RACEGATE_SANITIZER_ADDRESS)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace racegate::test
