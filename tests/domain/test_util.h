// Builders shared by the domain tests.
#ifndef RB_TESTS_DOMAIN_TEST_UTIL_H_
#define RB_TESTS_DOMAIN_TEST_UTIL_H_

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/context.h"
#include "domain/dates.h"
#include "resorption/v1/action_commands.pb.h"
#include "resorption/v1/site_commands.pb.h"

namespace rb::domain::testing {

// 2024-06-15 12:00 UTC.
inline int64_t Now() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2024, 6, 15, 12, 0, 0), absl::UTCTimeZone()));
}

inline Context Ctx(Role role = Role::kLocalAdmin, int64_t now = Now()) {
  Context c;
  c.now_us = now;
  c.actor.user_id = "u-1";
  c.actor.organisation_id = "o-1";
  c.actor.role = role;
  return c;
}

inline resorption::v1::Date D(int y, int m, int d) { return ToDate(absl::CivilDay(y, m, d)); }

// A valid declaration of a site in Saint-Denis (93066).
inline resorption::v1::SiteCommand Declare(const std::string& id) {
  resorption::v1::SiteCommand c;
  c.set_site_id(id);
  auto* s = c.mutable_declare()->mutable_site();
  s->set_name("Les Lilas");
  auto* a = s->mutable_location()->mutable_address();
  a->set_label("12 rue des Lilas 93200 Saint-Denis");
  a->set_city_code("93066");
  a->mutable_coordinates()->set_latitude(48.936);
  a->mutable_coordinates()->set_longitude(2.357);
  s->set_field_type(resorption::v1::FIELD_TYPE_LAND);
  *s->mutable_built_at() = D(2023, 1, 10);
  *s->mutable_declared_at() = D(2023, 2, 1);
  return c;
}

inline resorption::v1::SiteCommand On(const std::string& id) {
  resorption::v1::SiteCommand c;
  c.set_site_id(id);
  return c;
}

// A minimal valid v2 assessment.
inline resorption::v1::LivingConditionsV2 ValidLivingConditions() {
  resorption::v1::LivingConditionsV2 lc;
  lc.mutable_water()->set_access_type(resorption::v1::WATER_ACCESS_TYPE_NETWORK_TAP);
  lc.mutable_water()->set_is_public(resorption::v1::NO);
  lc.mutable_water()->set_is_local(resorption::v1::YES);
  lc.mutable_water()->set_is_close(resorption::v1::YES);
  lc.mutable_sanitary()->set_working_toilets(resorption::v1::NO);
  lc.mutable_electricity()->set_access(resorption::v1::NO);
  lc.mutable_trash()->set_is_piling(resorption::v1::YES);
  lc.mutable_trash()->set_evacuation_is_close(resorption::v1::NO);
  return lc;
}

inline resorption::v1::Closure ValidClosure() {
  resorption::v1::Closure c;
  c.set_cause(resorption::v1::CLOSING_CAUSE_RESORBED);
  *c.mutable_closed_at() = D(2024, 6, 1);
  c.set_closed_with_solutions(resorption::v1::YES);
  auto* s = c.add_solutions();
  s->set_solution(resorption::v1::CLOSING_SOLUTION_HOUSING);
  s->set_people(10);
  s->set_households(3);
  return c;
}

inline resorption::v1::ActionCommand CreateAction(const std::string& id) {
  resorption::v1::ActionCommand c;
  c.set_action_id(id);
  auto* d = c.mutable_create()->mutable_details();
  d->set_name("Accompagnement vers le logement");
  *d->mutable_started_at() = D(2022, 3, 1);
  d->add_topics(resorption::v1::ACTION_TOPIC_HOUSING);
  d->set_departement_code("93");
  d->mutable_location()->set_type(resorption::v1::ACTION_LOCATION_TYPE_ON_SITE);
  d->mutable_location()->add_site_ids("1");
  auto* m = c.mutable_create()->add_managers();
  m->set_user_id("u-1");
  m->set_organisation_id("o-1");
  auto* o = c.mutable_create()->add_operators();
  o->set_user_id("u-op");
  o->set_organisation_id("o-op");
  return c;
}

}  // namespace rb::domain::testing

#endif  // RB_TESTS_DOMAIN_TEST_UTIL_H_
