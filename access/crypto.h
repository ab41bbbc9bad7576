// Copyright: the Résorption-bidonvilles data service authors.
//
// The few cryptographic primitives access control needs, over OpenSSL 3's EVP interface:
// random bearer tokens, SHA-256, HMAC-SHA256 and AES-256-GCM sealing of personal data.
//
//   std::string token = rb::access::NewToken();            // 64 hex digits, 256 random bits
//   std::string key_hash = rb::access::Sha256(token);       // 32 bytes: what is stored
//   std::string key = rb::access::NewKey();                 // 32 random bytes
//   absl::StatusOr<std::string> sealed = rb::access::Seal(key, "alice@example.org", "user-7");
//   absl::StatusOr<std::string> clear = rb::access::Open(key, *sealed, "user-7");
//
// Sealed format: 12-byte random nonce || ciphertext || 16-byte GCM tag; `aad` (the subject id)
// is authenticated, not stored. Thread-safe.
#ifndef RB_ACCESS_CRYPTO_H_
#define RB_ACCESS_CRYPTO_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rb::access {

// `n` bytes from OpenSSL's CSPRNG (RAND_bytes). Aborts if the generator fails: running without
// randomness would issue guessable tokens.
std::string RandomBytes(size_t n);
// A new bearer token: 32 random bytes as 64 lower-case hex digits.
std::string NewToken();
// A new AES-256 key (32 random bytes).
std::string NewKey();
// SHA-256 of `data` (32 raw bytes).
std::string Sha256(std::string_view data);
// HMAC-SHA256 of `data` under `key` (32 raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);
// Lower-case hexadecimal of `bytes`.
std::string Hex(std::string_view bytes);

// AES-256-GCM. INVALID_ARGUMENT for a key that is not 32 bytes; Open returns DATA_LOSS when the
// tag does not verify (wrong key, wrong aad, altered bytes).
absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view aad);
absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view aad);

// Constant-time comparison of equal-length strings (false when lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace rb::access

#endif  // RB_ACCESS_CRYPTO_H_
