// Actions.ListActions, Actions.GetActionAggregates and Actions.GetSiteActions over a real server,
// real RocksDB and real stubs.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api_views/views_api_fixture.h"

namespace rb::services::testing {
namespace {

using rb::domain::testing::D;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A State correspondent ("collaborator") sees finances only with the option.
const Actor kCorrespondent{.role = "collaborator"};
const Actor kFinanceReader{.role = "collaborator", .options = "access_action_finances"};

class ActionQueryRpcsTest : public ViewsApiTest {
 protected:
  void SetUp() override {
    ViewsApiTest::SetUp();
    // a1: housing, 93, on site s1, since 2022; 2024: 30 people, dedicated credits.
    v1::CreateActionRequest create;
    create.set_action_id("a1");
    *create.mutable_command() = rb::domain::testing::CreateAction("a1").create();
    create.mutable_command()->mutable_details()->mutable_location()->set_site_ids(0, "s1");
    v1::WriteResult r;
    Expect(actions_->CreateAction(ApiServer::Ctx().get(), create, &r), r);
    v1::RecordActionIndicatorsRequest ind;
    ind.set_name("actions/a1");
    ind.mutable_command()->mutable_indicators()->set_year(2024);
    ind.mutable_command()->mutable_indicators()->set_nombre_personnes(30);
    Expect(actions_->RecordActionIndicators(ApiServer::Ctx().get(), ind, &r), r);
    v1::RecordActionFinancesRequest fin;
    fin.set_name("actions/a1");
    fin.mutable_command()->mutable_finances()->set_year(2024);
    v1::FinanceLine* line = fin.mutable_command()->mutable_finances()->add_lines();
    line->set_type(v1::FINANCE_TYPE_DEDICATED);
    line->set_amount_cents(1'000'000);
    line->set_real_amount_cents(400'000);
    Expect(actions_->RecordActionFinances(ApiServer::Ctx().get(), fin, &r), r);
    // a2: school, 13, since 2024-01-01, no site.
    create.set_action_id("a2");
    *create.mutable_command() = rb::domain::testing::CreateAction("a2").create();
    v1::ActionDetails* d = create.mutable_command()->mutable_details();
    d->clear_topics();
    d->add_topics(v1::ACTION_TOPIC_SCHOOL);
    d->set_departement_code("13");
    *d->mutable_started_at() = D(2024, 1, 1);
    d->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_UNSPECIFIED);
    d->mutable_location()->clear_site_ids();
    grpc::Status st = actions_->CreateAction(ApiServer::Ctx().get(), create, &r);
    if (!st.ok()) {
      // A location type is mandatory: keep "on site" with the other site.
      d->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_ON_SITE);
      d->mutable_location()->add_site_ids("s3");
      st = actions_->CreateAction(ApiServer::Ctx().get(), create, &r);
    }
    Expect(st, r);
  }

  std::vector<std::string> List(v1::ListActionsQuery q, const Actor& actor = kCorrespondent) {
    q.set_min_position(last_position_);
    v1::ListActionsResponse r;
    grpc::Status st = actions_->ListActions(ApiServer::Ctx(actor).get(), q, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<std::string> ids;
    for (const v1::Action& a : r.actions()) {
      ids.push_back(a.id());
      // Only a1 has finances.
      EXPECT_EQ(a.finances().empty(), actor.options.empty() || a.id() != "a1") << a.id();
    }
    return ids;
  }
};

TEST_F(ActionQueryRpcsTest, ListActionsFiltersByDepartementTopicYearAndOpen) {
  EXPECT_THAT(List({}), ElementsAre("a1", "a2"));
  v1::ListActionsQuery q;
  q.mutable_request()->set_departement_code("93");
  EXPECT_THAT(List(q), ElementsAre("a1"));
  q.Clear();
  q.set_topic(v1::ACTION_TOPIC_SCHOOL);
  EXPECT_THAT(List(q), ElementsAre("a2"));
  q.Clear();
  q.set_year(2023);  // a2 starts in 2024
  EXPECT_THAT(List(q), ElementsAre("a1"));
  q.Clear();
  q.mutable_request()->set_open_only(true);
  EXPECT_THAT(List(q), ElementsAre("a1", "a2"));
}

TEST_F(ActionQueryRpcsTest, ListActionsShowsFinancesOnlyToActorsAllowedToSeeThem) {
  v1::ListActionsQuery q;
  q.mutable_request()->set_departement_code("93");
  EXPECT_THAT(List(q, kFinanceReader), ElementsAre("a1"));  // finances present (checked in List)
  EXPECT_THAT(List(q), ElementsAre("a1"));                  // finances absent
}

TEST_F(ActionQueryRpcsTest, GetActionAggregatesSumsIndicatorsAndFinancesPerDepartement) {
  v1::GetActionAggregatesQuery q;
  q.mutable_request()->set_year(2024);
  q.mutable_request()->set_grouping(v1::ACTION_GROUPING_DEPARTEMENT);
  q.set_min_position(last_position_);
  v1::ActionAggregatesResponse r;
  grpc::Status st = actions_->GetActionAggregates(ApiServer::Ctx(kFinanceReader).get(), q, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(r.aggregates_size(), 1);
  const v1::ActionAggregate& a = r.aggregates(0);
  EXPECT_EQ(a.year(), 2024);
  EXPECT_EQ(a.departement_code(), "93");
  EXPECT_EQ(a.actions(), 1);
  EXPECT_EQ(a.indicators().nombre_personnes(), 30);
  int64_t planned = 0, spent = 0;
  for (const v1::FinanceTotal& f : a.finances()) {
    if (f.type() != v1::FINANCE_TYPE_DEDICATED) continue;
    planned += f.amount_cents();
    spent += f.real_amount_cents();
  }
  EXPECT_EQ(planned, 1'000'000);
  EXPECT_EQ(spent, 400'000);

  ASSERT_TRUE(actions_->GetActionAggregates(ApiServer::Ctx(kCorrespondent).get(), q, &r).ok());
  ASSERT_EQ(r.aggregates_size(), 1);
  EXPECT_EQ(r.aggregates(0).indicators().nombre_personnes(), 30);
  EXPECT_THAT(r.aggregates(0).finances(), IsEmpty());

  q.mutable_request()->set_grouping(v1::ACTION_GROUPING_TOPIC);
  ASSERT_TRUE(actions_->GetActionAggregates(ApiServer::Ctx().get(), q, &r).ok());
  ASSERT_EQ(r.aggregates_size(), 1);
  EXPECT_EQ(r.aggregates(0).topic(), v1::ACTION_TOPIC_HOUSING);
}

TEST_F(ActionQueryRpcsTest, GetSiteActionsTellsWhetherASiteHasADedicatedFinancedAction) {
  v1::GetSiteActionsQuery q;
  q.set_name("sites/s1");
  q.set_min_position(last_position_);
  v1::SiteActions r;
  grpc::Status st = actions_->GetSiteActions(ApiServer::Ctx().get(), q, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(r.has_action());
  EXPECT_TRUE(r.has_dedicated_financing());
  EXPECT_THAT(r.action_ids(), ElementsAre("a1"));
  EXPECT_THAT(r.dedicated_financing_years(), ElementsAre(2024));

  q.set_name("sites/s2");
  ASSERT_TRUE(actions_->GetSiteActions(ApiServer::Ctx().get(), q, &r).ok());
  EXPECT_FALSE(r.has_action());
  EXPECT_FALSE(r.has_dedicated_financing());
}

TEST_F(ActionQueryRpcsTest, GetSiteActionsIsNotFoundForAnUnknownSiteAndRejectsABadName) {
  v1::GetSiteActionsQuery q;
  q.set_name("sites/ghost");
  v1::SiteActions r;
  EXPECT_EQ(actions_->GetSiteActions(ApiServer::Ctx().get(), q, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
  q.set_name("ghost");
  grpc::Status st = actions_->GetSiteActions(ApiServer::Ctx().get(), q, &r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), ElementsAre("name"));
}

TEST_F(ActionQueryRpcsTest, BadFiltersAreInvalidArguments) {
  v1::ListActionsQuery q;
  q.set_year(12);
  q.set_topic(static_cast<v1::ActionTopic>(99));
  v1::ListActionsResponse r;
  grpc::Status st = actions_->ListActions(ApiServer::Ctx().get(), q, &r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), ElementsAre("topic", "year"));
}

}  // namespace
}  // namespace rb::services::testing
