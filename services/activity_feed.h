// Copyright: the Résorption-bidonvilles data service authors.
//
// The activity feed's rules, shared by Sites.ListActivity (read backward, page by page) and
// Sites.WatchActivity (read forward, live): which log events make one activity, how a request's
// territory and kinds are checked, who may read the feed, and how one version becomes the
// Activity a reader sees (contract in resorption/v1/sites_service.proto and docs/api.md).
//
//   absl::StatusOr<CallAccess> access = ActivityAccess(ctx, auth, rpc);  // the caller's rights
//   ActivityBuilder builder(*access, {handler, store, &changelog}, territory, kinds);
//   std::vector<rb::es::RecordedEvent> version = ...;   // one command's events, oldest first
//   absl::StatusOr<std::optional<v1::Activity>> a = builder.Build(version);
//   ...
//   builder.EndBatch();  // audits the restricted data returned, forgets the states loaded
//
// A version is the events of one command on one stream: consecutive positions of one site,
// action or user stream recorded together (SameActivityVersion, the change logs' own rule).
#ifndef RB_SERVICES_ACTIVITY_FEED_H_
#define RB_SERVICES_ACTIVITY_FEED_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "access/directory_store.h"
#include "domain/command_handler.h"
#include "eventstore/event_store.h"
#include "grpcpp/server_context.h"
#include "projections/views/changelog.h"
#include "resorption/v1/sites_service.pb.h"
#include "services/access_context.h"
#include "services/status_mapping.h"

namespace rb::services {

// The log events activities come from: the site, action and user streams.
rb::es::LogFilter ActivityEvents();

// True when `later` directly follows `earlier` in the same version: the next position of the
// same stream, recorded with the same command (rb::views::SameVersion).
bool SameActivityVersion(const rb::es::RecordedEvent& earlier, const rb::es::RecordedEvent& later);

// The access of a call to the feed: AccessFor with an actor required (UNAUTHENTICATED without
// one), PERMISSION_DENIED for external observers (they read aggregates only). `rpc` is the full
// method name recorded in audit records.
absl::StatusOr<CallAccess> ActivityAccess(const grpc::ServerContextBase& ctx, Authenticator* auth,
                                          std::string rpc);

// Adds the violations of a feed request's `territory` (api::CheckTerritoryRef) and `kinds`
// ("kinds[i]": "must be a known activity kind").
void CheckActivityFilter(const resorption::v1::TerritoryRef& territory,
                         const google::protobuf::RepeatedField<int>& kinds,
                         std::vector<FieldViolation>& violations);

// Turns versions into activities as one reader sees them. The state of each site, action and
// organisation met is loaded once (the current state, from the command handler's aggregates and
// the directory) and kept until EndBatch.
// Thread safety: one builder belongs to one call; not thread-safe.
class ActivityBuilder {
 public:
  // What the builder reads. Not owned; everything must outlive the builder.
  struct Sources {
    rb::domain::CommandHandler* handler = nullptr;
    rb::es::EventStore* store = nullptr;
    const rb::views::ChangeLogQuery* changelog = nullptr;
  };

  // `access` must outlive the builder. `territory` and `kinds` were checked
  // (CheckActivityFilter); empty `kinds`: every kind.
  ActivityBuilder(const CallAccess& access, Sources sources,
                  const resorption::v1::TerritoryRef& territory,
                  const google::protobuf::RepeatedField<int>& kinds);

  // The activity of one version (`version`: its events, oldest first, at least one), or nullopt
  // when the reader does not see it: a kind not asked for, a site or action erased, unknown,
  // outside the reading scope or the territory, an update with no change the reader may see, a
  // journal message the reader may not read, a user's later activation. Errors: storage errors,
  // DATA_LOSS for undecodable events.
  absl::StatusOr<std::optional<resorption::v1::Activity>> Build(
      const std::vector<rb::es::RecordedEvent>& version);

  // Appends the audit records of the justice, owner and finances changes returned since the last
  // call (one record per site or action naming them; nothing for unaudited callers), then forgets
  // every state loaded, so that the versions built next are shown as their sites are then.
  absl::Status EndBatch();

 private:
  // What the builder knows of a site or an action it met.
  struct Subject {
    bool shown = false;  // readable, not erased, in the requested territory
    bool is_action = false;
    std::string id;
    std::string name;
    resorption::v1::Territory territory;
    google::protobuf::RepeatedPtrField<resorption::v1::Comment> journal;  // as the reader reads it
    rb::views::Visibility visibility;
    std::optional<resorption::v1::ChangeLog> changelog;  // loaded on the first update met
  };
  // An organisation's main territory, and its name when the reader sees it.
  struct Place {
    bool shown = false;
    std::string name;
    resorption::v1::Territory territory;
  };

  bool Wanted(resorption::v1::ActivityKind kind) const;
  bool InTerritory(const resorption::v1::Territory& t) const;
  absl::StatusOr<Subject*> SubjectOf(const std::string& stream);
  absl::StatusOr<const Place*> PlaceOf(const std::string& organisation_id);
  absl::StatusOr<std::optional<resorption::v1::Activity>> BuildUserJoined(
      const std::vector<rb::es::RecordedEvent>& version);

  const CallAccess& access_;
  const Sources sources_;
  const resorption::v1::TerritoryRef territory_;
  const std::set<int> kinds_;
  rb::access::DirectoryStore directory_;
  std::map<std::string, Subject> subjects_;                       // by stream id
  std::map<std::string, Place> organisations_;                    // by id
  std::map<std::string, std::set<std::string>> restricted_read_;  // stream -> "justice"...
};

}  // namespace rb::services

#endif  // RB_SERVICES_ACTIVITY_FEED_H_
