// Copyright: the Résorption-bidonvilles data service authors.
//
// CommandHandler: runs site and action commands against the event log. It loads the aggregate by
// folding its stream ("site-<id>", "action-<id>"; folded states are kept in a bounded LRU cache
// and only the new events are read), decides, and appends the events with the loaded revision as
// expected revision, so that a concurrent writer can never be overwritten.
//
//   auto store = rb::es::EventStore::Open({}, dir);
//   rb::domain::CommandHandler handler(store->get());
//   resorption::v1::SiteCommand cmd;  // from a client
//   absl::StatusOr<rb::domain::CommandResult> r = handler.HandleSite(cmd, ctx);
//   if (r.ok() && r->outcome == rb::domain::CommandResult::Outcome::kNoChange) { ... }
//
// Contracts:
//   * A command with an expected_revision that is not the stream's current revision fails with
//     ABORTED; rb::es::CurrentRevisionFrom(status) gives the current revision (-1: no stream).
//   * A command_id makes retries idempotent: a retry of an appended command returns the first
//     result with outcome kReplayed and appends nothing (also after a restart, and whatever the
//     stream's revision now). "A retry" is the same command from the same actor: same
//     fingerprint (domain/command_fingerprint.h), stored with the id in the batch of the events.
//     The id reused for a different command is refused with ALREADY_EXISTS
//     (rb::es::CommandIdReusedError: "command_id: already used for a different command (first
//     used at position P)…") and nothing is appended; so is an id first used on another stream.
//     An id appended before commands were fingerprinted replays its first result, as it did.
//     A command whose owner names were erased since the id's first use cannot be compared:
//     FAILED_PRECONDITION. A command decided as kNoChange does not use up its id.
//   * Without expected_revision, a race with another writer is retried (re-load, re-decide) up to
//     Options::max_conflict_retries times, then ABORTED.
//   * Every error of DecideSite / DecideAction is returned unchanged, and the log is unchanged.
//   * Each event's metadata carries the actor (user, organisation, role), command id and reason.
// Thread safety: all methods may be called concurrently. The store must outlive the handler.
#ifndef RB_DOMAIN_COMMAND_HANDLER_H_
#define RB_DOMAIN_COMMAND_HANDLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "domain/action.h"
#include "domain/context.h"
#include "domain/owner_identity.h"
#include "domain/site.h"
#include "eventstore/event_store.h"

namespace rb::domain {

struct CommandHandlerOptions {
  // Number of folded aggregates kept in memory (sites and actions each).
  size_t cache_capacity = 4096;
  // Re-load and re-decide this many times when another writer appended in between.
  int max_conflict_retries = 3;
  // Seals the names of non-public owners before appending and opens them when folding
  // (domain/owner_identity.h): the folded states, and LoadSite, hold the names in clear (or
  // "Anonymisé le <jour>" once erased). Null: names are appended as given. Not owned.
  OwnerIdentityCipher* owner_cipher = nullptr;
};

struct CommandResult {
  enum class Outcome {
    kAppended,  // events were appended
    kNoChange,  // the command was valid but changed nothing; nothing appended
    kReplayed,  // a retry of the command that first used its command id; its first result
  };
  Outcome outcome = Outcome::kNoChange;
  uint64_t first_position = 0;  // 0 when nothing was appended
  uint64_t last_position = 0;
  int64_t revision = -1;  // stream revision after the command (-1: the stream does not exist)
  std::vector<std::string> event_types;  // types appended (empty for kReplayed / kNoChange)
};

// Stream ids.
std::string SiteStreamId(const std::string& site_id);
std::string ActionStreamId(const std::string& action_id);

class CommandHandler {
 public:
  explicit CommandHandler(rb::es::EventStore* store, CommandHandlerOptions options = {});
  ~CommandHandler();
  CommandHandler(const CommandHandler&) = delete;
  CommandHandler& operator=(const CommandHandler&) = delete;

  [[nodiscard]] absl::StatusOr<CommandResult> HandleSite(const resorption::v1::SiteCommand& command,
                                                         const Context& context);
  [[nodiscard]] absl::StatusOr<CommandResult> HandleAction(
      const resorption::v1::ActionCommand& command, const Context& context);

  // Asynchronous forms, same contracts: the aggregate is loaded and the command decided on the
  // caller's thread; the append is handed to the store without blocking (EventStore::AppendAsync)
  // and `done` runs once with the result: on the caller's thread when the command fails or
  // changes nothing before any append, otherwise on the store's committing thread once the events
  // are durable. `done` must be short and must not block.
  //
  // `check`, when set, runs first on the aggregate's state as loaded for this decision (an empty
  // message with status UNSPECIFIED when absent) and the command, and again on the fresh state
  // when a concurrent
  // write makes the handler decide again: the caller's authorization that depends on the state
  // (a site's territory, an action's operators), checked on exactly the state the command is
  // decided on, with no second load. An error from it is passed to `done` as is and nothing is
  // appended.
  using Done = absl::AnyInvocable<void(absl::StatusOr<CommandResult>) &&>;
  using SiteCheck = std::function<absl::Status(const resorption::v1::Site& state,
                                               const resorption::v1::SiteCommand& command)>;
  using ActionCheck = std::function<absl::Status(const resorption::v1::Action& state,
                                                 const resorption::v1::ActionCommand& command)>;
  void HandleSiteAsync(resorption::v1::SiteCommand command, Context context, Done done,
                       SiteCheck check = nullptr);
  void HandleActionAsync(resorption::v1::ActionCommand command, Context context, Done done,
                         ActionCheck check = nullptr);

  // The current folded state (an empty message with status UNSPECIFIED when absent). Errors:
  // those of reading the store; DATA_LOSS / FAILED_PRECONDITION for undecodable events.
  [[nodiscard]] absl::StatusOr<resorption::v1::Site> LoadSite(const std::string& site_id);
  [[nodiscard]] absl::StatusOr<resorption::v1::Action> LoadAction(const std::string& action_id);

 private:
  class SiteRepo;
  class ActionRepo;
  std::unique_ptr<SiteRepo> sites_;
  std::unique_ptr<ActionRepo> actions_;
};

}  // namespace rb::domain

#endif  // RB_DOMAIN_COMMAND_HANDLER_H_
