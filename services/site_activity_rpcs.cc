// Copyright: the Résorption-bidonvilles data service authors.
//
// Sites.ListActivity (declared in sites_service.h; contract in resorption/v1/sites_service.proto
// and docs/api.md): the activity feed, read backward from the log itself.
//
// The log is read backward in chunks of site events; consecutive events of one stream recorded
// together with the same command id form one version (one command), the unit of the feed, as of
// the change log. Each site met is loaded once per call (its current state from the command
// handler's aggregate): erased and unreadable sites are skipped, the territory filter applies to
// where the site is now, its visibility (justice, owners) is the reader's on that site, updates
// carry the change log's visible field changes and journal messages appear only when the
// reader may read them (rb::access::RedactSite).
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "access/audit.h"
#include "access/policy.h"
#include "domain/events.h"
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
    return e.stream_id == last.stream_id && e.recorded_at_us == last.recorded_at_us &&
           e.metadata.command_id == last.metadata.command_id &&
           e.metadata.actor_user == last.metadata.actor_user && e.position + 1 == last.position;
  }
};

v1::ActivityKind KindOf(const Version& v) {
  bool declared = false, closed = false, comment = false, other = false;
  for (const rb::es::RecordedEvent& e : v.events) {
    if (e.type == "site.declared") {
      declared = true;
    } else if (e.type == "site.closed") {
      closed = true;
    } else if (e.type == "site.comment_posted") {
      comment = true;
    } else if (e.type != "site.comment_moderated") {
      other = true;
    }
  }
  if (declared) return v1::ACTIVITY_KIND_SITE_DECLARED;
  if (closed) return v1::ACTIVITY_KIND_SITE_CLOSED;
  if (other) return v1::ACTIVITY_KIND_SITE_UPDATED;
  if (comment) return v1::ACTIVITY_KIND_SITE_COMMENT;
  return v1::ACTIVITY_KIND_UNSPECIFIED;  // moderation only: not an activity
}

// What one call knows of a site it met.
struct SiteSeen {
  bool shown = false;  // readable, not erased, in the requested territory
  v1::Site redacted;   // current state as the reader may read it (its journal included)
  rb::views::Visibility visibility;
  std::optional<v1::ChangeLog> changelog;  // loaded on the first update met
  bool restricted_read = false;            // justice or owner changes were returned
};

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
    if (req.since().seconds() < 0 || req.since().nanos() < 0) {
      violations.push_back({"since", "must be after 1970-01-01"});
    } else {
      since_us = req.since().seconds() * 1'000'000 + req.since().nanos() / 1000;
    }
  }
  uint64_t from = UINT64_MAX;  // the head
  if (!req.page_token().empty()) {
    if (!absl::SimpleAtoi(req.page_token(), &from) || from == 0) {
      violations.push_back({"page_token", "is not a token returned by ListActivity"});
    }
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

  std::map<std::string, SiteSeen> sites;  // by stream id
  auto site_of = [&](const std::string& stream) -> absl::StatusOr<SiteSeen*> {
    auto it = sites.find(stream);
    if (it != sites.end()) return &it->second;
    SiteSeen& seen = sites[stream];
    const std::string id = stream.substr(std::string_view("site-").size());
    absl::StatusOr<v1::Site> site = handler_->LoadSite(id);
    if (!site.ok()) return site.status();
    if (site->status() == v1::SITE_STATUS_UNSPECIFIED || site->status() == v1::SITE_STATUS_ERASED) {
      return &seen;
    }
    const v1::Territory& t = site->location().territory();
    if (!access->CheckReadSite(t, id).ok()) return &seen;
    if (!whole_country && !rb::proj::views::SiteInTerritory(*site, territory)) return &seen;
    seen.shown = true;
    seen.visibility = access->SiteVisibility(t, id);
    seen.redacted = *std::move(site);
    rb::access::RedactSite(access->principal(), &seen.redacted);
    return &seen;
  };

  // Turns one version into an activity when the reader sees it. False when it is not shown.
  auto add = [&](const Version& v) -> absl::StatusOr<bool> {
    const v1::ActivityKind kind = KindOf(v);
    if (!wanted(kind)) return false;
    const rb::es::RecordedEvent& last = v.events.front();  // highest position
    const rb::es::RecordedEvent& first = v.events.back();
    absl::StatusOr<SiteSeen*> seen = site_of(last.stream_id);
    if (!seen.ok()) return seen.status();
    if (!(*seen)->shown) return false;
    const v1::Site& site = (*seen)->redacted;
    v1::Activity a;
    a.set_kind(kind);
    if (kind == v1::ACTIVITY_KIND_SITE_UPDATED || kind == v1::ACTIVITY_KIND_SITE_CLOSED) {
      if (!(*seen)->changelog.has_value()) {
        absl::StatusOr<v1::ChangeLog> log = changelog_.ForSite(site.id(), (*seen)->visibility);
        if (!log.ok()) return log.status();
        (*seen)->changelog = *std::move(log);
      }
      for (const v1::ChangeLogEntry& entry : (*seen)->changelog->entries()) {
        if (entry.first_revision() <= first.revision && last.revision <= entry.last_revision()) {
          *a.mutable_changes() = entry.changes();
        }
      }
      if (kind == v1::ACTIVITY_KIND_SITE_UPDATED && a.changes().empty()) {
        return false;  // nothing the reader may see changed
      }
      for (const v1::FieldChange& c : a.changes()) {
        (*seen)->restricted_read |=
            c.sensitivity() == v1::SENSITIVITY_JUSTICE || c.sensitivity() == v1::SENSITIVITY_OWNER;
      }
    }
    if (kind == v1::ACTIVITY_KIND_SITE_COMMENT) {
      absl::StatusOr<v1::SiteEvent> posted = rb::domain::DecodeSiteEvent(first);
      if (!posted.ok()) return posted.status();
      const std::string& comment_id = posted->comment_posted().comment().id();
      const v1::Comment* readable = nullptr;
      for (const v1::Comment& c : site.comments()) {
        if (c.id() == comment_id && !c.moderated()) readable = &c;
      }
      if (readable == nullptr) return false;  // moderated, or addressed to others
      *a.mutable_comment() = *readable;
    }
    a.set_site(absl::StrCat("sites/", site.id()));
    a.set_site_name(site.name());
    *a.mutable_territory() = site.location().territory();
    a.set_position(last.position);
    a.set_recorded_at_us(last.recorded_at_us);
    a.set_valid_at_us(last.valid_at_us);
    a.set_author_user_id(last.metadata.actor_user);
    a.set_author_organisation_id(last.metadata.actor_organisation);
    a.set_author_role(last.metadata.actor_role);
    a.set_reason(last.metadata.reason);
    *resp->add_activities() = std::move(a);
    return true;
  };

  rb::es::LogFilter filter;
  filter.categories = {"site"};
  uint64_t examined = 0;
  std::optional<Version> pending;  // the version being gathered (it may go on in the next chunk)
  uint64_t resume = 0;             // where the next page starts (0: the beginning was reached)
  bool done = false;
  while (!done) {
    if (from == 0) break;
    absl::StatusOr<rb::es::ReadAllResult> chunk = store_->ReadAllBackward(from, kChunk, filter);
    if (!chunk.ok()) return chunk.status();
    if (chunk->events.empty()) break;
    for (rb::es::RecordedEvent& e : chunk->events) {
      if (pending && pending->Accepts(e)) {
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
        done = true;  // older than asked for: the feed ends here
        break;
      }
      ++examined;
      pending.emplace();
      pending->events.push_back(std::move(e));
    }
    if (done) break;
    const uint64_t lowest = chunk->events.back().position;
    from = lowest - 1;
  }
  if (!done && pending) {
    // The beginning of the log ends the last version.
    absl::StatusOr<bool> shown = add(*pending);
    if (!shown.ok()) return shown.status();
  }
  if (resume != 0) resp->set_next_page_token(absl::StrCat(resume));

  for (const auto& [stream, seen] : sites) {
    if (!seen.restricted_read) continue;
    if (absl::Status s = access->Audit(rb::access::kAuditRestrictedRead, stream, {"activity"});
        !s.ok()) {
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
