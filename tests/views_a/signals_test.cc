// Signals against hand-computed cases (docs/signals.md).
#include "projections/views/signals.h"

#include "gtest/gtest.h"
#include "tests/views_a/fixture.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using ::rb::views::testing::D;
using ::rb::views::testing::Day;

pb::Site OpenSite() {
  pb::Site s;
  s.set_id("1");
  s.set_status(pb::SITE_STATUS_OPEN);
  s.set_updated_at_us(Day(2024, 5, 1));
  return s;
}

pb::LivingConditionsV2 GoodV2() {
  pb::LivingConditionsV2 lc;
  auto* w = lc.mutable_water();
  w->set_access_type(pb::WATER_ACCESS_TYPE_NETWORK_TAP);
  w->set_is_public(pb::NO);
  w->set_is_local(pb::YES);
  w->set_is_continuous(pb::YES);
  w->set_is_close(pb::YES);
  w->set_is_unequal(pb::NO);
  w->set_has_stagnant_water(pb::NO);
  lc.mutable_sanitary()->set_working_toilets(pb::YES);
  lc.mutable_sanitary()->set_open_air_defecation(pb::NO);
  lc.mutable_electricity()->set_access(pb::YES);
  lc.mutable_trash()->set_is_piling(pb::NO);
  lc.mutable_trash()->set_evacuation_is_close(pb::YES);
  lc.mutable_pests()->set_animals(pb::NO);
  lc.mutable_fire()->set_prevention_diagnostic(pb::YES);
  return lc;
}

TEST(SignalsTest, NeverAssessedSiteHasNoDomainStatus) {
  pb::DomainStatuses s = LivingConditionStatuses(OpenSite());
  EXPECT_EQ(s.water(), pb::DOMAIN_STATUS_UNSPECIFIED);
  EXPECT_EQ(s.fire(), pb::DOMAIN_STATUS_UNSPECIFIED);
  EXPECT_FALSE(HasAccessToWater(OpenSite()));
}

TEST(SignalsTest, FullyGoodV2AssessmentIsGoodEverywhereWithAccessToWater) {
  pb::Site site = OpenSite();
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  pb::DomainStatuses s = LivingConditionStatuses(site);
  for (pb::DomainStatus st :
       {s.water(), s.sanitary(), s.electricity(), s.trash(), s.pests(), s.fire()}) {
    EXPECT_EQ(st, pb::DOMAIN_STATUS_GOOD);
  }
  EXPECT_TRUE(HasAccessToWater(site));
}

TEST(SignalsTest, DomainStatusIsBadBeforeUnknownBeforeToImprove) {
  pb::Site site = OpenSite();
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  auto* w = site.mutable_living_conditions_v2()->mutable_water();
  w->set_has_stagnant_water(pb::YES);  // to improve
  EXPECT_EQ(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_WATER), pb::DOMAIN_STATUS_TO_IMPROVE);
  EXPECT_FALSE(HasAccessToWater(site));
  w->set_is_close(pb::UNKNOWN);  // unknown wins over to improve
  EXPECT_EQ(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_WATER), pb::DOMAIN_STATUS_UNKNOWN);
  w->set_access_type(pb::WATER_ACCESS_TYPE_PUBLIC_FOUNTAIN);  // bad wins over everything
  EXPECT_EQ(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_WATER), pb::DOMAIN_STATUS_BAD);
}

TEST(SignalsTest, PublicWaterPointIsBadAndNoElectricityIsBadAndOpenAirDefecationToImprove) {
  pb::Site site = OpenSite();
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  site.mutable_living_conditions_v2()->mutable_water()->set_is_public(pb::YES);
  site.mutable_living_conditions_v2()->mutable_electricity()->set_access(pb::NO);
  site.mutable_living_conditions_v2()->mutable_sanitary()->set_open_air_defecation(pb::YES);
  pb::DomainStatuses s = LivingConditionStatuses(site);
  EXPECT_EQ(s.water(), pb::DOMAIN_STATUS_BAD);
  EXPECT_EQ(s.electricity(), pb::DOMAIN_STATUS_BAD);
  EXPECT_EQ(s.sanitary(), pb::DOMAIN_STATUS_TO_IMPROVE);
}

TEST(SignalsTest, AccessToWaterAcceptsUnknownContinuityAndCloseness) {
  pb::Site site = OpenSite();
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  site.mutable_living_conditions_v2()->mutable_water()->set_is_continuous(pb::UNKNOWN);
  site.mutable_living_conditions_v2()->mutable_water()->set_is_close(pb::UNKNOWN);
  EXPECT_TRUE(HasAccessToWater(site));
  site.mutable_living_conditions_v2()->mutable_water()->set_is_local(pb::UNKNOWN);
  EXPECT_FALSE(HasAccessToWater(site));
}

TEST(SignalsTest, V1MapsAnswersToStatuses) {
  pb::Site site = OpenSite();
  site.set_living_conditions_version(1);
  auto* v1 = site.mutable_living_conditions_v1();
  v1->set_access_to_water(pb::YES);
  v1->set_electricity_type(pb::ELECTRICITY_TYPE_V1_NO);
  v1->set_trash_evacuation(pb::YES);
  v1->set_trash_accumulation(pb::YES);
  v1->set_fire_prevention_measures(pb::UNKNOWN);
  pb::DomainStatuses s = LivingConditionStatuses(site);
  EXPECT_EQ(s.water(), pb::DOMAIN_STATUS_GOOD);
  EXPECT_EQ(s.electricity(), pb::DOMAIN_STATUS_BAD);
  EXPECT_EQ(s.trash(), pb::DOMAIN_STATUS_TO_IMPROVE);
  EXPECT_EQ(s.fire(), pb::DOMAIN_STATUS_UNKNOWN);
  EXPECT_EQ(s.sanitary(), pb::DOMAIN_STATUS_UNKNOWN);  // assessed, nothing answered
  EXPECT_TRUE(HasAccessToWater(site));
}

TEST(SignalsTest, OutOfDateAfterSixMonthsWithoutUpdateRelativeToTheReferenceDate) {
  pb::Site site = OpenSite();
  site.set_updated_at_us(Day(2024, 1, 15));
  EXPECT_FALSE(IsOutOfDate(site, absl::CivilDay(2024, 7, 15)));  // exactly 6 months
  EXPECT_TRUE(IsOutOfDate(site, absl::CivilDay(2024, 7, 16)));
  site.set_updated_at_us(Day(2024, 2, 29));
  EXPECT_FALSE(IsOutOfDate(site, absl::CivilDay(2024, 8, 31)));  // limit clamped to 29 Feb
  EXPECT_TRUE(IsOutOfDate(site, absl::CivilDay(2024, 9, 1)));
  site.set_status(pb::SITE_STATUS_CLOSED);
  EXPECT_FALSE(IsOutOfDate(site, absl::CivilDay(2030, 1, 1)));
}

// "Older than six months": the reference minus six months (same day of month, clamped to the
// month's last day) is after the last update. FirstOutOfDateDay is the first reference day for
// which that holds, for every update day of 2023-2025 (leap year and every month end).
TEST(SignalsTest, FirstOutOfDateDayIsTheFirstDayTheSiteIsOlderThanSixMonths) {
  auto older_than_six_months = [](absl::CivilDay last, absl::CivilDay reference) {
    const absl::CivilMonth m = absl::CivilMonth(reference) - 6;
    absl::CivilDay limit(m.year(), m.month(), reference.day());
    if (absl::CivilMonth(limit) != m) limit = absl::CivilDay(m + 1) - 1;
    return last < limit;
  };
  for (absl::CivilDay last(2023, 1, 1); last <= absl::CivilDay(2025, 12, 31); ++last) {
    SCOPED_TRACE(absl::FormatCivilTime(last));
    const absl::CivilDay first = FirstOutOfDateDay(last);
    EXPECT_TRUE(older_than_six_months(last, first));
    EXPECT_FALSE(older_than_six_months(last, first - 1));
  }
  EXPECT_EQ(FirstOutOfDateDay(absl::CivilDay(2024, 1, 15)), absl::CivilDay(2024, 7, 16));
  EXPECT_EQ(FirstOutOfDateDay(absl::CivilDay(2023, 8, 31)), absl::CivilDay(2024, 3, 1));
  EXPECT_EQ(FirstOutOfDateDay(absl::CivilDay(2023, 8, 30)), absl::CivilDay(2024, 3, 1));
  EXPECT_EQ(FirstOutOfDateDay(absl::CivilDay(2024, 3, 30)), absl::CivilDay(2024, 10, 1));
  EXPECT_EQ(FirstOutOfDateDay(absl::CivilDay(2024, 2, 29)), absl::CivilDay(2024, 9, 1));
}

TEST(SignalsTest, CompletionCountsTwelveCriteria) {
  pb::Site site = OpenSite();
  EXPECT_EQ(CompletionFilled(site), 0);
  site.mutable_location()->mutable_address()->set_label("1 rue A");
  site.mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(48.9);
  site.set_field_type(pb::FIELD_TYPE_UNKNOWN);  // unknown does not count
  site.mutable_ownership()->set_owner_type(pb::OWNER_TYPE_PUBLIC);
  site.mutable_census()->set_status(pb::CENSUS_STATUS_NONE);
  site.mutable_population()->set_total(30);
  site.mutable_population()->set_minors(0);  // zero is a value
  site.add_origins(pb::SOCIAL_ORIGIN_EUROPEAN);
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  // address, owner, census, total, minors, origins + water, electricity, trash, sanitary = 10
  EXPECT_EQ(CompletionFilled(site), 10);
  pb::Signals s = ComputeSignals(site, {}, absl::CivilDay(2024, 6, 1));
  EXPECT_EQ(s.completion_filled(), 10);
  EXPECT_EQ(s.completion_percent(), 83);
}

TEST(SignalsTest, OriginClass) {
  pb::Site site = OpenSite();
  EXPECT_EQ(OriginClassOf(site), pb::ORIGIN_CLASS_UNKNOWN);
  site.add_origins(pb::SOCIAL_ORIGIN_EUROPEAN);
  EXPECT_EQ(OriginClassOf(site), pb::ORIGIN_CLASS_EUROPEAN);
  site.add_origins(pb::SOCIAL_ORIGIN_EUROPEAN);
  EXPECT_EQ(OriginClassOf(site), pb::ORIGIN_CLASS_EUROPEAN);
  site.add_origins(pb::SOCIAL_ORIGIN_FRENCH);
  EXPECT_EQ(OriginClassOf(site), pb::ORIGIN_CLASS_MIXED);
}

TEST(SignalsTest, PriorityScoreExplainsItselfFactorByFactor) {
  pb::Site site = OpenSite();
  site.set_updated_at_us(Day(2023, 6, 1));  // out of date on 2024-06-15
  site.set_living_conditions_version(2);
  *site.mutable_living_conditions_v2() = GoodV2();
  site.mutable_living_conditions_v2()->mutable_water()->set_access_type(
      pb::WATER_ACCESS_TYPE_BOTTLE_PURCHASE);  // water bad 30
  site.mutable_living_conditions_v2()->mutable_fire()->set_prevention_diagnostic(pb::NO);  // 20
  site.mutable_population()->set_total(90);   // 90 / 20 = 4
  site.mutable_population()->set_minors(40);  // 40 / 5 = 8
  site.set_heatwave(true);                    // 25
  site.mutable_justice()->set_justice_procedure(pb::YES);
  site.mutable_police()->set_status(pb::POLICE_STATUS_GRANTED);  // 20
  // no action: 10; out of date: 15
  pb::Signals s = ComputeSignals(site, {}, absl::CivilDay(2024, 6, 15));
  EXPECT_EQ(s.priority_score(), 30 + 20 + 4 + 8 + 25 + 20 + 10 + 15);
  ASSERT_EQ(s.priority_factors_size(), 8);
  EXPECT_EQ(s.priority_factors(0).code(), "water_bad");
  EXPECT_EQ(s.priority_factors(0).label(), "Accès à l'eau : mauvais");
  EXPECT_EQ(s.priority_factors(1).code(), "heatwave");
  EXPECT_EQ(s.priority_factors(2).code(), "fire_bad");  // 20, before police_granted by code
  EXPECT_EQ(s.priority_factors(3).code(), "police_granted");
  EXPECT_EQ(s.priority_factors(3).sensitivity(), pb::SENSITIVITY_JUSTICE);
  EXPECT_EQ(s.priority_factors(4).code(), "out_of_date");
  EXPECT_EQ(s.priority_factors(5).code(), "no_action");
  EXPECT_EQ(s.priority_factors(6).code(), "minors");
  EXPECT_EQ(s.priority_factors(6).label(), "40 mineurs sur le site");
  EXPECT_EQ(s.priority_factors(7).code(), "population");

  // An action on the site removes its factor; closing the site removes the score.
  EXPECT_EQ(
      ComputeSignals(site, {.has_action = true}, absl::CivilDay(2024, 6, 15)).priority_score(),
      s.priority_score() - 10);
  site.set_status(pb::SITE_STATUS_CLOSED);
  pb::Signals closed = ComputeSignals(site, {}, absl::CivilDay(2024, 6, 15));
  EXPECT_EQ(closed.priority_score(), 0);
  EXPECT_EQ(closed.priority_factors_size(), 0);
}

TEST(SignalsTest, UnassessedSiteScoresItsMissingAssessmentAndCapsPopulationTerms) {
  pb::Site site = OpenSite();
  site.mutable_population()->set_total(1000);  // capped at 15
  site.mutable_population()->set_minors(400);  // capped at 25
  pb::Signals s = ComputeSignals(site, {.has_action = true}, absl::CivilDay(2024, 6, 1));
  EXPECT_EQ(s.priority_score(), 10 + 15 + 25);
}

}  // namespace
}  // namespace rb::views
