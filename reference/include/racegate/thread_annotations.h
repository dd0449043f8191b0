// racegate/thread_annotations.h — Clang thread-safety annotations.
//
// Macros that expand to Clang's `-Wthread-safety` attributes, and to nothing on
// other compilers. The Clang build legs (presets `tsan` and `asan`) compile with
// `-Wthread-safety`, so a member read without the lock that guards it is a
// compile-time warning there (an error with RACEGATE_WERROR).
#pragma once

#if defined(__clang__)
#define RG_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define RG_THREAD_ANNOTATION_(x)
#endif

// The type is a lock ("capability") that can guard data.
#define RG_CAPABILITY(name) RG_THREAD_ANNOTATION_(capability(name))
// The type is an RAII guard that holds a capability for its lifetime.
#define RG_SCOPED_CAPABILITY RG_THREAD_ANNOTATION_(scoped_lockable)
// The member may be accessed only while holding `x`.
#define RG_GUARDED_BY(x) RG_THREAD_ANNOTATION_(guarded_by(x))
// The data pointed to may be accessed only while holding `x`.
#define RG_PT_GUARDED_BY(x) RG_THREAD_ANNOTATION_(pt_guarded_by(x))
// The function acquires the capability (or `this`).
#define RG_ACQUIRE(...) RG_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
// The function acquires the capability when it returns `result`.
#define RG_TRY_ACQUIRE(...) RG_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
// The function releases the capability.
#define RG_RELEASE(...) RG_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
// The caller must hold the capability.
#define RG_REQUIRES(...) RG_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
// The caller must not hold the capability (the function acquires it itself).
#define RG_EXCLUDES(...) RG_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// Opt a function out of the analysis (use sparingly, say why).
#define RG_NO_THREAD_SAFETY_ANALYSIS RG_THREAD_ANNOTATION_(no_thread_safety_analysis)
