// Internal: the Manager's server loop. Do not use directly.
//
// One thread, one poll(2) loop, every socket non-blocking. The loop accepts
// connections, runs each one's handshake, then reads requests and answers
// them. A request that cannot complete at once (Lock.acquire on a held lock,
// Queue.get on an empty queue, Event.wait, Condition.wait, Barrier.wait,
// Queue.join) is parked: the connection gets no reply until another request
// (or a timeout) completes it; meanwhile the loop serves everyone else. The
// earliest deadline among parked requests is poll's timeout. A connection
// that hangs up takes its parked request with it (a killed client cannot
// wedge the server).
//
// Why not a thread per connection (as CPython's server does): the server
// is forked from the user's process, which may have threads; under
// ThreadSanitizer a child forked from a multi-threaded process that starts a
// thread is killed (die_after_fork). A single-threaded server starts no
// thread, so it runs under every sanitizer whatever the parent does.
#pragma once

#include <string>
#include <sys/types.h>

namespace racegate::internal::manager {

struct ServerConfig {
  int listen_fd = -1;       // bound, listening AF_UNIX socket (the server owns it)
  std::string key;          // authentication key
  std::string socket_path;  // removed at exit
  std::string dir;          // removed at exit (after the socket)
  pid_t parent = 0;         // the creator; the server leaves when it dies
};

// Serves until a shutdown request, SIGTERM (also the parent-death signal,
// see manager.h) or the creator's death; then closes every connection and
// removes the socket and its directory. Returns the exit status for the
// server process (0).
int serve(const ServerConfig& config);

}  // namespace racegate::internal::manager
