// Copyright: the Résorption-bidonvilles data service authors.
#include "services/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat(why, "; send \"authorization: Bearer <token>\" with a valid token"));
}

// Writes `content` to a new file readable by its owner only. Refuses to overwrite.
absl::Status WriteOwnerOnly(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create \"", path, "\": ", std::strerror(errno)));
  }
  ssize_t written = ::write(fd, content.data(), content.size());
  const bool ok = written == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::FailedPreconditionError(absl::StrCat("cannot write \"", path, "\""));
  return absl::OkStatus();
}

}  // namespace

Authenticator::Authenticator(rb::es::EventStore* store, AuthOptions options)
    : store_(store),
      options_(std::move(options)),
      keys_(&store->kv()),
      owner_keys_(&keys_),
      tokens_(&store->kv()),
      directory_(store, &keys_),
      audit_(store) {}

int64_t Authenticator::NowUs() const {
  return options_.now_us ? options_.now_us() : absl::ToUnixMicros(absl::Now());
}

rb::access::Principal Authenticator::System() {
  rb::access::Principal p;
  p.user_id = kSystemUserId;
  p.organisation_id = kBootstrapOrganisationId;
  p.role = rb::access::Role::kNationalAdmin;
  v1::ScopeTerritory nation;
  nation.set_level(v1::SCOPE_LEVEL_NATION);
  p.territories = {nation};
  return p;
}

absl::Status Authenticator::Init(const std::string& data_dir) {
  if (absl::Status s = keys_.Init(); !s.ok()) return s;
  if (absl::Status s = tokens_.Init(); !s.ok()) return s;
  if (options_.mode == AuthMode::kRequired) return Bootstrap(data_dir);
  return absl::OkStatus();
}

absl::Status Authenticator::Bootstrap(const std::string& data_dir) {
  auto admin = directory_.LoadUser(kBootstrapAdminId);
  if (!admin.ok()) return admin.status();
  if (admin->status() != v1::USER_STATUS_UNSPECIFIED) return absl::OkStatus();  // not the first
  const rb::access::Principal system = System();
  auto org = directory_.LoadOrganisation(kBootstrapOrganisationId);
  if (!org.ok()) return org.status();
  if (!org->exists()) {
    v1::CreateOrganisationRequest req;
    req.set_organisation_id(kBootstrapOrganisationId);
    req.set_name("Délégation interministérielle à l'hébergement et à l'accès au logement");
    req.set_type("Délégation interministérielle");
    req.set_category(v1::ORGANISATION_CATEGORY_ADMINISTRATION);
    req.add_territories()->set_level(v1::SCOPE_LEVEL_NATION);
    if (auto r = directory_.CreateOrganisation(req, system); !r.ok()) return r.status();
  }
  v1::CreateUserRequest req;
  req.set_user_id(kBootstrapAdminId);
  req.set_organisation_id(kBootstrapOrganisationId);
  req.set_role(v1::USER_ROLE_NATIONAL_ADMIN);
  req.mutable_personal_data()->set_email("bootstrap-admin@localhost");
  req.set_activate(true);
  // The token file first: if it cannot be written, no administrator exists without a token.
  auto issued =
      tokens_.Issue(kBootstrapAdminId, NowUs(), absl::ZeroDuration(), kSystemUserId, "bootstrap");
  if (!issued.ok()) return issued.status();
  const std::string path = absl::StrCat(data_dir, "/", options_.bootstrap_token_file);
  if (absl::Status s = WriteOwnerOnly(path, issued->token + "\n"); !s.ok()) return s;
  return directory_.CreateUser(req, system).status();
}

absl::Status Authenticator::AuthorizeRawLog(const grpc::ServerContextBase& ctx,
                                            const std::string& rpc,
                                            const std::string& audit_target) {
  absl::StatusOr<rb::access::Principal> who = Authenticate(ctx);
  if (!who.ok()) return who.status();
  if (!rb::access::CanReadRawLog(*who)) {
    return rb::access::Denied("reading the raw event log (national administrators)");
  }
  if (audit_target.empty() || (who->user_id == kSystemUserId && who->token_id.empty())) {
    return absl::OkStatus();
  }
  v1::AuditRecord record;
  record.set_what(std::string(rb::access::kAuditRawLogRead));
  record.set_target(audit_target);
  record.set_rpc(rpc);
  return audit_.Record(*who, std::move(record), NowUs());
}

absl::StatusOr<rb::access::Principal> Authenticator::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return AuthenticateHeader(nullptr);
  const std::string header(it->second.data(), it->second.size());
  return AuthenticateHeader(&header);
}

absl::StatusOr<rb::access::Principal> Authenticator::AuthenticateHeader(
    const std::string* header) const {
  if (header == nullptr) {
    if (options_.mode == AuthMode::kDisabled) return System();
    return Unauthenticated("missing bearer token");
  }
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(*header, kBearer)) {
    return Unauthenticated("malformed authorization header");
  }
  const std::string token = header->substr(kBearer.size());
  auto record = tokens_.Lookup(token, NowUs());
  if (!record.ok()) {
    if (record.status().code() == absl::StatusCode::kUnauthenticated) {
      return Unauthenticated("unknown, expired or revoked token");
    }
    return record.status();
  }
  auto principal = directory_.LoadPrincipal(record->user_id());
  if (!principal.ok()) {
    if (principal.status().code() == absl::StatusCode::kNotFound ||
        principal.status().code() == absl::StatusCode::kFailedPrecondition) {
      return Unauthenticated("the token's user is not active");
    }
    return principal.status();
  }
  principal->token_id = record->token_id();
  // The user's last sign-in (rule: accounts are deactivated six months after it). Best effort: a
  // failed write only delays that rule by a day; the call itself is authenticated.
  tokens_.RecordUse(record->user_id(), NowUs()).IgnoreError();
  return principal;
}

}  // namespace rb::services
