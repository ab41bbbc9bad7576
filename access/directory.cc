// Copyright: the Résorption-bidonvilles data service authors.
#include "access/directory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access/strings.h"
#include "domain/geo.h"

namespace rb::access {
namespace {

namespace v1 = resorption::v1;

// Collects every violation of one request, then reports them at once.
class Violations {
 public:
  void Add(std::string field, std::string rule) {
    list_.push_back(absl::StrCat(field, ": ", rule));
  }
  bool empty() const { return list_.empty(); }
  absl::Status ToStatus(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), " is invalid: ", absl::StrJoin(list_, "; ")));
  }

 private:
  std::vector<std::string> list_;
};

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void CheckTerritory(const v1::ScopeTerritory& t, const std::string& field, Violations& v) {
  const auto& geo = rb::domain::geo::Geography::Get();
  bool known = false;
  switch (t.level()) {
    case v1::SCOPE_LEVEL_NATION:
      known = t.code().empty() || t.code() == "FR";
      break;
    case v1::SCOPE_LEVEL_REGION:
      known = geo.FindRegion(t.code()) != nullptr;
      break;
    case v1::SCOPE_LEVEL_DEPARTEMENT:
      known = geo.FindDepartement(t.code()) != nullptr;
      break;
    case v1::SCOPE_LEVEL_EPCI:
      known = geo.FindEpci(t.code()) != nullptr;
      break;
    case v1::SCOPE_LEVEL_COMMUNE:
      known = geo.FindCommune(t.code()) != nullptr;
      break;
    default:
      v.Add(field + ".level", "must be nation, region, departement, EPCI or commune");
      return;
  }
  if (!known) v.Add(field + ".code", absl::StrCat("unknown territory code \"", t.code(), "\""));
}

void CheckOptions(const google::protobuf::RepeatedPtrField<std::string>& options,
                  const std::string& field, Violations& v) {
  for (int i = 0; i < options.size(); ++i) {
    const auto& known = KnownOptions();
    if (std::find(known.begin(), known.end(), options[i]) == known.end()) {
      v.Add(absl::StrCat(field, "[", i, "]"), absl::StrCat("unknown option \"", options[i], "\""));
    }
  }
}

bool SameTerritory(const v1::ScopeTerritory& a, const v1::ScopeTerritory& b) {
  return a.level() == b.level() && a.code() == b.code();
}

}  // namespace

std::string OrganisationStreamId(std::string_view id) {
  return absl::StrCat("organisation-", Sv(id));
}
std::string UserStreamId(std::string_view id) { return absl::StrCat("user-", Sv(id)); }

std::string EventType(const v1::OrganisationEvent& e) {
  switch (e.event_case()) {
    case v1::OrganisationEvent::kCreated:
      return "organisation.created";
    case v1::OrganisationEvent::kTerritories:
      return "organisation.territories_changed";
    default:
      return "organisation.unknown";
  }
}

std::string EventType(const v1::UserEvent& e) {
  switch (e.event_case()) {
    case v1::UserEvent::kCreated:
      return "user.created";
    case v1::UserEvent::kActivated:
      return "user.activated";
    case v1::UserEvent::kDeactivated:
      return "user.deactivated";
    case v1::UserEvent::kRoleChanged:
      return "user.role_changed";
    case v1::UserEvent::kOptionsChanged:
      return "user.options_changed";
    case v1::UserEvent::kAttachments:
      return "user.attachments_changed";
    case v1::UserEvent::kErased:
      return "user.erased";
    default:
      return "user.unknown";
  }
}

absl::StatusOr<std::vector<v1::OrganisationEvent>> DecideCreateOrganisation(
    const v1::Organisation& state, const v1::CreateOrganisationRequest& req) {
  if (state.exists()) {
    return absl::AlreadyExistsError(
        absl::StrCat("organisation ", req.organisation_id(), " already exists"));
  }
  Violations v;
  if (!ValidId(req.organisation_id())) v.Add("organisation_id", "must match [a-z0-9-]{1,64}");
  if (req.name().empty()) v.Add("name", "must not be empty");
  if (req.category() == v1::ORGANISATION_CATEGORY_UNSPECIFIED) {
    v.Add("category", "must be set");
  }
  if (req.territories().empty()) v.Add("territories", "must hold at least one territory");
  for (int i = 0; i < req.territories().size(); ++i) {
    CheckTerritory(req.territories(i), absl::StrCat("territories[", i, "]"), v);
  }
  const v1::ScopeTerritory main =
      req.has_main_territory()
          ? req.main_territory()
          : (req.territories().empty() ? v1::ScopeTerritory() : req.territories(0));
  if (!std::any_of(req.territories().begin(), req.territories().end(),
                   [&](const v1::ScopeTerritory& t) { return SameTerritory(t, main); })) {
    v.Add("main_territory", "must be one of the territories");
  }
  CheckOptions(req.options(), "options", v);
  if (!v.empty()) return v.ToStatus("the organisation");

  v1::OrganisationEvent e;
  v1::OrganisationCreated* c = e.mutable_created();
  c->set_name(req.name());
  c->set_type(req.type());
  c->set_category(req.category());
  *c->mutable_territories() = req.territories();
  *c->mutable_main_territory() = main;
  *c->mutable_options() = req.options();
  return std::vector<v1::OrganisationEvent>{std::move(e)};
}

v1::Organisation EvolveOrganisation(v1::Organisation state, const v1::OrganisationEvent& e) {
  switch (e.event_case()) {
    case v1::OrganisationEvent::kCreated: {
      const auto& c = e.created();
      state.set_exists(true);
      state.set_name(c.name());
      state.set_type(c.type());
      state.set_category(c.category());
      *state.mutable_territories() = c.territories();
      *state.mutable_main_territory() = c.main_territory();
      *state.mutable_options() = c.options();
      break;
    }
    case v1::OrganisationEvent::kTerritories:
      *state.mutable_territories() = e.territories().territories();
      *state.mutable_main_territory() = e.territories().main_territory();
      break;
    default:
      break;
  }
  return state;
}

absl::StatusOr<std::vector<v1::UserEvent>> DecideCreateUser(const v1::User& state,
                                                            const v1::Organisation& organisation,
                                                            const v1::CreateUserRequest& req,
                                                            std::string sealed_personal_data) {
  if (state.status() != v1::USER_STATUS_UNSPECIFIED) {
    return absl::AlreadyExistsError(absl::StrCat("user ", req.user_id(), " already exists"));
  }
  Violations v;
  if (!ValidId(req.user_id())) v.Add("user_id", "must match [a-z0-9-]{1,64}");
  if (req.role() == v1::USER_ROLE_UNSPECIFIED) v.Add("role", "must be set");
  if (!organisation.exists()) {
    v.Add("organisation_id", absl::StrCat("unknown organisation \"", req.organisation_id(), "\""));
  }
  if (req.personal_data().email().find('@') == std::string::npos) {
    v.Add("personal_data.email", "must be an e-mail address");
  }
  CheckOptions(req.options(), "options", v);
  for (int i = 0; i < req.attachments().size(); ++i) {
    const auto& a = req.attachments(i);
    const std::string f = absl::StrCat("attachments[", i, "]");
    if (a.entity().empty() || a.feature().empty()) v.Add(f, "entity and feature must be set");
    if (a.has_territory()) CheckTerritory(a.territory(), f + ".territory", v);
  }
  if (!v.empty()) return v.ToStatus("the user");

  std::vector<v1::UserEvent> events(1);
  v1::UserCreated* c = events[0].mutable_created();
  c->set_organisation_id(req.organisation_id());
  c->set_role(req.role());
  *c->mutable_options() = req.options();
  c->set_status(v1::USER_STATUS_NEW);
  c->set_sealed_personal_data(std::move(sealed_personal_data));
  if (!req.attachments().empty()) {
    v1::UserEvent a;
    *a.mutable_attachments()->mutable_attachments() = req.attachments();
    events.push_back(std::move(a));
  }
  if (req.activate()) events.emplace_back().mutable_activated();
  return events;
}

absl::StatusOr<std::vector<v1::UserEvent>> DecideSetUserStatus(const v1::User& state, bool active,
                                                               std::string_view reason) {
  if (state.status() == v1::USER_STATUS_UNSPECIFIED) {
    return NotFound("user", state.id());
  }
  if (state.erased()) {
    return absl::FailedPreconditionError(absl::StrCat("user ", state.id(), " was erased"));
  }
  std::vector<v1::UserEvent> events;
  if (active && state.status() != v1::USER_STATUS_ACTIVE) {
    events.emplace_back().mutable_activated();
  } else if (!active && state.status() != v1::USER_STATUS_INACTIVE) {
    events.emplace_back().mutable_deactivated()->set_reason(std::string(reason));
  }
  return events;
}

absl::StatusOr<std::vector<v1::UserEvent>> DecideEraseUser(const v1::User& state) {
  if (state.status() == v1::USER_STATUS_UNSPECIFIED) return NotFound("user", state.id());
  std::vector<v1::UserEvent> events;
  if (state.erased()) return events;
  if (state.status() != v1::USER_STATUS_INACTIVE) {
    events.emplace_back().mutable_deactivated()->set_reason("erasure");
  }
  events.emplace_back().mutable_erased();
  return events;
}

v1::User EvolveUser(v1::User state, const v1::UserEvent& e) {
  switch (e.event_case()) {
    case v1::UserEvent::kCreated: {
      const auto& c = e.created();
      state.set_organisation_id(c.organisation_id());
      state.set_role(c.role());
      *state.mutable_options() = c.options();
      state.set_status(c.status() == v1::USER_STATUS_UNSPECIFIED ? v1::USER_STATUS_NEW
                                                                 : c.status());
      state.set_sealed_personal_data(c.sealed_personal_data());
      break;
    }
    case v1::UserEvent::kActivated:
      state.set_status(v1::USER_STATUS_ACTIVE);
      break;
    case v1::UserEvent::kDeactivated:
      state.set_status(v1::USER_STATUS_INACTIVE);
      break;
    case v1::UserEvent::kRoleChanged:
      state.set_role(e.role_changed().role());
      break;
    case v1::UserEvent::kOptionsChanged:
      *state.mutable_options() = e.options_changed().options();
      break;
    case v1::UserEvent::kAttachments:
      *state.mutable_attachments() = e.attachments().attachments();
      break;
    case v1::UserEvent::kErased:
      state.set_erased(true);
      state.set_status(v1::USER_STATUS_INACTIVE);
      state.clear_sealed_personal_data();
      break;
    default:
      break;
  }
  return state;
}

absl::StatusOr<Principal> PrincipalOf(const v1::User& user, const v1::Organisation& org) {
  if (user.status() == v1::USER_STATUS_UNSPECIFIED) return NotFound("user", user.id());
  if (user.status() != v1::USER_STATUS_ACTIVE) {
    return absl::FailedPreconditionError(
        absl::StrCat("user ", user.id(), " is ", v1::UserStatus_Name(user.status())));
  }
  Principal p;
  p.user_id = user.id();
  p.organisation_id = user.organisation_id();
  p.role = RoleFromProto(user.role());
  p.user_options.assign(user.options().begin(), user.options().end());
  p.organisation_options.assign(org.options().begin(), org.options().end());
  p.territories.assign(org.territories().begin(), org.territories().end());
  p.attachments.assign(user.attachments().begin(), user.attachments().end());
  return p;
}

}  // namespace rb::access
