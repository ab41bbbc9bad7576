// Copyright: the Résorption-bidonvilles data service authors.
//
// Helpers for resorption.v1.Date (a civil date without time zone).
//
//   resorption::v1::Date d = rb::domain::ToDate(absl::CivilDay(2024, 3, 1));
//   std::optional<absl::CivilDay> day = rb::domain::ToCivilDay(d);  // nullopt if invalid
#ifndef RB_DOMAIN_DATES_H_
#define RB_DOMAIN_DATES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/civil_time.h"
#include "resorption/v1/common.pb.h"

namespace rb::domain {

// True when no field of `d` is set (the "no date" value).
bool IsEmptyDate(const resorption::v1::Date& d);
// The civil day of a valid date (year 1900..2200, real calendar day); nullopt otherwise.
std::optional<absl::CivilDay> ToCivilDay(const resorption::v1::Date& d);
resorption::v1::Date ToDate(absl::CivilDay day);
// The UTC civil day of a time in microseconds since the epoch.
absl::CivilDay DayOfMicros(int64_t us);
// "2024-03-01" (empty for an empty date).
std::string FormatDate(const resorption::v1::Date& d);

}  // namespace rb::domain

#endif  // RB_DOMAIN_DATES_H_
