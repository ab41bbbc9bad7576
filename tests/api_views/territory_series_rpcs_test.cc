// Territories.GetSeries and Territories.GetPeriodFlows over a real server, real RocksDB and real
// stubs, against figures computed by hand from the fixture's history (views_api_fixture.h).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api_views/views_api_fixture.h"

namespace rb::services::testing {
namespace {

using rb::domain::testing::D;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class TerritorySeriesRpcsTest : public ViewsApiTest {
 protected:
  v1::GetSeriesQuery Dates(v1::TerritoryLevel level, const std::string& code) {
    v1::GetSeriesQuery q;
    q.mutable_request()->mutable_territory()->set_level(level);
    q.mutable_request()->mutable_territory()->set_code(code);
    for (const v1::Date& d : {D(2024, 1, 15), D(2024, 2, 20), D(2024, 4, 1), D(2024, 5, 15)}) {
      *q.mutable_request()->add_dates() = d;
    }
    q.set_min_position(last_position_);
    return q;
  }
};

TEST_F(TerritorySeriesRpcsTest, GetSeriesGivesTheFiguresOnEachDateWithTheCorrection) {
  v1::SeriesResponse r;
  grpc::Status st = territories_->GetSeries(ApiServer::Ctx().get(),
                                            Dates(v1::TERRITORY_LEVEL_DEPARTEMENT, "93"), &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(r.points_size(), 4);
  // Both sites count since their installation on 2023-01-10 (the fixture's dates).
  // 01-15: s1 (no population yet) and s2 (declared on 01-20) with its declared figures (no
  // population). 02-20: s1 45 (corrected) + s2 20. 04-01: 50 + 20. 05-15: s2 closed on 05-01.
  EXPECT_EQ(r.points(0).stock().sites(), 2);
  EXPECT_EQ(r.points(0).stock().people(), 0);
  EXPECT_EQ(r.points(1).stock().sites(), 2);
  EXPECT_EQ(r.points(1).stock().people(), 65);
  EXPECT_EQ(r.points(1).stock().households(), 16);
  EXPECT_EQ(r.points(2).stock().people(), 70);
  EXPECT_EQ(r.points(3).stock().sites(), 1);
  EXPECT_EQ(r.points(3).stock().people(), 50);
  EXPECT_EQ(r.points(1).flows().sites_opened(), 0);  // s2 opened in 2023, not on 01-20
  EXPECT_EQ(r.points(3).flows().sites_closed(), 1);
  EXPECT_EQ(r.points(3).flows().sites_resorbed(), 1);
}

TEST_F(TerritorySeriesRpcsTest, NationIsTheSumOfMetropolitanAndOverseasZones) {
  v1::SeriesResponse nation, metro, overseas;
  ASSERT_TRUE(
      territories_
          ->GetSeries(ApiServer::Ctx().get(), Dates(v1::TERRITORY_LEVEL_NATION, ""), &nation)
          .ok());
  ASSERT_TRUE(
      territories_
          ->GetSeries(ApiServer::Ctx().get(), Dates(v1::TERRITORY_LEVEL_ZONE, "hexagone"), &metro)
          .ok());
  ASSERT_TRUE(territories_
                  ->GetSeries(ApiServer::Ctx().get(), Dates(v1::TERRITORY_LEVEL_ZONE, "outre_mer"),
                              &overseas)
                  .ok());
  ASSERT_EQ(nation.points_size(), 4);
  EXPECT_EQ(nation.points(1).stock().sites(), 3);
  EXPECT_EQ(nation.points(1).stock().people(), 95);  // 45 + 20 + 30
  EXPECT_EQ(overseas.points(1).stock().people(), 30);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(nation.points(i).stock().sites(),
              metro.points(i).stock().sites() + overseas.points(i).stock().sites());
    EXPECT_EQ(nation.points(i).stock().people(),
              metro.points(i).stock().people() + overseas.points(i).stock().people());
  }
}

TEST_F(TerritorySeriesRpcsTest, GetSeriesIsMonthlyBetweenFromAndTo) {
  v1::GetSeriesQuery q;
  q.mutable_request()->mutable_territory()->set_level(v1::TERRITORY_LEVEL_COMMUNE);
  q.mutable_request()->mutable_territory()->set_code("93066");
  *q.mutable_request()->mutable_from() = D(2024, 1, 15);
  *q.mutable_request()->mutable_to() = D(2024, 4, 10);
  q.set_min_position(last_position_);
  v1::SeriesResponse r;
  grpc::Status st = territories_->GetSeries(ApiServer::Ctx().get(), q, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<std::string> dates;
  std::vector<int64_t> people;
  for (const v1::SeriesPoint& p : r.points()) {
    dates.push_back(rb::domain::FormatDate(p.date()));
    people.push_back(p.stock().people());
  }
  EXPECT_THAT(dates,
              ElementsAre("2024-01-15", "2024-02-01", "2024-03-01", "2024-04-01", "2024-04-10"));
  // 02-01: s1 40 + s2 20 (the correction starts on 02-15). 03-01: 50 + 20.
  EXPECT_THAT(people, ElementsAre(0, 60, 70, 70, 70));
}

TEST_F(TerritorySeriesRpcsTest, GetPeriodFlowsCountsOpeningsClosuresAndSolutions) {
  v1::GetPeriodFlowsQuery q;
  q.mutable_request()->mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  q.mutable_request()->mutable_territory()->set_code("93");
  // s1 and s2 opened on their installation date, 2023-01-10 (the fixture's dates).
  *q.mutable_request()->mutable_from() = D(2023, 1, 1);
  *q.mutable_request()->mutable_to() = D(2024, 6, 1);
  q.set_min_position(last_position_);
  v1::SeriesPoint p;
  grpc::Status st = territories_->GetPeriodFlows(ApiServer::Ctx().get(), q, &p);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(p.flows().sites_opened(), 2);
  EXPECT_EQ(p.flows().sites_closed(), 1);
  EXPECT_EQ(p.flows().sites_resorbed(), 1);
  ASSERT_GT(p.flows().people_by_solution_size(), v1::CLOSING_SOLUTION_HOUSING);
  EXPECT_EQ(p.flows().people_by_solution(v1::CLOSING_SOLUTION_HOUSING), 20);
  EXPECT_EQ(p.flows().households_by_solution(v1::CLOSING_SOLUTION_HOUSING), 5);
  EXPECT_EQ(p.stock().sites(), 1);

  // Nothing opened or closed after the closure.
  *q.mutable_request()->mutable_from() = D(2024, 5, 2);
  ASSERT_TRUE(territories_->GetPeriodFlows(ApiServer::Ctx().get(), q, &p).ok());
  EXPECT_EQ(p.flows().sites_opened(), 0);
  EXPECT_EQ(p.flows().sites_closed(), 0);
}

TEST_F(TerritorySeriesRpcsTest, JusticeFiguresAreClearedForReadersWithoutJusticeAccess) {
  // s1 (Saint-Denis 93066) is under a procedure from 2024-03-10: owner complaint, justice
  // procedure, police assistance requested. The commune holds s1 and s2 only.
  v1::UpdateProceduresRequest procedures;
  procedures.set_name("sites/s1");
  *procedures.mutable_options()->mutable_valid_time() = Noon(2024, 3, 10);
  v1::JusticeProcedure* j = procedures.mutable_command()->mutable_justice();
  j->set_owner_complaint(v1::YES);
  j->set_justice_procedure(v1::YES);
  v1::PoliceAssistance* police = procedures.mutable_command()->mutable_police();
  police->set_status(v1::POLICE_STATUS_REQUESTED);
  *police->mutable_requested_at() = D(2024, 3, 10);
  v1::WriteResult w;
  Expect(sites_->UpdateProcedures(ApiServer::Ctx().get(), procedures, &w), w);

  const v1::GetSeriesQuery series = Dates(v1::TERRITORY_LEVEL_COMMUNE, "93066");
  v1::GetPeriodFlowsQuery period;
  *period.mutable_request()->mutable_territory() = series.request().territory();
  *period.mutable_request()->mutable_from() = D(2024, 1, 1);
  *period.mutable_request()->mutable_to() = D(2024, 4, 1);
  period.set_min_position(last_position_);
  auto justice = [](const v1::TerritoryStock& s) {
    return std::vector<int64_t>{s.sites_with_owner_complaint(), s.sites_with_justice_procedure(),
                                s.sites_with_police_assistance()};
  };

  // A local administrator and a partner with the justice option see the figures; a partner
  // without it reads the same series with the three figures at 0.
  const Actor partner{"u-2", "o-2", "collaborator", ""};
  const Actor partner_with_justice{"u-3", "o-2", "collaborator", "access_justice"};
  for (const Actor& reader : {Actor{}, partner_with_justice, partner}) {
    SCOPED_TRACE(reader.role + " " + reader.options);
    const bool sees = reader.user != partner.user;
    v1::SeriesResponse r;
    grpc::Status st = territories_->GetSeries(ApiServer::Ctx(reader).get(), series, &r);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(r.points_size(), 4);
    // 02-20: before the procedure. 04-01 and 05-15: s1 under it.
    EXPECT_THAT(justice(r.points(1).stock()), ElementsAre(0, 0, 0));
    for (int i : {2, 3}) {
      if (sees) {
        EXPECT_THAT(justice(r.points(i).stock()), ElementsAre(1, 1, 1));
      } else {
        EXPECT_THAT(justice(r.points(i).stock()), ElementsAre(0, 0, 0));
      }
    }
    EXPECT_EQ(r.points(2).stock().sites(), 2);  // the other figures are unchanged
    EXPECT_EQ(r.points(2).stock().people(), 70);

    v1::SeriesPoint p;
    st = territories_->GetPeriodFlows(ApiServer::Ctx(reader).get(), period, &p);
    ASSERT_TRUE(st.ok()) << st.error_message();
    if (sees) {
      EXPECT_THAT(justice(p.stock()), ElementsAre(1, 1, 1));
    } else {
      EXPECT_THAT(justice(p.stock()), ElementsAre(0, 0, 0));
    }
    EXPECT_EQ(p.stock().sites(), 2);
  }
}

TEST_F(TerritorySeriesRpcsTest, BadRequestsListEveryViolation) {
  v1::GetPeriodFlowsQuery q;
  q.mutable_request()->mutable_territory()->set_level(v1::TERRITORY_LEVEL_REGION);
  q.mutable_request()->mutable_from()->set_year(2024);  // month 13
  q.mutable_request()->mutable_from()->set_month(13);
  q.mutable_request()->mutable_from()->set_day(1);
  v1::SeriesPoint p;
  grpc::Status st = territories_->GetPeriodFlows(ApiServer::Ctx().get(), q, &p);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st),
              UnorderedElementsAre("request.territory.code", "request.from", "request.to"));

  v1::GetSeriesQuery s;
  *s.mutable_request()->mutable_from() = D(2024, 5, 1);
  *s.mutable_request()->mutable_to() = D(2024, 1, 1);
  v1::SeriesResponse r;
  st = territories_->GetSeries(ApiServer::Ctx().get(), s, &r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), ElementsAre("request.to"));
}

TEST_F(TerritorySeriesRpcsTest, UnreachableMinPositionEndsWithDeadlineExceeded) {
  v1::GetSeriesQuery q = Dates(v1::TERRITORY_LEVEL_NATION, "");
  q.set_min_position(server_.head() + 1);  // no acknowledged write has it yet
  v1::SeriesResponse r;
  EXPECT_EQ(territories_->GetSeries(ApiServer::Ctx({}, std::chrono::milliseconds(300)).get(), q, &r)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace rb::services::testing
