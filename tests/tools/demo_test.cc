// The demo generator: accepted by the domain, deterministic, shaped like the DIHAL figures.
#include "tools/lib/demo.h"

#include <string>

#include "eventstore/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::tools {
namespace {

TEST(DemoTest, HistoryIsAcceptedByTheDomainAndVerifies) {
  rb::testing::TempDir tmp;
  DemoOptions o;
  auto report = CreateDemoDataDirectory(o, tmp.path() + "/data");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->refused, 0u) << report->first_refusal;
  EXPECT_GT(report->events, report->commands);  // a declaration yields several events
  rb::es::Options ro;
  ro.read_only = true;
  auto store = rb::es::EventStore::Open(ro, tmp.path() + "/data");
  ASSERT_TRUE(store.ok());
  auto verified = (*store)->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->events_checked, report->events);
  EXPECT_EQ(verified->streams_checked, report->sites + report->actions);
}

TEST(DemoTest, SameSeedGivesTheSameHeadHashAndAnotherSeedAnother) {
  rb::testing::TempDir tmp;
  DemoOptions o;
  o.seed = 7;
  auto a = CreateDemoDataDirectory(o, tmp.path() + "/a");
  auto b = CreateDemoDataDirectory(o, tmp.path() + "/b");
  o.seed = 8;
  auto c = CreateDemoDataDirectory(o, tmp.path() + "/c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->head_hash_hex, b->head_hash_hex);
  EXPECT_EQ(a->events, b->events);
  EXPECT_NE(a->head_hash_hex, c->head_hash_hex);
}

TEST(DemoTest, ProportionsFollowTheNationalFigures) {
  rb::testing::TempDir tmp;
  auto r = CreateDemoDataDirectory(DemoOptions(), tmp.path() + "/data");
  ASSERT_TRUE(r.ok()) << r.status();
  // About 440 open sites of more than ten people (May 2021: 439), about 22,000 people.
  EXPECT_GE(r->open_sites_over_10, 360u);
  EXPECT_LE(r->open_sites_over_10, 520u);
  EXPECT_GE(r->open_people, 15000u);
  EXPECT_LE(r->open_people, 30000u);
  // Two thirds of 10 to 50 people; a quarter minors; mostly European origins.
  const double small = static_cast<double>(r->open_sites_10_to_50) / r->open_sites;
  EXPECT_NEAR(small, 0.62, 0.1);
  const double minors = static_cast<double>(r->open_minors) / r->open_people;
  EXPECT_NEAR(minors, 0.25, 0.05);
  const double european = static_cast<double>(r->open_european_sites) / r->open_sites;
  EXPECT_NEAR(european, 0.78, 0.1);
  // Closures happen, some of them with solutions for the households; about 50 actions a year.
  EXPECT_GT(r->closed_sites, 200u);
  EXPECT_GT(r->closed_with_solutions, r->closed_sites / 5);
  EXPECT_GE(r->actions, 300u);
  EXPECT_LE(r->actions, 450u);
}

TEST(DemoTest, ScaleMultipliesTheVolumes) {
  rb::testing::TempDir tmp;
  DemoOptions o;
  o.scale = 2;
  auto r = CreateDemoDataDirectory(o, tmp.path() + "/data");
  ASSERT_TRUE(r.ok()) << r.status();
  auto one = CreateDemoDataDirectory(DemoOptions(), tmp.path() + "/one");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(r->sites, 2 * one->sites);
  EXPECT_EQ(r->refused, 0u) << r->first_refusal;
}

TEST(DemoTest, RefusesADirectoryThatAlreadyHoldsEvents) {
  rb::testing::TempDir tmp;
  ASSERT_TRUE(CreateDemoDataDirectory(DemoOptions(), tmp.path() + "/data").ok());
  auto again = CreateDemoDataDirectory(DemoOptions(), tmp.path() + "/data");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace rb::tools
