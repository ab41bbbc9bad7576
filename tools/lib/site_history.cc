// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/site_history.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "domain/events.h"
#include "domain/site.h"
#include "eventstore/encoding.h"  // hash chain recomputation (docs/storage-format.md)
#include "tools/lib/json.h"

namespace rb::tools {
namespace {

constexpr size_t kPage = 1000;

// Visits every event of a stream in revision order.
template <typename Fn>
absl::Status ForEachInStream(const rb::es::EventStore& store, const std::string& stream_id, Fn fn) {
  uint64_t from = 0;
  while (true) {
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> page =
        store.ReadStream(stream_id, from, rb::es::Direction::kForward, kPage);
    if (!page.ok()) return page.status();
    for (const rb::es::RecordedEvent& e : *page) {
      absl::Status s = fn(e);
      if (!s.ok()) return s;
    }
    if (page->size() < kPage) return absl::OkStatus();
    from = page->back().revision + 1;
  }
}

// Checks `e` against the chain so far; updates *previous.
absl::Status CheckLink(const rb::es::RecordedEvent& e, uint64_t expected_revision,
                       std::string* previous) {
  if (e.revision != expected_revision) {
    return absl::DataLossError(absl::StrCat("stream ", e.stream_id, ": revision ",
                                            expected_revision, " is missing (found revision ",
                                            e.revision, " at position ", e.position, ")"));
  }
  std::string body;
  rb::es::internal::EncodeEventBody(e, &body);
  std::string content = rb::es::internal::ContentHash(e.position, body);
  std::string chained = rb::es::internal::ChainHash(*previous, content);
  if (chained != e.stream_hash) {
    return absl::DataLossError(absl::StrCat(
        "stream ", e.stream_id, ": the event at revision ", e.revision, " (position ", e.position,
        ") does not match its stream hash: it was altered after it was recorded"));
  }
  *previous = std::move(chained);
  return absl::OkStatus();
}

}  // namespace

std::string FormatMicros(int64_t us) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

absl::StatusOr<uint64_t> VerifyStreamChain(const rb::es::EventStore& store,
                                           const std::string& stream_id) {
  std::string previous(rb::es::internal::kHashBytes, '\0');
  uint64_t n = 0;
  absl::Status s = ForEachInStream(store, stream_id, [&](const rb::es::RecordedEvent& e) {
    absl::Status link = CheckLink(e, n, &previous);
    ++n;
    return link;
  });
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<SiteHistory> ReplaySite(const rb::es::EventStore& store,
                                       const std::string& site_id) {
  SiteHistory history;
  history.site_id = site_id;
  const std::string stream_id = rb::domain::SiteStreamId(site_id);
  std::string previous(rb::es::internal::kHashBytes, '\0');
  // The states are the history view's (rb::domain::FoldSiteInValidOrder): an event dated before
  // an earlier one (a retroactive correction) is diffed against the site on its own date, and
  // the site after it is the fold of every event so far in valid order.
  resorption::v1::Site state;
  std::vector<rb::domain::LoggedSiteEvent> seen;
  int64_t latest_valid_at_us = std::numeric_limits<int64_t>::min();
  absl::Status s = ForEachInStream(store, stream_id, [&](const rb::es::RecordedEvent& e) {
    absl::Status link = CheckLink(e, history.versions.size(), &previous);
    if (!link.ok()) return link;
    absl::StatusOr<resorption::v1::SiteEvent> event = rb::domain::DecodeSiteEvent(e);
    if (!event.ok()) {
      return absl::Status(event.status().code(),
                          absl::StrCat("revision ", e.revision, " (position ", e.position,
                                       "): ", event.status().message()));
    }
    const bool retroactive = !seen.empty() && e.valid_at_us < latest_valid_at_us;
    const resorption::v1::Site before =
        retroactive ? rb::domain::FoldSiteInValidOrder(seen, e.valid_at_us) : state;
    resorption::v1::Site next = rb::domain::EvolveSite(before, *event);
    seen.push_back({e.position, *event});
    latest_valid_at_us = std::max(latest_valid_at_us, e.valid_at_us);
    SiteVersion& v = history.versions.emplace_back();
    v.revision = e.revision;
    v.position = e.position;
    v.event_id = e.event_id;
    v.event_type = e.type;
    v.schema_version = e.schema_version;
    v.actor_user = e.metadata.actor_user;
    v.actor_organisation = e.metadata.actor_organisation;
    v.actor_role = e.metadata.actor_role;
    v.valid_at_us = e.valid_at_us;
    v.recorded_at_us = e.recorded_at_us;
    v.reason = e.metadata.reason;
    v.command_id = e.metadata.command_id;
    v.changes = DiffMessages(before, next);
    v.stream_hash_hex = rb::es::ToHex(e.stream_hash);
    state = retroactive ? rb::domain::FoldSiteInValidOrder(seen) : std::move(next);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (history.versions.empty()) {
    return absl::NotFoundError(absl::StrCat("site ", site_id, " has no event in this log"));
  }
  history.final_state = std::move(state);
  return history;
}

void PrintVersion(const SiteVersion& v, std::ostream& out) {
  out << "version " << v.revision + 1 << " (revision " << v.revision << ", position " << v.position
      << "): " << v.event_type << " v" << v.schema_version << "\n";
  out << "  par        " << v.actor_user << " (organisation " << v.actor_organisation << ", rôle "
      << v.actor_role << ")\n";
  out << "  date       " << FormatMicros(v.valid_at_us) << " (date déclarée)\n";
  out << "  enregistré " << FormatMicros(v.recorded_at_us) << "\n";
  if (!v.reason.empty()) out << "  motif      " << v.reason << "\n";
  if (!v.command_id.empty()) out << "  commande   " << v.command_id << "\n";
  if (v.changes.empty()) out << "  (aucun champ modifié)\n";
  for (const FieldChange& c : v.changes) {
    out << "  " << c.field << ": " << c.old_value << " -> " << c.new_value << "\n";
  }
}

std::string VersionJson(const std::string& site_id, const SiteVersion& v) {
  std::string changes = "[";
  for (const FieldChange& c : v.changes) {
    if (changes.size() > 1) changes += ',';
    changes +=
        JsonObject().Add("field", c.field).Add("old", c.old_value).Add("new", c.new_value).str();
  }
  changes += ']';
  return JsonObject()
      .Add("site_id", site_id)
      .Add("version", v.revision + 1)
      .Add("revision", v.revision)
      .Add("position", v.position)
      .Add("event_id", v.event_id)
      .Add("type", v.event_type)
      .Add("schema_version", uint64_t{v.schema_version})
      .Add("actor_user", v.actor_user)
      .Add("actor_organisation", v.actor_organisation)
      .Add("actor_role", v.actor_role)
      .Add("valid_at", FormatMicros(v.valid_at_us))
      .Add("valid_at_us", v.valid_at_us)
      .Add("recorded_at", FormatMicros(v.recorded_at_us))
      .Add("recorded_at_us", v.recorded_at_us)
      .Add("reason", v.reason)
      .Add("command_id", v.command_id)
      .AddRaw("changes", changes)
      .Add("stream_hash", v.stream_hash_hex)
      .str();
}

}  // namespace rb::tools
