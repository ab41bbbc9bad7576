// Copyright: the Résorption-bidonvilles data service authors.
//
// The site aggregate: pure decision (state, command, context) -> events and evolution
// (state, event) -> state. No I/O, no clock, deterministic.
//
//   resorption::v1::Site site;                      // folded state (empty: never declared)
//   resorption::v1::SiteCommand cmd;                // from the gRPC layer
//   cmd.set_site_id("42");
//   cmd.mutable_record_population()->mutable_population()->set_total(30);
//   rb::domain::Context ctx{.now_us = now, .actor = actor};
//   absl::StatusOr<rb::domain::SiteDecision> d = rb::domain::DecideSite(site, cmd, ctx);
//   if (!d.ok()) return d.status();                 // every violated rule in the payload
//   if (d->no_change()) return NoChange();
//   for (const auto& e : d->events) site = rb::domain::EvolveSite(std::move(site), e);
//
// Errors of DecideSite:
//   INVALID_ARGUMENT    field violations (all at once, see violations.h);
//   FAILED_PRECONDITION the site's lifecycle forbids the command (closed, erased, not declared,
//                       already declared); also carries a violation;
//   PERMISSION_DENIED   the actor's role or options do not allow it (closure correction, erasure,
//                       retroactive correction, procedures, moderation, v1 import).
// Thread-safe (no shared state).
#ifndef RB_DOMAIN_SITE_H_
#define RB_DOMAIN_SITE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/context.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_commands.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::domain {

struct SiteDecision {
  std::vector<resorption::v1::SiteEvent> events;
  // The command was valid but changes nothing: no event to append.
  bool no_change() const { return events.empty(); }
};

// What the caller knows of the site's stream beyond its current state (the command side reads the
// stream; a caller without it leaves the defaults).
struct SiteStreamFacts {
  // The latest valid date among all the site's events, including those that do not move
  // `updated_at_us` (journal, interveners, heatwave, owner anonymisation). 0: unknown, and
  // `state.updated_at_us()` stands for it.
  int64_t latest_valid_at_us = 0;
  // The valid date of the site's latest owner anonymisation (0: none). A correction of the
  // ownership dated before it is refused: the name it would bring back could never be erased.
  int64_t last_owner_anonymisation_at_us = 0;
  // For a retroactive correction: the site as it was on the corrected date (FoldSiteInValidOrder
  // up to the command's valid date). nullptr: `state` (a correction that only repeats the current
  // values is then a no change).
  const resorption::v1::Site* state_on_valid_date = nullptr;
};

// `state` is the site's current state (FoldSiteInValidOrder of its whole stream).
//  * An ordinary command may not be dated before the site's latest event
//    (`valid_at.not_before_last_update`): only a retroactive correction, explicit and with a
//    reason, changes the past. Journal commands (comments, moderation, erasure, owner
//    anonymisation) are dated when they are made (the context's `now_us`), whatever the command
//    says, so that they apply to everything recorded before them.
//  * A retroactive correction is decided against the site on the corrected date: its events carry
//    the differences from that state.
[[nodiscard]] absl::StatusOr<SiteDecision> DecideSite(const resorption::v1::Site& state,
                                                      const resorption::v1::SiteCommand& command,
                                                      const Context& context,
                                                      const SiteStreamFacts& facts = {});

// Applies one event. Events are facts: evolve never fails; an event that does not apply (it
// cannot come from DecideSite) is folded as far as it makes sense.
resorption::v1::Site EvolveSite(resorption::v1::Site state, const resorption::v1::SiteEvent& event);
// The same, on `state` in place (which may live on an arena: no copy between arenas).
void EvolveSiteInPlace(resorption::v1::Site& state, const resorption::v1::SiteEvent& event);

// Folds a whole stream from the empty state, in the order given.
resorption::v1::Site FoldSite(const std::vector<resorption::v1::SiteEvent>& events);

// A site event with its log position.
struct LoggedSiteEvent {
  uint64_t position = 0;
  resorption::v1::SiteEvent event;
};

// The site "as known now" on a valid date: the fold, in (valid_at_us, position) order, of its
// events valid on or before `valid_until_us` (all of them when nullopt); `events` may come in any
// order. This is the rule of every view (docs/projections.md): the current state is the fold of
// the whole stream, so a retroactive correction changes the site from its date on, until a later
// version overrides what it corrected, and never overwrites the later versions.
resorption::v1::Site FoldSiteInValidOrder(std::vector<LoggedSiteEvent> events,
                                          std::optional<int64_t> valid_until_us = std::nullopt);

// The top-level Site fields an UpdateSite may name (first component of each mask path).
const std::vector<std::string>& UpdatableSiteFields();

}  // namespace rb::domain

#endif  // RB_DOMAIN_SITE_H_
