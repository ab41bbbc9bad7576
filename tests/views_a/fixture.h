// A real store, a command handler and a projection engine running the site_list view, for the
// views tests. Scenarios are built with real commands; times are explicit (no clock).
#ifndef RB_TESTS_VIEWS_A_FIXTURE_H_
#define RB_TESTS_VIEWS_A_FIXTURE_H_

#include <algorithm>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "domain/events.h"
#include "eventstore/clock.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/engine.h"
#include "projections/views/site_list.h"
#include "tests/domain/test_util.h"
#include "tests/testing/temp_dir.h"

namespace rb::views::testing {

using rb::domain::testing::D;

// Microseconds of a civil day at noon UTC.
inline int64_t Day(int y, int m, int d) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(y, m, d, 12, 0, 0), absl::UTCTimeZone()));
}

class ViewsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::es::Options o;
    o.sync = false;
    o.clock = &clock_;
    auto store = rb::es::EventStore::Open(o, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    handler_ = std::make_unique<rb::domain::CommandHandler>(store_.get());
    StartEngine();
  }
  void TearDown() override {
    engine_.reset();
    handler_.reset();
    store_.reset();
  }

  void StartEngine() {
    engine_ = std::make_unique<rb::proj::ProjectionEngine>(store_.get(), rb::proj::EngineOptions{});
    ASSERT_TRUE(engine_->Register(std::make_unique<SiteListProjection>()).ok());
    ASSERT_TRUE(engine_->Start().ok());
  }

  // Runs a site command as a local admin with justice access, "now" = 2024-06-15.
  void Site(resorption::v1::SiteCommand cmd, int64_t valid_at_us = 0,
            rb::domain::Role role = rb::domain::Role::kNationalAdmin) {
    cmd.set_valid_at_us(valid_at_us);
    rb::domain::Context ctx = rb::domain::testing::Ctx(role);
    ctx.actor.options = {"access_justice", "access_action_finances"};
    absl::StatusOr<rb::domain::CommandResult> r = handler_->HandleSite(cmd, ctx);
    ASSERT_TRUE(r.ok()) << r.status() << " " << cmd.DebugString();
    last_position_ = std::max(last_position_, r->last_position);
  }

  void Action(resorption::v1::ActionCommand cmd) {
    rb::domain::Context ctx = rb::domain::testing::Ctx(rb::domain::Role::kNationalAdmin);
    ctx.actor.options = {"access_justice", "access_action_finances"};
    absl::StatusOr<rb::domain::CommandResult> r = handler_->HandleAction(cmd, ctx);
    ASSERT_TRUE(r.ok()) << r.status() << " " << cmd.DebugString();
    last_position_ = std::max(last_position_, r->last_position);
  }

  // Declares a site in `city` named `name`, declared on `valid_at_us`.
  void Declare(const std::string& id, const std::string& city, const std::string& name,
               int64_t valid_at_us) {
    resorption::v1::SiteCommand c = rb::domain::testing::Declare(id);
    auto* s = c.mutable_declare()->mutable_site();
    s->set_name(name);
    s->mutable_location()->mutable_address()->set_city_code(city);
    s->mutable_location()->mutable_address()->set_label(name + " " + city);
    Site(c, valid_at_us);
  }

  void Population(const std::string& id, int total, int minors, int64_t valid_at_us) {
    resorption::v1::SiteCommand c = rb::domain::testing::On(id);
    auto* p = c.mutable_record_population()->mutable_population();
    p->set_total(total);
    p->set_minors(minors);
    p->set_households(std::max(1, total / 4));
    Site(c, valid_at_us);
  }

  // Appends `event` to the stream of site `id` as it is, dated `valid_at_us`: for a state no
  // command makes (a territory outside the embedded geography).
  void AppendSiteEvent(const std::string& id, const resorption::v1::SiteEvent& event,
                       int64_t valid_at_us) {
    absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(event);
    ASSERT_TRUE(data.ok()) << data.status();
    data->valid_at_us = valid_at_us;
    rb::es::AppendRequest append;
    append.stream_id = "site-" + id;
    append.events.push_back(*std::move(data));
    absl::StatusOr<rb::es::AppendResult> appended = store_->Append(append);
    ASSERT_TRUE(appended.ok()) << appended.status();
    last_position_ = std::max(last_position_, appended->last_position);
  }

  void Sync() {
    ASSERT_TRUE(engine_
                    ->WaitForPosition(SiteListProjection::kName, last_position_,
                                      absl::Now() + absl::Seconds(30))
                    .ok());
  }

  rb::testing::TempDir dir_;
  rb::es::ManualClock clock_{Day(2024, 6, 15)};
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
  std::unique_ptr<rb::proj::ProjectionEngine> engine_;
  uint64_t last_position_ = 0;
};

}  // namespace rb::views::testing

#endif  // RB_TESTS_VIEWS_A_FIXTURE_H_
