// Copyright: the Résorption-bidonvilles data service authors.
//
// Signals: pure, deterministic functions of a folded site that make urgent or abnormal situations
// visible (docs/signals.md gives every rule and the priority formula).
//
//   resorption::v1::Site site = ...;                     // folded state
//   rb::views::ActionFacts actions{.has_action = true};  // from the site_list view
//   resorption::v1::Signals s =
//       rb::views::ComputeSignals(site, actions, absl::CivilDay(2024, 6, 15));
//   // s.statuses().water() == DOMAIN_STATUS_BAD, s.out_of_date(), s.priority_score(),
//   // s.priority_factors(i).label() explains each contribution.
//
// No clock is read: "today" is always a parameter. Thread-safe (no state).
#ifndef RB_PROJECTIONS_VIEWS_SIGNALS_H_
#define RB_PROJECTIONS_VIEWS_SIGNALS_H_

#include "absl/time/civil_time.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::views {

// The restricted categories a reader may see (SENSITIVITY_NONE is always visible). The service
// fills it from the reader's role and options; queries remove what the reader may not see.
struct Visibility {
  bool justice = false;   // justice, police, administrative and insalubrity procedures
  bool owner = false;     // owner identity, parcel owners
  bool finances = false;  // action finances
  bool personal = false;  // persons: interveners, managers, operators
  static Visibility All() { return {true, true, true, true}; }
  bool Sees(resorption::v1::Sensitivity s) const;
};

// What the action views know about a site.
struct ActionFacts {
  bool has_action = false;               // an open action "sur site" lists it
  bool has_dedicated_financing = false;  // one of them has a `dedie` finance line
};

// Status of one domain: v2 by the platform's criteria, v1 by the mapping of docs/signals.md;
// DOMAIN_STATUS_UNSPECIFIED when the site was never assessed.
resorption::v1::DomainStatus DomainStatusOf(const resorption::v1::Site& site,
                                            resorption::v1::LivingConditionsDomain domain);
resorption::v1::DomainStatuses LivingConditionStatuses(const resorption::v1::Site& site);

// The metrics model's "access to water": network tap or "autre", not public, local, continuous
// (or unknown), close (or unknown), no inequality, no stagnant water. v1: access_to_water = YES.
bool HasAccessToWater(const resorption::v1::Site& site);

// An open site whose last update (updated_at, else created_at) is before `reference` minus
// `months` months (the same day of month, clamped to the month's last day), i.e. `reference` is
// on or after FirstOutOfDateDay of that update's day. Closed and erased sites are never out of
// date.
bool IsOutOfDate(const resorption::v1::Site& site, absl::CivilDay reference, int months = 6);

// The first reference day on which an open site last updated on `last_update_day` is out of
// date: the day after the update, `months` months later, or the 1st of the next month when that
// month has no such day (last updated on 30 August: 1 March). The list (IsOutOfDate) and the
// series (docs/projections.md, "series") both follow it.
absl::CivilDay FirstOutOfDateDay(absl::CivilDay last_update_day, int months = 6);

// Completion: number of the 12 criteria filled (docs/signals.md), and the percentage.
int CompletionFilled(const resorption::v1::Site& site);
inline constexpr int kCompletionCriteria = 12;

resorption::v1::OriginClass OriginClassOf(const resorption::v1::Site& site);

// Population bucket of the platform's filter (UNKNOWN when not counted).
resorption::v1::PopulationBucket PopulationBucketOf(const resorption::v1::Site& site);

// Every signal, including the priority score and its factors (0 and none for a site that is not
// open). Factors the reader may not see (e.g. police assistance without justice access) are left
// out of the factors and of the score.
resorption::v1::Signals ComputeSignals(const resorption::v1::Site& site, const ActionFacts& actions,
                                       absl::CivilDay reference,
                                       const Visibility& visibility = Visibility::All());

}  // namespace rb::views

#endif  // RB_PROJECTIONS_VIEWS_SIGNALS_H_
