// Copyright: the Résorption-bidonvilles data service authors.
//
// Sites.ListActivity (declared in sites_service.h; contract in resorption/v1/sites_service.proto
// and docs/api.md): the activity feed, read backward from the log itself.
//
// The log is read backward in chunks of site and action events; consecutive events of one stream
// recorded together with the same command id form one version (one command), the unit of the
// feed, as of the change logs. Each site or action met is loaded once per call (its current state
// from the command handler's aggregates): erased, unknown and unreadable ones are skipped, the
// territory filter applies to where a site is now (an action: its département), the visibility
// (justice, owners, finances) is the reader's on that site or action, updates carry the change
// log's visible field changes and journal messages appear only when the reader may read them
// (rb::access::RedactSite / RedactAction). Users who join (their first activation) appear with
// their organisation and role, to readers of the sites where the organisation mainly works.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "access/audit.h"
#include "access/directory.h"
#include "access/directory_store.h"
#include "access/policy.h"
#include "domain/events.h"
#include "domain/geo.h"
#include "projections/views/changelog.h"
#include "projections/views/history.h"
#include "services/access_context.h"
#include "services/sites_service.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
// Events one call examines at most; past it the page ends early and its token goes on.
constexpr uint64_t kMaxExamined = 50'000;
constexpr size_t kChunk = 512;

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The events of one command on one site, newest first as read.
struct Version {
  std::vector<rb::es::RecordedEvent> events;
  bool Accepts(const rb::es::RecordedEvent& e) const {
    const rb::es::RecordedEvent& last = events.back();
    // Read backward: `e` comes just before the version's lowest event. The change logs' own rule
    // (rb::views::SameVersion), for events of one append (adjacent positions of one stream).
    return e.stream_id == last.stream_id && e.position + 1 == last.position &&
           rb::views::SameVersion(e, last);
  }
};

// The kind of a version from its event types ("site.*", "action.*" or "user.*"). A user's
// activation is a candidate USER_JOINED (the first activation only: see UserJoined).
v1::ActivityKind KindOf(const Version& v) {
  if (v.events.front().type.rfind("user.", 0) == 0) {
    for (const rb::es::RecordedEvent& e : v.events) {
      if (e.type == "user.activated") return v1::ACTIVITY_KIND_USER_JOINED;
    }
    return v1::ACTIVITY_KIND_UNSPECIFIED;
  }
  bool created = false, closed = false, comment = false, other = false;
  const bool action = v.events.front().type.rfind("action.", 0) == 0;
  for (const rb::es::RecordedEvent& e : v.events) {
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

// What one call knows of a site or an action it met.
struct Subject {
  bool shown = false;  // readable, not erased, in the requested territory
  bool is_action = false;
  std::string id;
  std::string name;
  v1::Territory territory;
  google::protobuf::RepeatedPtrField<v1::Comment> journal;  // as the reader may read it
  rb::views::Visibility visibility;
  std::optional<v1::ChangeLog> changelog;  // loaded on the first update met
  std::set<std::string> restricted_read;   // "justice", "owner", "finances" changes returned
};

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

absl::Status SitesService::DoListActivity(grpc::CallbackServerContext* ctx,
                                          const v1::ListActivityQuery& req,
                                          v1::ListActivityResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/ListActivity", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) {
    return absl::PermissionDeniedError("external observers read aggregates only");
  }
  std::vector<FieldViolation> violations;
  const v1::TerritoryRef& territory = req.territory();
  api::CheckTerritoryRef(territory, "territory", violations);
  for (int i = 0; i < req.kinds_size(); ++i) {
    if (!v1::ActivityKind_IsValid(req.kinds(i)) || req.kinds(i) == v1::ACTIVITY_KIND_UNSPECIFIED) {
      violations.push_back({absl::StrCat("kinds[", i, "]"), "must be a known activity kind"});
    }
  }
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    violations.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxPageSize)});
  }
  int64_t since_us = 0;
  if (req.has_since()) {
    // google.protobuf.Timestamp's range, from 1970 on.
    if (req.since().seconds() < 0 || req.since().seconds() > 253'402'300'799 ||
        req.since().nanos() < 0 || req.since().nanos() > 999'999'999) {
      violations.push_back({"since", "must be a valid instant after 1970-01-01"});
    } else {
      since_us = req.since().seconds() * 1'000'000 + req.since().nanos() / 1000;
    }
  }
  // The first page starts at the published head: an event being appended is not in the
  // aggregates and change logs yet.
  const uint64_t head = store_->GetHead().position;
  uint64_t from = head;
  if (!req.page_token().empty()) {
    if (!absl::SimpleAtoi(req.page_token(), &from) || from == 0) {
      violations.push_back({"page_token", "is not a token returned by ListActivity"});
    }
    from = std::min(from, head);
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  const int page_size = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
  const bool whole_country = territory.level() == v1::TERRITORY_LEVEL_UNSPECIFIED ||
                             territory.level() == v1::TERRITORY_LEVEL_NATION;
  auto wanted = [&](v1::ActivityKind k) {
    if (k == v1::ACTIVITY_KIND_UNSPECIFIED) return false;
    if (req.kinds().empty()) return true;
    return std::find(req.kinds().begin(), req.kinds().end(), k) != req.kinds().end();
  };

  std::map<std::string, Subject> subjects;  // by stream id
  auto subject_of = [&](const std::string& stream) -> absl::StatusOr<Subject*> {
    auto it = subjects.find(stream);
    if (it != subjects.end()) return &it->second;
    Subject& seen = subjects[stream];
    seen.is_action = stream.rfind("action-", 0) == 0;
    seen.id = stream.substr(seen.is_action ? std::string_view("action-").size()
                                           : std::string_view("site-").size());
    if (seen.is_action) {
      absl::StatusOr<v1::Action> action = handler_->LoadAction(seen.id);
      if (!action.ok()) return action.status();
      if (action->status() == v1::ACTION_STATUS_UNSPECIFIED) return &seen;
      if (!access->CheckReadAction(*action).ok()) return &seen;
      seen.territory = ActionTerritory(*action);
      if (territory.level() == v1::TERRITORY_LEVEL_COMMUNE ||
          territory.level() == v1::TERRITORY_LEVEL_EPCI) {
        return &seen;  // an action lies in a département
      }
      v1::Site located;
      *located.mutable_location()->mutable_territory() = seen.territory;
      if (!whole_country && !rb::proj::views::SiteInTerritory(located, territory)) return &seen;
      seen.shown = true;
      seen.name = action->details().name();
      seen.visibility = access->ActionVisibility(*action);
      rb::access::RedactAction(access->principal(), &*action);
      seen.journal = std::move(*action->mutable_comments());
      return &seen;
    }
    absl::StatusOr<v1::Site> site = handler_->LoadSite(seen.id);
    if (!site.ok()) return site.status();
    if (site->status() == v1::SITE_STATUS_UNSPECIFIED || site->status() == v1::SITE_STATUS_ERASED) {
      return &seen;
    }
    const v1::Territory& t = site->location().territory();
    if (!access->CheckReadSite(t, seen.id).ok()) return &seen;
    if (!whole_country && !rb::proj::views::SiteInTerritory(*site, territory)) return &seen;
    seen.shown = true;
    seen.name = site->name();
    seen.territory = t;
    seen.visibility = access->SiteVisibility(t, seen.id);
    rb::access::RedactSite(access->principal(), &*site);
    seen.journal = std::move(*site->mutable_comments());
    return &seen;
  };

  // A user's first activation, when the reader reads sites where the user's organisation mainly
  // works (and the territory asked for holds it). The person is never named.
  rb::access::DirectoryStore directory(store_, /*keys=*/nullptr);
  struct Place {
    bool shown = false;
    std::string name;
    v1::Territory territory;
  };
  std::map<std::string, Place> organisations;  // by id, for this call
  auto place_of = [&](const std::string& id) -> absl::StatusOr<const Place*> {
    auto it = organisations.find(id);
    if (it != organisations.end()) return &it->second;
    Place& p = organisations[id];
    absl::StatusOr<v1::Organisation> organisation = directory.LoadOrganisation(id);
    if (!organisation.ok()) return organisation.status();
    if (!organisation->exists()) return &p;
    p.territory = TerritoryOfScope(organisation->main_territory());
    if (!access->CheckReadSite(p.territory, "").ok()) return &p;
    v1::Site located;
    *located.mutable_location()->mutable_territory() = p.territory;
    if (!whole_country && !rb::proj::views::SiteInTerritory(located, territory)) return &p;
    p.shown = true;
    p.name = organisation->name();
    return &p;
  };
  auto add_user = [&](const Version& v) -> absl::StatusOr<bool> {
    const rb::es::RecordedEvent* activated = nullptr;
    for (const rb::es::RecordedEvent& e : v.events) {
      if (e.type == "user.activated") activated = &e;  // the lowest of the version
    }
    absl::StatusOr<std::optional<Joined>> joined = JoinedWith(*store_, *activated);
    if (!joined.ok()) return joined.status();
    if (!joined->has_value() || (*joined)->erased) return false;
    const v1::User& user = (*joined)->user;
    absl::StatusOr<const Place*> place = place_of(user.organisation_id());
    if (!place.ok()) return place.status();
    if (!(*place)->shown) return false;
    v1::Activity a;
    a.set_kind(v1::ACTIVITY_KIND_USER_JOINED);
    a.set_user(
        absl::StrCat("users/", activated->stream_id.substr(std::string_view("user-").size())));
    a.set_user_organisation_id(user.organisation_id());
    a.set_user_organisation_name((*place)->name);
    a.set_user_role(std::string(rb::domain::RoleId(rb::access::RoleFromProto(user.role()))));
    *a.mutable_territory() = (*place)->territory;
    SetRecording(v.events.front(), &a);
    *resp->add_activities() = std::move(a);
    return true;
  };

  // Turns one version into an activity when the reader sees it. False when it is not shown.
  auto add = [&](const Version& v) -> absl::StatusOr<bool> {
    const v1::ActivityKind kind = KindOf(v);
    if (!wanted(kind)) return false;
    if (kind == v1::ACTIVITY_KIND_USER_JOINED) return add_user(v);
    const rb::es::RecordedEvent& last = v.events.front();  // highest position
    const rb::es::RecordedEvent& first = v.events.back();
    absl::StatusOr<Subject*> found = subject_of(last.stream_id);
    if (!found.ok()) return found.status();
    Subject& subject = **found;
    if (!subject.shown) return false;
    v1::Activity a;
    a.set_kind(kind);
    if (IsUpdateOrClosure(kind)) {
      if (!subject.changelog.has_value()) {
        absl::StatusOr<v1::ChangeLog> log =
            subject.is_action ? changelog_.ForAction(subject.id, subject.visibility)
                              : changelog_.ForSite(subject.id, subject.visibility);
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
        return false;  // nothing the reader may see changed
      }
      for (const v1::FieldChange& c : a.changes()) {
        if (const char* r = RestrictedKind(c.sensitivity())) subject.restricted_read.insert(r);
      }
    }
    if (kind == v1::ACTIVITY_KIND_SITE_COMMENT || kind == v1::ACTIVITY_KIND_ACTION_COMMENT) {
      absl::StatusOr<std::string> comment_id = PostedCommentId(first, subject.is_action);
      if (!comment_id.ok()) return comment_id.status();
      const v1::Comment* readable = nullptr;
      for (const v1::Comment& c : subject.journal) {
        if (c.id() == *comment_id && !c.moderated()) readable = &c;
      }
      if (readable == nullptr) return false;  // moderated, or addressed to others
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
    *resp->add_activities() = std::move(a);
    return true;
  };

  // The log is read unfiltered, so that one call examines at most kMaxExamined events whatever
  // else the log holds.
  rb::es::LogFilter relevant;
  relevant.categories = {"site", "action", "user"};
  uint64_t examined = 0;
  std::optional<Version> pending;  // the version being gathered (it may go on in the next chunk)
  uint64_t resume = 0;             // where the next page starts (0: the beginning was reached)
  bool done = false;
  while (!done && from > 0) {
    absl::StatusOr<rb::es::ReadAllResult> chunk =
        store_->ReadAllBackward(from, kChunk, rb::es::LogFilter());
    if (!chunk.ok()) return chunk.status();
    if (chunk->events.empty()) break;
    for (rb::es::RecordedEvent& e : chunk->events) {
      const bool matches = relevant.Matches(e);
      if (pending && matches && pending->Accepts(e)) {
        ++examined;
        pending->events.push_back(std::move(e));
        continue;
      }
      if (pending) {
        // The version is complete: its first event is the lowest position read so far.
        const uint64_t below = pending->events.back().position - 1;
        absl::StatusOr<bool> shown = add(*pending);
        if (!shown.ok()) return shown.status();
        pending.reset();
        if (resp->activities_size() == page_size || examined >= kMaxExamined) {
          resume = below;
          done = true;
          break;
        }
      }
      if (e.recorded_at_us < since_us) {
        done = true;  // older than asked for (recording times never decrease along the log)
        break;
      }
      ++examined;
      if (!matches) {
        if (examined >= kMaxExamined) {
          resume = e.position - 1;
          done = true;
          break;
        }
        continue;
      }
      pending.emplace();
      pending->events.push_back(std::move(e));
    }
    if (done) break;
    from = chunk->events.back().position - 1;
  }
  if (!done && pending) {
    // The beginning of the log ends the last version.
    absl::StatusOr<bool> shown = add(*pending);
    if (!shown.ok()) return shown.status();
  }
  if (resume != 0) resp->set_next_page_token(absl::StrCat(resume));

  for (const auto& [stream, seen] : subjects) {
    if (seen.restricted_read.empty()) continue;
    const std::vector<std::string> fields(seen.restricted_read.begin(), seen.restricted_read.end());
    if (absl::Status s = access->Audit(rb::access::kAuditRestrictedRead, stream, fields); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* SitesService::ListActivity(grpc::CallbackServerContext* ctx,
                                                     const v1::ListActivityQuery* req,
                                                     v1::ListActivityResponse* resp) {
  return Reply(ctx, DoListActivity(ctx, *req, resp));
}

}  // namespace rb::services
