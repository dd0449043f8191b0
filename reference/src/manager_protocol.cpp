#include "racegate/internal/manager_protocol.h"

#include <bit>
#include <cstring>

#include "racegate/errors.h"

namespace racegate::internal::manager {
namespace {

constexpr char kRequestTag = 'Q';
constexpr char kReplyTag = 'R';

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void str(std::string_view s) {
    if (s.size() > 0xffffffffu) throw ValueError("message too long");
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    if (v.size() > 0xffffffffu) throw ValueError("message too long");
    u32(static_cast<std::uint32_t>(v.size()));
    for (const auto& s : v) str(s);
  }
  std::string take() { return std::move(out_); }

 private:
  void le(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view in, const char* what) : in_(in), what_(what) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  double f64() { return std::bit_cast<double>(u64()); }
  bool boolean() {
    std::uint8_t v = u8();
    if (v > 1) fail("bad boolean");
    return v == 1;
  }
  std::string str() {
    std::uint32_t n = u32();
    need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> strs() {
    std::uint32_t n = u32();
    // Each string takes at least its 4-byte length: bound the count by what
    // is left before reserving anything.
    if (n > (in_.size() - pos_) / 4) fail("count larger than the message");
    std::vector<std::string> v;
    v.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) v.push_back(str());
    return v;
  }
  void end() {
    if (pos_ != in_.size()) fail("trailing bytes");
  }
  [[noreturn]] void fail(const char* why) {
    throw ValueError(std::string("malformed ") + what_ + ": " + why);
  }

 private:
  void need(std::size_t n) {
    if (in_.size() - pos_ < n) fail("truncated");
  }
  std::uint64_t le(int bytes) {
    need(static_cast<std::size_t>(bytes));
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += static_cast<std::size_t>(bytes);
    return v;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  const char* what_;
};

}  // namespace

const char* kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::kDict: return "dict";
    case Kind::kList: return "list";
    case Kind::kNamespace: return "Namespace";
    case Kind::kQueue: return "Queue";
    case Kind::kLock: return "Lock";
    case Kind::kRLock: return "RLock";
    case Kind::kSemaphore: return "Semaphore";
    case Kind::kBoundedSemaphore: return "BoundedSemaphore";
    case Kind::kCondition: return "Condition";
    case Kind::kEvent: return "Event";
    case Kind::kBarrier: return "Barrier";
    case Kind::kValue: return "Value";
  }
  return "unknown";
}

std::string encode(const Request& r) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(kRequestTag));
  w.u16(static_cast<std::uint16_t>(r.op));
  w.u64(r.id);
  w.u64(r.owner);
  w.i64(r.n);
  w.i64(r.m);
  w.u8(r.block ? 1 : 0);
  w.u8(r.has_timeout ? 1 : 0);
  w.f64(r.timeout);
  w.strs(r.args);
  return w.take();
}

std::string encode(const Reply& r) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(kReplyTag));
  w.u8(r.ok ? 1 : 0);
  w.str(r.error_type);
  w.str(r.error_message);
  w.i64(r.n);
  w.u8(r.flag ? 1 : 0);
  w.strs(r.values);
  return w.take();
}

Request decode_request(std::string_view bytes) {
  Reader in(bytes, "request");
  if (in.u8() != static_cast<std::uint8_t>(kRequestTag)) in.fail("not a request");
  Request r;
  r.op = static_cast<Op>(in.u16());
  r.id = in.u64();
  r.owner = in.u64();
  r.n = in.i64();
  r.m = in.i64();
  r.block = in.boolean();
  r.has_timeout = in.boolean();
  r.timeout = in.f64();
  r.args = in.strs();
  in.end();
  if (r.has_timeout && r.timeout != r.timeout) in.fail("timeout is NaN");
  return r;
}

Reply decode_reply(std::string_view bytes) {
  Reader in(bytes, "reply");
  if (in.u8() != static_cast<std::uint8_t>(kReplyTag)) in.fail("not a reply");
  Reply r;
  r.ok = in.boolean();
  r.error_type = in.str();
  r.error_message = in.str();
  r.n = in.i64();
  r.flag = in.boolean();
  r.values = in.strs();
  in.end();
  return r;
}

}  // namespace racegate::internal::manager
