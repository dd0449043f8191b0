// racegate/errors.h — the exception types of the reference implementation.
//
// Every error the reference raises is a `racegate::Error` whose dynamic type
// names the Python exception CPython raises in the same situation, and whose
// `what()` is CPython's message text, character for character. So a Python
// user reads the same words, and a conformance case can assert on them:
//
//   try { p.start(); } catch (const racegate::AssertionError& e) {
//     // e.what() == "cannot start a process twice"
//     // e.python_type() == "AssertionError"
//   }
//
// Thread-safety: the types are plain values; copying and throwing them is safe
// from any thread.
#pragma once

#include <stdexcept>
#include <string>

namespace racegate {

// Error
//
// Base of every racegate exception. `python_type()` is the name of the Python
// exception class this error stands for (used when a child process prints an
// uncaught error, as CPython does: "AssertionError: <message>").
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  [[nodiscard]] virtual const char* python_type() const noexcept { return "Exception"; }
};

#define RACEGATE_DEFINE_ERROR(Name, Base)                                       \
  class Name : public Base {                                                    \
   public:                                                                      \
    using Base::Base;                                                           \
    [[nodiscard]] const char* python_type() const noexcept override { return #Name; } \
  }

// Raised for violated preconditions that CPython checks with `assert`
// (e.g. "cannot start a process twice").
RACEGATE_DEFINE_ERROR(AssertionError, Error);
// CPython's ValueError (e.g. "semaphore or lock released too many times").
RACEGATE_DEFINE_ERROR(ValueError, Error);
// CPython's RuntimeError (e.g. "release unlocked lock").
RACEGATE_DEFINE_ERROR(RuntimeError, Error);
// CPython's OSError: a system call the reference depends on failed. The message
// carries the call and strerror().
RACEGATE_DEFINE_ERROR(OSError, Error);
// CPython's TimeoutError (multiprocessing.TimeoutError for AsyncResult.get,
// asyncio.TimeoutError for wait_for): a timed wait for a result ran out.
RACEGATE_DEFINE_ERROR(TimeoutError, Error);
// CPython's TypeError (e.g. a value that cannot be serialized).
RACEGATE_DEFINE_ERROR(TypeError, Error);
// CPython's AttributeError (e.g. "'Namespace' object has no attribute 'x'").
RACEGATE_DEFINE_ERROR(AttributeError, Error);
// CPython's KeyError and IndexError (Manager dict and list proxies).
RACEGATE_DEFINE_ERROR(KeyError, Error);
RACEGATE_DEFINE_ERROR(IndexError, Error);
// multiprocessing.ProcessError and its subclasses.
RACEGATE_DEFINE_ERROR(ProcessError, Error);
RACEGATE_DEFINE_ERROR(BufferTooShort, ProcessError);
RACEGATE_DEFINE_ERROR(AuthenticationError, ProcessError);
// queue.Full / queue.Empty (also raised by multiprocessing queues).
RACEGATE_DEFINE_ERROR(Full, Error);
RACEGATE_DEFINE_ERROR(Empty, Error);
// EOFError: the other end of a Connection was closed and nothing is left.
RACEGATE_DEFINE_ERROR(EofError, Error);
// threading.BrokenBarrierError.
RACEGATE_DEFINE_ERROR(BrokenBarrierError, RuntimeError);
// A Pool whose worker died: pending results fail with it (beyond CPython).
RACEGATE_DEFINE_ERROR(BrokenPoolError, ProcessError);
// A lock whose owner process died while holding it (beyond CPython: robust
// locks report it instead of deadlocking).
RACEGATE_DEFINE_ERROR(OwnerDiedError, RuntimeError);

#undef RACEGATE_DEFINE_ERROR

// RemoteError
//
// An exception raised in another process (a Pool worker, the Manager's
// server) and carried back: `python_type()` is the original exception's type
// name ("ValueError") and `what()` its message ("bad 4"), so a caller can tell
// them apart as CPython's re-raised exceptions allow.
class RemoteError : public Error {
 public:
  RemoteError(std::string type, const std::string& message)
      : Error(message), type_(std::move(type)) {}
  [[nodiscard]] const char* python_type() const noexcept override { return type_.c_str(); }

 private:
  std::string type_;
};

// CancelledError
//
// asyncio.CancelledError: delivered into a coroutine of racegate::aio when its
// task is cancelled (at the `co_await` where it waits), and thrown by
// `result()` of a cancelled future or task. `what()` is the message given to
// `cancel(msg)`, empty by default, as `str(CancelledError())` is in CPython.
// Like CPython's (a BaseException since 3.8, so `except Exception` does not
// catch it), it derives neither from racegate::Error nor from std::exception:
// `catch (const racegate::Error&)` and `catch (const std::exception&)` let a
// cancellation through; catch it by name to suppress it.
class CancelledError {
 public:
  explicit CancelledError(std::string message = {}) : message_(std::move(message)) {}
  [[nodiscard]] const char* what() const noexcept { return message_.c_str(); }
  [[nodiscard]] const char* python_type() const noexcept { return "CancelledError"; }

 private:
  std::string message_;
};

namespace mp {

// SystemExit
//
// Thrown from a process's target or `run()` to end the child with a given
// exit code, as `sys.exit(code)` does in CPython: the child's `exitcode`
// becomes `code`. Outside a child process it is an ordinary exception.
class SystemExit {
 public:
  explicit SystemExit(int code = 0) noexcept : code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace mp
}  // namespace racegate
