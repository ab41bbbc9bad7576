// Copyright: the Résorption-bidonvilles data service authors.
#include "access/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "access/strings.h"
#include "domain/geo.h"
#include "domain/owner_identity.h"

namespace rb::access {
namespace {

using resorption::v1::PermissionAttachment;
using resorption::v1::ScopeTerritory;
namespace v1 = resorption::v1;

enum class Level { kNone, kLocal, kNational };

struct DefaultRight {
  std::string_view entity;
  std::string_view feature;
  Level level;
};

// The default matrix of the platform (docs/access.md, "What each role sees"). National
// administrators hold every permission nationally and are not listed.
const std::vector<DefaultRight>& RoleDefaults(Role role) {
  using namespace perm;
  constexpr Level N = Level::kNational;
  constexpr Level L = Level::kLocal;
  static const auto* local_admin = new std::vector<DefaultRight>{{kShantytown, kRead, N},
                                                                 {kShantytown, kCreate, L},
                                                                 {kShantytown, kUpdate, L},
                                                                 {kShantytown, kClose, L},
                                                                 {kShantytown, kExport, N},
                                                                 {kShantytownJustice, kAccess, N},
                                                                 {kShantytownOwner, kAccess, L},
                                                                 {kAction, kRead, N},
                                                                 {kAction, kCreate, L},
                                                                 {kAction, kUpdate, L},
                                                                 {kActionFinances, kAccess, L},
                                                                 {kUser, kManage, L},
                                                                 {kStats, kRead, N}};
  static const auto* direct_collaborator = new std::vector<DefaultRight>{
      {kShantytown, kRead, N},       {kShantytown, kCreate, L}, {kShantytown, kUpdate, L},
      {kShantytown, kClose, L},      {kShantytown, kExport, N}, {kShantytownJustice, kAccess, N},
      {kAction, kRead, N},           {kAction, kCreate, L},     {kAction, kUpdate, L},
      {kActionFinances, kAccess, L}, {kStats, kRead, N}};
  static const auto* collaborator = new std::vector<DefaultRight>{
      {kShantytown, kRead, L},   {kShantytown, kCreate, L}, {kShantytown, kUpdate, L},
      {kShantytown, kExport, L}, {kAction, kRead, L},       {kAction, kCreate, L},
      {kAction, kUpdate, L},     {kStats, kRead, N}};
  static const auto* national_establishment =
      new std::vector<DefaultRight>{{kShantytown, kRead, N},
                                    {kShantytown, kExport, N},
                                    {kAction, kRead, N},
                                    {kActionFinances, kAccess, N},
                                    {kStats, kRead, N}};
  static const auto* intervener = new std::vector<DefaultRight>{
      {kShantytown, kRead, L}, {kAction, kRead, L}, {kStats, kRead, N}};
  static const auto* external_observer = new std::vector<DefaultRight>{{kStats, kRead, N}};
  static const auto* none = new std::vector<DefaultRight>{};
  switch (role) {
    case Role::kNationalAdmin:
      return *none;
    case Role::kLocalAdmin:
      return *local_admin;
    case Role::kDirectCollaborator:
      return *direct_collaborator;
    case Role::kCollaborator:
    case Role::kAssociation:
      return *collaborator;
    case Role::kNationalEstablishment:
      return *national_establishment;
    case Role::kIntervener:
      return *intervener;
    case Role::kExternalObserver:
      return *external_observer;
  }
  return *none;
}

Level RoleLevel(Role role, std::string_view entity, std::string_view feature) {
  if (role == Role::kNationalAdmin) return Level::kNational;
  for (const DefaultRight& r : RoleDefaults(role)) {
    if (r.entity == entity && r.feature == feature) return r.level;
  }
  return Level::kNone;
}

// The level an option grants for (entity, feature), given the role.
Level OptionLevel(Role role, std::string_view option, std::string_view entity,
                  std::string_view feature) {
  using namespace perm;
  if (option == kOptionCloseShantytown || option == kOptionCreateAndCloseShantytown) {
    if (entity == kShantytown && (feature == kClose || feature == kCreate)) {
      // Only for those who write sites at all (not observers, interveners, national actors).
      return RoleLevel(role, kShantytown, kUpdate) == Level::kNone ? Level::kNone : Level::kLocal;
    }
  }
  // Restricted-data options open the data where the user reads.
  if (option == kOptionAccessJustice && entity == kShantytownJustice && feature == kAccess) {
    return RoleLevel(role, kShantytown, kRead);
  }
  if (option == kOptionAccessOwner && entity == kShantytownOwner && feature == kAccess) {
    return RoleLevel(role, kShantytown, kRead);
  }
  if (option == kOptionAccessActionFinances && entity == kActionFinances && feature == kAccess) {
    return RoleLevel(role, kAction, kRead);
  }
  return Level::kNone;
}

void Widen(Grant& g, Level level, const Principal& p) {
  if (level == Level::kNational) g.national = true;
  if (level == Level::kLocal && g.territories.empty()) g.territories = p.territories;
}

bool Matches(const PermissionAttachment& a, std::string_view entity, std::string_view feature) {
  return a.entity() == entity && a.feature() == feature;
}

bool Contains(const std::vector<std::string>& v, std::string_view x) {
  return !x.empty() && std::find(v.begin(), v.end(), x) != v.end();
}

const v1::Territory* Empty() {
  static const auto* t = new v1::Territory();
  return t;
}

}  // namespace

const std::vector<std::string_view>& KnownOptions() {
  static const auto* options = new std::vector<std::string_view>{
      kOptionCloseShantytown, kOptionCreateAndCloseShantytown, kOptionAccessJustice,
      kOptionAccessOwner, kOptionAccessActionFinances};
  return *options;
}

bool Principal::HasOption(std::string_view option) const {
  return std::find(user_options.begin(), user_options.end(), option) != user_options.end() ||
         std::find(organisation_options.begin(), organisation_options.end(), option) !=
             organisation_options.end();
}

rb::domain::Actor Principal::ToActor() const {
  rb::domain::Actor a;
  a.user_id = user_id;
  a.organisation_id = organisation_id;
  a.role = role;
  a.options = user_options;
  for (const std::string& o : organisation_options) {
    if (!Contains(a.options, o)) a.options.push_back(o);
  }
  return a;
}

Grant Resolve(const Principal& p, std::string_view entity, std::string_view feature) {
  // 1. A user-specific refusal wins over everything.
  for (const PermissionAttachment& a : p.attachments) {
    if (Matches(a, entity, feature) && !a.allowed()) return Grant{};
  }
  Grant g;
  // 4. Role.
  Widen(g, RoleLevel(p.role, entity, feature), p);
  // 3. Organisation options, 2. user options (both only widen).
  for (const auto* options : {&p.organisation_options, &p.user_options}) {
    for (const std::string& o : *options) Widen(g, OptionLevel(p.role, o, entity, feature), p);
  }
  // 1. User-specific attachments add their target.
  for (const PermissionAttachment& a : p.attachments) {
    if (!Matches(a, entity, feature)) continue;
    switch (a.target_case()) {
      case PermissionAttachment::kTerritory:
        if (a.territory().level() == v1::SCOPE_LEVEL_NATION) {
          g.national = true;
        } else {
          g.territories.push_back(a.territory());
        }
        break;
      case PermissionAttachment::kSiteId:
        g.site_ids.push_back(a.site_id());
        break;
      case PermissionAttachment::kActionId:
        g.action_ids.push_back(a.action_id());
        break;
      case PermissionAttachment::TARGET_NOT_SET:
        g.territories.insert(g.territories.end(), p.territories.begin(), p.territories.end());
        break;
    }
  }
  return g;
}

bool SiteTerritoryIn(const v1::Territory& t, const ScopeTerritory& in) {
  switch (in.level()) {
    case v1::SCOPE_LEVEL_NATION:
      return true;
    case v1::SCOPE_LEVEL_REGION:
      return !in.code().empty() && t.region_code() == in.code();
    case v1::SCOPE_LEVEL_DEPARTEMENT:
      return !in.code().empty() && t.departement_code() == in.code();
    case v1::SCOPE_LEVEL_EPCI:
      return !in.code().empty() && t.epci_code() == in.code();
    case v1::SCOPE_LEVEL_COMMUNE: {
      if (in.code().empty()) return false;
      if (t.city_code() == in.code()) return true;
      // A Paris, Lyon or Marseille district lies in its city.
      const auto* c = rb::domain::geo::Geography::Get().FindCommune(t.city_code());
      return c != nullptr && c->parent == in.code();
    }
    default:
      return false;
  }
}

bool DepartementIn(std::string_view code, const ScopeTerritory& in) {
  if (code.empty()) return false;
  const auto& geo = rb::domain::geo::Geography::Get();
  switch (in.level()) {
    case v1::SCOPE_LEVEL_NATION:
      return true;
    case v1::SCOPE_LEVEL_REGION: {
      const auto* d = geo.FindDepartement(code);
      return d != nullptr && d->region == in.code();
    }
    case v1::SCOPE_LEVEL_DEPARTEMENT:
      return code == in.code();
    case v1::SCOPE_LEVEL_COMMUNE: {
      const auto* c = geo.FindCommune(in.code());
      return c != nullptr && c->departement == code;
    }
    default:
      return false;
  }
}

bool CoversSite(const Grant& g, const v1::Territory& t, std::string_view site_id) {
  if (g.national || Contains(g.site_ids, site_id)) return true;
  return std::any_of(g.territories.begin(), g.territories.end(),
                     [&](const ScopeTerritory& in) { return SiteTerritoryIn(t, in); });
}

bool CoversAction(const Grant& g, std::string_view departement, std::string_view action_id) {
  if (g.national || Contains(g.action_ids, action_id)) return true;
  return std::any_of(g.territories.begin(), g.territories.end(),
                     [&](const ScopeTerritory& in) { return DepartementIn(departement, in); });
}

bool CoversTerritory(const Grant& g, const v1::TerritoryRef& t) {
  if (g.national) return true;
  const auto& geo = rb::domain::geo::Geography::Get();
  // The scope territories that hold every site of `t`.
  auto holds = [&](const ScopeTerritory& in) {
    if (in.level() == v1::SCOPE_LEVEL_NATION) return true;
    if (in.code().empty()) return false;
    switch (t.level()) {
      case v1::TERRITORY_LEVEL_COMMUNE: {
        // Every site of the commune has this territory; a district also lies in its city.
        v1::Territory site;
        site.set_city_code(t.code());
        if (const auto* c = geo.FindCommune(t.code())) {
          site.set_epci_code(std::string(c->epci));
          site.set_departement_code(std::string(c->departement));
          site.set_region_code(std::string(c->region));
        }
        return SiteTerritoryIn(site, in);
      }
      case v1::TERRITORY_LEVEL_EPCI: {
        if (in.level() == v1::SCOPE_LEVEL_EPCI) return in.code() == t.code();
        const auto* e = geo.FindEpci(t.code());
        if (e == nullptr) return false;
        if (in.level() == v1::SCOPE_LEVEL_DEPARTEMENT) return in.code() == e->departement;
        if (in.level() == v1::SCOPE_LEVEL_REGION) return in.code() == e->region;
        return false;
      }
      case v1::TERRITORY_LEVEL_DEPARTEMENT: {
        if (in.level() == v1::SCOPE_LEVEL_DEPARTEMENT) return in.code() == t.code();
        const auto* d = geo.FindDepartement(t.code());
        return in.level() == v1::SCOPE_LEVEL_REGION && d != nullptr && in.code() == d->region;
      }
      case v1::TERRITORY_LEVEL_REGION:
        return in.level() == v1::SCOPE_LEVEL_REGION && in.code() == t.code();
      default:  // the nation, a zone
        return false;
    }
  };
  return std::any_of(g.territories.begin(), g.territories.end(), holds);
}

bool CanReadSite(const Principal& p, const v1::Territory& t, std::string_view site_id) {
  return CoversSite(Resolve(p, perm::kShantytown, perm::kRead), t, site_id);
}
bool CanCreateSite(const Principal& p, const v1::Territory& t) {
  return CoversSite(Resolve(p, perm::kShantytown, perm::kCreate), t, "");
}
bool CanWriteSite(const Principal& p, const v1::Territory& t, std::string_view site_id) {
  return CoversSite(Resolve(p, perm::kShantytown, perm::kUpdate), t, site_id);
}
bool CanCloseSite(const Principal& p, const v1::Territory& t, std::string_view site_id) {
  return CoversSite(Resolve(p, perm::kShantytown, perm::kClose), t, site_id);
}
bool CanExportSites(const Principal& p, const v1::Territory& t) {
  return CoversSite(Resolve(p, perm::kShantytown, perm::kExport), t, "");
}
bool CanSeeJustice(const Principal& p, const v1::Territory& t, std::string_view site_id) {
  return CanReadSite(p, t, site_id) &&
         CoversSite(Resolve(p, perm::kShantytownJustice, perm::kAccess), t, site_id);
}
bool CanSeeJustice(const Principal& p, const v1::TerritoryRef& t) {
  return CoversTerritory(Resolve(p, perm::kShantytown, perm::kRead), t) &&
         CoversTerritory(Resolve(p, perm::kShantytownJustice, perm::kAccess), t);
}
bool CanSeeOwner(const Principal& p, const v1::Territory& t, std::string_view site_id) {
  return CanReadSite(p, t, site_id) &&
         CoversSite(Resolve(p, perm::kShantytownOwner, perm::kAccess), t, site_id);
}

bool CanReadAction(const Principal& p, std::string_view departement, std::string_view action_id) {
  return CoversAction(Resolve(p, perm::kAction, perm::kRead), departement, action_id);
}
bool CanWriteAction(const Principal& p, std::string_view departement, std::string_view action_id) {
  return CoversAction(Resolve(p, perm::kAction, perm::kUpdate), departement, action_id);
}
bool CanSeeFinances(const Principal& p, std::string_view departement, std::string_view action_id) {
  return CanReadAction(p, departement, action_id) &&
         CoversAction(Resolve(p, perm::kActionFinances, perm::kAccess), departement, action_id);
}

bool CanReadAggregates(const Principal& p) { return !Resolve(p, perm::kStats, perm::kRead).none(); }
bool AggregatesOnly(const Principal& p) {
  return Resolve(p, perm::kShantytown, perm::kRead).none() &&
         Resolve(p, perm::kAction, perm::kRead).none();
}
bool CanReadRawLog(const Principal& p) { return Resolve(p, perm::kLog, perm::kRead).national; }
bool CanReadAudit(const Principal& p) { return Resolve(p, perm::kAudit, perm::kRead).national; }

bool CanManageUsers(const Principal& p, const ScopeTerritory& t) {
  const Grant g = Resolve(p, perm::kUser, perm::kManage);
  if (g.national) return true;
  // A local administrator manages organisations whose main territory lies in one of theirs.
  for (const ScopeTerritory& in : g.territories) {
    if (in.level() == v1::SCOPE_LEVEL_NATION) return true;
    if (in.level() == t.level() && in.code() == t.code()) return true;
    if (t.level() == v1::SCOPE_LEVEL_DEPARTEMENT && DepartementIn(t.code(), in)) return true;
    if (t.level() == v1::SCOPE_LEVEL_COMMUNE) {
      const auto* c = rb::domain::geo::Geography::Get().FindCommune(t.code());
      if (c == nullptr) continue;
      v1::Territory site;
      site.set_city_code(std::string(c->code));
      site.set_departement_code(std::string(c->departement));
      site.set_region_code(std::string(c->region));
      site.set_epci_code(std::string(c->epci));
      if (SiteTerritoryIn(site, in)) return true;
    }
  }
  return false;
}

Redaction RedactSite(const Principal& p, v1::Site* site) {
  Redaction r;
  const v1::Territory& t = site->has_location() ? site->location().territory() : *Empty();
  const bool has_justice = site->has_justice() || site->has_police() ||
                           site->has_administrative_order() || site->has_insalubrity_order();
  if (has_justice) {
    if (CanSeeJustice(p, t, site->id())) {
      r.restricted_kept.push_back("justice");
    } else {
      site->clear_justice();
      site->clear_police();
      site->clear_administrative_order();
      site->clear_insalubrity_order();
      r.justice_removed = true;
    }
  }
  v1::Ownership* own = site->mutable_ownership();
  const bool has_owner = !own->owner().empty() || rb::domain::HasSealedOwnerName(*own) ||
                         std::any_of(own->parcel_owners().begin(), own->parcel_owners().end(),
                                     [](const v1::ParcelOwner& o) { return !o.name().empty(); });
  if (has_owner) {
    if (CanSeeOwner(p, t, site->id())) {
      r.restricted_kept.push_back("owner");
    } else {
      own->clear_owner();
      for (v1::ParcelOwner& o : *own->mutable_parcel_owners()) o.clear_name();
      rb::domain::DropSealedOwnerNames(own);
      r.owner_removed = true;
    }
  }
  r.comments_removed = RemoveCommentsAddressedToOthers(p, site->mutable_comments());
  return r;
}

int RemoveCommentsAddressedToOthers(const Principal& p,
                                    google::protobuf::RepeatedPtrField<v1::Comment>* comments) {
  if (p.role == Role::kNationalAdmin) return 0;
  const int before = comments->size();
  comments->erase(
      std::remove_if(comments->begin(), comments->end(),
                     [&](const v1::Comment& c) {
                       if (c.target_user_ids().empty() && c.target_organisation_ids().empty()) {
                         return false;
                       }
                       if (c.author_user_id() == p.user_id) return false;
                       for (const auto& u : c.target_user_ids()) {
                         if (u == p.user_id) return false;
                       }
                       for (const auto& o : c.target_organisation_ids()) {
                         if (o == p.organisation_id) return false;
                       }
                       return true;
                     }),
      comments->end());
  return before - comments->size();
}

bool RedactAction(const Principal& p, v1::Action* action) {
  // The action's journal follows the site journal's rule.
  RemoveCommentsAddressedToOthers(p, action->mutable_comments());
  if (CanSeeFinances(p, action->details().departement_code(), action->id())) return false;
  action->set_finances_hidden(true);
  if (action->finances().empty()) return false;
  action->clear_finances();
  return true;
}

std::optional<int64_t> SuppressSmallCount(int64_t count, int64_t threshold) {
  if (count > 0 && count < threshold) return std::nullopt;
  return count;
}

absl::Status NotFound(std::string_view kind, std::string_view id) {
  return absl::NotFoundError(absl::StrCat(Sv(kind), " ", Sv(id), " not found"));
}

absl::Status Denied(std::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat("not allowed: ", Sv(what)));
}

Role RoleFromProto(v1::UserRole role) {
  switch (role) {
    case v1::USER_ROLE_NATIONAL_ADMIN:
      return Role::kNationalAdmin;
    case v1::USER_ROLE_LOCAL_ADMIN:
      return Role::kLocalAdmin;
    case v1::USER_ROLE_DIRECT_COLLABORATOR:
      return Role::kDirectCollaborator;
    case v1::USER_ROLE_COLLABORATOR:
      return Role::kCollaborator;
    case v1::USER_ROLE_ASSOCIATION:
      return Role::kAssociation;
    case v1::USER_ROLE_NATIONAL_ESTABLISHMENT:
      return Role::kNationalEstablishment;
    case v1::USER_ROLE_INTERVENER:
      return Role::kIntervener;
    default:
      return Role::kExternalObserver;  // the least privileged
  }
}

v1::UserRole RoleToProto(Role role) {
  switch (role) {
    case Role::kNationalAdmin:
      return v1::USER_ROLE_NATIONAL_ADMIN;
    case Role::kLocalAdmin:
      return v1::USER_ROLE_LOCAL_ADMIN;
    case Role::kDirectCollaborator:
      return v1::USER_ROLE_DIRECT_COLLABORATOR;
    case Role::kCollaborator:
      return v1::USER_ROLE_COLLABORATOR;
    case Role::kAssociation:
      return v1::USER_ROLE_ASSOCIATION;
    case Role::kNationalEstablishment:
      return v1::USER_ROLE_NATIONAL_ESTABLISHMENT;
    case Role::kIntervener:
      return v1::USER_ROLE_INTERVENER;
    case Role::kExternalObserver:
      return v1::USER_ROLE_EXTERNAL_OBSERVER;
  }
  return v1::USER_ROLE_UNSPECIFIED;
}

}  // namespace rb::access
