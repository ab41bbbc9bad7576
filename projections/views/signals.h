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
// `months` months. Closed and erased sites are never out of date.
bool IsOutOfDate(const resorption::v1::Site& site, absl::CivilDay reference, int months = 6);

// Completion: number of the 12 criteria filled (docs/signals.md), and the percentage.
int CompletionFilled(const resorption::v1::Site& site);
inline constexpr int kCompletionCriteria = 12;

resorption::v1::OriginClass OriginClassOf(const resorption::v1::Site& site);

// Population bucket of the platform's filter (UNKNOWN when not counted).
resorption::v1::PopulationBucket PopulationBucketOf(const resorption::v1::Site& site);

// Every signal, including the priority score and its factors (0 and none for a site that is not
// open).
resorption::v1::Signals ComputeSignals(const resorption::v1::Site& site, const ActionFacts& actions,
                                       absl::CivilDay reference);

}  // namespace rb::views

#endif  // RB_PROJECTIONS_VIEWS_SIGNALS_H_
