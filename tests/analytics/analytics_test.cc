#include <map>

#include "absl/time/civil_time.h"
#include "analytics/jobs.h"
#include "analytics/runner.h"
#include "analytics/spec.h"
#include "domain/command_handler.h"
#include "domain/violations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/test_util.h"
#include "tests/testing/temp_dir.h"

namespace rb::analytics {
namespace {

namespace v1 = resorption::v1;
using rb::domain::testing::Ctx;
using rb::domain::testing::Declare;
using rb::domain::testing::On;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

int64_t At(int y, int m, int d) {
  return absl::ToUnixMicros(absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}

class AnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = rb::es::EventStore::Open(rb::es::Options{.sync = false}, dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    handler_ = std::make_unique<rb::domain::CommandHandler>(store_.get());
  }

  void Run(v1::SiteCommand c, int64_t valid_at) {
    c.set_valid_at_us(valid_at);
    auto r = handler_->HandleSite(c, Ctx());
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Declares a site in `city` on `day` and records its population.
  void Site(const std::string& id, const std::string& city, int64_t day, int total, int minors) {
    v1::SiteCommand d = Declare(id);
    d.mutable_declare()->mutable_site()->mutable_location()->mutable_address()->set_city_code(city);
    Run(d, day);
    Population(id, day, total, minors);
  }

  void Population(const std::string& id, int64_t day, int total, int minors) {
    v1::SiteCommand c = On(id);
    auto* p = c.mutable_record_population()->mutable_population();
    p->set_total(total);
    p->set_households(1);
    p->set_minors(minors);
    Run(c, day);
  }

  v1::ProjectionResult Build(const std::string& text, uint64_t position = 0) {
    auto spec = ParseSpec(text);
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto compiled = Compile(*spec);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    RunOptions o;
    o.log_position = position;
    auto r = RunProjection(*store_, *compiled, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::ProjectionResult();
  }

  static std::map<std::string, std::vector<double>> Rows(const v1::ProjectionResult& r) {
    std::map<std::string, std::vector<double>> out;
    for (const auto& row : r.rows()) {
      std::string key;
      for (const auto& g : row.group()) key += (key.empty() ? "" : "|") + g;
      out[key] = {row.values().begin(), row.values().end()};
    }
    return out;
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
};

constexpr char kMinorsByDepartementAndMonth[] = R"pb(
  name: "mineurs"
  subject: SUBJECT_SITE
  event_types: "site.population_recorded"
  group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
  group_by { valid_date: MONTH }
  aggregates { name: "mineurs" kind: LAST_PER_SUBJECT_SUM field: "site.population.minors" }
  aggregates { name: "releves" kind: COUNT }
  aggregates { name: "sites" kind: COUNT_DISTINCT }
  aggregates { name: "personnes_max" kind: MAX field: "site.population.total" }
)pb";

TEST_F(AnalyticsTest, GroupsByTerritoryAndMonthWithHandComputedAggregates) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);   // Saint-Denis, 93
  Site("2", "93066", At(2024, 1, 9), 30, 10);  // 93
  Site("3", "13055", At(2024, 1, 7), 12, 2);   // Marseille, 13
  Population("1", At(2024, 1, 20), 25, 9);     // same month: last value per site counts
  Population("2", At(2024, 2, 3), 28, 7);

  v1::ProjectionResult r = Build(kMinorsByDepartementAndMonth);
  EXPECT_THAT(r.group_columns(), ElementsAre("departement", "mois"));
  auto rows = Rows(r);
  ASSERT_EQ(rows.size(), 3u);
  // 93 / January: sites 1 (last 9) and 2 (10): 19 minors, 3 records, 2 sites, max total 30.
  EXPECT_THAT(rows["93|2024-01"], ElementsAre(19, 3, 2, 30));
  EXPECT_THAT(rows["93|2024-02"], ElementsAre(7, 1, 1, 28));
  EXPECT_THAT(rows["13|2024-01"], ElementsAre(2, 1, 1, 12));
  EXPECT_EQ(r.events_matched(), 5u);
  // Rows are ordered by group values.
  EXPECT_EQ(r.rows(0).group(0), "13");
}

TEST_F(AnalyticsTest, ACorrectionOfThePastDoesNotReplaceTheSitesCurrentValues) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  Population("1", At(2024, 3, 5), 30, 10);
  // Recorded last, dated February: the site's current values stay March's.
  v1::SiteCommand c = On("1");
  c.set_reason("recomptage de février");
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_population()->set_total(25);
  u->mutable_site()->mutable_population()->set_households(1);
  u->mutable_site()->mutable_population()->set_minors(9);
  u->mutable_update_mask()->add_paths("population");
  Run(c, At(2024, 2, 10));

  v1::ProjectionResult r = Build(R"pb(
    name: "mineurs"
    subject: SUBJECT_SITE
    event_types: "site.population_recorded"
    group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
    aggregates { name: "mineurs" kind: LAST_PER_SUBJECT_SUM field: "site.population.minors" }
    aggregates { name: "releves" kind: COUNT }
  )pb");
  auto rows = Rows(r);
  EXPECT_THAT(rows["93"], ElementsAre(10, 3));
}

TEST_F(AnalyticsTest, ConditionsBucketsSumsAndRatios) {
  Site("1", "93066", At(2024, 1, 5), 8, 1);
  Site("2", "93066", At(2024, 1, 6), 40, 10);
  Site("3", "93066", At(2024, 1, 7), 120, 50);
  v1::ProjectionResult r = Build(R"pb(
    name: "tranches"
    subject: SUBJECT_SITE
    event_types: "site.population_recorded"
    where { field: "site.population.total" op: GE value: "10" }
    where { field: "site.status" op: EQ value: "SITE_STATUS_OPEN" }
    group_by { bucket { field: "site.population.total" bounds: 10 bounds: 50 bounds: 100 } }
    aggregates { name: "personnes" kind: SUM field: "site.population.total" }
    aggregates { name: "mineurs" kind: SUM field: "site.population.minors" }
    aggregates { name: "part_mineurs" kind: RATIO numerator: "mineurs" denominator: "personnes" }
    aggregates {
      name: "pct_mineurs"
      kind: RATIO
      numerator: "mineurs"
      denominator: "personnes"
      scale: 100
    }
  )pb");
  auto rows = Rows(r);
  ASSERT_EQ(rows.size(), 2u);  // the site of 8 people is filtered out
  EXPECT_THAT(rows["[10, 50)"], ElementsAre(40, 10, 0.25, 25));
  EXPECT_THAT(rows[">= 100"], ElementsAre(120, 50, 50.0 / 120, 50.0 / 120 * 100));
}

TEST_F(AnalyticsTest, SpecificationPinnedBeforeLaterEventsIgnoresThem) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  const uint64_t pinned = store_->GetHead().position;
  const std::string pinned_hash = rb::es::ToHex(store_->GetHead().log_hash);
  v1::ProjectionResult before = Build(kMinorsByDepartementAndMonth, pinned);
  Site("2", "93066", At(2024, 1, 9), 30, 10);
  v1::ProjectionResult still = Build(kMinorsByDepartementAndMonth, pinned);
  v1::ProjectionResult now = Build(kMinorsByDepartementAndMonth);
  EXPECT_EQ(still.log_position(), pinned);
  EXPECT_EQ(still.log_hash(), pinned_hash);
  EXPECT_EQ(still.rows_hash(), before.rows_hash());
  EXPECT_THAT(Rows(still)["93|2024-01"], ElementsAre(8, 1, 1, 20));
  EXPECT_NE(now.rows_hash(), before.rows_hash());
  EXPECT_THAT(Rows(now)["93|2024-01"], ElementsAre(18, 2, 2, 30));
}

TEST_F(AnalyticsTest, SameSpecificationAtSamePositionGivesSameHashes) {
  for (int i = 0; i < 20; ++i) {
    Site(std::to_string(i), i % 2 ? "93066" : "13055", At(2024, 1 + i % 6, 3), 10 + i, i / 2);
  }
  v1::ProjectionResult a = Build(kMinorsByDepartementAndMonth);
  v1::ProjectionResult b = Build(kMinorsByDepartementAndMonth);
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(a.rows_hash(), RowsHash(a));
  EXPECT_EQ(a.spec_hash().size(), 64u);
  // Another specification has another hash.
  auto other =
      ParseSpec(std::string(kMinorsByDepartementAndMonth) + " event_types: \"site.declared\"");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(SpecHash(*other), a.spec_hash());
}

TEST_F(AnalyticsTest, OnlyOperatorSelectsEuropeanOnlySites) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  Site("2", "93066", At(2024, 1, 6), 20, 8);
  v1::SiteCommand eu = On("1");
  eu.mutable_update()->mutable_site()->add_origins(v1::SOCIAL_ORIGIN_EUROPEAN);
  eu.mutable_update()->mutable_update_mask()->add_paths("origins");
  Run(eu, At(2024, 2, 1));
  v1::SiteCommand mixed = On("2");
  mixed.mutable_update()->mutable_site()->add_origins(v1::SOCIAL_ORIGIN_EUROPEAN);
  mixed.mutable_update()->mutable_site()->add_origins(v1::SOCIAL_ORIGIN_OTHER);
  mixed.mutable_update()->mutable_update_mask()->add_paths("origins");
  Run(mixed, At(2024, 2, 1));
  v1::ProjectionResult r = Build(R"pb(
    name: "europeens"
    subject: SUBJECT_SITE
    where { field: "site.origins" op: ONLY value: "SOCIAL_ORIGIN_EUROPEAN" }
    aggregates { name: "sites" kind: COUNT_DISTINCT }
  )pb");
  ASSERT_EQ(r.rows_size(), 1);
  EXPECT_EQ(r.rows(0).values(0), 1);
}

TEST_F(AnalyticsTest, InvalidSpecificationsGetEveryViolationAtOnce) {
  auto parse_error = ParseSpec("name: \"x\"\nsubject: SUBJECT_SITE\naggregates { nme: 1 }");
  ASSERT_EQ(parse_error.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parse_error.status().message(), HasSubstr("line 3"));

  auto spec = ParseSpec(R"pb(
    name: "Bad Name"
    subject: SUBJECT_SITE
    event_types: "site.nothing"
    where { field: "site.population.totl" op: EQ value: "3" }
    where { field: "site.status" op: EQ value: "OPEN_ISH" }
    group_by { bucket { field: "site.name" bounds: 1 } }
    aggregates { name: "s" kind: SUM field: "site.name" }
    aggregates { name: "r" kind: RATIO numerator: "s" denominator: "missing" }
  )pb");
  ASSERT_TRUE(spec.ok());
  auto c = Compile(*spec);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& v : rb::domain::ViolationsFrom(c.status())) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("name", "event_types[0]", "where[0].field", "where[1].value",
                                  "group_by[0].bucket.field", "aggregates[0].field",
                                  "aggregates[1].denominator"));
}

TEST_F(AnalyticsTest, JobsRunInTheBackgroundPersistAndCanBeCancelled) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  std::string id;
  {
    JobManager jobs(store_.get(), JobOptions{});
    auto submitted = jobs.Submit(kMinorsByDepartementAndMonth, 0);
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    id = *submitted;
    ASSERT_TRUE(jobs.Wait(id, absl::Now() + absl::Minutes(2)));
    auto s = jobs.Get(id);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->state, JobState::kDone) << s->error;
    EXPECT_EQ(s->result.rows_size(), 1);
    EXPECT_EQ(jobs.Cancel(id).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(jobs.Submit(kMinorsByDepartementAndMonth, 999).status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(jobs.Get("job-404").status().code(), absl::StatusCode::kNotFound);
  }
  JobManager reopened(store_.get(), JobOptions{});
  auto s = reopened.Get(id);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state, JobState::kDone);
  EXPECT_EQ(s->result.rows_size(), 1);
}

TEST_F(AnalyticsTest, LiveJobIsBuiltAgainAtTheNewHeadWhenTheLogGrows) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  JobManager jobs(store_.get(), JobOptions{});
  EXPECT_EQ(jobs.Submit(kMinorsByDepartementAndMonth, 1, /*live=*/true).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto id = jobs.Submit(kMinorsByDepartementAndMonth, 0, /*live=*/true);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(
      jobs.WaitForPosition(*id, store_->GetHead().position, absl::Now() + absl::Minutes(1)));
  EXPECT_THAT(Rows(jobs.Get(*id)->result)["93|2024-01"], ElementsAre(8, 1, 1, 20));

  Site("2", "93066", At(2024, 1, 9), 30, 10);
  const uint64_t head = store_->GetHead().position;
  ASSERT_TRUE(jobs.WaitForPosition(*id, head, absl::Now() + absl::Minutes(1)));
  auto s = jobs.Get(*id);
  EXPECT_TRUE(s->live);
  EXPECT_EQ(s->result.log_position(), head);
  EXPECT_EQ(s->result.log_hash(), rb::es::ToHex(store_->GetHead().log_hash));
  EXPECT_THAT(Rows(s->result)["93|2024-01"], ElementsAre(18, 2, 2, 30));

  // Cancelling a live job stops it following the head; it keeps its last result.
  absl::Status cancelled = jobs.Cancel(*id);
  ASSERT_TRUE(cancelled.ok()) << cancelled << " state " << JobStateName(jobs.Get(*id)->state);
  EXPECT_FALSE(jobs.Get(*id)->live);
  EXPECT_EQ(jobs.Get(*id)->result.log_position(), head);
}

TEST_F(AnalyticsTest, CancelledRunStopsWithCancelled) {
  Site("1", "93066", At(2024, 1, 5), 20, 8);
  auto compiled = Compile(*ParseSpec(kMinorsByDepartementAndMonth));
  ASSERT_TRUE(compiled.ok());
  std::atomic<bool> cancel{true};
  RunOptions o;
  o.cancel = &cancel;
  EXPECT_EQ(RunProjection(*store_, *compiled, o).status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace rb::analytics
