// racegate/mp/manager_errors.h — the OSError subclasses a Manager proxy
// raises when its server is gone.
//
// CPython raises these builtins (subclasses of OSError) from a proxy whose
// manager has shut down or died:
//   - BrokenPipeError("[Errno 32] Broken pipe"): the request could not be
//     sent on the connection the proxy had been using;
//   - FileNotFoundError("[Errno 2] No such file or directory"): a new
//     connection found no socket (the server removed it when it shut down);
//   - ConnectionRefusedError("[Errno 111] Connection refused"): the socket
//     file is there but nothing listens on it.
// A reply that never comes because the server hung up mid-request raises
// racegate::EofError (CPython's EOFError from Connection.recv).
//
// They live in `racegate::mp::managers` (Python's multiprocessing.managers)
// so that they cannot clash with types of the same Python name elsewhere in
// the reference; catch `racegate::OSError` to handle them all.
#pragma once

#include "racegate/errors.h"

namespace racegate::mp::managers {

class BrokenPipeError : public OSError {
 public:
  BrokenPipeError() : OSError("[Errno 32] Broken pipe") {}
  [[nodiscard]] const char* python_type() const noexcept override { return "BrokenPipeError"; }
};

class FileNotFoundError : public OSError {
 public:
  FileNotFoundError() : OSError("[Errno 2] No such file or directory") {}
  [[nodiscard]] const char* python_type() const noexcept override { return "FileNotFoundError"; }
};

class ConnectionRefusedError : public OSError {
 public:
  ConnectionRefusedError() : OSError("[Errno 111] Connection refused") {}
  [[nodiscard]] const char* python_type() const noexcept override {
    return "ConnectionRefusedError";
  }
};

}  // namespace racegate::mp::managers
