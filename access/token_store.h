// Copyright: the Résorption-bidonvilles data service authors.
//
// TokenStore: bearer tokens for the gRPC API. A token is 256 random bits (64 hex digits) shown
// once to whoever issues it; the store keeps only its SHA-256, in the key space
// "access.tokens.v1" of the event store's data directory (docs/storage-format.md, docs/access.md):
//   "h/" + hex(sha256(token)) -> TokenRecord (serialized)
//   "i/" + token_id          -> hex(sha256(token))   (token_id = first 16 hex digits of the hash)
//
//   rb::access::TokenStore tokens(&store->kv());
//   RB_RETURN_IF_ERROR(tokens.Init());
//   auto issued = tokens.Issue("user-7", now_us, absl::Hours(24 * 90), "admin", "laptop");
//   // hand issued->token to the user, once
//   absl::StatusOr<resorption::v1::TokenRecord> who = tokens.Lookup(presented, now_us);
//   tokens.Revoke(issued->record.token_id(), now_us);
//
// Errors of Lookup: UNAUTHENTICATED for an unknown, expired or revoked token (one message for
// all, so that callers learn nothing about which); errors of the key-value store otherwise.
// Revoke: NOT_FOUND for an unknown token id. Time is passed in (no clock read).
// Thread-safe.
#ifndef RB_ACCESS_TOKEN_STORE_H_
#define RB_ACCESS_TOKEN_STORE_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/kv_store.h"
#include "resorption/v1/directory.pb.h"

namespace rb::access {

inline constexpr std::string_view kTokenSpace = "access.tokens.v1";

struct IssuedToken {
  std::string token;  // the plaintext: give it to the user, never store or log it
  resorption::v1::TokenRecord record;
};

class TokenStore {
 public:
  explicit TokenStore(rb::es::KvStore* kv) : kv_(kv) {}
  // Creates the key space when absent.
  absl::Status Init();

  // `ttl` <= 0: never expires.
  absl::StatusOr<IssuedToken> Issue(std::string_view user_id, int64_t now_us, absl::Duration ttl,
                                    std::string_view issued_by, std::string_view label);
  absl::StatusOr<resorption::v1::TokenRecord> Lookup(std::string_view token, int64_t now_us) const;
  // The record of a token by its id (revoked or not). NOT_FOUND when unknown.
  absl::StatusOr<resorption::v1::TokenRecord> Find(std::string_view token_id) const;
  absl::StatusOr<resorption::v1::TokenRecord> Revoke(std::string_view token_id, int64_t now_us);
  // Revokes every token of `user_id` (deactivation, erasure). Returns how many.
  absl::StatusOr<int> RevokeAllOf(std::string_view user_id, int64_t now_us);

  // Records that `user_id` signed in (authenticated a call) at `now_us`: the "last login" of the
  // rule "accounts are deactivated six months after the last login". Day precision, so at most one
  // write per user and day (a cache remembers the day written). Thread-safe.
  absl::Status RecordUse(std::string_view user_id, int64_t now_us) const;
  // The day (start, in microseconds) of `user_id`'s last recorded sign-in; 0 when none.
  absl::StatusOr<int64_t> LastUse(std::string_view user_id) const;

 private:
  rb::es::KvStore* kv_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, int64_t> last_day_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rb::access

#endif  // RB_ACCESS_TOKEN_STORE_H_
