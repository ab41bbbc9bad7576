#include "domain/site.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "domain/violations.h"
#include "gtest/gtest.h"
#include "tests/domain/test_util.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using testing::Ctx;
using testing::D;
using testing::Declare;
using testing::Now;
using testing::On;

v1::Site Apply(v1::Site s, const absl::StatusOr<SiteDecision>& d) {
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return s;
  for (const auto& e : d->events) s = EvolveSite(std::move(s), e);
  return s;
}

v1::Site Declared() { return Apply(v1::Site(), DecideSite(v1::Site(), Declare("1"), Ctx())); }

// ---- Table of validation rules: each rule once passing, once failing. ----------------------

struct RuleCase {
  std::string name;
  std::function<v1::SiteCommand()> command;
  std::string rule;  // empty: must pass
  Role role = Role::kLocalAdmin;
};

v1::SiteCommand Population(std::function<void(v1::Population*)> f) {
  v1::SiteCommand c = On("1");
  auto* p = c.mutable_record_population()->mutable_population();
  p->set_total(20);
  p->set_households(5);
  p->set_minors(8);
  f(p);
  return c;
}

v1::SiteCommand Water(std::function<void(v1::LivingConditionsV2*)> f) {
  v1::SiteCommand c = On("1");
  v1::LivingConditionsV2 lc = testing::ValidLivingConditions();
  f(&lc);
  *c.mutable_assess_living_conditions()->mutable_living_conditions() = lc;
  return c;
}

v1::SiteCommand Census(v1::CensusStatus st, v1::Date d, std::string by) {
  v1::SiteCommand c = On("1");
  auto* x = c.mutable_record_census()->mutable_census();
  x->set_status(st);
  *x->mutable_conducted_at() = d;
  x->set_conducted_by(by);
  return c;
}

v1::SiteCommand Procedures(std::function<void(v1::UpdateProcedures*)> f) {
  v1::SiteCommand c = On("1");
  f(c.mutable_update_procedures());
  return c;
}

v1::SiteCommand Close(std::function<void(v1::Closure*)> f) {
  v1::SiteCommand c = On("1");
  v1::Closure cl = testing::ValidClosure();
  f(&cl);
  *c.mutable_close()->mutable_closure() = cl;
  return c;
}

v1::SiteCommand Update(std::function<void(v1::Site*)> f, std::vector<std::string> paths) {
  v1::SiteCommand c = On("1");
  f(c.mutable_update()->mutable_site());
  for (auto& p : paths) c.mutable_update()->mutable_update_mask()->add_paths(p);
  return c;
}

std::vector<RuleCase> RuleCases() {
  using namespace resorption::v1;  // NOLINT
  std::vector<RuleCase> t = {
      {"PopulationWithinBoundsPasses", [] { return Population([](auto*) {}); }, ""},
      {"HouseholdsAboveTotal", [] { return Population([](auto* p) { p->set_households(21); }); },
       "population.households_le_total"},
      {"MinorsAboveTotal", [] { return Population([](auto* p) { p->set_minors(21); }); },
       "population.minors_le_total"},
      {"AgeBracketsAboveMinors",
       [] {
         return Population([](auto* p) {
           p->set_minors_0_3(5);
           p->set_minors_6_12(4);
         });
       },
       "population.age_brackets_le_minors"},
      {"AgeBracketsWithinMinors",
       [] {
         return Population([](auto* p) {
           p->set_minors_0_3(4);
           p->set_minors_6_12(4);
         });
       },
       ""},
      {"SchooledAboveMinors",
       [] { return Population([](auto* p) { p->set_minors_in_school(9); }); },
       "population.schooled_le_minors"},
      {"GirlsAboveMinors", [] { return Population([](auto* p) { p->set_minors_girls(9); }); },
       "population.girls_le_minors"},
      {"WomenAboveTotal", [] { return Population([](auto* p) { p->set_total_females(21); }); },
       "population.females_le_total"},
      {"GirlsAboveWomen",
       [] {
         return Population([](auto* p) {
           p->set_total_females(3);
           p->set_minors_girls(4);
         });
       },
       "population.girls_le_females"},
      {"NegativeCount", [] { return Population([](auto* p) { p->set_minors_3_6(-1); }); },
       "population.non_negative"},
      {"TotalZero",
       [] {
         return Population([](auto* p) {
           p->set_total(0);
           p->clear_households();
           p->clear_minors();
         });
       },
       "population.total_min"},
      {"NegativeDwellings",
       [] {
         auto c = Population([](auto*) {});
         c.mutable_record_population()->mutable_dwellings()->set_caravans(-2);
         return c;
       },
       "dwellings.non_negative"},
      {"DuplicateOrigin",
       [] {
         auto c = Population([](auto*) {});
         c.mutable_record_population()->add_origins(SOCIAL_ORIGIN_EUROPEAN);
         c.mutable_record_population()->add_origins(SOCIAL_ORIGIN_EUROPEAN);
         return c;
       },
       "origins.duplicate"},
      {"UnknownEnumValue",
       [] {
         auto c = Population([](auto*) {});
         c.mutable_record_population()->add_origins(static_cast<SocialOrigin>(42));
         return c;
       },
       "enum.unknown_value"},
      // Census.
      {"CensusDoneInThePastPasses",
       [] { return Census(CENSUS_STATUS_DONE, D(2024, 5, 1), "SIAO"); }, ""},
      {"CensusScheduledInTheFuturePasses",
       [] { return Census(CENSUS_STATUS_SCHEDULED, D(2024, 9, 1), "SIAO"); }, ""},
      {"CensusDoneInTheFuture", [] { return Census(CENSUS_STATUS_DONE, D(2024, 9, 1), "SIAO"); },
       "census.done_not_future"},
      {"CensusScheduledInThePast",
       [] { return Census(CENSUS_STATUS_SCHEDULED, D(2024, 5, 1), "SIAO"); },
       "census.scheduled_not_past"},
      {"CensusWithoutDate", [] { return Census(CENSUS_STATUS_DONE, v1::Date(), "SIAO"); },
       "census.date_required"},
      {"CensusWithoutOperator", [] { return Census(CENSUS_STATUS_DONE, D(2024, 5, 1), ""); },
       "census.by_required"},
      {"CensusBeforeInstallation", [] { return Census(CENSUS_STATUS_DONE, D(2022, 5, 1), "SIAO"); },
       "census.after_built_at"},
      {"CensusDateWithoutStatus", [] { return Census(CENSUS_STATUS_NONE, D(2024, 5, 1), ""); },
       "census.details_without_status"},
      // Living conditions v2.
      {"ValidLivingConditionsPass", [] { return Water([](auto*) {}); }, ""},
      {"OtherWaterAccessNeedsDetails",
       [] {
         return Water(
             [](auto* lc) { lc->mutable_water()->set_access_type(WATER_ACCESS_TYPE_OTHER); });
       },
       "water.access_type_details_required"},
      {"PublicQuestionOnlyForTapOrOther",
       [] {
         return Water([](auto* lc) {
           lc->mutable_water()->set_access_type(WATER_ACCESS_TYPE_PUBLIC_FOUNTAIN);
           lc->mutable_water()->clear_is_local();
           lc->mutable_water()->clear_is_close();
         });
       },
       "water.is_public_not_applicable"},
      {"ContinuityOnlyIfNotPublic",
       [] {
         return Water([](auto* lc) {
           lc->mutable_water()->set_is_public(YES);
           lc->mutable_water()->clear_is_local();
           lc->mutable_water()->clear_is_close();
           lc->mutable_water()->set_is_continuous(YES);
         });
       },
       "water.is_continuous_not_applicable"},
      {"DiscontinuousWaterNeedsDetails",
       [] { return Water([](auto* lc) { lc->mutable_water()->set_is_continuous(NO); }); },
       "water.is_continuous_details_required"},
      {"DetailsMadeOfSpacesAreNoDetails",
       [] {
         return Water([](auto* lc) {
           lc->mutable_water()->set_is_continuous(NO);
           lc->mutable_water()->set_is_continuous_details("  ");
         });
       },
       "water.is_continuous_details_required"},
      {"CensusOperatorMadeOfSpacesIsNoOperator",
       [] { return Census(CENSUS_STATUS_DONE, D(2024, 5, 1), " "); }, "census.by_required"},
      {"CloseOnlyIfLocal",
       [] { return Water([](auto* lc) { lc->mutable_water()->set_is_local(NO); }); },
       "water.is_close_not_applicable"},
      {"UnequalWaterNeedsDetails",
       [] { return Water([](auto* lc) { lc->mutable_water()->set_is_unequal(YES); }); },
       "water.is_unequal_details_required"},
      {"WorkingToiletsRequired",
       [] { return Water([](auto* lc) { lc->mutable_sanitary()->clear_working_toilets(); }); },
       "sanitary.working_toilets_required"},
      {"ToiletTypesOnlyWithWorkingToilets",
       [] {
         return Water([](auto* lc) { lc->mutable_sanitary()->add_toilet_types(TOILET_TYPE_DRY); });
       },
       "sanitary.toilet_types_not_applicable"},
      {"ToiletDetailsNotForLatrinesOnly",
       [] {
         return Water([](auto* lc) {
           lc->mutable_sanitary()->set_working_toilets(YES);
           lc->mutable_sanitary()->add_toilet_types(TOILET_TYPE_LATRINES);
           lc->mutable_sanitary()->set_toilets_are_lighted(NO);
         });
       },
       "sanitary.toilets_details_not_applicable"},
      {"ToiletDetailsForFlushToiletsPass",
       [] {
         return Water([](auto* lc) {
           lc->mutable_sanitary()->set_working_toilets(YES);
           lc->mutable_sanitary()->add_toilet_types(TOILET_TYPE_FLUSH);
           lc->mutable_sanitary()->set_toilets_are_lighted(NO);
         });
       },
       ""},
      {"ElectricityAccessRequired",
       [] { return Water([](auto* lc) { lc->mutable_electricity()->clear_access(); }); },
       "electricity.access_required"},
      {"ElectricityTypesOnlyWithAccess",
       [] {
         return Water([](auto* lc) {
           lc->mutable_electricity()->add_access_types(ELECTRICITY_ACCESS_TYPE_GENERATOR);
         });
       },
       "electricity.access_types_not_applicable"},
      {"TrashPilingRequired",
       [] { return Water([](auto* lc) { lc->mutable_trash()->clear_is_piling(); }); },
       "trash.is_piling_required"},
      {"TrashDetailsOnlyIfCollectionClose",
       [] { return Water([](auto* lc) { lc->mutable_trash()->set_evacuation_is_safe(YES); }); },
       "trash.collection_details_not_applicable"},
      // Procedures.
      {"PoliceWithJusticeProcedurePasses",
       [] {
         return Procedures([](auto* p) {
           p->mutable_justice()->set_justice_procedure(YES);
           p->mutable_police()->set_status(POLICE_STATUS_REQUESTED);
           *p->mutable_police()->mutable_requested_at() = D(2024, 3, 1);
         });
       },
       ""},
      {"PoliceWithoutAnyProcedure",
       [] {
         return Procedures([](auto* p) { p->mutable_police()->set_status(POLICE_STATUS_NONE); });
       },
       "police.status_without_procedure"},
      {"PoliceRequestedWithoutDate",
       [] {
         return Procedures([](auto* p) {
           p->mutable_insalubrity_order()->set_insalubrity_order(YES);
           p->mutable_police()->set_status(POLICE_STATUS_REQUESTED);
         });
       },
       "police.requested_at_required"},
      {"PoliceGrantedBeforeRequested",
       [] {
         return Procedures([](auto* p) {
           p->mutable_justice()->set_justice_procedure(YES);
           p->mutable_police()->set_status(POLICE_STATUS_GRANTED);
           *p->mutable_police()->mutable_requested_at() = D(2024, 3, 1);
           *p->mutable_police()->mutable_granted_at() = D(2024, 2, 1);
         });
       },
       "police.granted_after_requested"},
      {"PoliceGrantedWithoutGrantDate",
       [] {
         return Procedures([](auto* p) {
           p->mutable_administrative_order()->set_evacuation_under_time_limit(YES);
           p->mutable_police()->set_status(POLICE_STATUS_GRANTED);
           *p->mutable_police()->mutable_requested_at() = D(2024, 3, 1);
         });
       },
       "police.granted_at_required"},
      {"JusticeDecisionWithoutOrigin",
       [] {
         return Procedures([](auto* p) {
           p->mutable_justice()->set_justice_procedure(YES);
           p->mutable_justice()->set_justice_rendered(YES);
         });
       },
       "justice.rendered_by_required"},
      {"JusticeDecisionInTheFuture",
       [] {
         return Procedures([](auto* p) {
           p->mutable_justice()->set_justice_procedure(YES);
           p->mutable_justice()->set_justice_rendered(YES);
           p->mutable_justice()->set_justice_rendered_by("TJ Bobigny");
           *p->mutable_justice()->mutable_justice_rendered_at() = D(2025, 1, 1);
         });
       },
       "justice.rendered_at.not_future"},
      {"ProceduresNeedJusticeAccess",
       [] { return Procedures([](auto* p) { p->mutable_justice()->set_owner_complaint(YES); }); },
       "permission.justice_access", Role::kAssociation},
      // Closure.
      {"ValidClosurePasses", [] { return Close([](auto*) {}); }, ""},
      {"ClosureCauseOtherNeedsContext",
       [] { return Close([](auto* c) { c->set_cause(CLOSING_CAUSE_OTHER); }); },
       "closure.context_required"},
      {"ClosureCauseOtherWithContextPasses",
       [] {
         return Close([](auto* c) {
           c->set_cause(CLOSING_CAUSE_OTHER);
           c->set_context("Incendie");
         });
       },
       ""},
      {"ClosureHouseholdsAbovePeople",
       [] { return Close([](auto* c) { c->mutable_solutions(0)->set_households(11); }); },
       "closure.households_le_people"},
      {"ClosureDuplicateSolution",
       [] { return Close([](auto* c) { *c->add_solutions() = c->solutions(0); }); },
       "closure.duplicate_solution"},
      {"ClosureInTheFuture",
       [] { return Close([](auto* c) { *c->mutable_closed_at() = D(2024, 7, 1); }); },
       "closure.closed_at.not_future"},
      {"ClosureBeforeDeclaration",
       [] { return Close([](auto* c) { *c->mutable_closed_at() = D(2023, 1, 20); }); },
       "closure.closed_at_after_declared_at"},
      {"ClosureWithoutResorbedAnswer",
       [] { return Close([](auto* c) { c->clear_closed_with_solutions(); }); },
       "closure.resorbed_required"},
      // Updates.
      {"NameOf35CharactersPasses",
       [] { return Update([](auto* s) { s->set_name(std::string(35, 'a')); }, {"name"}); }, ""},
      {"NameTooLong",
       [] { return Update([](auto* s) { s->set_name(std::string(36, 'a')); }, {"name"}); },
       "name.max_length"},
      {"NameWithAngleBrackets",
       [] { return Update([](auto* s) { s->set_name("<b>x</b>"); }, {"name"}); },
       "name.forbidden_characters"},
      {"UnknownCommuneCode",
       [] {
         return Update(
             [](auto* s) {
               *s->mutable_location() = Declare("1").declare().site().location();
               s->mutable_location()->mutable_address()->set_city_code("99999");
             },
             {"location"});
       },
       "location.city_code_unknown"},
      {"CoordinatesOutsideTheCommunesTerritory",
       [] {
         return Update(
             [](auto* s) {
               *s->mutable_location() = Declare("1").declare().site().location();
               s->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(-20.9);
               s->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(55.4);
             },
             {"location"});
       },
       "location.coordinates_implausible"},
      {"OverseasSiteInItsTerritoryPasses",
       [] {
         return Update(
             [](auto* s) {
               auto* a = s->mutable_location()->mutable_address();
               a->set_label("Chemin, Saint-Denis");
               a->set_city_code("97411");
               a->mutable_coordinates()->set_latitude(-20.9);
               a->mutable_coordinates()->set_longitude(55.45);
             },
             {"location"});
       },
       ""},
      {"DeclaredBeforeBuilt",
       [] { return Update([](auto* s) { *s->mutable_built_at() = D(2023, 3, 1); }, {"built_at"}); },
       "declared_at.after_built_at"},
      {"BuiltInTheFuture",
       [] {
         return Update(
             [](auto* s) {
               *s->mutable_built_at() = D(2024, 8, 1);
               *s->mutable_declared_at() = D(2024, 8, 2);
             },
             {"built_at", "declared_at"});
       },
       "built_at.not_future"},
      {"ImpossibleDate",
       [] {
         return Update(
             [](auto* s) {
               *s->mutable_built_at() = D(2023, 1, 1);
               s->mutable_built_at()->set_day(31);
               s->mutable_built_at()->set_month(2);
             },
             {"built_at"});
       },
       "date.invalid"},
      {"ReinstallationOriginsOnlyForReinstallations",
       [] {
         return Update([](auto* s) { s->mutable_reinstallation()->add_incoming_site_ids("7"); },
                       {"reinstallation"});
       },
       "reinstallation.origins_not_applicable"},
      {"ReinstallationWithOriginsPasses",
       [] {
         return Update(
             [](auto* s) {
               s->mutable_reinstallation()->set_is_reinstallation(YES);
               s->mutable_reinstallation()->add_incoming_site_ids("7");
             },
             {"reinstallation"});
       },
       ""},
      {"ResorptionTargetOutOfRange",
       [] {
         return Update([](auto* s) { s->set_resorption_target(1999); }, {"resorption_target"});
       },
       "resorption_target.year_range"},
      {"StatusIsNotUpdatable",
       [] { return Update([](auto* s) { s->set_status(SITE_STATUS_CLOSED); }, {"status"}); },
       "update_mask.field_not_updatable"},
      {"EmptyMaskIsRefused", [] { return Update([](auto*) {}, {}); }, "update_mask.required"},
      {"ValidDateBeforeLastUpdate",
       [] {
         auto c = Population([](auto*) {});
         c.set_valid_at_us(Now() - int64_t{86400} * 1000000 * 365 * 2);
         return c;
       },
       "valid_at.not_before_last_update"},
      {"IntervenerNeedsThemes",
       [] {
         auto c = On("1");
         c.mutable_declare_intervener();
         return c;
       },
       "intervener.themes_required"},
      {"IntervenerOtherThemeNeedsText",
       [] {
         auto c = On("1");
         c.mutable_declare_intervener()->mutable_intervener()->add_themes(ACTOR_THEME_OTHER);
         return c;
       },
       "intervener.other_theme_required"},
      {"EmptyCommentIsRefused",
       [] {
         auto c = On("1");
         c.mutable_post_comment();
         return c;
       },
       "comment.text_required"},
  };
  return t;
}

class SiteRulesTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(SiteRulesTest, RuleIsEnforced) {
  const RuleCase& c = GetParam();
  v1::Site site = Declared();
  // The site was declared "now"; declared facts are valid since then.
  absl::StatusOr<SiteDecision> d = DecideSite(site, c.command(), Ctx(c.role));
  if (c.rule.empty()) {
    ASSERT_TRUE(d.ok()) << d.status();
  } else {
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(HasViolation(d.status(), c.rule)) << d.status();
    for (const Violation& v : ViolationsFrom(d.status())) EXPECT_FALSE(v.message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(AllRules, SiteRulesTest, ::testing::ValuesIn(RuleCases()),
                         [](const auto& info) { return info.param.name; });

// ---- Declaration. -----------------------------------------------------------------------------

TEST(DeclareSiteTest, ValidDeclarationYieldsSiteDeclaredWithDerivedTerritory) {
  auto d = DecideSite(v1::Site(), Declare("1"), Ctx());
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 1u);
  const auto& e = d->events[0].declared();
  EXPECT_EQ(e.location().territory().departement_code(), "93");
  EXPECT_EQ(e.location().territory().region_code(), "11");
  EXPECT_EQ(e.location().territory().city_name(), "Saint-Denis");
  v1::Site s = EvolveSite(v1::Site(), d->events[0]);
  EXPECT_EQ(s.status(), v1::SITE_STATUS_OPEN);
  EXPECT_EQ(s.revision(), 0u);
  EXPECT_EQ(s.created_by(), "u-1");
}

TEST(DeclareSiteTest, FormPartsBecomeTheirOwnEvents) {
  auto cmd = Declare("1");
  cmd.mutable_declare()->mutable_site()->mutable_population()->set_total(12);
  *cmd.mutable_declare()->mutable_site()->mutable_living_conditions_v2() =
      testing::ValidLivingConditions();
  auto d = DecideSite(v1::Site(), cmd, Ctx());
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 3u);
  EXPECT_TRUE(d->events[1].has_population_recorded());
  EXPECT_TRUE(d->events[2].has_living_conditions_assessed());
}

TEST(DeclareSiteTest, AllViolationsAreReportedAtOnce) {
  auto cmd = Declare("1");
  auto* s = cmd.mutable_declare()->mutable_site();
  s->set_name(std::string(40, 'x'));
  s->clear_declared_at();
  s->clear_field_type();
  s->mutable_population()->set_total(3);
  s->mutable_population()->set_minors(5);
  auto d = DecideSite(v1::Site(), cmd, Ctx());
  ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* rule : {"name.max_length", "declared_at.required", "field_type.required",
                           "population.minors_le_total"}) {
    EXPECT_TRUE(HasViolation(d.status(), rule)) << rule;
  }
}

TEST(DeclareSiteTest, CreationWithLivingConditionsV1IsRefused) {
  auto cmd = Declare("1");
  cmd.mutable_declare()->mutable_site()->mutable_living_conditions_v1()->set_access_to_water(
      v1::YES);
  auto d = DecideSite(v1::Site(), cmd, Ctx());
  EXPECT_TRUE(HasViolation(d.status(), "living_conditions.v1_creation_refused"));
}

TEST(DeclareSiteTest, DeclaringTwiceIsRefused) {
  auto d = DecideSite(Declared(), Declare("1"), Ctx());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasViolation(d.status(), "lifecycle.already_declared"));
}

TEST(DeclareSiteTest, ExternalObserverMayNotDeclare) {
  auto d = DecideSite(v1::Site(), Declare("1"), Ctx(Role::kExternalObserver));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(SiteLifecycleTest, CommandsOnAnUndeclaredSiteAreNotFound) {
  auto d = DecideSite(v1::Site(), Population([](auto*) {}), Ctx());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

// ---- Updates. ---------------------------------------------------------------------------------

TEST(UpdateSiteTest, UpdateWithNothingChangedYieldsNoChange) {
  v1::Site s = Declared();
  auto d = DecideSite(s, Update([](auto* x) { x->set_name("Les Lilas"); }, {"name"}), Ctx());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->no_change());
}

TEST(UpdateSiteTest, UpdateTurnsIntoOneMeaningfulEventPerChangedPart) {
  v1::Site s = Declared();
  auto cmd = Update(
      [](v1::Site* x) {
        x->set_name("Les Lilas");  // unchanged
        x->set_field_type(v1::FIELD_TYPE_BUILDING);
        x->mutable_population()->set_total(30);
        x->set_heatwave(true);
      },
      {"name", "field_type", "population.total", "heatwave"});
  auto d = DecideSite(s, cmd, Ctx());
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 3u);
  EXPECT_TRUE(d->events[0].has_field_type_changed());
  EXPECT_TRUE(d->events[1].has_population_recorded());
  EXPECT_TRUE(d->events[2].has_heatwave_alert_raised());
  s = Apply(s, d);
  EXPECT_EQ(s.population().total(), 30);
  EXPECT_EQ(s.population_updated_at_us(), Now());
  EXPECT_EQ(s.revision(), 3u);
}

TEST(UpdateSiteTest, ConfirmUpToDateAlwaysRecordsAConfirmation) {
  v1::Site s = Declared();
  v1::SiteCommand c = On("1");
  c.mutable_confirm_up_to_date();
  auto later = Ctx(Role::kLocalAdmin, Now() + 1000000);
  s = Apply(s, DecideSite(s, c, later));
  EXPECT_TRUE(s.updated_without_any_change());
  EXPECT_EQ(s.updated_at_us(), Now() + 1000000);
}

TEST(UpdateSiteTest, FutureValidDateIsClampedToNow) {
  auto c = Population([](auto*) {});
  c.set_valid_at_us(Now() + 1000000000);
  auto d = DecideSite(Declared(), c, Ctx());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->events[0].valid_at_us(), Now());
}

// ---- Living conditions versions. --------------------------------------------------------------

v1::SiteCommand ImportV1() {
  auto c = On("1");
  c.mutable_import_living_conditions_v1()->mutable_living_conditions()->set_access_to_water(
      v1::YES);
  return c;
}

TEST(LivingConditionsTest, V1IsOnlyRecordedByTheImport) {
  auto d = DecideSite(Declared(), ImportV1(), Ctx());
  EXPECT_TRUE(HasViolation(d.status(), "living_conditions.v1_import_only"));
  Context importer = Ctx();
  importer.actor.options.push_back(std::string(kOptionImport));
  v1::Site s = Apply(Declared(), DecideSite(Declared(), ImportV1(), importer));
  EXPECT_EQ(s.living_conditions_version(), 1);
}

TEST(LivingConditionsTest, UpgradeToV2NullsV1AndIsNeverReversed) {
  Context importer = Ctx();
  importer.actor.options.push_back(std::string(kOptionImport));
  v1::Site s = Apply(Declared(), DecideSite(Declared(), ImportV1(), importer));
  auto up = On("1");
  *up.mutable_upgrade_living_conditions()->mutable_living_conditions() =
      testing::ValidLivingConditions();
  s = Apply(s, DecideSite(s, up, Ctx()));
  EXPECT_EQ(s.living_conditions_version(), 2);
  EXPECT_FALSE(s.has_living_conditions_v1());
  auto back = DecideSite(s, ImportV1(), importer);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasViolation(back.status(), "living_conditions.no_downgrade"));
  EXPECT_TRUE(HasViolation(DecideSite(s, up, Ctx()).status(), "living_conditions.already_v2"));
}

TEST(LivingConditionsTest, AssessingAV1SiteUpgradesIt) {
  Context importer = Ctx();
  importer.actor.options.push_back(std::string(kOptionImport));
  v1::Site s = Apply(Declared(), DecideSite(Declared(), ImportV1(), importer));
  auto d = DecideSite(s, Water([](auto*) {}), Ctx());
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->events.size(), 1u);
  EXPECT_TRUE(d->events[0].has_living_conditions_upgraded_to_v2());
}

// ---- Closure and the end of life. -------------------------------------------------------------

v1::Site Closed() {
  return Apply(Declared(), DecideSite(Declared(), Close([](auto*) {}), Ctx()));
}

TEST(SiteClosureTest, ClosingAnOpenSiteClosesIt) {
  v1::Site s = Closed();
  EXPECT_EQ(s.status(), v1::SITE_STATUS_CLOSED);
  EXPECT_EQ(s.closure().solutions(0).people(), 10);
}

TEST(SiteClosureTest, OnlyAnOpenSiteCanBeClosed) {
  auto d = DecideSite(Closed(), Close([](auto*) {}), Ctx());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasViolation(d.status(), "closure.only_open_site"));
}

TEST(SiteClosureTest, AClosedSiteIsNoLongerUpdated) {
  auto d = DecideSite(Closed(), Population([](auto*) {}), Ctx());
  EXPECT_TRUE(HasViolation(d.status(), "lifecycle.site_closed"));
}

TEST(SiteClosureTest, CommentsRemainPossibleOnAClosedSite) {
  auto c = On("1");
  c.mutable_post_comment()->set_text("Famille relogée à Bobigny.");
  auto d = DecideSite(Closed(), c, Ctx(Role::kIntervener));
  ASSERT_TRUE(d.ok()) << d.status();
}

TEST(SiteClosureTest, OnlyNationalAdminsCorrectAClosure) {
  auto c = On("1");
  c.set_reason("mauvaise cause");
  *c.mutable_correct_closure()->mutable_closure() = testing::ValidClosure();
  c.mutable_correct_closure()->mutable_closure()->set_cause(v1::CLOSING_CAUSE_UNKNOWN);
  EXPECT_EQ(DecideSite(Closed(), c, Ctx(Role::kLocalAdmin)).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto d = DecideSite(Closed(), c, Ctx(Role::kNationalAdmin));
  ASSERT_TRUE(d.ok()) << d.status();
  v1::Site s = Apply(Closed(), d);
  EXPECT_EQ(s.closure().cause(), v1::CLOSING_CAUSE_UNKNOWN);
}

TEST(SiteClosureTest, CorrectingTheClosureOfAnOpenSiteIsRefused) {
  auto c = On("1");
  c.set_reason("x");
  *c.mutable_correct_closure()->mutable_closure() = testing::ValidClosure();
  auto d = DecideSite(Declared(), c, Ctx(Role::kNationalAdmin));
  EXPECT_TRUE(HasViolation(d.status(), "closure.correction_requires_closed_site"));
}

TEST(SiteErasureTest, OnlyNationalAdminsEraseAndNothingHappensAfterwards) {
  auto c = On("1");
  c.mutable_erase()->set_reason("doublon");
  EXPECT_EQ(DecideSite(Declared(), c, Ctx(Role::kLocalAdmin)).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::Site s = Apply(Declared(), DecideSite(Declared(), c, Ctx(Role::kNationalAdmin)));
  EXPECT_EQ(s.status(), v1::SITE_STATUS_ERASED);
  EXPECT_TRUE(s.name().empty());
  auto again = DecideSite(s, Population([](auto*) {}), Ctx(Role::kNationalAdmin));
  EXPECT_TRUE(HasViolation(again.status(), "lifecycle.site_erased"));
}

// ---- Retroactive corrections. -----------------------------------------------------------------

// A site declared ten days before Now() (so that the past can be corrected).
v1::Site DeclaredEarlier() {
  const int64_t ten_days = int64_t{10} * 86400 * 1000000;
  v1::Site s = Apply(
      v1::Site(), DecideSite(v1::Site(), Declare("1"), Ctx(Role::kLocalAdmin, Now() - ten_days)));
  return Apply(s, DecideSite(s, Population([](auto* p) { p->set_total(30); }), Ctx()));
}

TEST(RetroactiveCorrectionTest, AdminsCorrectThePastWithAReason) {
  v1::Site s = DeclaredEarlier();
  auto c = On("1");
  c.set_valid_at_us(Now() - 1000000);
  c.set_reason("comptage du 14 juin oublié");
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_population()->set_total(7);
  u->mutable_update_mask()->add_paths("population");
  auto d = DecideSite(s, c, Ctx(Role::kLocalAdmin));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 2u);
  EXPECT_TRUE(d->events[0].has_retroactive_correction_recorded());
  EXPECT_EQ(d->events[1].valid_at_us(), Now() - 1000000);
  v1::Site after = Apply(s, d);
  EXPECT_EQ(after.updated_at_us(), Now());  // the last valid date does not move back
}

TEST(RetroactiveCorrectionTest, IsRefusedBeforeTheDeclaration) {
  v1::Site s = DeclaredEarlier();
  auto c = On("1");
  c.set_valid_at_us(s.created_at_us() - 1000000);
  c.set_reason("x");
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_population()->set_total(7);
  u->mutable_update_mask()->add_paths("population");
  EXPECT_TRUE(HasViolation(DecideSite(s, c, Ctx()).status(), "correction.before_declaration"));
}

TEST(RetroactiveCorrectionTest, IsDecidedAgainstTheSiteOnTheCorrectedDate) {
  // On the corrected date the site counted 20 people; today it counts 30.
  v1::Site today = DeclaredEarlier();
  v1::Site then = today;
  then.mutable_population()->set_total(20);
  auto c = On("1");
  c.set_valid_at_us(Now() - 1000000);
  c.set_reason("recomptage");
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_update_mask()->add_paths("population");
  // Today's count on that date is a change (20 -> 30), although it is today's value.
  *u->mutable_site()->mutable_population() = today.population();
  auto d = DecideSite(today, c, Ctx(), {.state_on_valid_date = &then});
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 2u);
  EXPECT_EQ(d->events[1].population_recorded().population().total(), 30);
  // That date's count changes nothing.
  *u->mutable_site()->mutable_population() = then.population();
  d = DecideSite(today, c, Ctx(), {.state_on_valid_date = &then});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->no_change());
}

TEST(FoldSiteInValidOrderTest, ACorrectionChangesThePastNotTheLaterVersions) {
  auto at = [](int day) { return Now() + int64_t{day} * 86400 * 1000000; };
  auto declared = DecideSite(v1::Site(), Declare("1"), Ctx(Role::kLocalAdmin, at(0)));
  ASSERT_TRUE(declared.ok());
  std::vector<LoggedSiteEvent> log;
  uint64_t position = 0;
  for (const auto& e : declared->events) log.push_back({++position, e});
  auto count = [&](int people, int day) {
    v1::SiteEvent e;
    e.mutable_population_recorded()->mutable_population()->set_total(people);
    e.set_valid_at_us(at(day));
    log.push_back({++position, e});
  };
  count(40, 10);
  count(50, 30);
  count(45, 20);  // recorded last, dated between the two counts
  EXPECT_EQ(FoldSiteInValidOrder(log).population().total(), 50);
  EXPECT_EQ(FoldSiteInValidOrder(log, at(25)).population().total(), 45);
  EXPECT_EQ(FoldSiteInValidOrder(log, at(15)).population().total(), 40);
  EXPECT_EQ(FoldSiteInValidOrder(log).revision(), 3);  // four events, whatever their order
  // The order of the input does not matter.
  std::reverse(log.begin(), log.end());
  EXPECT_EQ(FoldSiteInValidOrder(log).population().total(), 50);
  // A correction of a field no later version sets stays.
  v1::SiteEvent renamed;
  renamed.mutable_renamed()->set_name("Les Acacias");
  renamed.set_valid_at_us(at(5));
  log.push_back({++position, renamed});
  EXPECT_EQ(FoldSiteInValidOrder(log).name(), "Les Acacias");
}

TEST(RetroactiveCorrectionTest, ReasonAndRoleAreRequired) {
  auto c = On("1");
  c.set_valid_at_us(Now() - 1000000);
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_population()->set_total(7);
  u->mutable_update_mask()->add_paths("population");
  EXPECT_TRUE(
      HasViolation(DecideSite(Declared(), c, Ctx()).status(), "correction.reason_required"));
  c.set_reason("x");
  EXPECT_EQ(DecideSite(Declared(), c, Ctx(Role::kCollaborator)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// ---- Journal, interveners, phases, heatwave. ----------------------------------------------------

TEST(SiteJournalTest, CommentsArePostedAndModerated) {
  auto c = On("1");
  c.mutable_post_comment()->set_text("Passage le 3 juin.");
  c.mutable_post_comment()->add_tags(v1::COMMENT_TAG_SITE_VISIT);
  v1::Site s = Apply(Declared(), DecideSite(Declared(), c, Ctx(Role::kIntervener)));
  ASSERT_EQ(s.comments_size(), 1);
  auto m = On("1");
  m.mutable_moderate_comment()->set_comment_id(s.comments(0).id());
  EXPECT_EQ(DecideSite(s, m, Ctx(Role::kIntervener)).status().code(),
            absl::StatusCode::kPermissionDenied);
  s = Apply(s, DecideSite(s, m, Ctx(Role::kLocalAdmin)));
  EXPECT_TRUE(s.comments(0).moderated());
  EXPECT_TRUE(s.comments(0).text().empty());
  EXPECT_TRUE(DecideSite(s, m, Ctx())->no_change());
}

TEST(SiteIntervenerTest, DeclareThenWithdraw) {
  auto c = On("1");
  c.mutable_declare_intervener()->mutable_intervener()->add_themes(v1::ACTOR_THEME_HEALTH);
  v1::Site s = Apply(Declared(), DecideSite(Declared(), c, Ctx(Role::kIntervener)));
  ASSERT_EQ(s.interveners_size(), 1);
  EXPECT_EQ(s.interveners(0).user_id(), "u-1");
  EXPECT_TRUE(DecideSite(s, c, Ctx(Role::kIntervener))->no_change());
  auto w = On("1");
  w.mutable_withdraw_intervener();
  s = Apply(s, DecideSite(s, w, Ctx(Role::kIntervener)));
  EXPECT_EQ(s.interveners_size(), 0);
  EXPECT_TRUE(HasViolation(DecideSite(s, w, Ctx()).status(), "intervener.not_declared"));
}

TEST(SiteResorptionPhaseTest, PhaseStartsThenCompletes) {
  auto start = On("1");
  start.mutable_start_resorption_phase()->set_phase(v1::RESORPTION_PHASE_SOCIAL_ASSESSMENT);
  auto done = On("1");
  done.mutable_complete_resorption_phase()->set_phase(v1::RESORPTION_PHASE_SOCIAL_ASSESSMENT);
  EXPECT_TRUE(
      HasViolation(DecideSite(Declared(), done, Ctx()).status(), "resorption_phase.not_started"));
  v1::Site s = Apply(Declared(), DecideSite(Declared(), start, Ctx()));
  s = Apply(s, DecideSite(s, done, Ctx()));
  ASSERT_EQ(s.resorption_phases_size(), 1);
  EXPECT_EQ(s.resorption_phases(0).completed_at_us(), Now());
}

TEST(SiteHeatwaveTest, RaiseThenLiftAndRepeatIsNoChange) {
  auto on = On("1");
  on.mutable_set_heatwave()->set_active(true);
  v1::Site s = Apply(Declared(), DecideSite(Declared(), on, Ctx()));
  EXPECT_TRUE(s.heatwave());
  EXPECT_TRUE(DecideSite(s, on, Ctx())->no_change());
  auto off = On("1");
  off.mutable_set_heatwave()->set_active(false);
  s = Apply(s, DecideSite(s, off, Ctx()));
  EXPECT_FALSE(s.heatwave());
}

TEST(SiteDecisionTest, DecideIsDeterministic) {
  auto cmd = Declare("1");
  cmd.mutable_declare()->mutable_site()->mutable_population()->set_total(12);
  auto a = DecideSite(v1::Site(), cmd, Ctx());
  auto b = DecideSite(v1::Site(), cmd, Ctx());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->events.size(), b->events.size());
  for (size_t i = 0; i < a->events.size(); ++i) {
    EXPECT_EQ(a->events[i].SerializeAsString(), b->events[i].SerializeAsString());
  }
}

}  // namespace
}  // namespace rb::domain
