// Copyright: the Résorption-bidonvilles data service authors.
//
// Authentication of gRPC calls: `authorization: Bearer <token>` in the call's metadata, checked
// against the token store (access/token_store.h), gives the Principal (access/policy.h) of an
// active user. The Server owns one Authenticator and lends it to modules
// (ServiceEnvironment::auth).
//
//   // in a handler:
//   absl::StatusOr<rb::access::Principal> who = env.auth->Authenticate(*ctx);
//   if (!who.ok()) return Reply(ctx, who.status());          // UNAUTHENTICATED
//   if (!rb::access::CanReadSite(*who, territory, id)) return Reply(ctx, NotFound(...));
//
// Modes (AuthOptions::mode):
//   * kRequired (resorptiond): a call without a valid token fails with UNAUTHENTICATED. On the
//     first start (no bootstrap administrator yet) the server creates the organisation "dihal"
//     (national), the national administrator "bootstrap-admin" and a token for it, written once
//     to <data_dir>/bootstrap-admin.token with mode 0600 (never logged, never rewritten).
//   * kDisabled (the ServerOptions default, for embedded and test servers): a call without a
//     token acts as the built-in national administrator "system"; a call with a token is still
//     checked. Nothing is bootstrapped.
// Errors of Authenticate: UNAUTHENTICATED for a missing, malformed, unknown, expired or revoked
// token, or a user who is not active (the message does not say which); UNAVAILABLE/DATA_LOSS
// from the store. Thread-safe.
#ifndef RB_SERVICES_AUTH_H_
#define RB_SERVICES_AUTH_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "access/audit.h"
#include "access/directory_store.h"
#include "access/owner_identity.h"
#include "access/policy.h"
#include "access/subject_keys.h"
#include "access/token_store.h"
#include "eventstore/event_store.h"
#include "grpcpp/server_context.h"

namespace rb::services {

enum class AuthMode { kDisabled, kRequired };

struct AuthOptions {
  AuthMode mode = AuthMode::kDisabled;
  // File name of the bootstrap administrator token, relative to the data directory.
  std::string bootstrap_token_file = "bootstrap-admin.token";
  // Lifetime of tokens issued without an explicit ttl.
  absl::Duration default_token_ttl = absl::Hours(24 * 90);
  // Time source (microseconds since the epoch); empty: the system clock. For tests.
  std::function<int64_t()> now_us;
};

inline constexpr char kBootstrapAdminId[] = "bootstrap-admin";
inline constexpr char kBootstrapOrganisationId[] = "dihal";
inline constexpr char kSystemUserId[] = "system";

class Authenticator {
 public:
  // Nothing owned; the store must outlive the Authenticator.
  Authenticator(rb::es::EventStore* store, AuthOptions options);

  // Creates the key spaces and, in kRequired mode on the first start, the bootstrap
  // administrator and its token file in `data_dir`. FAILED_PRECONDITION when the token file
  // cannot be created.
  absl::Status Init(const std::string& data_dir);

  absl::StatusOr<rb::access::Principal> Authenticate(const grpc::ServerContextBase& ctx) const;
  // Same, from the raw value of the authorization header (nullptr: absent).
  absl::StatusOr<rb::access::Principal> AuthenticateHeader(const std::string* header) const;

  // The EventStream gate: authenticates and requires CanReadRawLog (PERMISSION_DENIED
  // otherwise). When `audit_target` is not empty, appends an "audit.raw_log_read" record
  // naming `rpc` and the target, except for the built-in administrator of kDisabled mode.
  absl::Status AuthorizeRawLog(const grpc::ServerContextBase& ctx, const std::string& rpc,
                               const std::string& audit_target);

  const AuthOptions& options() const { return options_; }
  int64_t NowUs() const;
  rb::access::DirectoryStore& directory() { return directory_; }
  rb::access::TokenStore& tokens() { return tokens_; }
  rb::access::AuditLog& audit() { return audit_; }
  // Per-subject keys: users' personal data and sites' owner names (docs/access.md, section 8).
  rb::access::SubjectKeys& keys() { return keys_; }
  rb::access::OwnerKeys& owner_keys() { return owner_keys_; }
  // The built-in national administrator of kDisabled mode and of bootstrap events.
  static rb::access::Principal System();

 private:
  absl::Status Bootstrap(const std::string& data_dir);

  rb::es::EventStore* store_;
  AuthOptions options_;
  rb::access::SubjectKeys keys_;
  rb::access::OwnerKeys owner_keys_;
  rb::access::TokenStore tokens_;
  rb::access::DirectoryStore directory_;
  mutable rb::access::AuditLog audit_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_AUTH_H_
