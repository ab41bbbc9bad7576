#include "projections/views/series.h"

#include <vector>

#include "domain/dates.h"
#include "projections/view_hash.h"
#include "projections/views/signals.h"
#include "projections/views/site_list.h"
#include "tests/views_b/views_fixture.h"

namespace rb::views_b_testing {
namespace {

using rb::domain::testing::Declare;
using rb::domain::testing::On;

class SeriesTest : public ViewsTest {
 protected:
  v1::SeriesResponse Monthly(v1::TerritoryLevel level, const std::string& code, v1::Date from,
                             v1::Date to) {
    rb::proj::views::SeriesQuery q(engine_.get());
    v1::SeriesRequest r;
    r.mutable_territory()->set_level(level);
    r.mutable_territory()->set_code(code);
    *r.mutable_from() = from;
    *r.mutable_to() = to;
    absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::SeriesResponse();
  }
  // Site "1" in Saint-Denis (93): declared 2024-01-10, 20 people on 02-01, a v1 assessment
  // without water on 02-15, upgraded to v2 with water on 03-15, 30 people on 04-01.
  void BuildSaintDenis() {
    Site(Declare("1"), At(2024, 1, 10));
    Site(Population("1", 20), At(2024, 2, 1));
    v1::SiteCommand v1c = On("1");
    v1c.mutable_import_living_conditions_v1()->mutable_living_conditions()->set_access_to_water(
        v1::NO);
    Site(v1c, At(2024, 2, 15), rb::domain::Role::kNationalAdmin, "import");
    v1::SiteCommand up = On("1");
    *up.mutable_upgrade_living_conditions()->mutable_living_conditions() =
        rb::domain::testing::ValidLivingConditions();
    Site(up, At(2024, 3, 15));
    Site(Population("1", 30), At(2024, 4, 1));
  }
};

TEST_F(SeriesTest, MonthlyDepartementSeriesFollowsPopulationWaterCorrectionAndClosure) {
  BuildSaintDenis();
  CatchUp();
  v1::SeriesResponse before =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2024, 1, 1), D(2024, 6, 1));
  ASSERT_EQ(before.points_size(), 6);
  EXPECT_EQ(before.points(2).stock().people(), 20);  // 03-01, before the correction

  Site(RetroPopulation("1", 25), At(2024, 3, 1));
  v1::SiteCommand close = On("1");
  *close.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
  *close.mutable_close()->mutable_closure()->mutable_closed_at() = D(2024, 5, 10);
  Site(close, At(2024, 5, 10));
  CatchUp();

  v1::SeriesResponse s =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2024, 1, 1), D(2024, 6, 1));
  ASSERT_EQ(s.points_size(), 6);
  const int64_t sites[] = {0, 1, 1, 1, 1, 0};
  const int64_t people[] = {0, 20, 25, 30, 30, 0};
  const int64_t water[] = {0, 0, 0, 1, 1, 0};
  const int64_t people_water[] = {0, 0, 0, 30, 30, 0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(s.points(i).stock().sites(), sites[i]) << i;
    EXPECT_EQ(s.points(i).stock().people(), people[i]) << i;
    EXPECT_EQ(s.points(i).stock().sites_with_water(), water[i]) << i;
    EXPECT_EQ(s.points(i).stock().people_with_water(), people_water[i]) << i;
    EXPECT_EQ(s.points(i).stock().sites_out_of_date(), 0) << i;
  }
  EXPECT_EQ(s.points(1).flows().sites_opened(), 1);
  EXPECT_EQ(s.points(5).flows().sites_closed(), 1);
  EXPECT_EQ(s.points(5).flows().sites_resorbed(), 1);
  EXPECT_EQ(s.points(5).flows().people_by_solution(v1::CLOSING_SOLUTION_HOUSING), 10);
  EXPECT_EQ(s.points(5).flows().households_by_solution(v1::CLOSING_SOLUTION_HOUSING), 3);
  EXPECT_EQ(s.points(4).flows().sites_closed(), 0);

  // The region, the nation and the metropolitan zone see the same; overseas sees nothing.
  for (auto [level, code] :
       {std::pair{v1::TERRITORY_LEVEL_REGION, "11"},
        std::pair{v1::TERRITORY_LEVEL_COMMUNE, "93066"}, std::pair{v1::TERRITORY_LEVEL_NATION, ""},
        std::pair{v1::TERRITORY_LEVEL_ZONE, "hexagone"}}) {
    v1::SeriesResponse t = Monthly(level, code, D(2024, 1, 1), D(2024, 6, 1));
    ASSERT_EQ(t.points_size(), 6);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(t.points(i).stock().people(), people[i]) << code << i;
  }
  EXPECT_EQ(Monthly(v1::TERRITORY_LEVEL_ZONE, "outre_mer", D(2024, 1, 1), D(2024, 6, 1))
                .points(3)
                .stock()
                .sites(),
            0);
}

TEST_F(SeriesTest, AnOverseasSiteWithoutUpdateIsOutOfDateSixMonthsAfterItsLastUpdate) {
  v1::SiteCommand c = Declare("r");
  auto* a = c.mutable_declare()->mutable_site()->mutable_location()->mutable_address();
  a->set_label("Chemin des Lataniers 97400 Saint-Denis");
  a->set_city_code("97411");
  a->mutable_coordinates()->set_latitude(-20.88);
  a->mutable_coordinates()->set_longitude(55.45);
  Site(c, At(2023, 6, 1));
  CatchUp();
  rb::proj::views::SeriesQuery q(engine_.get());
  v1::SeriesRequest r;
  r.mutable_territory()->set_level(v1::TERRITORY_LEVEL_ZONE);
  r.mutable_territory()->set_code("outre_mer");
  // Older than six months, as in the list: exactly six months later (2023-12-01) it is not yet
  // out of date, the day after it is.
  for (v1::Date d :
       {D(2023, 5, 31), D(2023, 6, 1), D(2023, 12, 1), D(2023, 12, 2), D(2024, 6, 1)}) {
    *r.add_dates() = d;
  }
  absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->points_size(), 5);
  const int64_t sites[] = {0, 1, 1, 1, 1};
  const int64_t out_of_date[] = {0, 0, 0, 1, 1};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(s->points(i).stock().sites(), sites[i]) << i;
    EXPECT_EQ(s->points(i).stock().sites_out_of_date(), out_of_date[i]) << i;
  }
  // An update on 2024-01-15 makes it up to date again from that day through 2024-07-15.
  Site(Population("r", 12), At(2024, 1, 15));
  CatchUp();
  s = q.Series(r);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->points(3).stock().sites_out_of_date(), 1);  // 2023-12-02
  EXPECT_EQ(s->points(4).stock().sites_out_of_date(), 0);  // 2024-06-01
  EXPECT_EQ(s->points(4).stock().people(), 12);

  v1::PeriodRequest p;
  *p.mutable_territory() = r.territory();
  *p.mutable_from() = D(2023, 1, 1);
  *p.mutable_to() = D(2023, 12, 31);
  absl::StatusOr<v1::SeriesPoint> period = q.Period(p);
  ASSERT_TRUE(period.ok());
  EXPECT_EQ(period->flows().sites_opened(), 1);
}

// The series counts a site out of date on exactly the days the list does (IsOutOfDate), month
// ends included: last updated on 31 August 2023, out of date from 1 March 2024 (29 February
// minus six months is 29 August).
TEST_F(SeriesTest, OutOfDateFollowsTheListsRuleAtMonthEnds) {
  Site(Declare("m"), At(2023, 8, 31));
  CatchUp();
  rb::proj::views::SeriesQuery q(engine_.get());
  v1::SeriesRequest r;
  r.mutable_territory()->set_level(v1::TERRITORY_LEVEL_NATION);
  const absl::CivilDay first(2024, 2, 25);
  for (absl::CivilDay d = first; d <= absl::CivilDay(2024, 3, 5); ++d) {
    *r.add_dates() = rb::domain::ToDate(d);
  }
  absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->points_size(), 10);
  v1::Site listed;
  listed.set_status(v1::SITE_STATUS_OPEN);
  listed.set_updated_at_us(At(2023, 8, 31));
  for (int i = 0; i < s->points_size(); ++i) {
    const absl::CivilDay day = first + i;
    SCOPED_TRACE(absl::FormatCivilTime(day));
    EXPECT_EQ(s->points(i).stock().sites(), 1);
    EXPECT_EQ(s->points(i).stock().sites_out_of_date(), day >= absl::CivilDay(2024, 3, 1) ? 1 : 0);
    EXPECT_EQ(s->points(i).stock().sites_out_of_date() == 1, rb::views::IsOutOfDate(listed, day));
  }
}

// A comment does not count as an update: a site already out of date stays so on the comment's day.
TEST_F(SeriesTest, ACommentDoesNotMakeAnOutOfDateSiteUpToDateForADay) {
  Site(Declare("m"), At(2023, 8, 31));
  v1::SiteCommand c = On("m");
  c.mutable_post_comment()->set_text("Passage sur site");
  Site(c, At(2024, 3, 10));
  CatchUp();
  rb::proj::views::SeriesQuery q(engine_.get());
  v1::SeriesRequest r;
  r.mutable_territory()->set_level(v1::TERRITORY_LEVEL_NATION);
  for (int d : {9, 10, 11}) *r.add_dates() = rb::domain::ToDate(absl::CivilDay(2024, 3, d));
  absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->points_size(), 3);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(s->points(i).stock().sites(), 1);
    EXPECT_EQ(s->points(i).stock().sites_out_of_date(), 1);
  }
}

// The site list and the series defer work to the end of a batch (typed records, summed deltas):
// their views must not depend on where batches end. Built event by event (batch_events = 1), then
// rebuilt in one batch, then with batches of 3 events: the same bytes.
TEST_F(SeriesTest, ViewsDoNotDependOnBatchBoundaries) {
  BuildSaintDenis();
  Site(Declare("2"), At(2024, 1, 20));
  Site(Population("2", 12), At(2024, 2, 20));
  Site(RetroPopulation("1", 25), At(2024, 3, 1));
  Action(rb::domain::testing::CreateAction("a1"));  // on site "1"
  Site(Population("2", 14), At(2024, 3, 20));
  Site(RetroPopulation("2", 9), At(2024, 2, 1));
  v1::SiteCommand close = On("1");
  *close.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
  *close.mutable_close()->mutable_closure()->mutable_closed_at() = D(2024, 5, 10);
  Site(close, At(2024, 5, 10));
  Site(Declare("3"), At(2023, 12, 1));
  Site(Population("3", 40), At(2024, 6, 1));
  CatchUp();
  engine_.reset();

  const uint64_t head = store_->GetHead().position;
  const char* const names[] = {"site_list", "history", "series"};
  auto run = [&](size_t batch_events, bool rebuild) {
    rb::proj::EngineOptions o;
    o.batch_events = batch_events;
    rb::proj::ProjectionEngine engine(store_.get(), o);
    EXPECT_TRUE(engine.Register(std::make_unique<rb::views::SiteListProjection>()).ok());
    EXPECT_TRUE(engine.Register(std::make_unique<rb::proj::views::HistoryProjection>()).ok());
    EXPECT_TRUE(engine.Register(std::make_unique<rb::proj::views::SeriesProjection>()).ok());
    EXPECT_TRUE(engine.Start().ok());
    std::vector<std::string> hashes;
    for (const char* name : names) {
      if (rebuild) {
        EXPECT_TRUE(engine.Rebuild(name).ok());
        EXPECT_TRUE(engine.WaitForRebuild(name, absl::Now() + absl::Seconds(30)).ok());
      }
      EXPECT_TRUE(engine.WaitForPosition(name, head, absl::Now() + absl::Seconds(30)).ok());
      absl::StatusOr<std::string> h = rb::proj::HashViews(*engine.Reader(name));
      EXPECT_TRUE(h.ok());
      hashes.push_back(h.ok() ? *h : "");
    }
    return hashes;
  };
  // site_list is new to this store: built from 0 event by event; history and series were built
  // live by the fixture's engine.
  const std::vector<std::string> one_by_one = run(1, false);
  EXPECT_EQ(run(100000, true), one_by_one);
  EXPECT_EQ(run(3, true), one_by_one);
}

// A site that moves to another commune counts in the first one up to the day before the move and
// in the second from that day; the departement counts it once throughout. A second site staying
// in the first commune shares the move's day and month bucket: changes of several sites on one
// day add up. The same views whatever the batch boundaries (rebuilt in one batch).
TEST_F(SeriesTest, ASiteThatMovesLeavesItsFirstCommuneOnTheDayOfTheMove) {
  Site(Declare("m"), At(2024, 1, 10));
  Site(Population("m", 20), At(2024, 1, 10));
  Site(Declare("s"), At(2024, 1, 10));
  Site(Population("s", 7), At(2024, 1, 10));
  v1::SiteCommand move = On("m");
  auto* address = move.mutable_update()->mutable_site()->mutable_location()->mutable_address();
  address->set_label("Rue de Paris 93000 Bobigny");
  address->set_city_code("93008");
  address->mutable_coordinates()->set_latitude(48.908);
  address->mutable_coordinates()->set_longitude(2.439);
  move.mutable_update()->mutable_update_mask()->add_paths("location");
  Site(move, At(2024, 3, 10));
  Site(Population("s", 9), At(2024, 3, 10));
  CatchUp();

  auto people = [&](v1::TerritoryLevel level, const std::string& code) {
    rb::proj::views::SeriesQuery q(engine_.get());
    v1::SeriesRequest r;
    r.mutable_territory()->set_level(level);
    r.mutable_territory()->set_code(code);
    for (v1::Date d : {D(2024, 2, 1), D(2024, 3, 9), D(2024, 3, 10), D(2024, 4, 1)}) {
      *r.add_dates() = d;
    }
    absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
    EXPECT_TRUE(s.ok()) << s.status();
    std::vector<int64_t> out;
    if (!s.ok()) return out;
    for (const v1::SeriesPoint& p : s->points()) out.push_back(p.stock().people());
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(people(v1::TERRITORY_LEVEL_COMMUNE, "93066"), (V{27, 27, 9, 9}));
  EXPECT_EQ(people(v1::TERRITORY_LEVEL_COMMUNE, "93008"), (V{0, 0, 20, 20}));
  EXPECT_EQ(people(v1::TERRITORY_LEVEL_DEPARTEMENT, "93"), (V{27, 27, 29, 29}));
  EXPECT_EQ(people(v1::TERRITORY_LEVEL_NATION, ""), (V{27, 27, 29, 29}));

  absl::StatusOr<std::string> live = rb::proj::HashViews(*engine_->Reader("series"));
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(engine_->Rebuild("series").ok());
  ASSERT_TRUE(engine_->WaitForRebuild("series", absl::Now() + absl::Seconds(30)).ok());
  EXPECT_EQ(rb::proj::HashViews(*engine_->Reader("series")).value_or(""), *live);
}

// A closure recorded before 2022 is stored as `site.closed` v1, with the six closing solutions of
// 2019; the series reads it through the upcaster: the period's flows count the people and
// households under the five current solutions (CHRS, dispositif dédié and insertion au
// territoire summed under "Hébergement ou logement adapté longue durée").
TEST_F(SeriesTest, AnOldFormatClosureCountsUnderTheCurrentClosingSolutions) {
  v1::SiteCommand declare = Declare("1");
  *declare.mutable_declare()->mutable_site()->mutable_built_at() = D(2020, 11, 1);
  *declare.mutable_declare()->mutable_site()->mutable_declared_at() = D(2021, 1, 10);
  Site(declare, At(2021, 1, 10));
  Site(Population("1", 20), At(2021, 2, 1));
  v1::SiteClosedV1 old;
  old.set_cause(v1::CLOSING_CAUSE_RESORBED);
  *old.mutable_closed_at() = D(2021, 6, 15);
  old.set_closed_with_solutions(v1::YES);
  auto solution = [&](v1::ClosingSolutionV1 value, int people, int households) {
    v1::SiteClosedV1::Solution* o = old.add_solutions();
    o->set_solution(value);
    o->set_people(people);
    o->set_households(households);
  };
  solution(v1::CLOSING_SOLUTION_V1_EMERGENCY_SHELTER, 6, 2);
  solution(v1::CLOSING_SOLUTION_V1_INTEGRATION_SHELTER, 5, 2);
  solution(v1::CLOSING_SOLUTION_V1_DEDICATED_SCHEME, 4, 1);
  solution(v1::CLOSING_SOLUTION_V1_TERRITORIAL_INTEGRATION, 1, 1);
  solution(v1::CLOSING_SOLUTION_V1_ORDINARY_OR_ADAPTED_HOUSING, 3, 1);
  solution(v1::CLOSING_SOLUTION_V1_SOCIAL_WATCH_OR_NONE, 1, 1);
  clock_.Advance(absl::Minutes(1));
  rb::es::AppendRequest req;
  req.stream_id = "site-1";
  req.metadata.actor_user = "u-1";
  req.metadata.actor_organisation = "o-1";
  req.metadata.actor_role = "local_admin";
  req.events.push_back(rb::es::EventData{.type = "site.closed",
                                         .schema_version = 1,
                                         .valid_at_us = At(2021, 6, 15),
                                         .payload = old.SerializeAsString()});
  ASSERT_TRUE(store_->Append(req).ok());
  CatchUp();

  rb::proj::views::SeriesQuery q(engine_.get());
  v1::PeriodRequest p;
  p.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  p.mutable_territory()->set_code("93");
  *p.mutable_from() = D(2021, 1, 1);
  *p.mutable_to() = D(2021, 12, 31);
  absl::StatusOr<v1::SeriesPoint> year = q.Period(p);
  ASSERT_TRUE(year.ok()) << year.status();
  const v1::TerritoryFlows& f = year->flows();
  EXPECT_EQ(f.sites_opened(), 1);
  EXPECT_EQ(f.sites_closed(), 1);
  EXPECT_EQ(f.sites_resorbed(), 1);
  // Indexed by ClosingSolution: unused, temporary shelter, long term, housing, none, other.
  using V = std::vector<int64_t>;
  EXPECT_EQ(V(f.people_by_solution().begin(), f.people_by_solution().end()),
            (V{0, 6, 10, 3, 1, 0}));
  EXPECT_EQ(V(f.households_by_solution().begin(), f.households_by_solution().end()),
            (V{0, 2, 4, 1, 1, 0}));
  EXPECT_EQ(year->stock().sites(), 0);  // closed on 31 December

  // In a monthly series the closure falls in the point of 1 July (flows since 1 June).
  v1::SeriesResponse s =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2021, 5, 1), D(2021, 8, 1));
  ASSERT_EQ(s.points_size(), 4);
  const int64_t closed[] = {0, 0, 1, 0};
  const int64_t long_term[] = {0, 0, 10, 0};
  for (int i = 0; i < 4; ++i) {
    const v1::TerritoryFlows& flows = s.points(i).flows();  // empty for the first point
    EXPECT_EQ(flows.sites_closed(), closed[i]) << i;
    const int k = v1::CLOSING_SOLUTION_LONG_TERM_ADAPTED;
    EXPECT_EQ(flows.people_by_solution_size() > k ? flows.people_by_solution(k) : 0, long_term[i])
        << i;
  }
  EXPECT_EQ(s.points(1).stock().people(), 20);  // 1 June, still open
  EXPECT_EQ(s.points(2).stock().sites(), 0);    // 1 July, closed
}

TEST_F(SeriesTest, RejectsAnInvertedRange) {
  rb::proj::views::SeriesQuery q(engine_.get());
  v1::SeriesRequest r;
  *r.mutable_from() = D(2024, 2, 1);
  *r.mutable_to() = D(2024, 1, 1);
  EXPECT_EQ(q.Series(r).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rb::views_b_testing
