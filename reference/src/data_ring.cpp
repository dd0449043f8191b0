// The process-shared byte queue behind the multiprocessing queues (see
// racegate/internal/data_ring.h for the design).
#include "racegate/internal/data_ring.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>
#include <sys/mman.h>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/data_sync.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/internal/sync_robust.h"

namespace racegate::internal {

// The header page of a queue's mapping. Immutable fields are written before
// the queue is shared; the rest is guarded by `mutex` (atomics where a
// snapshot is read without it).
struct RingHeader {
  RobustLockCore mutex;  // holds the owner's pid: a dead owner is seen
  std::atomic<std::int32_t> broken_by{0};  // pid that died holding `mutex`, or 0
  CondCore not_empty;
  CondCore not_full;
  CondCore all_done;
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> unfinished{0};
  std::atomic<std::uint64_t> head{0};  // read position (bytes, monotonic)
  std::atomic<std::uint64_t> tail{0};  // write position (bytes, monotonic)
  std::uint64_t freed = 0;             // pages before this position were handed back
  std::int64_t maxsize = 0;            // <= 0: unbounded
  std::uint64_t capacity = 0;          // bytes of the ring, a multiple of the page size

  char* data() noexcept { return reinterpret_cast<char*>(this) + kHeaderBytes; }
  static constexpr std::size_t kHeaderBytes = 4096;
};

static_assert(sizeof(RingHeader) <= RingHeader::kHeaderBytes);
static_assert(std::is_trivially_destructible_v<RingHeader>);

namespace {

constexpr std::uint64_t kLengthBytes = 8;
constexpr std::uint64_t kReleaseChunk = std::uint64_t{1} << 20;

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::uint64_t round_up(std::uint64_t x, std::uint64_t m) noexcept { return (x + m - 1) / m * m; }

[[noreturn]] void throw_broken(pid_t pid) {
  throw OwnerDiedError("queue is broken: process " + std::to_string(pid) +
                       " died while holding its internal lock");
}

// Holds a queue's process-shared mutex for a scope. When the process holding
// it has ended, the queue is marked broken (its bytes may be half-written),
// every waiter is woken, and this and every later call throws OwnerDiedError.
class HeaderLock {
 public:
  explicit HeaderLock(RingHeader& h) : h_(h) { lock(); }
  ~HeaderLock() {
    if (held_) h_.mutex.release();
  }
  HeaderLock(const HeaderLock&) = delete;
  HeaderLock& operator=(const HeaderLock&) = delete;

  // Waits on `cond` (the mutex is released meanwhile), in slices of
  // kOwnerCheckInterval so that a waiter also notices a dead lock holder; the
  // callers re-check their predicate and deadline after every return.
  void wait(CondCore& cond, const Deadline& deadline) {
    cond.waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t observed = cond.seq.load(std::memory_order_seq_cst);
    held_ = false;
    h_.mutex.release();
    (void)futex_wait(cond.seq, observed, earlier_of(deadline, kOwnerCheckInterval),
                     Scope::kProcess);
    cond.waiters.fetch_sub(1, std::memory_order_seq_cst);
    lock();
  }

  // Leaves the mutex held after this scope (fault injection only).
  void keep_held() noexcept { held_ = false; }

 private:
  void lock() {
    if (const pid_t dead = h_.broken_by.load(std::memory_order_acquire)) throw_broken(dead);
    pid_t dead = 0;
    if (h_.mutex.acquire(Deadline::never(), this_thread_ids(), &dead) ==
        RobustLockCore::Acquired::kOwnerDied) {
      std::int32_t none = 0;
      h_.broken_by.compare_exchange_strong(none, dead, std::memory_order_acq_rel);
      h_.not_empty.notify_all(Scope::kProcess);
      h_.not_full.notify_all(Scope::kProcess);
      h_.all_done.notify_all(Scope::kProcess);
      throw_broken(h_.broken_by.load(std::memory_order_acquire));
    }
    if (const pid_t broken = h_.broken_by.load(std::memory_order_acquire)) {
      h_.mutex.release();
      throw_broken(broken);
    }
    held_ = true;
  }

  RingHeader& h_;
  bool held_ = false;
};

void copy_in(RingHeader& h, std::uint64_t pos, const char* src, std::uint64_t n) noexcept {
  if (n == 0) return;
  const std::uint64_t off = pos % h.capacity;
  const std::uint64_t first = std::min(n, h.capacity - off);
  std::memcpy(h.data() + off, src, first);
  if (n > first) std::memcpy(h.data(), src + first, n - first);
}

void copy_out(RingHeader& h, std::uint64_t pos, char* dst, std::uint64_t n) noexcept {
  if (n == 0) return;
  const std::uint64_t off = pos % h.capacity;
  const std::uint64_t first = std::min(n, h.capacity - off);
  std::memcpy(dst, h.data() + off, first);
  if (n > first) std::memcpy(dst + first, h.data(), n - first);
}

bool has_room(const RingHeader& h, std::uint64_t need) noexcept {
  const std::uint64_t count = h.count.load(std::memory_order_relaxed);
  if (h.maxsize > 0 && count >= static_cast<std::uint64_t>(h.maxsize)) return false;
  const std::uint64_t used = h.tail.load(std::memory_order_relaxed) - h.head.load(std::memory_order_relaxed);
  return used + need <= h.capacity;
}

// Hands the pages behind the reader back to the kernel once there are
// kReleaseChunk bytes of them, so a long-lived queue keeps only the pages that
// hold items. The range never reaches the live bytes [head, tail). Called with
// the mutex held.
void release_consumed_pages(RingHeader& h) noexcept {
  const std::uint64_t page = page_size();
  const std::uint64_t head = h.head.load(std::memory_order_relaxed);
  const std::uint64_t tail = h.tail.load(std::memory_order_relaxed);
  std::uint64_t lo = std::max(h.freed, tail > h.capacity ? tail - h.capacity : 0);
  lo = round_up(lo, page);
  const std::uint64_t hi = head / page * page;
  if (hi <= lo || hi - lo < kReleaseChunk) return;
  const std::uint64_t off = lo % h.capacity;
  const std::uint64_t len = hi - lo;
  const std::uint64_t first = std::min(len, h.capacity - off);
  // Failure only costs memory: the pages stay resident.
  (void)madvise(h.data() + off, first, MADV_REMOVE);
  if (len > first) (void)madvise(h.data(), len - first, MADV_REMOVE);
  h.freed = hi;
}

}  // namespace

std::shared_ptr<RingQueue> RingQueue::create(long maxsize, std::size_t capacity) {
  const std::size_t page = page_size();
  const std::uint64_t ring = round_up(std::max<std::uint64_t>(capacity, page), page);
  const std::size_t size = RingHeader::kHeaderBytes + ring;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    throw OSError("mmap(MAP_SHARED|MAP_ANONYMOUS, " + std::to_string(size) +
                  " bytes) failed: " + std::strerror(err));
  }
  auto* h = new (p) RingHeader;
  h->maxsize = maxsize > 0 ? maxsize : 0;
  h->capacity = ring;
  return std::shared_ptr<RingQueue>(new RingQueue(h, size));
}

RingQueue::~RingQueue() { munmap(header_, mapping_size_); }

bool RingQueue::put(std::string_view item, const Deadline& deadline, bool count_task) {
  RingHeader& h = *header_;
  const std::uint64_t need = kLengthBytes + item.size();
  if (need > h.capacity) {
    throw ValueError("item of " + std::to_string(item.size()) +
                     " bytes is larger than the queue's buffer of " +
                     std::to_string(h.capacity - kLengthBytes) + " bytes");
  }
  HeaderLock lock(h);
  while (!has_room(h, need)) {
    if (deadline.expired()) return false;
    lock.wait(h.not_full, deadline);
  }
  const std::uint64_t tail = h.tail.load(std::memory_order_relaxed);
  char length[kLengthBytes];
  std::uint64_t n = item.size();
  for (auto& b : length) {
    b = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  copy_in(h, tail, length, kLengthBytes);
  copy_in(h, tail + kLengthBytes, item.data(), item.size());
  h.tail.store(tail + need, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
  if (count_task) h.unfinished.fetch_add(1, std::memory_order_relaxed);
  h.not_empty.notify_all(Scope::kProcess);
  return true;
}

bool RingQueue::get(std::string& out, const Deadline& deadline) {
  RingHeader& h = *header_;
  HeaderLock lock(h);
  while (h.count.load(std::memory_order_relaxed) == 0) {
    if (deadline.expired()) return false;
    lock.wait(h.not_empty, deadline);
  }
  const std::uint64_t head = h.head.load(std::memory_order_relaxed);
  unsigned char length[kLengthBytes];
  copy_out(h, head, reinterpret_cast<char*>(length), kLengthBytes);
  std::uint64_t n = 0;
  for (int i = static_cast<int>(kLengthBytes) - 1; i >= 0; --i) n = (n << 8) | length[i];
  out.resize(n);  // may throw bad_alloc: nothing has changed yet
  copy_out(h, head + kLengthBytes, out.data(), n);
  h.head.store(head + kLengthBytes + n, std::memory_order_relaxed);
  h.count.fetch_sub(1, std::memory_order_relaxed);
  release_consumed_pages(h);
  h.not_full.notify_all(Scope::kProcess);
  return true;
}

std::size_t RingQueue::qsize() const noexcept {
  return header_->count.load(std::memory_order_relaxed);
}

bool RingQueue::full() const noexcept {
  return header_->maxsize > 0 &&
         header_->count.load(std::memory_order_relaxed) >= static_cast<std::uint64_t>(header_->maxsize);
}

long RingQueue::maxsize() const noexcept { return static_cast<long>(header_->maxsize); }

std::size_t RingQueue::capacity() const noexcept { return header_->capacity; }

std::size_t RingQueue::bytes_used() const {
  HeaderLock lock(*header_);
  return header_->tail.load(std::memory_order_relaxed) - header_->head.load(std::memory_order_relaxed);
}

void RingQueue::task_done() {
  RingHeader& h = *header_;
  HeaderLock lock(h);
  const std::uint64_t left = h.unfinished.load(std::memory_order_relaxed);
  if (left == 0) throw ValueError("task_done() called too many times");
  h.unfinished.store(left - 1, std::memory_order_relaxed);
  if (left == 1) h.all_done.notify_all(Scope::kProcess);
}

bool RingQueue::join(const Deadline& deadline) {
  RingHeader& h = *header_;
  HeaderLock lock(h);
  while (h.unfinished.load(std::memory_order_relaxed) != 0) {
    if (deadline.expired()) return false;
    lock.wait(h.all_done, deadline);
  }
  return true;
}

std::size_t RingQueue::unfinished_tasks() const noexcept {
  return header_->unfinished.load(std::memory_order_relaxed);
}

const void* RingQueue::id() const noexcept { return header_; }

pid_t RingQueue::broken_by() const noexcept {
  return header_->broken_by.load(std::memory_order_acquire);
}

void RingQueue::lock_and_keep_for_fault_test() {
  HeaderLock lock(*header_);
  lock.keep_held();
}

bool RingQueue::closed_here() const noexcept {
  return closed_by_.load(std::memory_order_relaxed) == getpid();
}

void RingQueue::close_here() noexcept { closed_by_.store(getpid(), std::memory_order_relaxed); }

std::string object_repr(const char* qualname, const void* id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(id)));
  return std::string("<") + qualname + " object at " + buf + ">";
}

}  // namespace racegate::internal
