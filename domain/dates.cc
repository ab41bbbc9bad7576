// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/dates.h"

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace rb::domain {

bool IsEmptyDate(const resorption::v1::Date& d) {
  return d.year() == 0 && d.month() == 0 && d.day() == 0;
}

std::optional<absl::CivilDay> ToCivilDay(const resorption::v1::Date& d) {
  if (d.year() < 1900 || d.year() > 2200 || d.month() < 1 || d.month() > 12 || d.day() < 1 ||
      d.day() > 31) {
    return std::nullopt;
  }
  absl::CivilDay day(d.year(), d.month(), d.day());
  if (day.month() != d.month() || day.day() != d.day()) return std::nullopt;  // e.g. 31 April
  return day;
}

resorption::v1::Date ToDate(absl::CivilDay day) {
  resorption::v1::Date d;
  d.set_year(static_cast<int32_t>(day.year()));
  d.set_month(day.month());
  d.set_day(day.day());
  return d;
}

absl::CivilDay DayOfMicros(int64_t us) {
  // UTC has no offset: the day is a floor division (no time-zone lookup on this hot path of the
  // projections).
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  int64_t days = us / kMicrosPerDay;
  if (us % kMicrosPerDay < 0) --days;
  return absl::CivilDay(1970, 1, 1) + days;
}

std::string FormatDate(const resorption::v1::Date& d) {
  if (IsEmptyDate(d)) return "";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

}  // namespace rb::domain
