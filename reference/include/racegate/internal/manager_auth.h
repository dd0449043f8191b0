// Internal: the Manager's authentication. Do not use directly.
//
// Keys. Every process that links the Manager draws, before main(), a
// 32-byte family secret from the kernel (getrandom(2)); forked children
// inherit it, as CPython's processes inherit current_process().authkey. Each
// Manager draws a random 16-byte salt and uses the key
// HMAC-SHA256(family secret, "racegate-manager key" + salt): random per
// manager, and derivable by every process of the family, including the
// processes forked before the manager started (a Pool's workers created
// first). A serialized proxy carries the salt, never a key; a process of
// another family (a program started with exec) cannot derive the key and
// is refused at the handshake.
//
// Every connection to a server starts with a mutual challenge-response, in
// the shape of CPython's multiprocessing.connection handshake:
//
//   server -> client   "#CHALLENGE#" + 32 random bytes N1
//   client -> server   HMAC-SHA256(key, "racegate-manager client" + N1)
//   server -> client   "#WELCOME#"   (or "#FAILURE#", then it hangs up)
//   client -> server   "#CHALLENGE#" + 32 random bytes N2
//   server -> client   HMAC-SHA256(key, "racegate-manager server" + N2)
//
// The key itself never crosses the socket. The two directions are bound to
// different labels, so a digest cannot be reflected back to its sender.
// Digests are compared in constant time.
//
// Limits, stated plainly: the project has no crypto library among its
// dependencies, so SHA-256 and HMAC are implemented here from FIPS 180-4 and
// RFC 2104 with the standard library only, and tested against the FIPS and
// RFC 4231 vectors. The code has not been audited for side channels (beyond
// the constant-time digest comparison) and is not meant as a general crypto
// primitive. The handshake authenticates the peer; it neither encrypts nor
// authenticates the traffic that follows (it runs over a Unix socket in a
// 0700 directory of the same user, as CPython's does without encryption).
// With OpenSSL (Debian's libssl-dev) among the dependencies, HMAC() from
// <openssl/hmac.h> would replace hmac_sha256 here.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace racegate::internal::manager {

using Digest = std::array<std::uint8_t, 32>;

// SHA-256 of `data` (FIPS 180-4).
Digest sha256(std::string_view data);

// HMAC-SHA256(key, data) (RFC 2104).
Digest hmac_sha256(std::string_view key, std::string_view data);

// The key of the manager with `salt` in this process family.
std::string manager_key(std::string_view salt);

// `n` bytes from the kernel's CSPRNG; throws OSError on failure.
std::string random_bytes(std::size_t n);

// Compares two byte strings in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// The digest a client sends in answer to the server's nonce, and the one the
// server sends in answer to the client's.
std::string client_digest(std::string_view key, std::string_view nonce);
std::string server_digest(std::string_view key, std::string_view nonce);

// Lower-case hex of `bytes` (for diagnostics and tests).
std::string to_hex(std::string_view bytes);

}  // namespace racegate::internal::manager
