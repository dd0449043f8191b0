// Internal: the Manager's request/reply protocol. Do not use directly.
//
// Every message between a Manager client and its server is one frame of
// racegate/internal/wire.h (4-byte little-endian length, then the payload).
//
// A connection starts with a mutual challenge-response (see
// manager_auth.h), then carries requests and replies strictly in turn: a
// client sends one Request and reads one Reply before it sends the next. A
// request whose operation blocks (Lock.acquire, Queue.get, ...) is answered
// only when it completes or times out, so a connection is busy meanwhile;
// a client uses one connection per concurrent call.
//
// The envelope (Request, Reply) has a fixed, hand-written encoding with
// every length checked against what is left, so a malformed or hostile
// frame is rejected with ValueError and never makes the server allocate
// more than the frame's own size. The values inside (dict keys, list items,
// queue items) are opaque bytes to the server: the client serializes them
// with internal::dumps and reads them back with internal::loads. The server
// compares dict keys by those bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace racegate::internal::manager {

// The type of a shared object in the server.
enum class Kind : std::uint8_t {
  kDict = 1,
  kList,
  kNamespace,
  kQueue,
  kLock,
  kRLock,
  kSemaphore,
  kBoundedSemaphore,
  kCondition,
  kEvent,
  kBarrier,
  kValue,
};

// The name of the server-side type ("dict", "Lock", ...), for messages.
const char* kind_name(Kind kind) noexcept;

// Operations. Manager-level operations have object id 0.
enum class Op : std::uint16_t {
  // Manager: create an object (n = Kind, m = parameter, args = initial
  // contents; reply n = new id), shut the server down, check it answers,
  // report its state (n = parked requests, values = {connections}; for
  // tests and diagnostics).
  kCreate = 1,
  kShutdown,
  kPing,
  kStats,
  // dict: args[0] = key, args[1] = value.
  kDictGet = 20,
  kDictFind,        // reply flag = found, values = {value} when found
  kDictSet,
  kDictSetDefault,  // reply values = {value now stored}
  kDictContains,
  kDictErase,
  kDictPop,
  kDictSize,
  kDictKeys,
  kDictValues,
  kDictItems,       // values = k0, v0, k1, v1, ... in insertion order
  kDictClear,
  kDictUpdate,      // args = k0, v0, k1, v1, ...
  // list: n = index (Python rules: negative counts from the end).
  kListAppend = 40,
  kListExtend,
  kListGet,
  kListSet,
  kListPop,
  kListSize,
  kListItems,
  kListClear,
  // Namespace: args[0] = attribute name, args[1] = value.
  kNsGet = 60,
  kNsSet,
  kNsHas,
  kNsDel,
  // Value
  kValueGet = 70,
  kValueSet,
  // Lock, RLock, Semaphore, BoundedSemaphore, Condition: block and timeout;
  // the owner token identifies the calling thread (recursive kinds).
  kAcquire = 80,
  kRelease,
  // Condition: wait (timeout), notify (n), notify_all.
  kCondWait = 90,
  kCondNotify,
  kCondNotifyAll,
  // Event
  kEventSet = 100,
  kEventClear,
  kEventIsSet,
  kEventWait,
  // Barrier
  kBarrierWait = 110,
  kBarrierReset,
  kBarrierAbort,
  kBarrierParties,
  kBarrierNWaiting,
  kBarrierBroken,
  // Queue: args[0] = item for put.
  kQueuePut = 120,
  kQueueGet,
  kQueueSize,
  kQueueEmpty,
  kQueueFull,
  kQueueTaskDone,
  kQueueJoin,
};

struct Request {
  Op op = Op::kPing;
  std::uint64_t id = 0;     // object id (0: the manager itself)
  std::uint64_t owner = 0;  // calling thread: pid << 32 | tid
  std::int64_t n = 0;       // index, count, kind, ...
  std::int64_t m = 0;       // second integer parameter
  bool block = true;
  bool has_timeout = false;
  double timeout = 0.0;     // seconds, when has_timeout
  std::vector<std::string> args;
};

struct Reply {
  bool ok = true;
  std::string error_type;     // Python exception type name when !ok
  std::string error_message;  // its message
  std::int64_t n = 0;
  bool flag = false;
  std::vector<std::string> values;
};

// Encodings. decode_* throw ValueError("malformed request: ...") /
// ValueError("malformed reply: ...") when the bytes are not one well-formed
// message.
std::string encode(const Request& r);
std::string encode(const Reply& r);
Request decode_request(std::string_view bytes);
Reply decode_reply(std::string_view bytes);

// Replies.
inline Reply ok_reply() { return Reply{}; }
inline Reply error_reply(std::string type, std::string message) {
  Reply r;
  r.ok = false;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
  return r;
}

// Handshake constants (CPython's multiprocessing.connection uses the same
// words) and limits.
inline constexpr std::string_view kChallenge = "#CHALLENGE#";
inline constexpr std::string_view kWelcome = "#WELCOME#";
inline constexpr std::string_view kFailure = "#FAILURE#";
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::size_t kMaxHandshakeFrame = 256;
// Largest request or reply frame; a larger request is refused and its
// connection closed.
inline constexpr std::size_t kMaxFrame = 64u << 20;

}  // namespace racegate::internal::manager
