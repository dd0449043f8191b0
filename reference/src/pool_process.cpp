// mp::Pool's engine: the fork server, the workers and the handler thread.
// The design is described in racegate/mp/pool.h ("Design: the fork server").
//
// Channels:
//   parent <-> fork server: one SOCK_SEQPACKET socketpair ("control"); each
//     message is a CtlHeader plus a text, and SPAWNED carries the parent's end
//     of the new worker's socketpair (SCM_RIGHTS).
//   parent <-> worker: one SOCK_STREAM socketpair per worker, length-framed
//     (racegate/internal/wire.h): TaskMessage down, ResultMessage up.
// The parent never has more than one task in flight per worker, so it always
// knows which tasks a dead worker took, and a worker is only written to while
// it waits for a task (no deadlock on full socket buffers).
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/deadline.h"
#include "racegate/internal/pool_engine.h"
#include "racegate/internal/runtime.h"
#include "racegate/internal/serialize.h"
#include "racegate/internal/wire.h"
#include "racegate/mp/process.h"
#include "racegate/schedule.h"
#include "racegate/threading/thread.h"

namespace racegate::internal::pool {
namespace {

[[noreturn]] void throw_os_error(const std::string& what) {
  throw OSError(what + ": " + std::strerror(errno));
}

// ---- control channel (parent <-> fork server) ----------------------------------------

enum CtlKind : std::uint32_t {
  // parent -> server
  kSpawn = 1,         // text: the worker's name
  kTerminateAll = 2,  // SIGTERM every worker (SIGKILL after a grace period), then exit
  kShutdown = 3,      // start no more workers; exit once every worker has left
  // server -> parent
  kSpawned = 10,      // pid; text: name; fd: the parent's end of the worker's socket
  kSpawnFailed = 11,  // text: why
  kExited = 12,       // pid, code (exit status, or -N after signal N); text: name
};

struct CtlHeader {
  std::uint32_t kind;
  std::int32_t pid;
  std::int32_t code;
  std::uint32_t text_len;
};

struct CtlMessage {
  CtlHeader header{};
  std::string text;
  int fd = -1;
};

constexpr std::size_t kMaxCtlMessage = 4096;

// Sends one control message; false when the peer is gone.
bool ctl_send(int sock, CtlKind kind, std::int32_t pid, std::int32_t code, std::string_view text,
              int pass_fd = -1) {
  CtlHeader h{kind, pid, code, static_cast<std::uint32_t>(text.size())};
  std::string buf(reinterpret_cast<const char*>(&h), sizeof h);
  buf.append(text.substr(0, kMaxCtlMessage - sizeof h));
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
  }
  for (;;) {
    if (schedule::outside([&] { return sendmsg(sock, &msg, MSG_NOSIGNAL); }) >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return false;
    throw_os_error("sendmsg(pool control)");
  }
}

// Receives one control message; false at end of stream.
bool ctl_recv(int sock, CtlMessage& out) {
  char buf[kMaxCtlMessage];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = schedule::outside([&] { return recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); });
  } while (n < 0 && errno == EINTR);
  if (n == 0) return false;
  if (n < 0) {
    if (errno == ECONNRESET) return false;
    throw_os_error("recvmsg(pool control)");
  }
  out.fd = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::memcpy(&out.fd, CMSG_DATA(c), sizeof out.fd);
    }
  }
  if (static_cast<std::size_t>(n) < sizeof(CtlHeader)) {
    if (out.fd >= 0) ::close(out.fd);
    throw ValueError("malformed pool control message");
  }
  std::memcpy(&out.header, buf, sizeof out.header);
  std::size_t text = std::min<std::size_t>(out.header.text_len, static_cast<std::size_t>(n) - sizeof(CtlHeader));
  out.text.assign(buf + sizeof(CtlHeader), text);
  return true;
}

// ---- worker channel (parent <-> worker) ----------------------------------------------

enum TaskKind : std::uint8_t { kTask = 1, kStop = 2 };

struct TaskMessage {
  std::uint8_t kind = kTask;
  std::uint64_t job = 0;
  std::uint64_t index = 0;
  std::string invoker;
  std::string callable;
  std::string payload;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(kind, job, index, invoker, callable, payload);
  }
};

struct ResultMessage {
  std::uint64_t job = 0;
  std::uint64_t index = 0;
  bool ok = false;
  std::string payload;
  ErrorInfo error;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(job, index, ok, payload, error);
  }
};

// write_frame's framing, with MSG_NOSIGNAL: a dead peer is `false`, never
// SIGPIPE.
bool send_frame(int fd, std::string_view payload) {
  if (payload.size() > 0x7fffffffu) throw ValueError("message too long");
  std::uint32_t n = static_cast<std::uint32_t>(payload.size());
  std::string buf;
  buf.reserve(4 + payload.size());
  for (int i = 0; i < 4; ++i) buf.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  buf.append(payload);
  const char* p = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    ssize_t k = send(fd, p, left, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw_os_error("send(pool worker)");
    }
    p += k;
    left -= static_cast<std::size_t>(k);
  }
  return true;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? static_cast<int>(fd) : -1;
#else
  (void)pid;
  return -1;
#endif
}

// The next worker name: a Process-N number from the process-wide counter,
// as CPython's `w.name.replace('Process', 'PoolWorker')` on ForkProcess-N.
std::string next_worker_name() {
  mp::Process placeholder;  // never started: it only takes the number
  std::string name = placeholder.name();
  if (name.rfind("Process", 0) == 0) name.replace(0, 7, "ForkPoolWorker");
  return name;
}

std::string describe_exit(const std::string& name, pid_t pid, int code) {
  std::string how;
  if (code < 0) {
    const char* abbrev = sigabbrev_np(-code);
    how = "was killed by signal " + std::to_string(-code) +
          (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  } else {
    how = "exited with code " + std::to_string(code);
  }
  return "pool worker " + name + " (pid " + std::to_string(pid) + ") " + how +
         "; the pool is broken: pending and future tasks fail";
}

}  // namespace

// ---- state -------------------------------------------------------------------------------

struct ProcessEngineState {
  enum class State { kRun, kClose, kTerminate };

  struct PendingTask {
    std::uint64_t job = 0;
    std::size_t index = 0;
    std::shared_ptr<const Invocation> invocation;
    std::string payload;
  };

  struct JobEntry {
    std::shared_ptr<Job> job;
    std::vector<bool> delivered;
    std::size_t remaining = 0;
  };

  struct Worker {
    std::string name;
    pid_t pid = 0;
    int fd = -1;                // parent's end; -1 once the worker's end closed
    bool busy = false;          // a task is in flight
    std::uint64_t job = 0;      // ... that one
    std::size_t index = 0;
    int completed = 0;
    bool retiring = false;      // leaves on its own (maxtasksperchild reached)
    bool stop_sent = false;     // told to leave (close)
  };

  // Fixed at construction (also what the fork server and workers see).
  int processes = 1;
  std::function<void()> initializer;
  std::optional<int> maxtasks;
  std::uint64_t generation = 0;
  pid_t server_pid = -1;
  int wake_fd = -1;
  std::unique_ptr<threading::Thread> handler;

  mutable std::mutex mu;
  State state = State::kRun;                           // guarded by mu
  bool broken = false;                                 // guarded by mu
  std::string broken_message;                          // guarded by mu
  std::deque<PendingTask> pending;                     // guarded by mu
  std::unordered_map<std::uint64_t, JobEntry> jobs;    // guarded by mu
  std::uint64_t next_job = 1;                          // guarded by mu
  std::vector<pid_t> worker_pids;                      // guarded by mu: spawned, exit not reported

  // The constructor's, then the handler thread's alone.
  int ctl_fd = -1;
  std::vector<Worker> workers;
  std::deque<std::string> spawning;  // names asked for, not yet reported
  bool server_gone = false;
  bool terminate_sent = false;
  bool shutdown_sent = false;
};

namespace {

using State = ProcessEngineState::State;
using Worker = ProcessEngineState::Worker;

// The pool whose handler runs on this thread.
thread_local const ProcessEngineState* t_handler_of = nullptr;

void wake(ProcessEngineState& s) {
  std::uint64_t one = 1;
  ssize_t r;
  do {
    r = write(s.wake_fd, &one, sizeof one);
  } while (r < 0 && errno == EINTR);
}

// ---- worker process ----------------------------------------------------------------------

// The body of a worker (an mp::Process started by the fork server).
void worker_main(const ProcessEngineState& s, int fd) {
  if (s.initializer) s.initializer();  // an exception ends the worker with code 1
  int completed = 0;
  std::string frame;
  while (!s.maxtasks || completed < *s.maxtasks) {
    bool got = false;
    try {
      got = read_frame(fd, frame);
    } catch (...) {
      got = false;
    }
    if (!got) break;  // the pool is gone
    TaskMessage task = loads<TaskMessage>(frame);
    if (task.kind == kStop) break;
    ResultMessage result;
    result.job = task.job;
    result.index = task.index;
    try {
      Invoker invoker = nullptr;
      if (task.invoker.size() != sizeof invoker) throw ValueError("malformed task: invoker size");
      std::memcpy(static_cast<void*>(&invoker), task.invoker.data(), sizeof invoker);
      result.payload = invoker(task.callable, task.payload);
      result.ok = true;
    } catch (...) {
      result.ok = false;
      result.payload.clear();
      result.error = describe_current_exception();
    }
    if (!send_frame(fd, dumps(result))) break;
    ++completed;
  }
  ::close(fd);
}

// ---- fork server -------------------------------------------------------------------------

struct ServerChild {
  std::unique_ptr<mp::Process> process;
  pid_t pid = 0;
  int pidfd = -1;
  std::string name;
};

class ForkServer {
 public:
  ForkServer(const ProcessEngineState& s, int ctl) : s_(s), ctl_(ctl) {}

  void run() {
    for (;;) {
      reap();
      if ((shutting_down_ || terminating_ || ctl_ < 0) && children_.empty()) return;
      if (terminating_ && kill_at_ && kill_at_->expired()) {
        for (auto& c : children_) c.process->kill();
        kill_at_.reset();
      }
      std::vector<pollfd> fds;
      if (ctl_ >= 0) fds.push_back({ctl_, POLLIN, 0});
      bool all_pidfds = true;
      for (auto& c : children_) {
        if (c.pidfd >= 0) {
          fds.push_back({c.pidfd, POLLIN, 0});
        } else {
          all_pidfds = false;
        }
      }
      int timeout = all_pidfds ? -1 : 20;
      if (kill_at_) {
        int left = kill_at_->remaining_ms();
        timeout = timeout < 0 ? left : std::min(timeout, left);
      }
      int rc = poll(fds.data(), fds.size(), timeout);
      if (rc < 0 && errno != EINTR) throw_os_error("poll(fork server)");
      if (rc > 0 && ctl_ >= 0 && fds[0].revents != 0) read_control();
    }
  }

 private:
  void read_control() {
    CtlMessage m;
    if (!ctl_recv(ctl_, m)) {
      // The pool's process is gone (or closed the channel): stop everything.
      ::close(ctl_);
      ctl_ = -1;
      for (auto& c : children_) c.process->kill();
      return;
    }
    if (m.fd >= 0) ::close(m.fd);
    switch (m.header.kind) {
      case kSpawn:
        if (!shutting_down_ && !terminating_) spawn(m.text);
        break;
      case kTerminateAll:
        terminating_ = true;
        for (auto& c : children_) c.process->terminate();
        kill_at_ = Deadline::after(Seconds(1.0));
        break;
      case kShutdown:
        shutting_down_ = true;
        break;
      default:
        break;
    }
  }

  void report(CtlKind kind, std::int32_t pid, std::int32_t code, std::string_view text, int fd = -1) {
    if (ctl_ < 0) return;
    if (!ctl_send(ctl_, kind, pid, code, text, fd)) {
      ::close(ctl_);
      ctl_ = -1;
      for (auto& c : children_) c.process->kill();
    }
  }

  void spawn(const std::string& name) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      report(kSpawnFailed, 0, errno, std::string("socketpair: ") + std::strerror(errno));
      return;
    }
    const ProcessEngineState* s = &s_;
    const int ctl = ctl_;
    const int worker_end = sv[1];
    const int parent_end = sv[0];
    auto process = std::make_unique<mp::Process>(
        std::function<void()>([s, ctl, worker_end, parent_end] {
          ::close(ctl);
          ::close(parent_end);
          worker_main(*s, worker_end);
        }),
        name);
    process->set_daemon(true);
    try {
      process->start();
    } catch (const std::exception& e) {
      ::close(sv[0]);
      ::close(sv[1]);
      report(kSpawnFailed, 0, 0, e.what());
      return;
    }
    ::close(worker_end);
    pid_t pid = process->pid().value_or(0);
    ServerChild child;
    child.process = std::move(process);
    child.pid = pid;
    child.pidfd = open_pidfd(pid);
    child.name = name;
    children_.push_back(std::move(child));
    report(kSpawned, pid, 0, name, parent_end);
    ::close(parent_end);
  }

  void reap() {
    for (auto it = children_.begin(); it != children_.end();) {
      std::optional<int> code = it->process->exitcode();
      if (!code) {
        ++it;
        continue;
      }
      if (it->pidfd >= 0) ::close(it->pidfd);
      ServerChild done = std::move(*it);
      it = children_.erase(it);
      report(kExited, done.pid, *code, done.name);
    }
  }

  const ProcessEngineState& s_;
  int ctl_;
  std::vector<ServerChild> children_;
  bool shutting_down_ = false;
  bool terminating_ = false;
  std::optional<Deadline> kill_at_;
};

[[noreturn]] void fork_server_main(const ProcessEngineState& s, int ctl, pid_t parent) {
  // The server dies with the thread that forked it (and its workers with it).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  // Only this thread exists here: forget the parent's threads (their locks
  // may have been held at fork).
  racegate::internal::reset_threads_after_fork();
  int code = 0;
  try {
    ForkServer(s, ctl).run();
  } catch (...) {
    ErrorInfo info = describe_current_exception();
    std::fprintf(stderr, "racegate: pool fork server: %s: %s\n", info.type.c_str(), info.message.c_str());
    code = 1;
  }
  std::fflush(nullptr);
  _exit(code);
}

// ---- handler thread ----------------------------------------------------------------------

// Fails every task not delivered yet with BrokenPoolError(message), drops the
// queue, and from then on fails new tasks at once.
void break_pool(ProcessEngineState& s, const std::string& message) {
  std::vector<std::pair<std::shared_ptr<Job>, std::size_t>> failed;
  {
    std::lock_guard lk(s.mu);
    if (s.broken || s.state == State::kTerminate) return;
    s.broken = true;
    s.broken_message = message;
    s.pending.clear();
    for (auto& [id, entry] : s.jobs) {
      for (std::size_t i = 0; i < entry.delivered.size(); ++i) {
        if (!entry.delivered[i]) failed.emplace_back(entry.job, i);
      }
    }
    s.jobs.clear();
  }
  // One exception object per task: results never share one (see rethrow_fresh).
  for (auto& [job, index] : failed) job->fail(index, std::make_exception_ptr(BrokenPoolError(message)));
}

void deliver(ProcessEngineState& s, const ResultMessage& r) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lk(s.mu);
    auto it = s.jobs.find(r.job);
    if (it == s.jobs.end()) return;  // terminated or broken meanwhile
    auto& entry = it->second;
    if (r.index >= entry.delivered.size() || entry.delivered[r.index]) return;
    entry.delivered[r.index] = true;
    job = entry.job;
    if (--entry.remaining == 0) s.jobs.erase(it);
  }
  // Callbacks run here, on the handler thread, without the pool's lock.
  if (r.ok) {
    job->deliver(r.index, r.payload);
  } else {
    job->fail(r.index, rebuild_exception(r.error));
  }
}

// Reads one frame from `w`; closes its channel at end of stream.
void read_worker(ProcessEngineState& s, Worker& w) {
  std::string frame;
  bool got = false;
  try {
    got = read_frame(w.fd, frame);
  } catch (...) {
    got = false;  // ended inside a frame: the worker died while writing
  }
  if (!got) {
    ::close(w.fd);
    w.fd = -1;
    return;
  }
  ResultMessage r = loads<ResultMessage>(frame);
  if (!w.busy || r.job != w.job || r.index != w.index) return;  // not what it was given
  w.busy = false;
  ++w.completed;
  if (s.maxtasks && w.completed >= *s.maxtasks) w.retiring = true;
  deliver(s, r);
}

void on_worker_exit(ProcessEngineState& s, pid_t pid, int code) {
  auto it = std::find_if(s.workers.begin(), s.workers.end(), [&](const Worker& w) { return w.pid == pid; });
  if (it == s.workers.end()) return;
  // Everything the worker wrote before it ended is in the socket: take it.
  while (it->fd >= 0) {
    pollfd p{it->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    read_worker(s, *it);
  }
  if (it->fd >= 0) ::close(it->fd);
  Worker w = std::move(*it);
  s.workers.erase(it);
  {
    std::lock_guard lk(s.mu);
    std::erase(s.worker_pids, pid);
  }
  bool left_normally = (w.retiring || w.stop_sent) && code == 0;
  if (!left_normally && !s.terminate_sent) break_pool(s, describe_exit(w.name, w.pid, code));
}

void on_control(ProcessEngineState& s, CtlMessage& m) {
  switch (m.header.kind) {
    case kSpawned: {
      std::string name = s.spawning.empty() ? m.text : s.spawning.front();
      if (!s.spawning.empty()) s.spawning.pop_front();
      Worker w;
      w.name = name;
      w.pid = m.header.pid;
      w.fd = m.fd;
      m.fd = -1;
      {
        std::lock_guard lk(s.mu);
        s.worker_pids.push_back(w.pid);
      }
      s.workers.push_back(std::move(w));
      break;
    }
    case kSpawnFailed:
      if (!s.spawning.empty()) s.spawning.pop_front();
      if (!s.terminate_sent) {
        break_pool(s, "could not start a pool worker: " + m.text +
                          "; the pool is broken: pending and future tasks fail");
      }
      break;
    case kExited:
      on_worker_exit(s, m.header.pid, m.header.code);
      break;
    default:
      break;
  }
  if (m.fd >= 0) ::close(m.fd);
}

bool send_task(Worker& w, const ProcessEngineState::PendingTask& t) {
  TaskMessage msg;
  msg.kind = kTask;
  msg.job = t.job;
  msg.index = t.index;
  msg.invoker = t.invocation->invoker;
  msg.callable = t.invocation->callable;
  msg.payload = t.payload;
  return send_frame(w.fd, dumps(msg));
}

// Hands queued tasks to idle workers, keeps the number of workers up, and
// starts the shutdown (close) or the kill (terminate, broken) when due.
void act(ProcessEngineState& s) {
  if (s.server_gone) return;
  std::vector<std::pair<Worker*, ProcessEngineState::PendingTask>> sends;
  bool stop_all = false;
  bool want_workers = false;
  bool can_shutdown = false;
  {
    std::lock_guard lk(s.mu);
    stop_all = s.state == State::kTerminate || s.broken;
    if (!stop_all) {
      for (auto& w : s.workers) {
        if (s.pending.empty()) break;
        if (w.fd < 0 || w.busy || w.retiring || w.stop_sent) continue;
        w.busy = true;
        w.job = s.pending.front().job;
        w.index = s.pending.front().index;
        sends.emplace_back(&w, std::move(s.pending.front()));
        s.pending.pop_front();
      }
      bool any_busy = std::any_of(s.workers.begin(), s.workers.end(), [](const Worker& w) { return w.busy; });
      want_workers = s.state == State::kRun || !s.pending.empty();
      can_shutdown = s.state == State::kClose && s.pending.empty() && !any_busy;
    }
  }
  if (stop_all) {
    if (!s.terminate_sent) {
      s.terminate_sent = true;
      if (!ctl_send(s.ctl_fd, kTerminateAll, 0, 0, {})) s.server_gone = true;
    }
    return;
  }
  for (auto& [w, task] : sends) {
    // A dead worker fails the send; its exit report then breaks the pool.
    (void)send_task(*w, task);
  }
  if (want_workers && !s.shutdown_sent) {
    // A worker whose channel closed but whose exit is not reported yet still
    // counts: if it died, the report breaks the pool, and a replacement must
    // not take (and complete) tasks before that.
    std::size_t live = static_cast<std::size_t>(std::count_if(
        s.workers.begin(), s.workers.end(), [](const Worker& w) { return !w.retiring && !w.stop_sent; }));
    while (live + s.spawning.size() < static_cast<std::size_t>(s.processes)) {
      std::string name = next_worker_name();
      schedule::point(schedule::Op::kProcessStart, &s);
      if (!ctl_send(s.ctl_fd, kSpawn, 0, 0, name)) {
        s.server_gone = true;
        return;
      }
      s.spawning.push_back(std::move(name));
    }
  }
  if (can_shutdown && !s.shutdown_sent && s.spawning.empty()) {
    for (auto& w : s.workers) {
      if (w.fd < 0 || w.retiring || w.stop_sent) continue;
      w.stop_sent = true;
      TaskMessage stop;
      stop.kind = kStop;
      (void)send_frame(w.fd, dumps(stop));
    }
    s.shutdown_sent = true;
    if (!ctl_send(s.ctl_fd, kShutdown, 0, 0, {})) s.server_gone = true;
  }
}

void handler_loop(ProcessEngineState& s) {
  std::vector<pollfd> fds;
  std::vector<pid_t> owners;
  for (;;) {
    act(s);
    if (s.server_gone) return;
    fds.clear();
    owners.clear();
    fds.push_back({s.wake_fd, POLLIN, 0});
    fds.push_back({s.ctl_fd, POLLIN, 0});
    for (auto& w : s.workers) {
      if (w.fd < 0) continue;
      fds.push_back({w.fd, POLLIN, 0});
      owners.push_back(w.pid);
    }
    int rc = schedule::outside([&] { return poll(fds.data(), fds.size(), -1); });
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw_os_error("poll(pool handler)");
    }
    if (fds[0].revents != 0) {
      std::uint64_t count;
      while (read(s.wake_fd, &count, sizeof count) > 0) {
      }
    }
    // Workers first: an exit report (below) may close and reuse their fds.
    for (std::size_t k = 2; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      auto it = std::find_if(s.workers.begin(), s.workers.end(),
                             [&](const Worker& w) { return w.pid == owners[k - 2]; });
      if (it != s.workers.end() && it->fd == fds[k].fd) read_worker(s, *it);
    }
    if (fds[1].revents != 0) {
      CtlMessage m;
      if (!ctl_recv(s.ctl_fd, m)) {
        s.server_gone = true;
        if (!s.terminate_sent && !s.shutdown_sent) {
          break_pool(s, "the pool's fork server (pid " + std::to_string(s.server_pid) +
                            ") ended unexpectedly; the pool is broken: pending and future tasks fail");
        }
        return;
      }
      on_control(s, m);
    }
  }
}

void handler_main(ProcessEngineState& s) {
  t_handler_of = &s;
  try {
    handler_loop(s);
  } catch (...) {
    ErrorInfo info = describe_current_exception();
    break_pool(s, "the pool's handler thread failed (" + info.type + ": " + info.message +
                      "); the pool is broken: pending and future tasks fail");
  }
  // Closing the control channel makes the server kill what is left and exit.
  for (auto& w : s.workers) {
    if (w.fd >= 0) ::close(w.fd);
  }
  s.workers.clear();
  {
    std::lock_guard lk(s.mu);
    s.worker_pids.clear();
  }
  if (s.ctl_fd >= 0) {
    ::close(s.ctl_fd);
    s.ctl_fd = -1;
  }
  int status = 0;
  while (schedule::outside([&] { return waitpid(s.server_pid, &status, 0); }) < 0 && errno == EINTR) {
  }
}

}  // namespace

// ---- ProcessEngine -----------------------------------------------------------------------

ProcessEngine::ProcessEngine(Options options) : s_(std::make_unique<ProcessEngineState>()) {
  ProcessEngineState& s = *s_;
  if (options.processes < 1) throw ValueError("Number of processes must be at least 1");
  if (options.maxtasksperchild && *options.maxtasksperchild < 1) {
    throw ValueError("maxtasksperchild must be a positive int or None");
  }
  if (mp::current_process().daemon()) {
    throw AssertionError("daemonic processes are not allowed to have children");
  }
  s.processes = options.processes;
  s.initializer = std::move(options.initializer);
  s.maxtasks = options.maxtasksperchild;

  std::vector<std::string> names;
  for (int i = 0; i < s.processes; ++i) names.push_back(next_worker_name());

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_os_error("socketpair");
  s.generation = registry_generation();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  schedule::point(schedule::Op::kProcessStart, this);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    errno = err;
    throw_os_error("fork (pool fork server)");
  }
  if (pid == 0) {
    ::close(sv[0]);
    fork_server_main(s, sv[1], parent);
  }
  ::close(sv[1]);
  s.ctl_fd = sv[0];
  s.server_pid = pid;

  try {
    for (auto& name : names) {
      if (!ctl_send(s.ctl_fd, kSpawn, 0, 0, name)) throw OSError("the pool's fork server ended during start-up");
      s.spawning.push_back(name);
    }
    while (!s.spawning.empty()) {
      CtlMessage m;
      if (!ctl_recv(s.ctl_fd, m)) throw OSError("the pool's fork server ended during start-up");
      if (m.header.kind == kSpawnFailed) {
        if (m.fd >= 0) ::close(m.fd);
        throw OSError("could not start a pool worker: " + m.text);
      }
      on_control(s, m);
    }
    s.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s.wake_fd < 0) throw_os_error("eventfd");
    s.handler = std::make_unique<threading::Thread>([st = &s] { handler_main(*st); });
    s.handler->set_name(s.handler->name() + " (_handle_results)");
    s.handler->set_daemon(true);
    s.handler->start();
  } catch (...) {
    for (auto& w : s.workers) {
      if (w.fd >= 0) ::close(w.fd);
    }
    s.workers.clear();
    ::close(s.ctl_fd);
    s.ctl_fd = -1;
    int status = 0;
    while (schedule::outside([&] { return waitpid(s.server_pid, &status, 0); }) < 0 && errno == EINTR) {
    }
    if (s.wake_fd >= 0) ::close(s.wake_fd);
    throw;
  }
}

ProcessEngine::~ProcessEngine() {
  if (!s_) return;
  try {
    terminate();
  } catch (...) {
  }
  if (t_handler_of != s_.get() && s_->wake_fd >= 0) {
    ::close(s_->wake_fd);
    s_->wake_fd = -1;
  }
}

int ProcessEngine::processes() const noexcept { return s_->processes; }

std::vector<pid_t> ProcessEngine::worker_pids() const {
  std::lock_guard lk(s_->mu);
  return s_->worker_pids;
}
std::uint64_t ProcessEngine::generation() const noexcept { return s_->generation; }

void ProcessEngine::check_running() const {
  std::lock_guard lk(s_->mu);
  if (s_->state != State::kRun) throw ValueError("Pool not running");
}

void ProcessEngine::submit(std::shared_ptr<Job> job, Invocation invocation, std::vector<std::string> payloads) {
  const std::size_t n = payloads.size();
  if (n == 0) return;
  auto shared = std::make_shared<const Invocation>(std::move(invocation));
  std::string broken_message;
  {
    std::lock_guard lk(s_->mu);
    if (s_->state != State::kRun) throw ValueError("Pool not running");
    if (s_->broken) {
      broken_message = s_->broken_message;
    } else {
      std::uint64_t id = s_->next_job++;
      s_->jobs.emplace(id, ProcessEngineState::JobEntry{job, std::vector<bool>(n, false), n});
      for (std::size_t i = 0; i < n; ++i) {
        s_->pending.push_back({id, i, shared, std::move(payloads[i])});
      }
    }
  }
  if (!broken_message.empty()) {
    for (std::size_t i = 0; i < n; ++i) job->fail(i, std::make_exception_ptr(BrokenPoolError(broken_message)));
    return;
  }
  wake(*s_);
}

void ProcessEngine::close() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state == State::kRun) s_->state = State::kClose;
  }
  wake(*s_);
}

void ProcessEngine::terminate() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state != State::kTerminate) {
      s_->state = State::kTerminate;
      s_->pending.clear();
      s_->jobs.clear();  // their results never become ready, as in CPython
    }
  }
  wake(*s_);
  if (t_handler_of != s_.get()) s_->handler->join();
}

void ProcessEngine::join() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state == State::kRun) throw ValueError("Pool is still running");
  }
  schedule::point(schedule::Op::kProcessJoin, this);
  if (t_handler_of == s_.get()) throw RuntimeError("cannot join current thread");
  s_->handler->join();
}

}  // namespace racegate::internal::pool
