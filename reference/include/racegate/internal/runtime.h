// Internal: process-wide bookkeeping shared by Thread and Process. Do not use
// directly.
#pragma once

#include <string>

namespace racegate::internal {

// Registers (once per process) the handler that runs when the main program
// ends: join non-daemon threads, then terminate daemonic children and join the
// rest (CPython's threading._shutdown and multiprocessing's _exit_function).
void ensure_exit_hook();

// Joins every non-daemon racegate Thread still running.
void join_nondaemon_threads();

// In a freshly forked child: forget the parent's threads (they do not exist
// here) and reset the thread bookkeeping.
void reset_threads_after_fork() noexcept;

// Formats an exception in flight as "Type: message" (Python's style).
const char* describe_current_exception(char* buf, unsigned long size) noexcept;

}  // namespace racegate::internal

namespace racegate::internal {

// multiprocessing's _exit_function for the calling process: terminate the
// daemonic children still running, then join every child.
void terminate_and_join_children();

// The unqualified name of a type from typeid(...).name(), templates cut off
// ("racegate::mp::Process" -> "Process").
std::string short_type_name(const char* mangled);

}  // namespace racegate::internal
