// Copyright: the Résorption-bidonvilles data service authors.
//
// CallAccess: the one place that turns a gRPC call into who acts (an rb::access::Principal and
// the domain's rb::domain::Actor) and that applies the policy (access/policy.h) to what the call
// reads and writes. Every handler of Sites, Actions, Territories, Projections, Analytics and
// Admin starts with AccessFor() and asks the CallAccess before touching data.
//
//   absl::StatusOr<CallAccess> access = AccessFor(ctx, auth_, "/resorption.v1.Sites/GetSite");
//   if (!access.ok()) return access.status();                 // UNAUTHENTICATED
//   v1::Site site = ...;                                      // loaded
//   if (absl::Status s = access->CheckReadSite(site); !s.ok()) return s;  // NOT_FOUND / DENIED
//   if (absl::Status s = access->Redact(&site); !s.ok()) return s;        // + audit record
//
// Who acts (docs/access.md, "Enforcement"):
//   * the call carries "authorization: Bearer <token>", or the server requires authentication
//     (AuthMode::kRequired): the Authenticator's principal; UNAUTHENTICATED without a valid token.
//     The x-actor-* headers are ignored.
//   * AuthMode::kDisabled (embedded and test servers) and no token: the trusted caller named by
//     the x-actor-user / x-actor-organisation / x-actor-role / x-actor-options headers, with a
//     national scope (its role and options still decide what it sees); without x-actor-user,
//     UNAUTHENTICATED when `require_actor` is set, else the built-in national administrator.
//     Nothing is audited for these in-process callers.
//
// Status codes of the checks: outside the reading scope a site or action does not exist for the
// principal (NOT_FOUND, worded as for an absent one); inside it, a forbidden act is
// PERMISSION_DENIED; external observers (rb::access::AggregatesOnly) get PERMISSION_DENIED on
// every site- or action-level read. Audit append failures fail the read (fail closed).
//
// Thread safety: a CallAccess belongs to one call; AccessFor is thread-safe.
#ifndef RB_SERVICES_ACCESS_CONTEXT_H_
#define RB_SERVICES_ACCESS_CONTEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "access/policy.h"
#include "domain/context.h"
#include "grpcpp/server_context.h"
#include "projections/views/signals.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_commands.pb.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::services {

class Authenticator;  // services/auth.h

// What a site command needs (CallAccess::CheckSiteCommand).
enum class SiteAct {
  kContribute,  // comment, declare oneself as intervener: the reading scope
  kUpdate,      // every other change: the writing scope (shantytown update)
  kClose,       // close, correct a closure: shantytown close
};

// The act a SiteCommand needs (declare is checked with CheckCreateSite instead).
SiteAct SiteActOf(const resorption::v1::SiteCommand& command);

class CallAccess {
 public:
  CallAccess(rb::access::Principal principal, bool audited, Authenticator* auth, std::string rpc);

  const rb::access::Principal& principal() const { return principal_; }
  // The actor recorded in events (user, organisation, role, options of the principal).
  const rb::domain::Actor& actor() const { return actor_; }
  // False for the trusted callers of AuthMode::kDisabled without a token.
  bool audited() const { return audited_; }

  // --- Sites ---------------------------------------------------------------------------------
  // OK when the principal may read `site`; PERMISSION_DENIED for aggregates-only principals,
  // NOT_FOUND ("site <id> does not exist") outside the reading scope.
  absl::Status CheckReadSite(const resorption::v1::Territory& t, std::string_view site_id) const;
  absl::Status CheckReadSite(const resorption::v1::Site& site) const;
  // PERMISSION_DENIED unless sites may be created in commune territory `t`.
  absl::Status CheckCreateSite(const resorption::v1::Territory& t) const;
  // For an existing site: NOT_FOUND outside the reading scope, PERMISSION_DENIED inside it when
  // `act` is not granted on the site.
  absl::Status CheckSiteAct(const resorption::v1::Site& site, SiteAct act) const;
  // The categories of restricted data the principal sees on this site.
  rb::views::Visibility SiteVisibility(const resorption::v1::Territory& t,
                                       std::string_view site_id) const;
  // For lists over many sites: a category is visible only where it is visible everywhere the
  // principal reads (the per-row RedactSite then removes what a row's own scope hides).
  rb::views::Visibility ListVisibility() const;
  // Restricts a list request to the reading scope: OK with the scope added as territory filters
  // when the request names no territory; `*filter_rows` is set when the caller must drop rows
  // outside the scope itself (the request names territories, or the scope holds single sites).
  // PERMISSION_DENIED for aggregates-only principals.
  absl::Status ScopeSiteList(resorption::v1::ListSitesRequest* request, bool* filter_rows) const;
  // Removes what the principal may not see (RedactSite) and, when justice or owner data stays
  // in the output, appends an audit.restricted_read record for the site.
  absl::Status Redact(resorption::v1::Site* site) const;
  // Opens the sealed owner names left by the redaction (the principal sees owners):
  // "[anonymisé]" for erased ones. Call after RedactSite or Redact only.
  absl::Status OpenOwnerNames(resorption::v1::Ownership* ownership) const;
  // Same over the rows of a list: rows outside the scope are removed when `filter_rows`; one
  // audit record names the sites whose restricted data was returned.
  absl::Status RedactList(resorption::v1::ListSitesResponse* page, bool filter_rows) const;

  // --- Actions -------------------------------------------------------------------------------
  // Same contracts as for sites; an action lies in its departement.
  absl::Status CheckReadAction(const resorption::v1::Action& action) const;
  absl::Status CheckWriteAction(const resorption::v1::Action& action) const;
  // PERMISSION_DENIED unless actions may be written in `departement`.
  absl::Status CheckCreateAction(std::string_view departement) const;
  // Removes the finances unless CanSeeFinances; audits the finances returned.
  absl::Status Redact(resorption::v1::Action* action) const;
  // The categories of restricted data the principal sees on this action (finances, persons).
  rb::views::Visibility ActionVisibility(const resorption::v1::Action& action) const;

  // --- Aggregates and administration ---------------------------------------------------------
  // PERMISSION_DENIED unless the principal may read aggregates (every role may).
  absl::Status CheckAggregates() const;
  bool AggregatesOnly() const;
  // A count as the principal may see it: suppressed (nullopt) from 1 to 4 for aggregates-only
  // principals (rb::access::SuppressSmallCount), unchanged for everyone else.
  std::optional<int64_t> Count(int64_t count) const;
  // PERMISSION_DENIED unless the principal is a national administrator; `what` names the act.
  absl::Status RequireNationalAdmin(std::string_view what) const;
  // PERMISSION_DENIED unless the principal reads every site (national scope): custom
  // projections over the whole log.
  absl::Status RequireNationalSiteReading(std::string_view what) const;

  // Appends an audit record (kind "restricted_read", "export"...) naming `target` and `fields`;
  // a no-op for unaudited callers. UNAVAILABLE etc. from the store.
  absl::Status Audit(std::string_view what, std::string_view target,
                     const std::vector<std::string>& fields = {}) const;

 private:
  rb::access::Principal principal_;
  rb::domain::Actor actor_;
  bool audited_;
  Authenticator* auth_;
  std::string rpc_;
};

// The access of one call (see the header comment). `auth` may be null (servers without an
// authenticator behave as AuthMode::kDisabled). `rpc` is the full method name, recorded in
// audit records. Errors: UNAUTHENTICATED (no valid token where one is needed; missing actor when
// `require_actor`; unknown x-actor-role); UNAVAILABLE/DATA_LOSS from the directory.
absl::StatusOr<CallAccess> AccessFor(const grpc::ServerContextBase& ctx, Authenticator* auth,
                                     std::string rpc, bool require_actor = false);

// The actor named by the x-actor-* headers (AuthMode::kDisabled only). UNAUTHENTICATED when
// x-actor-user or x-actor-role is missing or the role is unknown.
absl::StatusOr<rb::domain::Actor> ActorFromHeaders(const grpc::ServerContextBase& ctx);

}  // namespace rb::services

#endif  // RB_SERVICES_ACCESS_CONTEXT_H_
