#include "projections/views/history.h"

#include "gmock/gmock.h"
#include "tests/views_b/views_fixture.h"

namespace rb::views_b_testing {
namespace {

using rb::domain::testing::Declare;

class HistoryTest : public ViewsTest {
 protected:
  v1::SiteAsOf AsOf(int64_t valid, int64_t known = 0) {
    rb::proj::views::HistoryQuery q(engine_.get(), store_.get());
    v1::GetSiteAsOfRequest r;
    r.set_site_id("1");
    r.set_valid_at_us(valid);
    r.set_known_at_us(known);
    absl::StatusOr<v1::SiteAsOf> s = q.GetSiteAsOf(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::SiteAsOf();
  }
  // The ids ListSitesAt returns for (level, code) on valid date `valid`, as known now.
  std::vector<std::string> Listed(v1::TerritoryLevel level, const std::string& code, int64_t valid,
                                  v1::SiteStatusFilter status = v1::SITE_STATUS_FILTER_OPEN) {
    rb::proj::views::HistoryQuery q(engine_.get(), store_.get());
    v1::ListSitesAtRequest r;
    r.mutable_territory()->set_level(level);
    r.mutable_territory()->set_code(code);
    r.set_valid_at_us(valid);
    r.set_status(status);
    absl::StatusOr<v1::ListSitesAtResponse> l = q.ListSitesAt(r);
    EXPECT_TRUE(l.ok()) << l.status();
    std::vector<std::string> out;
    if (l.ok())
      for (const auto& site : l->sites()) out.push_back(site.id());
    return out;
  }
};

TEST_F(HistoryTest, ReadsTheSiteOnEachValidDateAsKnownNowAndBeforeARetroactiveCorrection) {
  Site(Declare("1"), At(2024, 1, 10));
  Site(Population("1", 20), At(2024, 2, 1));
  Site(Population("1", 30), At(2024, 4, 1));
  const int64_t before_correction = clock_.NowMicros();
  Site(RetroPopulation("1", 25), At(2024, 3, 1));
  CatchUp();

  // As known now.
  EXPECT_FALSE(AsOf(At(2024, 1, 9)).found());
  EXPECT_TRUE(AsOf(At(2024, 1, 15)).found());
  EXPECT_FALSE(AsOf(At(2024, 1, 15)).site().population().has_total());
  EXPECT_EQ(AsOf(At(2024, 2, 15)).site().population().total(), 20);
  EXPECT_EQ(AsOf(At(2024, 3, 15)).site().population().total(), 25);
  EXPECT_EQ(AsOf(At(2024, 4, 15)).site().population().total(), 30);
  EXPECT_EQ(AsOf(0).site().population().total(), 30);
  // As known before the correction was recorded.
  EXPECT_EQ(AsOf(At(2024, 3, 15), before_correction).site().population().total(), 20);
  EXPECT_EQ(AsOf(At(2024, 4, 15), before_correction).site().population().total(), 30);
  // As known before the site was declared.
  EXPECT_FALSE(AsOf(At(2024, 4, 15), At(2024, 6, 1)).found());
}

TEST_F(HistoryTest, UsesSnapshotsAndRetroactiveInsertionsGiveTheSameFoldAsTheStream) {
  Site(Declare("1"), At(2020, 1, 1));
  // 150 population counts, one a day, then a correction in the middle (invalidating snapshots).
  for (int i = 1; i <= 150; ++i) {
    Site(Population("1", i), At(2020, 1, 1) + int64_t{i} * 86400000000);
  }
  const int64_t before = clock_.NowMicros();
  Site(RetroPopulation("1", 1000), At(2020, 1, 1) + int64_t{50} * 86400000000 + 3600000000);
  CatchUp();
  for (int day = 1; day <= 150; ++day) {
    const int64_t v = At(2020, 1, 1) + int64_t{day} * 86400000000 + 7200000000;
    const int expected_now = day == 50 ? 1000 : day;
    EXPECT_EQ(AsOf(v).site().population().total(), expected_now) << day;
    EXPECT_EQ(AsOf(v, before).site().population().total(), day) << day;
  }
}

TEST_F(HistoryTest, ListsTheOpenSitesOfADepartementOnAPastDate) {
  Site(Declare("1"), At(2024, 1, 10));
  Site(Declare("2"), At(2024, 2, 10));
  v1::SiteCommand close = rb::domain::testing::On("1");
  *close.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
  *close.mutable_close()->mutable_closure()->mutable_closed_at() = D(2024, 5, 1);
  Site(close, At(2024, 5, 2));
  CatchUp();
  auto ids = [&](int64_t v, v1::SiteStatusFilter status, const std::string& dep) {
    return Listed(v1::TERRITORY_LEVEL_DEPARTEMENT, dep, v, status);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(At(2024, 1, 20), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"1"}));
  EXPECT_EQ(ids(At(2024, 3, 1), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"1", "2"}));
  EXPECT_EQ(ids(At(2024, 6, 1), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"2"}));
  EXPECT_EQ(ids(At(2024, 6, 1), v1::SITE_STATUS_FILTER_CLOSED, "93"), V({"1"}));
  EXPECT_EQ(ids(At(2024, 3, 1), v1::SITE_STATUS_FILTER_OPEN, "75"), V());
}

// A site that moves to another departement is listed, on each valid date, in the commune, EPCI,
// departement and region it lay in on that date, and only there.
TEST_F(HistoryTest, ListsAMovedSiteInTheTerritoriesOfEachDate) {
  Site(Declare("m"), At(2024, 1, 10));
  Site(Declare("s"), At(2024, 1, 10));
  v1::SiteCommand move = rb::domain::testing::On("m");
  auto* address = move.mutable_update()->mutable_site()->mutable_location()->mutable_address();
  address->set_label("Rue Solférino 59000 Lille");
  address->set_city_code("59350");
  address->mutable_coordinates()->set_latitude(50.63);
  address->mutable_coordinates()->set_longitude(3.06);
  move.mutable_update()->mutable_update_mask()->add_paths("location");
  Site(move, At(2024, 3, 10));
  CatchUp();
  auto ids = [&](v1::TerritoryLevel level, const std::string& code, int64_t v) {
    return Listed(level, code, v);
  };
  using V = std::vector<std::string>;
  const int64_t before = At(2024, 2, 1);
  const int64_t after = At(2024, 4, 1);
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_COMMUNE, "93066", before), V({"m", "s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_COMMUNE, "93066", after), V({"s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_COMMUNE, "59350", before), V());
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_COMMUNE, "59350", after), V({"m"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_DEPARTEMENT, "93", after), V({"s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_DEPARTEMENT, "59", before), V());
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_DEPARTEMENT, "59", after), V({"m"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_EPCI, "200054781", before), V({"m", "s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_EPCI, "200093201", after), V({"m"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_REGION, "11", before), V({"m", "s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_REGION, "11", after), V({"s"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_REGION, "32", after), V({"m"}));
  EXPECT_EQ(ids(v1::TERRITORY_LEVEL_NATION, "", after), V({"m", "s"}));
  v1::ListSitesAtRequest no_code;
  no_code.mutable_territory()->set_level(v1::TERRITORY_LEVEL_EPCI);
  absl::StatusOr<v1::ListSitesAtResponse> bad =
      rb::proj::views::HistoryQuery(engine_.get(), store_.get()).ListSitesAt(no_code);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("territory.code"));
}

TEST_F(HistoryTest, RebuildGivesTheSameViewsAsLiveProcessing) {
  Site(Declare("1"), At(2020, 1, 1));
  for (int i = 1; i <= 100; ++i)
    Site(Population("1", i), At(2020, 1, 1) + int64_t{i} * 86400000000);
  Site(RetroPopulation("1", 7), At(2020, 2, 1) + 3600000000);
  Site(Declare("2"), At(2024, 1, 1));
  CatchUp();
  for (const char* name : kViews) {
    absl::StatusOr<rb::proj::ViewReader> live = engine_->Reader(name);
    ASSERT_TRUE(live.ok());
    absl::StatusOr<std::string> live_hash = rb::proj::HashViews(*live);
    ASSERT_TRUE(live_hash.ok());
    ASSERT_TRUE(engine_->Rebuild(name).ok());
    ASSERT_TRUE(engine_->WaitForRebuild(name, absl::Now() + absl::Seconds(60)).ok());
    absl::StatusOr<rb::proj::ViewReader> rebuilt = engine_->Reader(name);
    ASSERT_TRUE(rebuilt.ok());
    EXPECT_NE(rebuilt->generation(), live->generation());
    EXPECT_EQ(*rb::proj::HashViews(*rebuilt), *live_hash) << name;
  }
}

}  // namespace
}  // namespace rb::views_b_testing
