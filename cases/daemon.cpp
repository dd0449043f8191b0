// Catalog section 2: daemon processes.
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "cases/support/process_guard.h"
#include "racegate/harness/case.h"
#include "racegate/mp/process.h"

namespace mp = racegate::mp;
using racegate::test::ProcessGuard;

namespace {

// A chain of `depth` non-daemonic processes; the last starts a daemonic one,
// which tries to start a child of its own. Each level exits with its child's
// exit code; the daemon's stderr goes to `err_fd`.
void daemon_chain(int depth, int err_fd) {
  if (depth > 0) {
    mp::Process next([depth, err_fd] { daemon_chain(depth - 1, err_fd); });
    next.start();
    next.join();
    throw mp::SystemExit(next.exitcode().value_or(99));
  }
  mp::Process daemonic([err_fd] {
    dup2(err_fd, 2);
    mp::Process child([] {});
    child.start();  // must throw: daemonic processes cannot have children
    throw mp::SystemExit(0);
  });
  daemonic.set_daemon(true);
  daemonic.start();
  daemonic.join();
  throw mp::SystemExit(daemonic.exitcode().value_or(98));
}

}  // namespace

// A daemonic process that starts a child fails with CPython's exact message,
// under any depth of non-daemonic ancestors; its parent sees exit code 1 and
// the message.
RG_CASE("daemon.no_children",
        {.title = "A daemonic process cannot start children",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"daemon", "process", "D"},
         .default_trials = 20}) {
  ctx.check([] {
    const int depth = *rc::gen::inRange(0, 3);
    int fds[2];
    RC_ASSERT(pipe2(fds, O_CLOEXEC) == 0);
    mp::Process top([depth, fds] { daemon_chain(depth, fds[1]); });
    ProcessGuard guard(top);
    top.start();
    close(fds[1]);
    std::string err;
    char buf[4096];
    for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(k));
    close(fds[0]);
    top.join();
    RC_ASSERT(top.exitcode() == std::optional<int>(1));
    RC_ASSERT(err.find("AssertionError: daemonic processes are not allowed to have children\n") !=
              std::string::npos);
    // The daemon's name proves the error came from the end of the chain:
    // Process-K:1[:1...] with `depth` inherited levels.
    std::string expected_name = top.name();
    for (int i = 0; i <= depth; ++i) expected_name += ":1";
    RC_ASSERT(err.rfind("Process " + expected_name + ":\n", 0) == 0);
  });
}
