// A real store (manual clock) + CommandHandler + ProjectionEngine running the views of views-b.
#ifndef RB_TESTS_VIEWS_B_VIEWS_FIXTURE_H_
#define RB_TESTS_VIEWS_B_VIEWS_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "eventstore/clock.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/engine.h"
#include "projections/view_hash.h"
#include "projections/views/action_views.h"
#include "projections/views/history.h"
#include "projections/views/series.h"
#include "tests/domain/test_util.h"
#include "tests/testing/temp_dir.h"

namespace rb::views_b_testing {

namespace v1 = ::resorption::v1;
using rb::domain::testing::Ctx;
using rb::domain::testing::D;

// Midday UTC of a civil day, in microseconds.
inline int64_t At(int y, int m, int d) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(y, m, d, 12, 0, 0), absl::UTCTimeZone()));
}

inline const char* const kViews[] = {"history", "series", "action_views"};

class ViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(At(2024, 6, 15));
    rb::es::Options o;
    o.sync = false;
    o.clock = &clock_;
    auto store = rb::es::EventStore::Open(o, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    handler_ = std::make_unique<rb::domain::CommandHandler>(store_.get());
    engine_ = std::make_unique<rb::proj::ProjectionEngine>(store_.get(), rb::proj::EngineOptions{});
    ASSERT_TRUE(engine_->Register(std::make_unique<rb::proj::views::HistoryProjection>()).ok());
    ASSERT_TRUE(engine_->Register(std::make_unique<rb::proj::views::SeriesProjection>()).ok());
    ASSERT_TRUE(engine_->Register(std::make_unique<rb::proj::views::ActionViewsProjection>()).ok());
    ASSERT_TRUE(engine_->Start().ok());
  }
  void TearDown() override {
    engine_.reset();
    handler_.reset();
    store_.reset();
  }

  // Runs a site command with valid date `valid_at_us` (recorded one minute after the last one).
  void Site(v1::SiteCommand cmd, int64_t valid_at_us,
            rb::domain::Role role = rb::domain::Role::kLocalAdmin, const char* option = nullptr) {
    clock_.Advance(absl::Minutes(1));
    cmd.set_valid_at_us(valid_at_us);
    rb::domain::Context ctx = Ctx(role, clock_.NowMicros());
    if (option != nullptr) ctx.actor.options.push_back(option);
    absl::StatusOr<rb::domain::CommandResult> r = handler_->HandleSite(cmd, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void Action(v1::ActionCommand cmd) {
    clock_.Advance(absl::Minutes(1));
    rb::domain::Context ctx = Ctx(rb::domain::Role::kLocalAdmin, clock_.NowMicros());
    ctx.actor.options.push_back("access_action_finances");
    absl::StatusOr<rb::domain::CommandResult> r = handler_->HandleAction(cmd, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // Waits until every view has applied the whole log.
  void CatchUp() {
    const uint64_t head = store_->GetHead().position;
    for (const char* name : kViews) {
      ASSERT_TRUE(engine_->WaitForPosition(name, head, absl::Now() + absl::Seconds(30)).ok());
    }
  }

  rb::testing::TempDir dir_;
  rb::es::ManualClock clock_{0};
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
  std::unique_ptr<rb::proj::ProjectionEngine> engine_;
};

inline v1::SiteCommand Population(const std::string& id, int total) {
  v1::SiteCommand c = rb::domain::testing::On(id);
  c.mutable_record_population()->mutable_population()->set_total(total);
  return c;
}

inline v1::SiteCommand RetroPopulation(const std::string& id, int total) {
  v1::SiteCommand c = rb::domain::testing::On(id);
  c.set_reason("Recensement de mars retrouvé");
  auto* u = c.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_population()->set_total(total);
  u->mutable_update_mask()->add_paths("population");
  return c;
}

}  // namespace rb::views_b_testing

#endif  // RB_TESTS_VIEWS_B_VIEWS_FIXTURE_H_
