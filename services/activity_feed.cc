// Copyright: the Résorption-bidonvilles data service authors.
//
// How a version becomes an activity. Each site or action met is loaded once per batch (its
// current state from the command handler's aggregates): erased, unknown and unreadable ones are
// skipped, the territory filter applies to where a site is now (an action: its département), the
// visibility (justice, owners, finances) is the reader's on that site or action, updates carry the
// change log's visible field changes and journal messages appear only when the reader may read
// them (rb::access::RedactSite / RedactAction). Users who join (their first activation) appear
// with their organisation and role, to readers of the sites where the organisation mainly works.
#include "services/activity_feed.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "access/audit.h"
#include "access/directory.h"
#include "access/policy.h"
#include "domain/events.h"
#include "domain/geo.h"
#include "projections/views/history.h"
#include "services/sites_service.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

constexpr size_t kChunk = 512;

// The kind of a version from its event types ("site.*", "action.*" or "user.*"). A user's
// activation is a candidate USER_JOINED (the first activation only: see JoinedWith).
v1::ActivityKind KindOf(const std::vector<rb::es::RecordedEvent>& version) {
  if (version.front().type.rfind("user.", 0) == 0) {
    for (const rb::es::RecordedEvent& e : version) {
      if (e.type == "user.activated") return v1::ACTIVITY_KIND_USER_JOINED;
    }
    return v1::ACTIVITY_KIND_UNSPECIFIED;
  }
  bool created = false, closed = false, comment = false, other = false;
  const bool action = version.front().type.rfind("action.", 0) == 0;
  for (const rb::es::RecordedEvent& e : version) {
    if (e.type == "site.declared" || e.type == "action.created") {
      created = true;
    } else if (e.type == "site.closed" || e.type == "action.closed") {
      closed = true;
    } else if (e.type == "site.comment_posted" || e.type == "action.comment_posted") {
      comment = true;
    } else if (e.type != "site.comment_moderated") {
      other = true;
    }
  }
  if (created) return action ? v1::ACTIVITY_KIND_ACTION_CREATED : v1::ACTIVITY_KIND_SITE_DECLARED;
  if (closed) return action ? v1::ACTIVITY_KIND_ACTION_CLOSED : v1::ACTIVITY_KIND_SITE_CLOSED;
  if (other) return action ? v1::ACTIVITY_KIND_ACTION_UPDATED : v1::ACTIVITY_KIND_SITE_UPDATED;
  if (comment) return action ? v1::ACTIVITY_KIND_ACTION_COMMENT : v1::ACTIVITY_KIND_SITE_COMMENT;
  return v1::ACTIVITY_KIND_UNSPECIFIED;  // moderation only: not an activity
}

bool IsUpdateOrClosure(v1::ActivityKind k) {
  return k == v1::ACTIVITY_KIND_SITE_UPDATED || k == v1::ACTIVITY_KIND_SITE_CLOSED ||
         k == v1::ACTIVITY_KIND_ACTION_UPDATED || k == v1::ACTIVITY_KIND_ACTION_CLOSED;
}

// The territory of an action: its département and that département's region.
v1::Territory ActionTerritory(const v1::Action& action) {
  v1::Territory t;
  t.set_departement_code(action.details().departement_code());
  if (const auto* d = rb::domain::geo::Geography::Get().FindDepartement(t.departement_code())) {
    t.set_region_code(std::string(d->region));
  }
  return t;
}

// The id of the journal message a "*.comment_posted" event posted.
absl::StatusOr<std::string> PostedCommentId(const rb::es::RecordedEvent& e, bool action) {
  if (action) {
    absl::StatusOr<v1::ActionEvent> posted = rb::domain::DecodeActionEvent(e);
    if (!posted.ok()) return posted.status();
    return posted->comment_posted().comment().id();
  }
  absl::StatusOr<v1::SiteEvent> posted = rb::domain::DecodeSiteEvent(e);
  if (!posted.ok()) return posted.status();
  return posted->comment_posted().comment().id();
}

// The territory of an organisation's scope, as a site there would have it (only the codes the
// scope names, and what they imply: a département's region, a commune's EPCI and above).
v1::Territory TerritoryOfScope(const v1::ScopeTerritory& scope) {
  const auto& geo = rb::domain::geo::Geography::Get();
  v1::Territory t;
  switch (scope.level()) {
    case v1::SCOPE_LEVEL_REGION:
      t.set_region_code(scope.code());
      break;
    case v1::SCOPE_LEVEL_DEPARTEMENT:
      t.set_departement_code(scope.code());
      if (const auto* d = geo.FindDepartement(scope.code()))
        t.set_region_code(std::string(d->region));
      break;
    case v1::SCOPE_LEVEL_EPCI:
      t.set_epci_code(scope.code());
      if (const auto* e = geo.FindEpci(scope.code())) {  // when its communes share them
        t.set_departement_code(std::string(e->departement));
        t.set_region_code(std::string(e->region));
      }
      break;
    case v1::SCOPE_LEVEL_COMMUNE:
      t.set_city_code(scope.code());
      if (const auto* c = geo.FindCommune(scope.code())) {
        t.set_city_name(std::string(c->name));
        t.set_epci_code(std::string(c->epci));
        t.set_departement_code(std::string(c->departement));
        t.set_region_code(std::string(c->region));
      }
      break;
    default:  // the nation
      break;
  }
  return t;
}

// A user who joined with `activated`: their state just after it (the organisation and role they
// joined with), and whether they were erased since. nullopt when `activated` is not the user's
// first activation (a user deactivated and activated again does not join twice).
struct Joined {
  v1::User user;
  bool erased = false;
};
absl::StatusOr<std::optional<Joined>> JoinedWith(const rb::es::EventStore& store,
                                                 const rb::es::RecordedEvent& activated) {
  Joined out;
  uint64_t from = 0;
  while (true) {
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> events =
        store.ReadStream(activated.stream_id, from, rb::es::Direction::kForward, kChunk);
    if (!events.ok()) return events.status();
    for (const rb::es::RecordedEvent& e : *events) {
      if (e.revision <= activated.revision) {
        if (e.type == "user.activated" && e.revision < activated.revision) return std::nullopt;
        v1::UserEvent decoded;
        if (!decoded.ParseFromString(e.payload)) {
          return absl::DataLossError(
              absl::StrCat("undecodable event at position ", e.position, " of ", e.stream_id));
        }
        out.user = rb::access::EvolveUser(std::move(out.user), decoded);
      }
      out.erased = out.erased || e.type == "user.erased";
    }
    if (events->size() < kChunk) break;
    from = events->back().revision + 1;
  }
  return out;
}

// Where and when a version was recorded, by whom and why (`last`: its highest event).
void SetRecording(const rb::es::RecordedEvent& last, v1::Activity* a) {
  a->set_position(last.position);
  a->set_recorded_at_us(last.recorded_at_us);
  a->set_valid_at_us(last.valid_at_us);
  a->set_author_user_id(last.metadata.actor_user);
  a->set_author_organisation_id(last.metadata.actor_organisation);
  a->set_author_role(last.metadata.actor_role);
  a->set_reason(last.metadata.reason);
}

const char* RestrictedKind(v1::Sensitivity s) {
  switch (s) {
    case v1::SENSITIVITY_JUSTICE:
      return "justice";
    case v1::SENSITIVITY_OWNER:
      return "owner";
    case v1::SENSITIVITY_FINANCES:
      return "finances";
    default:
      return nullptr;
  }
}

}  // namespace

rb::es::LogFilter ActivityEvents() {
  rb::es::LogFilter filter;
  filter.categories = {"site", "action", "user"};
  return filter;
}

bool SameActivityVersion(const rb::es::RecordedEvent& earlier, const rb::es::RecordedEvent& later) {
  return earlier.stream_id == later.stream_id && earlier.position + 1 == later.position &&
         rb::views::SameVersion(earlier, later);
}

absl::StatusOr<CallAccess> ActivityAccess(const grpc::ServerContextBase& ctx, Authenticator* auth,
                                          std::string rpc) {
  absl::StatusOr<CallAccess> access = AccessFor(ctx, auth, std::move(rpc), /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) {
    return absl::PermissionDeniedError("external observers read aggregates only");
  }
  return access;
}

void CheckActivityFilter(const v1::TerritoryRef& territory,
                         const google::protobuf::RepeatedField<int>& kinds,
                         std::vector<FieldViolation>& violations) {
  api::CheckTerritoryRef(territory, "territory", violations);
  for (int i = 0; i < kinds.size(); ++i) {
    if (!v1::ActivityKind_IsValid(kinds[i]) || kinds[i] == v1::ACTIVITY_KIND_UNSPECIFIED) {
      violations.push_back({absl::StrCat("kinds[", i, "]"), "must be a known activity kind"});
    }
  }
}

ActivityBuilder::ActivityBuilder(const CallAccess& access, Sources sources,
                                 const v1::TerritoryRef& territory,
                                 const google::protobuf::RepeatedField<int>& kinds)
    : access_(access),
      sources_(sources),
      territory_(territory),
      kinds_(kinds.begin(), kinds.end()),
      directory_(sources.store, /*keys=*/nullptr) {}

bool ActivityBuilder::Wanted(v1::ActivityKind kind) const {
  if (kind == v1::ACTIVITY_KIND_UNSPECIFIED) return false;
  return kinds_.empty() || kinds_.count(kind) > 0;
}

bool ActivityBuilder::InTerritory(const v1::Territory& t) const {
  if (territory_.level() == v1::TERRITORY_LEVEL_UNSPECIFIED ||
      territory_.level() == v1::TERRITORY_LEVEL_NATION) {
    return true;
  }
  v1::Site located;
  *located.mutable_location()->mutable_territory() = t;
  return rb::proj::views::SiteInTerritory(located, territory_);
}

absl::StatusOr<ActivityBuilder::Subject*> ActivityBuilder::SubjectOf(const std::string& stream) {
  auto it = subjects_.find(stream);
  if (it != subjects_.end()) return &it->second;
  Subject& seen = subjects_[stream];
  seen.is_action = stream.rfind("action-", 0) == 0;
  seen.id = stream.substr(seen.is_action ? std::string_view("action-").size()
                                         : std::string_view("site-").size());
  if (seen.is_action) {
    absl::StatusOr<v1::Action> action = sources_.handler->LoadAction(seen.id);
    if (!action.ok()) return action.status();
    if (action->status() == v1::ACTION_STATUS_UNSPECIFIED) return &seen;
    if (!access_.CheckReadAction(*action).ok()) return &seen;
    seen.territory = ActionTerritory(*action);
    if (territory_.level() == v1::TERRITORY_LEVEL_COMMUNE ||
        territory_.level() == v1::TERRITORY_LEVEL_EPCI) {
      return &seen;  // an action lies in a département
    }
    if (!InTerritory(seen.territory)) return &seen;
    seen.shown = true;
    seen.name = action->details().name();
    seen.visibility = access_.ActionVisibility(*action);
    rb::access::RedactAction(access_.principal(), &*action);
    seen.journal = std::move(*action->mutable_comments());
    return &seen;
  }
  absl::StatusOr<v1::Site> site = sources_.handler->LoadSite(seen.id);
  if (!site.ok()) return site.status();
  if (site->status() == v1::SITE_STATUS_UNSPECIFIED || site->status() == v1::SITE_STATUS_ERASED) {
    return &seen;
  }
  const v1::Territory& t = site->location().territory();
  if (!access_.CheckReadSite(t, seen.id).ok()) return &seen;
  if (!InTerritory(t)) return &seen;
  seen.shown = true;
  seen.name = site->name();
  seen.territory = t;
  seen.visibility = access_.SiteVisibility(t, seen.id);
  rb::access::RedactSite(access_.principal(), &*site);
  seen.journal = std::move(*site->mutable_comments());
  return &seen;
}

// An organisation's main territory is shown to readers of the sites there (and in the territory
// asked for).
absl::StatusOr<const ActivityBuilder::Place*> ActivityBuilder::PlaceOf(const std::string& id) {
  auto it = organisations_.find(id);
  if (it != organisations_.end()) return &it->second;
  Place& p = organisations_[id];
  absl::StatusOr<v1::Organisation> organisation = directory_.LoadOrganisation(id);
  if (!organisation.ok()) return organisation.status();
  if (!organisation->exists()) return &p;
  p.territory = TerritoryOfScope(organisation->main_territory());
  if (!access_.CheckReadSite(p.territory, "").ok()) return &p;
  if (!InTerritory(p.territory)) return &p;
  p.shown = true;
  p.name = organisation->name();
  return &p;
}

// A user's first activation, when the reader reads sites where the user's organisation mainly
// works (and the territory asked for holds it). The person is never named.
absl::StatusOr<std::optional<v1::Activity>> ActivityBuilder::BuildUserJoined(
    const std::vector<rb::es::RecordedEvent>& version) {
  const rb::es::RecordedEvent* activated = nullptr;
  for (const rb::es::RecordedEvent& e : version) {
    if (e.type == "user.activated" && activated == nullptr) activated = &e;  // the lowest
  }
  absl::StatusOr<std::optional<Joined>> joined = JoinedWith(*sources_.store, *activated);
  if (!joined.ok()) return joined.status();
  if (!joined->has_value() || (*joined)->erased) return std::nullopt;
  const v1::User& user = (*joined)->user;
  absl::StatusOr<const Place*> place = PlaceOf(user.organisation_id());
  if (!place.ok()) return place.status();
  if (!(*place)->shown) return std::nullopt;
  v1::Activity a;
  a.set_kind(v1::ACTIVITY_KIND_USER_JOINED);
  a.set_user(absl::StrCat("users/", activated->stream_id.substr(std::string_view("user-").size())));
  a.set_user_organisation_id(user.organisation_id());
  a.set_user_organisation_name((*place)->name);
  a.set_user_role(std::string(rb::domain::RoleId(rb::access::RoleFromProto(user.role()))));
  *a.mutable_territory() = (*place)->territory;
  SetRecording(version.back(), &a);
  return a;
}

absl::StatusOr<std::optional<v1::Activity>> ActivityBuilder::Build(
    const std::vector<rb::es::RecordedEvent>& version) {
  const v1::ActivityKind kind = KindOf(version);
  if (!Wanted(kind)) return std::nullopt;
  if (kind == v1::ACTIVITY_KIND_USER_JOINED) return BuildUserJoined(version);
  const rb::es::RecordedEvent& first = version.front();
  const rb::es::RecordedEvent& last = version.back();  // highest position
  absl::StatusOr<Subject*> found = SubjectOf(last.stream_id);
  if (!found.ok()) return found.status();
  Subject& subject = **found;
  if (!subject.shown) return std::nullopt;
  v1::Activity a;
  a.set_kind(kind);
  if (IsUpdateOrClosure(kind)) {
    if (!subject.changelog.has_value()) {
      absl::StatusOr<v1::ChangeLog> log =
          subject.is_action ? sources_.changelog->ForAction(subject.id, subject.visibility)
                            : sources_.changelog->ForSite(subject.id, subject.visibility);
      if (!log.ok()) return log.status();
      subject.changelog = *std::move(log);
    }
    for (const v1::ChangeLogEntry& entry : subject.changelog->entries()) {
      if (entry.first_revision() <= first.revision && last.revision <= entry.last_revision()) {
        *a.mutable_changes() = entry.changes();
      }
    }
    if ((kind == v1::ACTIVITY_KIND_SITE_UPDATED || kind == v1::ACTIVITY_KIND_ACTION_UPDATED) &&
        a.changes().empty()) {
      return std::nullopt;  // nothing the reader may see changed
    }
    for (const v1::FieldChange& c : a.changes()) {
      if (const char* r = RestrictedKind(c.sensitivity()))
        restricted_read_[last.stream_id].insert(r);
    }
  }
  if (kind == v1::ACTIVITY_KIND_SITE_COMMENT || kind == v1::ACTIVITY_KIND_ACTION_COMMENT) {
    absl::StatusOr<std::string> comment_id = PostedCommentId(first, subject.is_action);
    if (!comment_id.ok()) return comment_id.status();
    const v1::Comment* readable = nullptr;
    for (const v1::Comment& c : subject.journal) {
      if (c.id() == *comment_id && !c.moderated()) readable = &c;
    }
    if (readable == nullptr) return std::nullopt;  // moderated, or addressed to others
    *a.mutable_comment() = *readable;
  }
  if (subject.is_action) {
    a.set_action(absl::StrCat("actions/", subject.id));
    a.set_action_name(subject.name);
  } else {
    a.set_site(absl::StrCat("sites/", subject.id));
    a.set_site_name(subject.name);
  }
  *a.mutable_territory() = subject.territory;
  SetRecording(last, &a);
  return a;
}

absl::Status ActivityBuilder::EndBatch() {
  absl::Status status;
  for (const auto& [stream, kinds] : restricted_read_) {
    const std::vector<std::string> fields(kinds.begin(), kinds.end());
    status = access_.Audit(rb::access::kAuditRestrictedRead, stream, fields);
    if (!status.ok()) break;
  }
  restricted_read_.clear();
  subjects_.clear();
  organisations_.clear();
  return status;
}

}  // namespace rb::services
