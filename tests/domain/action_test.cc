#include "domain/action.h"

#include <functional>
#include <string>

#include "domain/violations.h"
#include "gtest/gtest.h"
#include "tests/domain/test_util.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using testing::CreateAction;
using testing::Ctx;
using testing::D;

v1::Action Apply(v1::Action a, const absl::StatusOr<ActionDecision>& d) {
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return a;
  for (const auto& e : d->events) a = EvolveAction(std::move(a), e);
  return a;
}

v1::Action Created() {
  return Apply(v1::Action(), DecideAction(v1::Action(), CreateAction("7"), Ctx()));
}

v1::ActionCommand On() {
  v1::ActionCommand c;
  c.set_action_id("7");
  return c;
}

TEST(ActionTest, CreationRecordsDetailsManagersAndOperators) {
  v1::Action a = Created();
  EXPECT_EQ(a.status(), v1::ACTION_STATUS_OPEN);
  EXPECT_EQ(a.details().departement_code(), "93");
  EXPECT_EQ(a.managers_size(), 1);
  EXPECT_EQ(a.operators_size(), 1);
}

TEST(ActionTest, CreationReportsAllViolations) {
  auto c = CreateAction("7");
  auto* d = c.mutable_create()->mutable_details();
  d->clear_name();
  d->set_departement_code("00");
  *d->mutable_ended_at() = D(2021, 1, 1);
  d->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_OTHER);
  c.mutable_create()->clear_managers();
  auto r = DecideAction(v1::Action(), c, Ctx());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* rule : {"action.name_required", "action.departement_unknown",
                           "action.ended_after_started", "action.location_other_required",
                           "action.site_ids_not_applicable", "action.managers_required"}) {
    EXPECT_TRUE(HasViolation(r.status(), rule)) << rule << " " << r.status();
  }
}

TEST(ActionTest, EtiAddressesMustBeKnownCommunes) {
  auto c = CreateAction("7");
  auto* loc = c.mutable_create()->mutable_details()->mutable_location();
  loc->Clear();
  loc->set_type(v1::ACTION_LOCATION_TYPE_ETI);
  auto* a = loc->add_eti_addresses();
  a->set_city_code("99999");
  EXPECT_TRUE(
      HasViolation(DecideAction(v1::Action(), c, Ctx()).status(), "location.city_code_unknown"));
  a->set_city_code("93066");
  a->mutable_coordinates()->set_latitude(48.93);
  a->mutable_coordinates()->set_longitude(2.35);
  EXPECT_TRUE(DecideAction(v1::Action(), c, Ctx()).ok());
}

TEST(ActionTest, UpdateWithFieldMaskChangesOnlyNamedFields) {
  v1::Action a = Created();
  auto c = On();
  c.mutable_update()->mutable_details()->set_goals("Scolariser tous les enfants");
  c.mutable_update()->mutable_details()->set_name("ignored");
  c.mutable_update()->mutable_update_mask()->add_paths("goals");
  a = Apply(a, DecideAction(a, c, Ctx()));
  EXPECT_EQ(a.details().goals(), "Scolariser tous les enfants");
  EXPECT_EQ(a.details().name(), "Accompagnement vers le logement");
  EXPECT_TRUE(DecideAction(a, c, Ctx())->no_change());
}

TEST(ActionTest, IndicatorsAreRecordedPerYearAndChecked) {
  v1::Action a = Created();
  auto c = On();
  auto* m = c.mutable_record_indicators()->mutable_indicators();
  m->set_year(2023);
  m->set_nombre_personnes(40);
  m->set_nombre_menages(12);
  m->set_nombre_femmes(41);
  m->set_scolaire_nombre_lycee(-1);
  auto r = DecideAction(a, c, Ctx());
  EXPECT_TRUE(HasViolation(r.status(), "indicators.nombre_femmes_le_nombre_personnes"));
  EXPECT_TRUE(HasViolation(r.status(), "indicators.non_negative"));
  m->set_nombre_femmes(20);
  m->clear_scolaire_nombre_lycee();
  a = Apply(a, DecideAction(a, c, Ctx()));
  ASSERT_EQ(a.indicators_size(), 1);
  EXPECT_EQ(a.indicators(0).nombre_personnes(), 40);
  EXPECT_TRUE(DecideAction(a, c, Ctx())->no_change());
  m->set_year(2019);
  EXPECT_TRUE(HasViolation(DecideAction(a, c, Ctx()).status(), "indicators.year_range"));
}

TEST(ActionTest, FinancesNeedAccessAndOneLinePerType) {
  v1::Action a = Created();
  auto c = On();
  auto* f = c.mutable_record_finances()->mutable_finances();
  f->set_year(2023);
  auto* l = f->add_lines();
  l->set_type(v1::FINANCE_TYPE_DEDICATED);
  l->set_amount_cents(5000000);
  l->set_real_amount_cents(4200000);
  Context op = Ctx(Role::kAssociation);
  op.actor.user_id = "u-op";
  EXPECT_EQ(DecideAction(a, c, op).status().code(), absl::StatusCode::kPermissionDenied);
  *f->add_lines() = *l;
  EXPECT_TRUE(HasViolation(DecideAction(a, c, Ctx()).status(), "finances.duplicate_type"));
  f->mutable_lines()->RemoveLast();
  a = Apply(a, DecideAction(a, c, Ctx()));
  ASSERT_EQ(a.finances_size(), 1);
  EXPECT_EQ(a.finances(0).lines(0).real_amount_cents(), 4200000);
}

TEST(ActionTest, OperatorsMayWriteButStrangersMayNot) {
  v1::Action a = Created();
  auto c = On();
  c.mutable_post_comment()->set_text("Réunion de suivi.");
  Context op = Ctx(Role::kAssociation);
  op.actor.user_id = "u-op";
  EXPECT_TRUE(DecideAction(a, c, op).ok());
  op.actor.user_id = "u-stranger";
  EXPECT_EQ(DecideAction(a, c, op).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ActionTest, ClosedActionOnlyTakesComments) {
  v1::Action a = Created();
  auto c = On();
  *c.mutable_close()->mutable_closed_at() = D(2024, 1, 31);
  a = Apply(a, DecideAction(a, c, Ctx()));
  EXPECT_EQ(a.status(), v1::ACTION_STATUS_CLOSED);
  EXPECT_TRUE(HasViolation(DecideAction(a, c, Ctx()).status(), "lifecycle.action_closed"));
  auto comment = On();
  comment.mutable_post_comment()->set_text("Bilan final.");
  EXPECT_TRUE(DecideAction(a, comment, Ctx()).ok());
}

TEST(ActionTest, ClosingBeforeTheStartIsRefused) {
  auto c = On();
  *c.mutable_close()->mutable_closed_at() = D(2021, 1, 31);
  EXPECT_TRUE(
      HasViolation(DecideAction(Created(), c, Ctx()).status(), "action.closed_after_started"));
}

TEST(ActionTest, ManagersChangeAndSameListIsNoChange) {
  v1::Action a = Created();
  auto c = On();
  *c.mutable_set_managers()->mutable_managers() = a.managers();
  EXPECT_TRUE(DecideAction(a, c, Ctx())->no_change());
  c.mutable_set_managers()->add_managers()->set_user_id("u-2");
  a = Apply(a, DecideAction(a, c, Ctx()));
  EXPECT_EQ(a.managers_size(), 2);
  c.mutable_set_managers()->Clear();
  EXPECT_TRUE(HasViolation(DecideAction(a, c, Ctx()).status(), "action.managers_required"));
}

}  // namespace
}  // namespace rb::domain
