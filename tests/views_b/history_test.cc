#include "projections/views/history.h"

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
  rb::proj::views::HistoryQuery q(engine_.get(), store_.get());
  auto ids = [&](int64_t v, v1::SiteStatusFilter status, const std::string& dep) {
    v1::ListSitesAtRequest r;
    r.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
    r.mutable_territory()->set_code(dep);
    r.set_valid_at_us(v);
    r.set_status(status);
    absl::StatusOr<v1::ListSitesAtResponse> l = q.ListSitesAt(r);
    EXPECT_TRUE(l.ok()) << l.status();
    std::vector<std::string> out;
    if (l.ok())
      for (const auto& s : l->sites()) out.push_back(s.id());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(At(2024, 1, 20), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"1"}));
  EXPECT_EQ(ids(At(2024, 3, 1), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"1", "2"}));
  EXPECT_EQ(ids(At(2024, 6, 1), v1::SITE_STATUS_FILTER_OPEN, "93"), V({"2"}));
  EXPECT_EQ(ids(At(2024, 6, 1), v1::SITE_STATUS_FILTER_CLOSED, "93"), V({"1"}));
  EXPECT_EQ(ids(At(2024, 3, 1), v1::SITE_STATUS_FILTER_OPEN, "75"), V());
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
