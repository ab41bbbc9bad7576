// Copyright: the Résorption-bidonvilles data service authors.
//
// The platform's site-list filters as one pure predicate, shared by the current list (site_list.h)
// and the list "at a past date" (which folds the sites as of that date and calls the same
// function).
//
//   resorption::v1::SiteFilter f;
//   f.add_departement_codes("93");
//   f.add_origins(resorption::v1::ORIGIN_FILTER_EUROPEAN_ONLY);
//   f.set_out_of_date(true);
//   if (rb::views::MatchesSiteFilter(site, f, absl::CivilDay(2024, 6, 15), actions)) Show(site);
//
// Semantics (resorption/v1/site_query.proto): every condition given must hold; the values of one
// repeated condition are alternatives. `as_of` is "today" for out-of-date. A site that was never
// declared or was erased matches nothing. Thread-safe (no state).
#ifndef RB_PROJECTIONS_VIEWS_SITE_FILTER_H_
#define RB_PROJECTIONS_VIEWS_SITE_FILTER_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "projections/views/signals.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::views {

bool MatchesSiteFilter(const resorption::v1::Site& site, const resorption::v1::SiteFilter& filter,
                       absl::CivilDay as_of, const ActionFacts& actions = {});

// True when `normalized_prefix` (already NormalizeName'd, non-empty) starts a word of the site's
// name, address label or commune name.
bool MatchesTextPrefix(const resorption::v1::Site& site, std::string_view normalized_prefix);

// INVALID_ARGUMENT naming the first bad field: unknown enum values, a text prefix longer than
// 100 characters, years outside 1900..2200.
absl::Status ValidateSiteFilter(const resorption::v1::SiteFilter& filter);

// The filters on procedures (justice_procedure, police_status, administrative_order,
// insalubrity_order) read restricted data: PERMISSION_DENIED naming those set when the reader has
// no justice access; OK otherwise.
absl::Status CheckJusticeFilters(const resorption::v1::SiteFilter& filter, bool justice_access);

}  // namespace rb::views

#endif  // RB_PROJECTIONS_VIEWS_SITE_FILTER_H_
