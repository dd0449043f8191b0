// Unit tests of the Manager's wire pieces: SHA-256 and HMAC-SHA256 against
// the published vectors, the request/reply envelope (including malformed
// input), and Python's repr() used in KeyError messages.
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/manager_protocol.h"
#include "racegate/internal/manager_repr.h"

namespace mgr = racegate::internal::manager;

namespace {

std::string hex(const mgr::Digest& d) {
  return mgr::to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace

// FIPS 180-4 examples (and the empty message).
TEST(ManagerAuth, Sha256Vectors) {
  EXPECT_EQ(hex(mgr::sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(mgr::sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(mgr::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(mgr::sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Lengths around the padding boundary (55, 56, 64 bytes) against a
  // two-part computation: must not crash and must differ.
  EXPECT_NE(hex(mgr::sha256(std::string(55, 'x'))), hex(mgr::sha256(std::string(56, 'x'))));
  EXPECT_NE(hex(mgr::sha256(std::string(63, 'x'))), hex(mgr::sha256(std::string(64, 'x'))));
}

// RFC 4231 test cases 1, 2, 3, 4, 6 and 7.
TEST(ManagerAuth, HmacSha256Rfc4231) {
  EXPECT_EQ(hex(mgr::hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(mgr::hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(mgr::hmac_sha256(std::string(20, '\xaa'), std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(hex(mgr::hmac_sha256(unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                                 std::string(50, '\xcd'))),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(hex(mgr::hmac_sha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex(mgr::hmac_sha256(
                std::string(131, '\xaa'),
                "This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(ManagerAuth, DigestsAreBoundToTheirDirection) {
  const std::string key = mgr::random_bytes(32);
  const std::string nonce = mgr::random_bytes(32);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, mgr::random_bytes(32));
  EXPECT_NE(mgr::client_digest(key, nonce), mgr::server_digest(key, nonce));
  EXPECT_EQ(mgr::client_digest(key, nonce), mgr::client_digest(key, nonce));
  EXPECT_NE(mgr::client_digest(key, nonce), mgr::client_digest(mgr::random_bytes(32), nonce));
  EXPECT_TRUE(mgr::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(mgr::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(mgr::constant_time_equal("abc", "ab"));
}

TEST(ManagerProtocol, RequestAndReplyRoundTrip) {
  mgr::Request r;
  r.op = mgr::Op::kQueuePut;
  r.id = 42;
  r.owner = 0x123456789abcdefULL;
  r.n = -7;
  r.m = 1LL << 40;
  r.block = false;
  r.has_timeout = true;
  r.timeout = 0.25;
  r.args = {"", std::string("\0x\xff", 3), std::string(1000, 'z')};
  mgr::Request back = mgr::decode_request(mgr::encode(r));
  EXPECT_EQ(back.op, r.op);
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.owner, r.owner);
  EXPECT_EQ(back.n, r.n);
  EXPECT_EQ(back.m, r.m);
  EXPECT_EQ(back.block, r.block);
  EXPECT_EQ(back.has_timeout, r.has_timeout);
  EXPECT_EQ(back.timeout, r.timeout);
  EXPECT_EQ(back.args, r.args);

  mgr::Reply rep = mgr::error_reply("KeyError", "'x'");
  rep.n = 9;
  rep.flag = true;
  rep.values = {"a", "bc"};
  mgr::Reply rb = mgr::decode_reply(mgr::encode(rep));
  EXPECT_FALSE(rb.ok);
  EXPECT_EQ(rb.error_type, "KeyError");
  EXPECT_EQ(rb.error_message, "'x'");
  EXPECT_EQ(rb.n, 9);
  EXPECT_TRUE(rb.flag);
  EXPECT_EQ(rb.values, rep.values);
}

TEST(ManagerProtocol, MalformedRequestsAreValueErrors) {
  const std::string good = mgr::encode(mgr::Request{});
  EXPECT_THROW(mgr::decode_request(""), racegate::ValueError);
  EXPECT_THROW(mgr::decode_request("garbage"), racegate::ValueError);
  EXPECT_THROW(mgr::decode_request(good.substr(0, good.size() - 1)), racegate::ValueError);
  EXPECT_THROW(mgr::decode_request(good + "x"), racegate::ValueError);
  EXPECT_THROW(mgr::decode_request(mgr::encode(mgr::Reply{})), racegate::ValueError);
  // A count of 2^32-1 strings in a short message is refused before any
  // allocation.
  std::string huge = good;
  huge.replace(huge.size() - 4, 4, "\xff\xff\xff\xff");
  try {
    mgr::decode_request(huge);
    FAIL() << "decoded";
  } catch (const racegate::ValueError& e) {
    EXPECT_STREQ(e.what(), "malformed request: count larger than the message");
  }
}

RC_GTEST_PROP(ManagerProtocol, ArbitraryBytesNeverCrashTheDecoder, (const std::string& bytes)) {
  try {
    (void)mgr::decode_request(bytes);
  } catch (const racegate::ValueError&) {
  }
  std::string tagged = "Q" + bytes;
  try {
    (void)mgr::decode_request(tagged);
  } catch (const racegate::ValueError&) {
  }
}

TEST(ManagerRepr, PythonReprOfKeys) {
  using mgr::py_repr;
  EXPECT_EQ(py_repr(std::string("x")), "'x'");
  EXPECT_EQ(py_repr(std::string("it's")), "\"it's\"");
  EXPECT_EQ(py_repr(std::string("a'b\"c")), "'a\\'b\"c'");
  EXPECT_EQ(py_repr(std::string("tab\there\n\\")), "'tab\\there\\n\\\\'");
  EXPECT_EQ(py_repr(std::string("\x01")), "'\\x01'");
  EXPECT_EQ(py_repr(3), "3");
  EXPECT_EQ(py_repr(-12L), "-12");
  EXPECT_EQ(py_repr(true), "True");
  EXPECT_EQ(py_repr(1.0), "1.0");
  EXPECT_EQ(py_repr(0.1), "0.1");
  EXPECT_EQ(py_repr(-2.5), "-2.5");
  EXPECT_EQ(py_repr(1e16), "1e+16");
  EXPECT_EQ(py_repr(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(py_repr(0.0001), "0.0001");
  EXPECT_EQ(py_repr(0.00001), "1e-05");
  EXPECT_EQ(py_repr(1.5e-300), "1.5e-300");
  EXPECT_EQ(py_repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(py_repr(std::nan("")), "nan");
  EXPECT_EQ(py_repr(std::make_pair(1, std::string("a"))), "(1, 'a')");
  EXPECT_EQ(py_repr(std::make_tuple(1)), "(1,)");
  EXPECT_EQ(py_repr(std::vector<int>{1, 2}), "[1, 2]");
}
