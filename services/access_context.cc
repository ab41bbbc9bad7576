// Copyright: the Résorption-bidonvilles data service authors.
#include "services/access_context.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "access/audit.h"
#include "domain/owner_identity.h"
#include "services/auth.h"

namespace rb::services {

namespace v1 = resorption::v1;
namespace acc = rb::access;

namespace {

constexpr rb::domain::Role kRoles[] = {
    rb::domain::Role::kNationalAdmin,      rb::domain::Role::kLocalAdmin,
    rb::domain::Role::kDirectCollaborator, rb::domain::Role::kCollaborator,
    rb::domain::Role::kAssociation,        rb::domain::Role::kNationalEstablishment,
    rb::domain::Role::kIntervener,         rb::domain::Role::kExternalObserver,
};

// At most this many site ids are named in one audit record of a list.
constexpr size_t kMaxAuditTargets = 50;

std::string Header(const grpc::ServerContextBase& ctx, std::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status SiteNotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("site sites/", Sv(id), " does not exist"));
}
absl::Status ActionNotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("action actions/", Sv(id), " does not exist"));
}

bool SameTerritory(const v1::ScopeTerritory& a, const v1::ScopeTerritory& b) {
  return a.level() == b.level() && a.code() == b.code();
}

// True when `outer` covers at least everything `inner` covers (conservatively: same
// territories and sites, or national).
bool GrantCovers(const acc::Grant& outer, const acc::Grant& inner) {
  if (outer.national) return true;
  if (inner.national) return false;
  for (const v1::ScopeTerritory& t : inner.territories) {
    if (std::none_of(
            outer.territories.begin(), outer.territories.end(), [&](const v1::ScopeTerritory& o) {
              return SameTerritory(o, t) ||
                     (t.level() == v1::SCOPE_LEVEL_DEPARTEMENT && acc::DepartementIn(t.code(), o));
            })) {
      return false;
    }
  }
  for (const std::string& id : inner.site_ids) {
    if (std::find(outer.site_ids.begin(), outer.site_ids.end(), id) == outer.site_ids.end()) {
      return false;
    }
  }
  return true;
}

bool NamesTerritory(const v1::SiteFilter& f) {
  return !f.region_codes().empty() || !f.departement_codes().empty() || !f.epci_codes().empty() ||
         !f.city_codes().empty();
}

}  // namespace

SiteAct SiteActOf(const v1::SiteCommand& command) {
  switch (command.command_case()) {
    case v1::SiteCommand::kPostComment:
    case v1::SiteCommand::kDeclareIntervener:
    case v1::SiteCommand::kWithdrawIntervener:
      return SiteAct::kContribute;
    case v1::SiteCommand::kClose:
    case v1::SiteCommand::kCorrectClosure:
      return SiteAct::kClose;
    default:
      return SiteAct::kUpdate;
  }
}

absl::StatusOr<rb::domain::Actor> ActorFromHeaders(const grpc::ServerContextBase& ctx) {
  rb::domain::Actor actor;
  actor.user_id = Header(ctx, "x-actor-user");
  if (actor.user_id.empty()) {
    return absl::UnauthenticatedError("the call names no actor (metadata x-actor-user)");
  }
  actor.organisation_id = Header(ctx, "x-actor-organisation");
  const std::string role = Header(ctx, "x-actor-role");
  bool found = false;
  for (rb::domain::Role r : kRoles) {
    if (rb::domain::RoleId(r) == role) {
      actor.role = r;
      found = true;
      break;
    }
  }
  if (!found) {
    return absl::UnauthenticatedError(
        absl::StrCat("unknown or missing actor role '", role, "' (metadata x-actor-role)"));
  }
  const std::string options = Header(ctx, "x-actor-options");
  for (absl::string_view o : absl::StrSplit(options, ',', absl::SkipWhitespace())) {
    actor.options.emplace_back(absl::StripAsciiWhitespace(o));
  }
  return actor;
}

absl::StatusOr<CallAccess> AccessFor(const grpc::ServerContextBase& ctx, Authenticator* auth,
                                     std::string rpc, bool require_actor) {
  const auto& md = ctx.client_metadata();
  const bool has_token = md.find("authorization") != md.end();
  if (auth != nullptr && (has_token || auth->options().mode == AuthMode::kRequired)) {
    absl::StatusOr<acc::Principal> who = auth->Authenticate(ctx);
    if (!who.ok()) return who.status();
    return CallAccess(*std::move(who), /*audited=*/true, auth, std::move(rpc));
  }
  if (has_token) {
    return absl::UnauthenticatedError("this server does not check bearer tokens");
  }
  if (md.find("x-actor-user") != md.end() || require_actor) {
    absl::StatusOr<rb::domain::Actor> actor = ActorFromHeaders(ctx);
    if (!actor.ok()) return actor.status();
    acc::Principal p;
    p.user_id = actor->user_id;
    p.organisation_id = actor->organisation_id;
    p.role = actor->role;
    p.user_options = actor->options;
    v1::ScopeTerritory nation;
    nation.set_level(v1::SCOPE_LEVEL_NATION);
    p.territories = {nation};
    return CallAccess(std::move(p), /*audited=*/false, auth, std::move(rpc));
  }
  return CallAccess(Authenticator::System(), /*audited=*/false, auth, std::move(rpc));
}

CallAccess::CallAccess(acc::Principal principal, bool audited, Authenticator* auth, std::string rpc)
    : principal_(std::move(principal)),
      actor_(principal_.ToActor()),
      audited_(audited),
      auth_(auth),
      rpc_(std::move(rpc)) {}

// --- Sites -------------------------------------------------------------------------------------

absl::Status CallAccess::CheckReadSite(const v1::Territory& t, std::string_view site_id) const {
  if (AggregatesOnly()) return acc::Denied("site-level data (this account reads aggregates only)");
  if (!acc::CanReadSite(principal_, t, site_id)) return SiteNotFound(site_id);
  return absl::OkStatus();
}

absl::Status CallAccess::CheckReadSite(const v1::Site& site) const {
  return CheckReadSite(site.location().territory(), site.id());
}

absl::Status CallAccess::CheckCreateSite(const v1::Territory& t) const {
  if (!acc::CanCreateSite(principal_, t)) {
    return acc::Denied(absl::StrCat("declaring a site in commune ", t.city_code()));
  }
  return absl::OkStatus();
}

absl::Status CallAccess::CheckSiteAct(const v1::Site& site, SiteAct act) const {
  const v1::Territory& t = site.location().territory();
  if (!acc::CanReadSite(principal_, t, site.id())) return SiteNotFound(site.id());
  switch (act) {
    case SiteAct::kContribute:
      if (AggregatesOnly()) return acc::Denied("contributing to a site");
      return absl::OkStatus();
    case SiteAct::kUpdate:
      if (!acc::CanWriteSite(principal_, t, site.id())) {
        return acc::Denied(absl::StrCat("changing site sites/", site.id()));
      }
      return absl::OkStatus();
    case SiteAct::kClose:
      if (!acc::CanCloseSite(principal_, t, site.id())) {
        return acc::Denied(absl::StrCat("closing site sites/", site.id()));
      }
      return absl::OkStatus();
  }
  return acc::Denied("unknown act");
}

rb::views::Visibility CallAccess::SiteVisibility(const v1::Territory& t,
                                                 std::string_view site_id) const {
  rb::views::Visibility v;
  v.justice = acc::CanSeeJustice(principal_, t, site_id);
  v.owner = acc::CanSeeOwner(principal_, t, site_id);
  v.finances = acc::CanSeeFinances(principal_, t.departement_code(), "");
  v.personal = !AggregatesOnly();
  return v;
}

rb::views::Visibility CallAccess::ListVisibility() const {
  const acc::Grant read = acc::Resolve(principal_, acc::perm::kShantytown, acc::perm::kRead);
  rb::views::Visibility v;
  v.justice = GrantCovers(
      acc::Resolve(principal_, acc::perm::kShantytownJustice, acc::perm::kAccess), read);
  v.owner =
      GrantCovers(acc::Resolve(principal_, acc::perm::kShantytownOwner, acc::perm::kAccess), read);
  v.finances =
      GrantCovers(acc::Resolve(principal_, acc::perm::kActionFinances, acc::perm::kAccess), read);
  v.personal = !AggregatesOnly();
  return v;
}

absl::Status CallAccess::ScopeSiteList(v1::ListSitesRequest* request, bool* filter_rows) const {
  *filter_rows = false;
  if (AggregatesOnly()) return acc::Denied("site-level data (this account reads aggregates only)");
  const acc::Grant read = acc::Resolve(principal_, acc::perm::kShantytown, acc::perm::kRead);
  if (read.national) return absl::OkStatus();
  if (NamesTerritory(request->filter()) || !read.site_ids.empty() || read.territories.empty()) {
    *filter_rows = true;
    return absl::OkStatus();
  }
  v1::SiteFilter* f = request->mutable_filter();
  for (const v1::ScopeTerritory& t : read.territories) {
    switch (t.level()) {
      case v1::SCOPE_LEVEL_REGION:
        f->add_region_codes(t.code());
        break;
      case v1::SCOPE_LEVEL_DEPARTEMENT:
        f->add_departement_codes(t.code());
        break;
      case v1::SCOPE_LEVEL_EPCI:
        f->add_epci_codes(t.code());
        break;
      case v1::SCOPE_LEVEL_COMMUNE:
        f->add_city_codes(t.code());
        break;
      default:  // nation (already national) or unspecified: filter the rows instead
        *filter_rows = true;
        f->clear_region_codes();
        f->clear_departement_codes();
        f->clear_epci_codes();
        f->clear_city_codes();
        return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status CallAccess::OpenOwnerNames(v1::Ownership* ownership) const {
  if (!rb::domain::HasSealedOwnerName(*ownership)) return absl::OkStatus();
  if (auth_ == nullptr) {  // no keys to open them with
    rb::domain::DropSealedOwnerNames(ownership);
    return absl::OkStatus();
  }
  return rb::domain::OpenOwnerIdentity(auth_->owner_keys(), ownership);
}

absl::Status CallAccess::Redact(v1::Site* site) const {
  const acc::Redaction r = acc::RedactSite(principal_, site);
  if (absl::Status s = OpenOwnerNames(site->mutable_ownership()); !s.ok()) return s;
  if (r.restricted_kept.empty()) return absl::OkStatus();
  return Audit(acc::kAuditRestrictedRead, absl::StrCat("site-", site->id()), r.restricted_kept);
}

absl::Status CallAccess::RedactList(v1::ListSitesResponse* page, bool filter_rows) const {
  auto* rows = page->mutable_sites();
  if (filter_rows) {
    rows->erase(std::remove_if(rows->begin(), rows->end(),
                               [&](const v1::SiteSummary& row) {
                                 return !acc::CanReadSite(principal_, row.territory(), row.id());
                               }),
                rows->end());
  }
  std::vector<std::string> targets;
  std::vector<std::string> fields;
  for (v1::SiteSummary& row : *rows) {
    if (!row.has_site()) continue;
    const acc::Redaction r = acc::RedactSite(principal_, row.mutable_site());
    if (absl::Status s = OpenOwnerNames(row.mutable_site()->mutable_ownership()); !s.ok()) {
      return s;
    }
    if (r.restricted_kept.empty()) continue;
    if (targets.size() < kMaxAuditTargets) targets.push_back(absl::StrCat("site-", row.id()));
    for (const std::string& k : r.restricted_kept) {
      if (std::find(fields.begin(), fields.end(), k) == fields.end()) fields.push_back(k);
    }
  }
  if (targets.empty()) return absl::OkStatus();
  return Audit(acc::kAuditRestrictedRead, absl::StrJoin(targets, ","), fields);
}

// --- Actions -----------------------------------------------------------------------------------

absl::Status CallAccess::CheckReadAction(const v1::Action& action) const {
  if (AggregatesOnly()) {
    return acc::Denied("action-level data (this account reads aggregates only)");
  }
  if (!acc::CanReadAction(principal_, action.details().departement_code(), action.id())) {
    return ActionNotFound(action.id());
  }
  return absl::OkStatus();
}

absl::Status CallAccess::CheckWriteAction(const v1::Action& action) const {
  const std::string& dep = action.details().departement_code();
  if (!acc::CanReadAction(principal_, dep, action.id())) return ActionNotFound(action.id());
  if (!acc::CanWriteAction(principal_, dep, action.id())) {
    return acc::Denied(absl::StrCat("changing action actions/", action.id()));
  }
  return absl::OkStatus();
}

absl::Status CallAccess::CheckCreateAction(std::string_view departement) const {
  if (!acc::CanWriteAction(principal_, departement, "")) {
    return acc::Denied(absl::StrCat("writing actions in departement ", Sv(departement)));
  }
  return absl::OkStatus();
}

absl::Status CallAccess::Redact(v1::Action* action) const {
  if (acc::RedactAction(principal_, action)) return absl::OkStatus();
  if (action->finances().empty()) return absl::OkStatus();
  return Audit(acc::kAuditRestrictedRead, absl::StrCat("action-", action->id()), {"finances"});
}

rb::views::Visibility CallAccess::ActionVisibility(const v1::Action& action) const {
  rb::views::Visibility v;
  v.finances = acc::CanSeeFinances(principal_, action.details().departement_code(), action.id());
  v.personal = !AggregatesOnly();
  return v;
}

// --- Aggregates and administration -------------------------------------------------------------

absl::Status CallAccess::CheckAggregates() const {
  if (!acc::CanReadAggregates(principal_)) return acc::Denied("reading statistics");
  return absl::OkStatus();
}

bool CallAccess::AggregatesOnly() const { return acc::AggregatesOnly(principal_); }

std::optional<int64_t> CallAccess::Count(int64_t count) const {
  if (!AggregatesOnly()) return count;
  return acc::SuppressSmallCount(count);
}

absl::Status CallAccess::RequireNationalAdmin(std::string_view what) const {
  if (principal_.role != acc::Role::kNationalAdmin) {
    return acc::Denied(absl::StrCat(Sv(what), " (national administrators)"));
  }
  return absl::OkStatus();
}

absl::Status CallAccess::RequireNationalSiteReading(std::string_view what) const {
  if (!acc::Resolve(principal_, acc::perm::kShantytown, acc::perm::kRead).national) {
    return acc::Denied(absl::StrCat(Sv(what), " (accounts reading every site)"));
  }
  return absl::OkStatus();
}

absl::Status CallAccess::Audit(std::string_view what, std::string_view target,
                               const std::vector<std::string>& fields) const {
  if (!audited_ || auth_ == nullptr) return absl::OkStatus();
  v1::AuditRecord record;
  record.set_what(std::string(what));
  record.set_target(std::string(target));
  for (const std::string& f : fields) record.add_fields(f);
  record.set_rpc(rpc_);
  return auth_->audit().Record(principal_, std::move(record), auth_->NowUs());
}

}  // namespace rb::services
