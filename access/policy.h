// Copyright: the Résorption-bidonvilles data service authors.
//
// Policy: who may see and do what, as pure functions of a Principal (the authenticated user with
// their organisation's territories) and the thing looked at. No I/O, no clock.
//
//   rb::access::Principal p = ...;                    // from Authenticate() or a test
//   const resorption::v1::Territory& t = site.location().territory();
//   if (!rb::access::CanReadSite(p, t, site.id())) return rb::access::NotFound("site", site.id());
//   rb::access::RedactSite(p, &site);                 // strips what p may not see
//   if (rb::access::CanWriteSite(p, t, site.id())) { ... }
//
// Resolution (docs/access.md): for each permission (entity, feature), the grant is resolved in
// priority order 1 user-specific attachments > 2 the user's options > 3 the organisation's
// options > 4 the role's default. A user-specific attachment with allowed = false removes the
// permission whatever the lower priorities say; allowed = true attachments widen the scope by one
// territory, site or action (they are cumulative). Options and role defaults grant a scope:
//   * national: every territory;
//   * local: the organisation's territories of intervention (nation, region, departement, EPCI,
//     commune). A site lies in a territory when its commune, EPCI, departement or region matches;
//     an action (one departement) when the territory is the nation, its region or its departement.
//
// Outside the reading scope a resource does not exist for the principal: callers answer
// NOT_FOUND (NotFound()), never PERMISSION_DENIED, so that scopes do not leak what exists.
// Inside the reading scope, a forbidden write is PERMISSION_DENIED (Denied()).
//
// Thread-safe (no shared state; Geography is immutable).
#ifndef RB_ACCESS_POLICY_H_
#define RB_ACCESS_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "domain/context.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/common.pb.h"
#include "resorption/v1/directory.pb.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/territory_query.pb.h"

namespace rb::access {

using rb::domain::Role;

// Permission options (the platform's `permission_options`, plus access_owner and
// access_action_finances which the platform grants as permissions).
inline constexpr std::string_view kOptionCloseShantytown = "close_shantytown";
inline constexpr std::string_view kOptionCreateAndCloseShantytown = "create_and_close_shantytown";
inline constexpr std::string_view kOptionAccessJustice = "access_justice";
inline constexpr std::string_view kOptionAccessOwner = "access_owner";
inline constexpr std::string_view kOptionAccessActionFinances = "access_action_finances";

// The options a user or an organisation may hold.
const std::vector<std::string_view>& KnownOptions();

// Who acts: the user, their organisation's territories and their permissions.
struct Principal {
  std::string user_id;
  std::string organisation_id;
  Role role = Role::kExternalObserver;
  std::vector<std::string> user_options;          // priority 2
  std::vector<std::string> organisation_options;  // priority 3
  // The organisation's territories of intervention: the "local" scope.
  std::vector<resorption::v1::ScopeTerritory> territories;
  // User-specific permissions (priority 1).
  std::vector<resorption::v1::PermissionAttachment> attachments;
  // Id of the bearer token used (for logs and audit); empty in tests.
  std::string token_id;

  bool HasOption(std::string_view option) const;  // user's or organisation's
  // The domain's view of the actor (events' metadata, role checks of DecideSite).
  rb::domain::Actor ToActor() const;
};

// Permission names: the platform's entities and features.
namespace perm {
inline constexpr std::string_view kShantytown = "shantytown";
inline constexpr std::string_view kShantytownJustice = "shantytown_justice";
inline constexpr std::string_view kShantytownOwner = "shantytown_owner";
inline constexpr std::string_view kAction = "action";
inline constexpr std::string_view kActionFinances = "action_finances";
inline constexpr std::string_view kUser = "user";
inline constexpr std::string_view kStats = "stats";
inline constexpr std::string_view kLog = "log";  // the raw event log (ours)
inline constexpr std::string_view kAudit = "audit";

inline constexpr std::string_view kRead = "read";
inline constexpr std::string_view kCreate = "create";
inline constexpr std::string_view kUpdate = "update";
inline constexpr std::string_view kClose = "close";
inline constexpr std::string_view kExport = "export";
inline constexpr std::string_view kAccess = "access";
inline constexpr std::string_view kManage = "manage";
}  // namespace perm

// The resolved scope of one permission for one principal.
struct Grant {
  bool national = false;
  std::vector<resorption::v1::ScopeTerritory> territories;
  std::vector<std::string> site_ids;
  std::vector<std::string> action_ids;

  bool none() const {
    return !national && territories.empty() && site_ids.empty() && action_ids.empty();
  }
};

// Resolves (entity, feature) for `p` (see the header comment for the order).
Grant Resolve(const Principal& p, std::string_view entity, std::string_view feature);

// True when `t` (a site's derived territory) lies in `territory`.
bool SiteTerritoryIn(const resorption::v1::Territory& t, const resorption::v1::ScopeTerritory& in);
// True when departement `code` lies in `territory` (nation, its region or itself).
bool DepartementIn(std::string_view code, const resorption::v1::ScopeTerritory& in);

// Whether the grant covers a site / an action.
bool CoversSite(const Grant& g, const resorption::v1::Territory& t, std::string_view site_id);
bool CoversAction(const Grant& g, std::string_view departement, std::string_view action_id);
// Whether the grant covers every site that lies in the territory of an aggregate (a commune,
// EPCI, departement, region, zone or the nation, as the series count them). Conservative: an
// EPCI over several departements, a zone and the nation need a grant at their own level or above.
bool CoversTerritory(const Grant& g, const resorption::v1::TerritoryRef& t);

// Sites. `site_id` may be empty (a site about to be declared).
bool CanReadSite(const Principal& p, const resorption::v1::Territory& t, std::string_view site_id);
bool CanCreateSite(const Principal& p, const resorption::v1::Territory& t);
bool CanWriteSite(const Principal& p, const resorption::v1::Territory& t, std::string_view site_id);
bool CanCloseSite(const Principal& p, const resorption::v1::Territory& t, std::string_view site_id);
bool CanExportSites(const Principal& p, const resorption::v1::Territory& t);
// Justice, police, administrative and insalubrity procedures of a site.
bool CanSeeJustice(const Principal& p, const resorption::v1::Territory& t,
                   std::string_view site_id);
// The same for the figures of a whole territory (aggregates counting the sites under a
// procedure): the principal reads, and sees the procedures of, every site that lies in `t`.
bool CanSeeJustice(const Principal& p, const resorption::v1::TerritoryRef& t);
// The owner's identity (owner, parcel owners).
bool CanSeeOwner(const Principal& p, const resorption::v1::Territory& t, std::string_view site_id);

// Actions (one departement each).
bool CanReadAction(const Principal& p, std::string_view departement, std::string_view action_id);
bool CanWriteAction(const Principal& p, std::string_view departement, std::string_view action_id);
bool CanSeeFinances(const Principal& p, std::string_view departement, std::string_view action_id);

// Aggregates (statistics, series): every role; external observers get only these.
bool CanReadAggregates(const Principal& p);
// Only aggregates, with small counts suppressed (external observers).
bool AggregatesOnly(const Principal& p);
// The raw event log (EventStream reads) and the audit trail: national administrators, or a
// user-specific attachment (log, read) / (audit, read).
bool CanReadRawLog(const Principal& p);
bool CanReadAudit(const Principal& p);
// Managing users of an organisation whose main territory is `t`: national administrators
// everywhere, local administrators in their territories.
bool CanManageUsers(const Principal& p, const resorption::v1::ScopeTerritory& t);

// What RedactSite removed (also what the principal read when nothing was removed).
struct Redaction {
  bool justice_removed = false;  // justice, police, administrative_order, insalubrity_order
  bool owner_removed = false;    // ownership.owner, parcel owners' names
  int comments_removed = 0;      // comments restricted to other users or organisations
  // Restricted parts present in the site and left visible ("justice", "owner"): what an audit
  // record of the read names.
  std::vector<std::string> restricted_kept;
};

// Removes from `site` what `p` may not see. The caller has checked CanReadSite.
Redaction RedactSite(const Principal& p, resorption::v1::Site* site);
// Removes the finances of `action` when `p` may not see them (returns true when some were
// removed) and marks it `finances_hidden` (even when it had none), and removes the journal
// messages addressed to others (RemoveCommentsAddressedToOthers).
bool RedactAction(const Principal& p, resorption::v1::Action* action);
// Removes the journal messages (of a site or an action) addressed to chosen users or
// organisations that `p` is not among, unless `p` wrote them or is a national administrator.
// Returns how many were removed.
int RemoveCommentsAddressedToOthers(
    const Principal& p, google::protobuf::RepeatedPtrField<resorption::v1::Comment>* comments);

// Statistical disclosure control for external observers: counts from 1 to threshold - 1 are
// suppressed (nullopt); 0 and counts >= threshold are returned unchanged.
inline constexpr int64_t kSuppressionThreshold = 5;
std::optional<int64_t> SuppressSmallCount(int64_t count, int64_t threshold = kSuppressionThreshold);

// The status for a resource outside the reading scope: NOT_FOUND, worded as for an absent one.
absl::Status NotFound(std::string_view kind, std::string_view id);
// The status for a forbidden act inside the reading scope.
absl::Status Denied(std::string_view what);

// Role <-> proto enum.
Role RoleFromProto(resorption::v1::UserRole role);
resorption::v1::UserRole RoleToProto(Role role);

}  // namespace rb::access

#endif  // RB_ACCESS_POLICY_H_
