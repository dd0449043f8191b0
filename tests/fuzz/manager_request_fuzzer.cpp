// libFuzzer entry point for the Manager's request and reply decoders
// (racegate/internal/manager_protocol.h), which read whatever an
// authenticated client sends.
//
// Any byte string is a candidate message: decode_request / decode_reply must
// either throw ValueError ("malformed ...") or return a message whose
// encoding decodes to the same fields again. Anything else (a crash, a
// sanitizer report, another exception, a round trip that changes a field)
// aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "racegate/errors.h"
#include "racegate/internal/manager_protocol.h"

namespace wire = racegate::internal::manager;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same(const wire::Request& a, const wire::Request& b) {
  return a.op == b.op && a.id == b.id && a.owner == b.owner && a.n == b.n && a.m == b.m &&
         a.block == b.block && a.has_timeout == b.has_timeout && same_bits(a.timeout, b.timeout) &&
         a.args == b.args;
}

bool same(const wire::Reply& a, const wire::Reply& b) {
  return a.ok == b.ok && a.error_type == b.error_type && a.error_message == b.error_message &&
         a.n == b.n && a.flag == b.flag && a.values == b.values;
}

template <class Decode>
void check_round_trip(std::string_view bytes, Decode decode) {
  try {
    auto first = decode(bytes);
    auto again = decode(wire::encode(first));
    if (!same(first, again)) std::abort();
  } catch (const racegate::ValueError&) {
    // malformed: refused with a message, as it should be
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_round_trip(bytes, wire::decode_request);
  check_round_trip(bytes, wire::decode_reply);
  return 0;
}
