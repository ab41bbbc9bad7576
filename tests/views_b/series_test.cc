#include "projections/views/series.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "domain/dates.h"
#include "domain/events.h"
#include "domain/site.h"
#include "google/protobuf/arena.h"
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
  // The series of a territory on `dates`.
  v1::SeriesResponse OnDates(v1::TerritoryLevel level, const std::string& code,
                             const std::vector<v1::Date>& dates) {
    rb::proj::views::SeriesQuery q(engine_.get());
    v1::SeriesRequest r;
    r.mutable_territory()->set_level(level);
    r.mutable_territory()->set_code(code);
    for (const v1::Date& d : dates) *r.add_dates() = d;
    absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::SeriesResponse();
  }
  static std::vector<int64_t> Sites(const v1::SeriesResponse& s) {
    std::vector<int64_t> out;
    for (const v1::SeriesPoint& p : s.points()) out.push_back(p.stock().sites());
    return out;
  }
  static std::vector<int64_t> People(const v1::SeriesResponse& s) {
    std::vector<int64_t> out;
    for (const v1::SeriesPoint& p : s.points()) out.push_back(p.stock().people());
    return out;
  }
  // Flows between consecutive points (0 for the first point).
  static std::vector<int64_t> Opened(const v1::SeriesResponse& s) {
    std::vector<int64_t> out;
    for (const v1::SeriesPoint& p : s.points()) out.push_back(p.flows().sites_opened());
    return out;
  }
  static std::vector<int64_t> Closed(const v1::SeriesResponse& s) {
    std::vector<int64_t> out;
    for (const v1::SeriesPoint& p : s.points()) out.push_back(p.flows().sites_closed());
    return out;
  }
  static std::vector<int64_t> HousedPeople(const v1::SeriesResponse& s) {
    std::vector<int64_t> out;
    for (const v1::SeriesPoint& p : s.points()) {
      const auto& f = p.flows();
      const int k = v1::CLOSING_SOLUTION_HOUSING;
      out.push_back(f.people_by_solution_size() > k ? f.people_by_solution(k) : 0);
    }
    return out;
  }
  // Closes site `id` on valid date `valid_at_us`, the closure dated `closed_at` (ValidClosure:
  // resorbed, 10 people and 3 households to housing).
  void Close(const std::string& id, v1::Date closed_at, int64_t valid_at_us) {
    v1::SiteCommand close = rb::domain::testing::On(id);
    *close.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
    *close.mutable_close()->mutable_closure()->mutable_closed_at() = closed_at;
    Site(close, valid_at_us);
  }
  // A national administrator corrects the closure date of site `id` ("fix_status").
  void CorrectClosedAt(const std::string& id, v1::Date closed_at, int64_t valid_at_us) {
    v1::SiteCommand fix = rb::domain::testing::On(id);
    fix.set_reason("Date de fermeture erronée");
    *fix.mutable_correct_closure()->mutable_closure() = rb::domain::testing::ValidClosure();
    *fix.mutable_correct_closure()->mutable_closure()->mutable_closed_at() = closed_at;
    Site(fix, valid_at_us, rb::domain::Role::kNationalAdmin);
  }
  // Appends an old-format closure (`site.closed` v1, as recorded before 2022) of site `id`.
  void AppendClosedV1(const std::string& id, const v1::SiteClosedV1& old, int64_t valid_at_us) {
    clock_.Advance(absl::Minutes(1));
    rb::es::AppendRequest req;
    req.stream_id = "site-" + id;
    req.metadata.actor_user = "u-1";
    req.metadata.actor_organisation = "o-1";
    req.metadata.actor_role = "local_admin";
    req.events.push_back(rb::es::EventData{.type = "site.closed",
                                           .schema_version = 1,
                                           .valid_at_us = valid_at_us,
                                           .payload = old.SerializeAsString()});
    ASSERT_TRUE(store_->Append(req).ok());
  }
  // The series view rebuilt from the log equals the one built live.
  void ExpectRebuildEqualsLive() {
    absl::StatusOr<std::string> live = rb::proj::HashViews(*engine_->Reader("series"));
    ASSERT_TRUE(live.ok());
    ASSERT_TRUE(engine_->Rebuild("series").ok());
    ASSERT_TRUE(engine_->WaitForRebuild("series", absl::Now() + absl::Seconds(30)).ok());
    EXPECT_EQ(rb::proj::HashViews(*engine_->Reader("series")).value_or(""), *live);
  }

  // Site "1" in Saint-Denis (93): installed 2023-01-10 and reported 2023-02-01 (Declare's dates),
  // so counted from 2023-01-10; declared 2024-01-10, 20 people on 02-01, a v1 assessment
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
  const int64_t sites[] = {1, 1, 1, 1, 1, 0};  // counted since its installation in 2023
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
  EXPECT_EQ(s.points(1).flows().sites_opened(), 0);  // opened on 2023-01-10
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
  // Installed on 2023-01-10 (Declare's date): counted from then, with its declared figures, not
  // out of date before its first version.
  const int64_t sites[] = {1, 1, 1, 1, 1};
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
  // Dates that move the opening or the closure before the versions: a closure corrected to an
  // earlier closed_at, a closed_at before later versions, a second version on the declaration day.
  CorrectClosedAt("1", D(2024, 3, 25), At(2024, 6, 2));
  v1::SiteCommand declare4 = Declare("4");
  declare4.mutable_declare()->mutable_site()->mutable_population()->set_total(8);
  Site(declare4, At(2024, 6, 3));
  Site(Population("4", 11), At(2024, 6, 3) + absl::ToInt64Microseconds(absl::Hours(1)));
  Close("2", D(2024, 2, 25), At(2024, 6, 4));
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

// A batch of 8,192 sites or more (a rebuild's) flushes on two threads, each for half the sites:
// the same bytes as batches small enough to flush on one. 9,000 sites in three communes of two
// departements, declared on various days, most counted twice, some moved, a few closed.
TEST_F(SeriesTest, ALargeBatchFlushedOnTwoThreadsGivesTheSameViews) {
  engine_.reset();
  const char* const communes[][4] = {{"93066", "200054781", "93", "11"},
                                     {"93048", "200054781", "93", "11"},
                                     {"33063", "243300316", "33", "75"}};
  auto territory = [&](int c, v1::Territory* t) {
    t->set_city_code(communes[c][0]);
    t->set_epci_code(communes[c][1]);
    t->set_departement_code(communes[c][2]);
    t->set_region_code(communes[c][3]);
  };
  const int kSites = 9000;
  for (int i = 0; i < kSites; ++i) {
    rb::es::AppendRequest req;
    req.stream_id = "site-" + std::to_string(i);
    const int64_t first = At(2020, 1, 1) + int64_t{i % 700} * 86'400'000'000;
    auto add = [&](const v1::SiteEvent& e, int64_t valid) {
      absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(e);
      ASSERT_TRUE(data.ok()) << data.status();
      data->valid_at_us = valid;
      req.events.push_back(*std::move(data));
    };
    v1::SiteEvent declared;
    declared.mutable_declared()->set_site_id(std::to_string(i));
    declared.mutable_declared()->set_name("Site");
    declared.mutable_declared()->set_field_type(v1::FIELD_TYPE_LAND);
    territory(i % 3, declared.mutable_declared()->mutable_location()->mutable_territory());
    add(declared, first);
    if (i % 4 != 0) {
      v1::SiteEvent counted;
      counted.mutable_population_recorded()->mutable_population()->set_total(5 + i % 30);
      counted.mutable_population_recorded()->mutable_population()->set_minors(i % 4);
      add(counted, first + 40 * int64_t{86'400'000'000});
    }
    if (i % 7 == 0) {
      v1::SiteEvent moved;
      territory((i + 1) % 3,
                moved.mutable_location_changed()->mutable_location()->mutable_territory());
      add(moved, first + 90 * int64_t{86'400'000'000});
    }
    ASSERT_TRUE(store_->Append(req).ok());
  }
  const uint64_t head = store_->GetHead().position;
  auto build = [&](size_t batch_events) {
    rb::proj::EngineOptions o;
    o.batch_events = batch_events;
    o.max_batch_bytes = size_t{1} << 30;  // batches end on their event count only
    rb::proj::ProjectionEngine engine(store_.get(), o);
    EXPECT_TRUE(engine.Register(std::make_unique<rb::proj::views::SeriesProjection>()).ok());
    EXPECT_TRUE(engine.Start().ok());
    EXPECT_TRUE(engine.Rebuild("series").ok());
    EXPECT_TRUE(engine.WaitForRebuild("series", absl::Now() + absl::Minutes(5)).ok());
    EXPECT_TRUE(engine.WaitForPosition("series", head, absl::Now() + absl::Minutes(5)).ok());
    absl::StatusOr<std::string> h = rb::proj::HashViews(*engine.Reader("series"));
    EXPECT_TRUE(h.ok());
    return h.ok() ? *h : "";
  };
  const std::string one_thread = build(2000);  // at most 2,000 sites a batch
  EXPECT_FALSE(one_thread.empty());
  EXPECT_EQ(build(head), one_thread);  // all 9,000 sites in one batch
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
  AppendClosedV1("1", old, At(2021, 6, 15));
  CatchUp();

  rb::proj::views::SeriesQuery q(engine_.get());
  v1::PeriodRequest p;
  p.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  p.mutable_territory()->set_code("93");
  *p.mutable_from() = D(2020, 1, 1);  // opened on its installation, 2020-11-01
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
  EXPECT_EQ(year->stock().sites(), 0);  // closed on 31 December 2021

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

// The platform counts a site on D when known_since = LEAST(built_at, declared_at, created_at)
// <= D. Installed on 2024-01-20, reported on 2024-02-05 and declared on the platform on 2024-03-10
// with 15 people, the site counts from 2024-01-20 with its declared figures; the 25 people
// recorded later on the declaration day count from that day, 30 from 04-15. A retroactive
// correction of the installation date (dated 04-01) moves the opening to 2023-12-01.
TEST_F(SeriesTest, ASiteCountsFromItsInstallationDateWithItsDeclaredFigures) {
  v1::SiteCommand declare = Declare("i");
  v1::Site* site = declare.mutable_declare()->mutable_site();
  *site->mutable_built_at() = D(2024, 1, 20);
  *site->mutable_declared_at() = D(2024, 2, 5);
  site->mutable_population()->set_total(15);
  Site(declare, At(2024, 3, 10));
  Site(Population("i", 25), At(2024, 3, 10) + absl::ToInt64Microseconds(absl::Hours(3)));
  Site(Population("i", 30), At(2024, 4, 15));
  CatchUp();
  using V = std::vector<int64_t>;
  const std::vector<v1::Date> dates = {D(2023, 12, 1), D(2024, 1, 19), D(2024, 1, 20),
                                       D(2024, 3, 9),  D(2024, 3, 10), D(2024, 4, 15)};
  v1::SeriesResponse s = OnDates(v1::TERRITORY_LEVEL_NATION, "", dates);
  EXPECT_EQ(Sites(s), (V{0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(People(s), (V{0, 0, 15, 15, 25, 30}));
  for (const v1::SeriesPoint& p : s.points()) EXPECT_EQ(p.stock().sites_out_of_date(), 0);
  // Monthly: opened in the point of 1 February (flows since 1 January).
  v1::SeriesResponse m =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2024, 1, 1), D(2024, 5, 1));
  EXPECT_EQ(Sites(m), (V{0, 1, 1, 1, 1}));
  EXPECT_EQ(People(m), (V{0, 15, 15, 25, 30}));
  EXPECT_EQ(Opened(m), (V{0, 1, 0, 0, 0}));

  v1::SiteCommand fix = On("i");
  fix.set_reason("Date d'installation retrouvée");
  v1::UpdateSite* u = fix.mutable_correct_retroactively()->mutable_update();
  *u->mutable_site()->mutable_built_at() = D(2023, 12, 1);
  u->mutable_update_mask()->add_paths("built_at");
  Site(fix, At(2024, 4, 1));
  CatchUp();
  s = OnDates(v1::TERRITORY_LEVEL_NATION, "", dates);
  EXPECT_EQ(Sites(s), (V{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(People(s), (V{15, 15, 15, 15, 25, 30}));
  m = Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2023, 11, 1), D(2024, 2, 1));
  EXPECT_EQ(Opened(m), (V{0, 1, 0, 0}));  // 12-01: opened since 11-01
  ExpectRebuildEqualsLive();
}

// Without an installation date, the report date opens the site, before its declaration on the
// platform (2024-01-15); an update of the report date (site.dates_changed) moves the opening.
TEST_F(SeriesTest, TheReportDateOpensASiteAndAnUpdateOfItMovesTheOpening) {
  v1::SiteCommand declare = Declare("r");
  declare.mutable_declare()->mutable_site()->clear_built_at();
  *declare.mutable_declare()->mutable_site()->mutable_declared_at() = D(2023, 11, 20);
  Site(declare, At(2024, 1, 15));
  Site(Population("r", 12), At(2024, 1, 20));
  CatchUp();
  using V = std::vector<int64_t>;
  const std::vector<v1::Date> dates = {D(2023, 11, 19), D(2023, 11, 20), D(2023, 12, 5),
                                       D(2024, 1, 15), D(2024, 1, 20)};
  v1::SeriesResponse s = OnDates(v1::TERRITORY_LEVEL_COMMUNE, "93066", dates);
  EXPECT_EQ(Sites(s), (V{0, 1, 1, 1, 1}));
  EXPECT_EQ(People(s), (V{0, 0, 0, 0, 12}));
  v1::SeriesResponse m = Monthly(v1::TERRITORY_LEVEL_NATION, "", D(2023, 11, 1), D(2024, 2, 1));
  EXPECT_EQ(Opened(m), (V{0, 1, 0, 0}));

  v1::SiteCommand fix = On("r");
  *fix.mutable_update()->mutable_site()->mutable_declared_at() = D(2023, 12, 5);
  fix.mutable_update()->mutable_update_mask()->add_paths("declared_at");
  Site(fix, At(2024, 2, 1));
  CatchUp();
  s = OnDates(v1::TERRITORY_LEVEL_COMMUNE, "93066", dates);
  EXPECT_EQ(Sites(s), (V{0, 0, 1, 1, 1}));
  m = Monthly(v1::TERRITORY_LEVEL_NATION, "", D(2023, 11, 1), D(2024, 2, 1));
  EXPECT_EQ(Opened(m), (V{0, 0, 1, 0}));  // 01-01: opened since 12-01
  ExpectRebuildEqualsLive();
}

// The platform dates a closure by its closed_at. Closed on 2024-05-10 (valid date) with closed_at
// 2024-03-20, the site counts as closed from 03-20: stocks drop and the closure's flows (closed,
// resorbed, 10 people to housing) fall in the point of 1 April. The count of 30 people dated
// 04-01, between closed_at and the closing event, does not reopen it.
TEST_F(SeriesTest, AClosureCountsFromItsClosedAtDateNotFromTheClosingEvent) {
  Site(Declare("c"), At(2024, 1, 10));  // counted from its installation, 2023-01-10
  Site(Population("c", 20), At(2024, 2, 1));
  Site(Population("c", 30), At(2024, 4, 1));
  Close("c", D(2024, 3, 20), At(2024, 5, 10));
  CatchUp();
  using V = std::vector<int64_t>;
  v1::SeriesResponse s =
      OnDates(v1::TERRITORY_LEVEL_DEPARTEMENT, "93",
              {D(2024, 3, 19), D(2024, 3, 20), D(2024, 4, 1), D(2024, 5, 9), D(2024, 5, 10)});
  EXPECT_EQ(Sites(s), (V{1, 0, 0, 0, 0}));
  EXPECT_EQ(People(s), (V{20, 0, 0, 0, 0}));
  EXPECT_EQ(Closed(s), (V{0, 1, 0, 0, 0}));

  v1::SeriesResponse m =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2024, 1, 1), D(2024, 6, 1));
  ASSERT_EQ(m.points_size(), 6);
  EXPECT_EQ(Sites(m), (V{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(People(m), (V{0, 20, 20, 0, 0, 0}));
  EXPECT_EQ(Closed(m), (V{0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(m.points(3).flows().sites_resorbed(), 1);
  EXPECT_EQ(HousedPeople(m), (V{0, 0, 0, 10, 0, 0}));
  EXPECT_EQ(
      m.points(3).flows().households_by_solution(static_cast<int>(v1::CLOSING_SOLUTION_HOUSING)),
      3);
  ExpectRebuildEqualsLive();
}

// A closure recorded with a valid date (2024-05-10) before its closed_at (2024-05-20): the site
// counts as open, with its figures, until 05-19, and as closed from 05-20.
TEST_F(SeriesTest, AClosureDatedAfterTheClosingEventCountsFromItsClosedAtDate) {
  Site(Declare("a"), At(2024, 1, 10));
  Site(Population("a", 20), At(2024, 2, 1));
  Close("a", D(2024, 5, 20), At(2024, 5, 10));
  CatchUp();
  using V = std::vector<int64_t>;
  v1::SeriesResponse s =
      OnDates(v1::TERRITORY_LEVEL_NATION, "",
              {D(2024, 5, 9), D(2024, 5, 10), D(2024, 5, 19), D(2024, 5, 20), D(2024, 6, 1)});
  EXPECT_EQ(Sites(s), (V{1, 1, 1, 0, 0}));
  EXPECT_EQ(People(s), (V{20, 20, 20, 0, 0}));
  EXPECT_EQ(Closed(s), (V{0, 0, 0, 1, 0}));
  EXPECT_EQ(HousedPeople(s), (V{0, 0, 0, 10, 0}));
  for (const v1::SeriesPoint& p : s.points()) EXPECT_EQ(p.stock().sites_out_of_date(), 0);
  ExpectRebuildEqualsLive();
}

// A national administrator's correction of closed_at ("fix_status", recorded after the closure)
// moves the closure, its stocks and its flows to the month of the new date, and back.
TEST_F(SeriesTest, ACorrectionOfClosedAtMovesTheClosureToAnotherMonth) {
  Site(Declare("f"), At(2024, 1, 10));
  Site(Population("f", 20), At(2024, 2, 1));
  Close("f", D(2024, 5, 10), At(2024, 5, 10));
  CatchUp();
  using V = std::vector<int64_t>;
  auto monthly = [&] {
    return Monthly(v1::TERRITORY_LEVEL_COMMUNE, "93066", D(2024, 1, 1), D(2024, 6, 1));
  };
  v1::SeriesResponse m = monthly();
  EXPECT_EQ(Sites(m), (V{1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(Closed(m), (V{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(HousedPeople(m), (V{0, 0, 0, 0, 0, 10}));

  CorrectClosedAt("f", D(2024, 2, 15), At(2024, 6, 1));
  CatchUp();
  m = monthly();
  EXPECT_EQ(Sites(m), (V{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(People(m), (V{0, 20, 0, 0, 0, 0}));
  EXPECT_EQ(Closed(m), (V{0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(HousedPeople(m), (V{0, 0, 10, 0, 0, 0}));

  CorrectClosedAt("f", D(2024, 4, 2), At(2024, 6, 2));
  CatchUp();
  m = monthly();
  EXPECT_EQ(Sites(m), (V{1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(Closed(m), (V{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(HousedPeople(m), (V{0, 0, 0, 0, 10, 0}));
  ExpectRebuildEqualsLive();
}

// Old-format closures (`site.closed` v1, upcast) follow the same rule: recorded on 2021-09-01
// with closed_at 2021-06-15, site 1 counts as closed from 06-15 (point of 1 July); site 2's
// closure, recorded on 2021-08-10 without a date, counts from its valid day (point of 1 September).
TEST_F(SeriesTest, AnOldFormatClosureCountsFromItsClosedAtDate) {
  for (const char* id : {"1", "2"}) {
    v1::SiteCommand declare = Declare(id);
    *declare.mutable_declare()->mutable_site()->mutable_built_at() = D(2020, 11, 1);
    *declare.mutable_declare()->mutable_site()->mutable_declared_at() = D(2021, 1, 10);
    Site(declare, At(2021, 1, 10));
  }
  Site(Population("1", 20), At(2021, 2, 1));
  Site(Population("2", 7), At(2021, 2, 1));
  v1::SiteClosedV1 dated;
  dated.set_cause(v1::CLOSING_CAUSE_RESORBED);
  *dated.mutable_closed_at() = D(2021, 6, 15);
  dated.set_closed_with_solutions(v1::YES);
  v1::SiteClosedV1::Solution* o = dated.add_solutions();
  o->set_solution(v1::CLOSING_SOLUTION_V1_ORDINARY_OR_ADAPTED_HOUSING);
  o->set_people(3);
  o->set_households(1);
  AppendClosedV1("1", dated, At(2021, 9, 1));
  v1::SiteClosedV1 undated;
  undated.set_cause(v1::CLOSING_CAUSE_UNKNOWN);
  undated.set_closed_with_solutions(v1::NO);
  AppendClosedV1("2", undated, At(2021, 8, 10));
  CatchUp();

  using V = std::vector<int64_t>;
  v1::SeriesResponse m =
      Monthly(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", D(2021, 5, 1), D(2021, 10, 1));
  ASSERT_EQ(m.points_size(), 6);
  EXPECT_EQ(Sites(m), (V{2, 2, 1, 1, 0, 0}));
  EXPECT_EQ(People(m), (V{27, 27, 7, 7, 0, 0}));
  EXPECT_EQ(Closed(m), (V{0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(HousedPeople(m), (V{0, 0, 3, 0, 0, 0}));
  EXPECT_EQ(m.points(2).flows().sites_resorbed(), 1);
  EXPECT_EQ(m.points(4).flows().sites_resorbed(), 0);
  ExpectRebuildEqualsLive();
}

// The series of random histories (declarations with and without dates, counts on the same day
// and later, retroactive corrections of counts and of the installation date, updates of the
// report date, closures before and after their closing event, closure corrections, an erasure)
// against the model computed from scratch for each date from each site's events
// (FoldSiteInValidOrder), and rebuilt in one batch: the same views.
namespace oracle {

using rb::proj::views::MetricVector;

int64_t EndOfDay(absl::CivilDay d) {
  return absl::ToUnixMicros(absl::FromCivil(d + 1, absl::UTCTimeZone())) - 1;
}
bool HasData(const v1::Site& s) {
  return s.status() == v1::SITE_STATUS_OPEN || s.status() == v1::SITE_STATUS_CLOSED;
}

// What site `events` contributes on `d` (docs/projections.md, series).
MetricVector Contribution(const std::vector<rb::domain::LoggedSiteEvent>& events,
                          absl::CivilDay d) {
  MetricVector zero{};
  std::vector<absl::CivilDay> days;
  for (const auto& e : events) days.push_back(rb::domain::DayOfMicros(e.event.valid_at_us()));
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  auto at_end = [&](absl::CivilDay day) {
    return rb::domain::FoldSiteInValidOrder(events, EndOfDay(day));
  };
  std::optional<absl::CivilDay> first, last_day;
  for (absl::CivilDay day : days) {
    if (!HasData(at_end(day))) continue;
    if (!first) first = day;
    last_day = day;
  }
  if (!first) return zero;
  const v1::Site last = at_end(*last_day);
  int64_t first_valid = events.front().event.valid_at_us();
  for (const auto& e : events) first_valid = std::min(first_valid, e.event.valid_at_us());
  v1::Site pre = rb::domain::FoldSiteInValidOrder(events, first_valid);
  if (!HasData(pre) || *first != days.front()) pre = at_end(*first);
  absl::CivilDay open = *first;
  for (const v1::Date& date : {last.built_at(), last.declared_at()}) {
    if (std::optional<absl::CivilDay> x = rb::domain::ToCivilDay(date)) open = std::min(open, *x);
  }
  if (d < open) return zero;
  v1::Site state = d < *first ? pre : at_end(d);
  if (!HasData(state)) return zero;
  if (last.status() == v1::SITE_STATUS_CLOSED) {
    const absl::CivilDay closed =
        std::max(open, *rb::domain::ToCivilDay(last.closure().closed_at()));
    if (d >= closed) return rb::proj::views::SiteContribution(last);
  }
  state.set_status(v1::SITE_STATUS_OPEN);
  MetricVector m = rb::proj::views::SiteContribution(state);
  const int64_t update = state.updated_at_us() != 0 ? state.updated_at_us() : state.created_at_us();
  if (d >= *first && d >= rb::views::FirstOutOfDateDay(rb::domain::DayOfMicros(update))) {
    m[rb::proj::views::kOutOfDate] = 1;
  }
  return m;
}

}  // namespace oracle

TEST_F(SeriesTest, RandomHistoriesMatchTheModelComputedFromScratch) {
  using rb::proj::views::MetricVector;
  const absl::CivilDay start(2023, 3, 1);
  std::vector<std::string> ids;  // every site so far: the nation counts them all
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    struct Tracked {
      std::string id;
      bool declared = false, closed = false;
      int64_t created = 0, latest = 0;
      absl::CivilDay built{1970, 1, 1}, reported{1970, 1, 1};
      bool has_built = false;
    };
    std::vector<Tracked> sites(5);
    for (size_t i = 0; i < sites.size(); ++i) {
      sites[i].id = absl::StrCat("r", seed, "-", i);
      ids.push_back(sites[i].id);
    }
    absl::CivilDay day = start;
    int hour = 0;
    auto run = [&](v1::SiteCommand cmd, int64_t valid, rb::domain::Role role) {
      clock_.Advance(absl::Minutes(1));
      cmd.set_valid_at_us(valid);
      absl::StatusOr<rb::domain::CommandResult> r =
          handler_->HandleSite(cmd, Ctx(role, clock_.NowMicros()));
      return r.ok();
    };
    for (int step = 0; step < 80; ++step) {
      if (pick(0, 2) > 0) {
        day += pick(1, 12);
        hour = 0;
      }
      hour = std::min(hour + 1, 20);
      const int64_t now =
          At(day.year(), day.month(), day.day()) - 11 * 3600000000LL + int64_t{hour} * 3600000000LL;
      Tracked& t = sites[pick(0, static_cast<int>(sites.size()) - 1)];
      const absl::CivilDay today = rb::domain::DayOfMicros(now);
      if (!t.declared) {
        v1::SiteCommand c = Declare(t.id);
        v1::Site* site = c.mutable_declare()->mutable_site();
        t.has_built = pick(0, 2) > 0;
        t.built = today - pick(0, 300);
        t.reported = t.has_built ? t.built + pick(0, static_cast<int>(today - t.built))
                                 : today - pick(0, 200);
        if (t.has_built) {
          *site->mutable_built_at() = rb::domain::ToDate(t.built);
        } else {
          site->clear_built_at();
        }
        *site->mutable_declared_at() = rb::domain::ToDate(t.reported);
        if (pick(0, 1) == 1) site->mutable_population()->set_total(pick(1, 40));
        if (run(c, now, rb::domain::Role::kLocalAdmin)) {
          t.declared = true;
          t.created = t.latest = now;
        }
      } else if (!t.closed) {
        const int what = pick(0, 9);
        if (what <= 3 || what == 7) {
          if (run(Population(t.id, pick(1, 60)), now, rb::domain::Role::kLocalAdmin)) {
            t.latest = now;
          }
        } else if (what == 4 && t.latest > t.created) {
          const int64_t valid = t.created + (t.latest - t.created) * pick(1, 9) / 10;
          run(RetroPopulation(t.id, pick(1, 60)), valid, rb::domain::Role::kLocalAdmin);
        } else if (what == 5 && t.latest > t.created) {
          v1::SiteCommand c = On(t.id);
          c.set_reason("Date d'installation retrouvée");
          v1::UpdateSite* u = c.mutable_correct_retroactively()->mutable_update();
          t.built = t.reported - pick(0, 200);
          t.has_built = true;
          *u->mutable_site()->mutable_built_at() = rb::domain::ToDate(t.built);
          u->mutable_update_mask()->add_paths("built_at");
          const int64_t valid = t.created + (t.latest - t.created) * pick(1, 9) / 10;
          run(c, valid, rb::domain::Role::kLocalAdmin);
        } else if (what == 6) {
          v1::SiteCommand c = On(t.id);
          const absl::CivilDay lo = t.has_built ? t.built : today - 300;
          const absl::CivilDay reported = lo + pick(0, static_cast<int>(today - lo));
          *c.mutable_update()->mutable_site()->mutable_declared_at() = rb::domain::ToDate(reported);
          c.mutable_update()->mutable_update_mask()->add_paths("declared_at");
          if (run(c, now, rb::domain::Role::kLocalAdmin)) {
            t.reported = reported;
            t.latest = now;
          }
        } else if (what >= 8) {
          absl::CivilDay lo = t.reported;
          if (t.has_built) lo = std::max(lo, t.built + 1);
          const absl::CivilDay closed_at = lo + pick(0, static_cast<int>(today + 40 - lo));
          Close(t.id, rb::domain::ToDate(std::min(closed_at, absl::CivilDay(2024, 6, 14))), now);
          t.closed = true;
          t.latest = now;
        }
      } else if (pick(0, 2) == 0) {
        absl::CivilDay lo = t.reported;
        if (t.has_built) lo = std::max(lo, t.built + 1);
        CorrectClosedAt(t.id, rb::domain::ToDate(lo + pick(0, 200)), now);
      }
      CatchUp();
    }
    // One site erased (dated when it is done: 2024-06-15 and later).
    v1::SiteCommand erase = On(sites[0].id);
    erase.mutable_erase()->set_reason("Doublon");
    run(erase, 0, rb::domain::Role::kNationalAdmin);
    CatchUp();

    std::vector<v1::Date> dates;
    for (absl::CivilDay d(2022, 1, 1); d <= absl::CivilDay(2024, 7, 1); d += 9) {
      dates.push_back(rb::domain::ToDate(d));
    }
    std::vector<MetricVector> expected(dates.size(), MetricVector{});
    for (const std::string& id : ids) {
      absl::StatusOr<std::vector<rb::es::RecordedEvent>> recorded =
          store_->ReadStream("site-" + id, 0, rb::es::Direction::kForward, 100000);
      ASSERT_TRUE(recorded.ok());
      std::vector<rb::domain::LoggedSiteEvent> events;
      for (const rb::es::RecordedEvent& r : *recorded) {
        absl::StatusOr<v1::SiteEvent> e = rb::domain::DecodeSiteEvent(r);
        ASSERT_TRUE(e.ok());
        events.push_back({r.position, *e});
      }
      if (events.empty()) continue;
      for (size_t i = 0; i < dates.size(); ++i) {
        const MetricVector m = oracle::Contribution(events, *rb::domain::ToCivilDay(dates[i]));
        for (int k = 0; k < rb::proj::views::kMetrics; ++k) expected[i][k] += m[k];
      }
    }
    const v1::SeriesResponse s = OnDates(v1::TERRITORY_LEVEL_NATION, "", dates);
    ASSERT_EQ(s.points_size(), static_cast<int>(dates.size()));
    for (size_t i = 0; i < dates.size(); ++i) {
      SCOPED_TRACE(rb::domain::FormatDate(dates[i]));
      const v1::SeriesPoint& p = s.points(static_cast<int>(i));
      const auto* desc = p.stock().GetDescriptor();
      const auto* refl = p.stock().GetReflection();
      for (int k = 0; k < rb::proj::views::kStockMetrics; ++k) {
        EXPECT_EQ(refl->GetInt64(p.stock(), desc->FindFieldByNumber(k + 1)), expected[i][k])
            << desc->FindFieldByNumber(k + 1)->name();
      }
      if (i == 0) continue;
      const MetricVector& b = expected[i - 1];
      const MetricVector& a = expected[i];
      using rb::proj::views::kCumClosed;
      using rb::proj::views::kCumOpened;
      using rb::proj::views::kCumPeopleBySolution;
      using rb::proj::views::kCumResorbed;
      EXPECT_EQ(p.flows().sites_opened(), a[kCumOpened] - b[kCumOpened]);
      EXPECT_EQ(p.flows().sites_closed(), a[kCumClosed] - b[kCumClosed]);
      EXPECT_EQ(p.flows().sites_resorbed(), a[kCumResorbed] - b[kCumResorbed]);
      const int housing = v1::CLOSING_SOLUTION_HOUSING;
      EXPECT_EQ(p.flows().people_by_solution(housing),
                a[kCumPeopleBySolution + housing] - b[kCumPeopleBySolution + housing]);
    }
  }
  ExpectRebuildEqualsLive();
}

// The record written from its parts is the record protobuf would write with its `versions` set,
// whatever fields it holds, on an arena or not.
TEST(SeriesRecordBytes, AreTheBytesOfTheRecordHoldingItsSerializedVersions) {
  auto record_of = [](v1::SeriesSiteRecord* r, bool full) {
    r->set_first_valid_at_us(1'700'000'000'000'000);
    for (int i = 0; i < (full ? 3 : 1); ++i) {
      v1::SeriesSegment* s = r->add_segments();
      s->set_day(19000 + 30 * i);
      s->set_territory(static_cast<uint32_t>(i % 2));
      s->add_values(1);
      s->add_values(-7 * i);
      s->set_values_mask(0b11);
      if (full) s->set_known_from(18990);
    }
    if (full) {
      r->mutable_segments(2)->set_closed_from(19100);
      r->mutable_segments(2)->add_closed_values(4);
      r->mutable_segments(2)->set_closed_mask(1 << 20);
      *r->mutable_first_version() = r->segments(0);
      r->mutable_first_version()->set_day(18995);
    }
    for (const char* code : {"93066", "75056"}) {
      v1::Territory* t = r->add_territories();
      t->set_city_code(code);
      t->set_departement_code(std::string(code).substr(0, 2));
    }
  };
  v1::SiteVersionIndex versions;
  versions.add_valid_at_us(1'700'000'000'000'000);
  versions.add_positions(42);
  versions.mutable_tail()->set_id("7");
  versions.mutable_tail()->set_name("Terrain du stade");
  for (bool full : {false, true}) {
    const v1::SiteVersionIndex* const indexes[] = {&versions,
                                                   &v1::SiteVersionIndex::default_instance()};
    for (const v1::SiteVersionIndex* index : indexes) {
      v1::SeriesSiteRecord expected;
      record_of(&expected, full);
      expected.set_versions(rb::domain::DeterministicBytes(*index));
      const std::string want = rb::domain::DeterministicBytes(expected);

      v1::SeriesSiteRecord heap, heap_scratch;
      record_of(&heap, full);
      EXPECT_EQ(rb::proj::views::SeriesRecordBytes(heap, *index, &heap_scratch), want);
      EXPECT_EQ(heap.territories_size(), 2);  // given back
      EXPECT_EQ(heap_scratch.territories_size(), 0);

      google::protobuf::Arena arena;
      auto* on_arena = google::protobuf::Arena::CreateMessage<v1::SeriesSiteRecord>(&arena);
      auto* scratch = google::protobuf::Arena::CreateMessage<v1::SeriesSiteRecord>(&arena);
      record_of(on_arena, full);
      EXPECT_EQ(rb::proj::views::SeriesRecordBytes(*on_arena, *index, scratch), want);
      EXPECT_EQ(on_arena->territories_size(), 2);
    }
  }
}

// Records with every field of a segment at random, edge values included (negative days, zero
// set explicitly, the longest varints, empty and long lists, fields unknown to this version):
// each time protobuf's bytes.
TEST(SeriesRecordBytes, MatchProtobufForEveryFieldOfASegment) {
  std::mt19937_64 rng(7);
  auto pick = [&](std::initializer_list<int64_t> edges) {
    const std::vector<int64_t> v(edges);
    return rng() % 3 == 0 ? static_cast<int64_t>(rng()) >> (rng() % 64) : v[rng() % v.size()];
  };
  auto fill = [&](v1::SeriesSegment* s) {
    if (rng() % 4 != 0) s->set_day(static_cast<int32_t>(pick({0, 1, -1, 127, 128, 20000, -40000})));
    const int values = static_cast<int>(rng() % 35);
    for (int i = 0; i < values; ++i) {
      s->add_values(pick({0, 1, -1, 63, 64, -65, INT64_MIN, INT64_MAX}));
    }
    if (rng() % 2) s->set_values_mask(static_cast<uint64_t>(pick({0, 1, (int64_t{1} << 34) - 1})));
    if (rng() % 2) s->set_outdated_from(static_cast<int32_t>(pick({0, 20100, -3})));
    if (rng() % 2) s->set_known_from(static_cast<int32_t>(pick({0, 19000, -1})));
    if (rng() % 2) s->set_closed_from(static_cast<int32_t>(pick({0, 19100, INT32_MIN})));
    const int closed = static_cast<int>(rng() % 35);
    for (int i = 0; i < closed; ++i) s->add_closed_values(pick({0, 5, -5, 1 << 20}));
    if (rng() % 2) s->set_closed_mask(static_cast<uint64_t>(pick({0, 1 << 20, -1})));
    if (rng() % 2) s->set_territory(static_cast<uint32_t>(pick({0, 1, 200, UINT32_MAX})));
  };
  v1::SiteVersionIndex versions;
  versions.add_valid_at_us(1'700'000'000'000'000);
  versions.add_positions(42);
  versions.mutable_tail()->set_id("7");
  for (int round = 0; round < 500; ++round) {
    v1::SeriesSiteRecord record;
    const int segments = static_cast<int>(rng() % 12);
    for (int i = 0; i < segments; ++i) fill(record.add_segments());
    if (rng() % 2) record.set_first_valid_at_us(pick({0, 1, -1, 1'700'000'000'000'000}));
    if (rng() % 2) fill(record.mutable_first_version());
    if (rng() % 2) record.add_territories()->set_city_code("93066");
    if (round % 50 == 25) {
      for (int i = 0; i < 40; ++i) record.mutable_first_version()->add_values(i);
    }
    if (round % 50 == 0 && segments > 0) {
      record.mutable_segments(0)
          ->GetReflection()
          ->MutableUnknownFields(record.mutable_segments(0))
          ->AddVarint(99, 1);
    }
    v1::SeriesSiteRecord expected = record;
    expected.set_versions(rb::domain::DeterministicBytes(versions));
    v1::SeriesSiteRecord scratch;
    ASSERT_EQ(rb::proj::views::SeriesRecordBytes(record, versions, &scratch),
              rb::domain::DeterministicBytes(expected))
        << "round " << round << ": " << record.ShortDebugString();
  }
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
