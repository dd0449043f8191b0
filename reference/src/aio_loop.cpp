// racegate::aio — the event loop (BaseEventLoop._run_once), its clocks,
// handles, asyncio.run's checks and blocking_sleep. See racegate/aio/loop.h.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "racegate/aio/future.h"
#include "racegate/aio/loop.h"
#include "racegate/errors.h"

namespace racegate::aio {

namespace internal {

// A callback scheduled on a loop: ready (call_soon) or a timer.
struct CallbackEntry {
  std::function<void()> fn;
  std::int64_t when_ns = 0;
  std::uint64_t seq = 0;
  bool timer = false;
  bool cancelled = false;
};

namespace {

thread_local EventLoop* t_running_loop = nullptr;
std::atomic<std::uint64_t> g_task_counter{0};

constexpr const char* kDeadlock =
    "event loop deadlock: no task can make progress (every task waits and no callback or timer "
    "is pending)";

// Seconds to nanoseconds; beyond ~95 years counts as ~95 years.
std::int64_t seconds_to_ns(double s) {
  constexpr double kMaxSeconds = 3.0e9;
  if (s > kMaxSeconds) s = kMaxSeconds;
  if (s < -kMaxSeconds) s = -kMaxSeconds;
  return std::llround(s * 1e9);
}

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const Error& e) {
    return std::string(e.python_type()) + ": " + e.what();
  } catch (const CancelledError& e) {
    return std::string("CancelledError: ") + e.what();
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

EventLoop* running_loop() noexcept { return t_running_loop; }

void check_can_run(bool valid) {
  if (t_running_loop != nullptr) {
    throw RuntimeError("asyncio.run() cannot be called from a running event loop");
  }
  if (!valid) throw ValueError("a coroutine was expected, got None");
}

}  // namespace internal

using internal::CallbackEntry;

// --------------------------------------------------------------------- Clock

Clock Clock::virtual_time(double start) {
  if (std::isnan(start)) throw ValueError("Invalid value NaN (not a number)");
  return Clock(true, internal::seconds_to_ns(start));
}

// -------------------------------------------------------------------- Handle

void Handle::cancel() noexcept {
  if (entry_ && !entry_->cancelled) {
    entry_->cancelled = true;
    entry_->fn = nullptr;  // drops what the callback captured
  }
}

bool Handle::cancelled() const noexcept { return entry_ && entry_->cancelled; }

std::optional<double> Handle::when() const noexcept {
  if (!entry_ || !entry_->timer) return std::nullopt;
  return static_cast<double>(entry_->when_ns) / 1e9;
}

// ----------------------------------------------------------------- EventLoop

EventLoop::EventLoop(Clock clock) : clock_(clock), virtual_now_ns_(clock.start_ns_) {}

EventLoop::~EventLoop() {
  // Frames of tasks that never finished: destroy them (and with them what they
  // own), then whatever is still scheduled.
  auto tasks = std::move(tasks_);
  tasks_.clear();
  for (auto& [id, task] : tasks) task->abandon();
  ready_.clear();
  timers_.clear();
  tasks.clear();
}

std::int64_t EventLoop::time_ns() const noexcept {
  if (clock_.virtual_) return virtual_now_ns_;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double EventLoop::time() const noexcept { return static_cast<double>(time_ns()) / 1e9; }

void EventLoop::check_closed() const {
  if (closed_) throw RuntimeError("Event loop is closed");
}

void EventLoop::check_task_source(bool valid, bool started) {
  if (!valid) throw TypeError("a coroutine was expected, got None");
  if (started) throw RuntimeError("cannot reuse already awaited coroutine");
}

void EventLoop::enqueue(std::function<void()> cb) {
  if (closed_) return;
  auto e = std::make_shared<CallbackEntry>();
  e->fn = std::move(cb);
  ready_.push_back(std::move(e));
}

Handle EventLoop::call_soon(std::function<void()> cb) {
  check_closed();
  auto e = std::make_shared<CallbackEntry>();
  e->fn = std::move(cb);
  ready_.push_back(e);
  return Handle(std::move(e));
}

bool EventLoop::TimerOrder::operator()(const std::shared_ptr<CallbackEntry>& a,
                                       const std::shared_ptr<CallbackEntry>& b) const noexcept {
  // std::push_heap keeps the greatest first: "greater" puts the earliest first.
  if (a->when_ns != b->when_ns) return a->when_ns > b->when_ns;
  return a->seq > b->seq;
}

Handle EventLoop::call_later(Delay delay, std::function<void()> cb) {
  if (std::isnan(delay.seconds)) throw ValueError("Invalid delay: NaN (not a number)");
  return call_at_ns(time_ns() + internal::seconds_to_ns(delay.seconds), std::move(cb));
}

Handle EventLoop::call_at(double when, std::function<void()> cb) {
  if (std::isnan(when)) throw ValueError("Invalid value NaN (not a number)");
  return call_at_ns(internal::seconds_to_ns(when), std::move(cb));
}

Handle EventLoop::call_at_ns(std::int64_t when_ns, std::function<void()> cb) {
  check_closed();
  auto e = std::make_shared<CallbackEntry>();
  e->fn = std::move(cb);
  e->timer = true;
  e->when_ns = when_ns;
  e->seq = timer_seq_++;
  if (timers_.size() >= timers_compact_at_) {
    std::erase_if(timers_, [](const auto& t) { return t->cancelled; });
    std::make_heap(timers_.begin(), timers_.end(), TimerOrder{});
    timers_compact_at_ = std::max<std::size_t>(256, 2 * timers_.size());
  }
  timers_.push_back(e);
  std::push_heap(timers_.begin(), timers_.end(), TimerOrder{});
  return Handle(std::move(e));
}

void EventLoop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (closed_) return;
  closed_ = true;
  ready_.clear();
  timers_.clear();
}

void EventLoop::adopt_task(std::shared_ptr<internal::TaskBase> task, std::string name) {
  task->id_ = ++internal::g_task_counter;
  task->name_ = name.empty() ? "Task-" + std::to_string(task->id_) : std::move(name);
  tasks_.emplace(task->id_, task);
  enqueue([task] { task->step(nullptr); });
}

void EventLoop::task_done(internal::TaskBase& task) noexcept { tasks_.erase(task.id_); }

void EventLoop::run_until_done(const std::shared_ptr<internal::FutureBase>& fut) {
  check_closed();
  const auto id = fut->add_done_callback([this](internal::FutureBase&) { stop(); });
  try {
    run_forever();
  } catch (...) {
    fut->remove_done_callback(id);
    throw;
  }
  fut->remove_done_callback(id);
  if (!fut->done()) throw RuntimeError("Event loop stopped before Future completed.");
}

void EventLoop::run_forever() {
  check_closed();
  if (running_) throw RuntimeError("This event loop is already running");
  if (internal::t_running_loop != nullptr) {
    throw RuntimeError("Cannot run the event loop while another loop is running");
  }
  struct Running {
    EventLoop* loop;
    explicit Running(EventLoop* l) : loop(l) {
      loop->running_ = true;
      internal::t_running_loop = l;
    }
    ~Running() {
      loop->stopping_ = false;
      loop->running_ = false;
      internal::t_running_loop = nullptr;
    }
  } running(this);
  for (;;) {
    run_once();
    if (stopping_) break;
  }
}

void EventLoop::pop_cancelled_timers() noexcept {
  while (!timers_.empty() && timers_.front()->cancelled) {
    std::pop_heap(timers_.begin(), timers_.end(), TimerOrder{});
    timers_.pop_back();
  }
}

void EventLoop::run_once() {
  pop_cancelled_timers();
  if (ready_.empty() && !stopping_) {
    if (timers_.empty()) throw RuntimeError(internal::kDeadlock);
    const std::int64_t when = timers_.front()->when_ns;
    if (clock_.virtual_) {
      virtual_now_ns_ = std::max(virtual_now_ns_, when);  // time jumps to the next timer
    } else {
      const std::int64_t now = time_ns();
      if (when > now) std::this_thread::sleep_for(std::chrono::nanoseconds(when - now));
    }
  }

  // Expired timers join the ready callbacks, earliest first.
  const std::int64_t now = time_ns();
  while (!timers_.empty()) {
    if (timers_.front()->cancelled) {
      pop_cancelled_timers();
      continue;
    }
    if (timers_.front()->when_ns > now) break;
    std::pop_heap(timers_.begin(), timers_.end(), TimerOrder{});
    ready_.push_back(std::move(timers_.back()));
    timers_.pop_back();
  }

  // Run what was ready when this iteration began; what they schedule waits
  // for the next one.
  for (std::size_t todo = ready_.size(); todo > 0 && !ready_.empty(); --todo) {
    auto e = std::move(ready_.front());
    ready_.pop_front();
    if (e->cancelled || !e->fn) continue;
    auto fn = std::move(e->fn);
    e->fn = nullptr;
    try {
      fn();
    } catch (...) {
      std::fprintf(stderr, "Exception in callback: %s\n",
                   internal::describe(std::current_exception()).c_str());
    }
  }
}

void EventLoop::cancel_all_tasks() {
  if (running_) throw RuntimeError("This event loop is already running");
  if (closed_ || tasks_.empty()) return;
  std::vector<std::shared_ptr<internal::TaskBase>> pending;
  pending.reserve(tasks_.size());
  for (auto& [id, task] : tasks_) pending.push_back(task);
  for (auto& task : pending) task->cancel(std::string());

  // Run until every one of them is done (gather(*to_cancel, return_exceptions=True)).
  auto all = create_future<void>();
  auto remaining = std::make_shared<std::size_t>(pending.size());
  for (auto& task : pending) {
    task->add_done_callback([remaining, w = internal::FutureAccess::base(all)](internal::FutureBase&) {
      if (--*remaining == 0 && !w->done()) w->finish_result();
    });
  }
  try {
    run_until_complete(all);
  } catch (const RuntimeError&) {
    return;  // a deadlock among them: their frames go with the loop
  }
  for (auto& task : pending) {
    if (task->failed()) {
      std::fprintf(stderr, "unhandled exception during asyncio.run() shutdown: task %s: %s\n",
                   task->name().c_str(), internal::describe(task->stored_exception()).c_str());
    }
  }
}

// ------------------------------------------------------------ free functions

EventLoop& get_running_loop() {
  EventLoop* loop = internal::t_running_loop;
  if (loop == nullptr) throw RuntimeError("no running event loop");
  return *loop;
}

TaskHandle<void> current_task() {
  EventLoop& loop = get_running_loop();
  if (loop.current_task_ == nullptr) return {};
  return TaskHandle<void>(
      std::static_pointer_cast<internal::TaskBase>(loop.current_task_->shared_from_this()));
}

void blocking_sleep(Delay delay) {
  if (std::isnan(delay.seconds)) throw ValueError("Invalid value NaN (not a number)");
  if (delay.seconds < 0) throw ValueError("sleep length must be non-negative");
  EventLoop* loop = internal::t_running_loop;
  if (loop != nullptr && loop->is_virtual_time()) {
    loop->virtual_now_ns_ += internal::seconds_to_ns(delay.seconds);
    return;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(delay.seconds, 3.0e9)));
}

}  // namespace racegate::aio
