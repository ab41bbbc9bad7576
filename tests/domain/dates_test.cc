// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/dates.h"

#include <cstdint>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rb::domain {
namespace {

TEST(DayOfMicrosTest, IsTheUtcCalendarDayIncludingBefore1970) {
  constexpr int64_t kDay = 86'400'000'000;
  EXPECT_EQ(DayOfMicros(0), absl::CivilDay(1970, 1, 1));
  EXPECT_EQ(DayOfMicros(kDay - 1), absl::CivilDay(1970, 1, 1));
  EXPECT_EQ(DayOfMicros(kDay), absl::CivilDay(1970, 1, 2));
  EXPECT_EQ(DayOfMicros(-1), absl::CivilDay(1969, 12, 31));
  EXPECT_EQ(DayOfMicros(-kDay), absl::CivilDay(1969, 12, 31));
  EXPECT_EQ(DayOfMicros(-kDay - 1), absl::CivilDay(1969, 12, 30));
  // Agrees with the time-zone library on a spread of instants, leap days included.
  for (int64_t us = -5'000'000'000'000'000; us < 5'000'000'000'000'000; us += 7'919'000'000'123) {
    EXPECT_EQ(DayOfMicros(us), absl::ToCivilDay(absl::FromUnixMicros(us), absl::UTCTimeZone()))
        << us;
  }
  EXPECT_EQ(DayOfMicros(absl::ToUnixMicros(
                absl::FromCivil(absl::CivilSecond(2024, 2, 29, 23, 59, 59), absl::UTCTimeZone()))),
            absl::CivilDay(2024, 2, 29));
}

}  // namespace
}  // namespace rb::domain
