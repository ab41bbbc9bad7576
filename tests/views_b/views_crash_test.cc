// Crash tests of the service's views. A child process runs the server's four projections
// (site_list, history, series, action_views) over a demo history (sites and actions through the
// real domain, with v1 living conditions, upgrades, closures, and retroactive corrections added
// on top), reporting each durable commit; the parent kills it with SIGKILL during the first
// catch-up, or during a rebuild of every projection, restarts the engine on the same data
// directory and checks that
//  * every commit the child reported survived (the checkpoint on disk is at least as far),
//  * once caught up, each projection's views hash equals a clean rebuild's (catch-up), or the
//    views of the generation that served before the rebuild (rebuild).
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/engine.h"
#include "projections/view_hash.h"
#include "projections/views/action_views.h"
#include "projections/views/history.h"
#include "projections/views/series.h"
#include "projections/views/site_list.h"
#include "tests/testing/checkpoint.h"
#include "tests/testing/child_process.h"
#include "tests/testing/temp_dir.h"
#include "tools/lib/demo.h"

namespace rb::proj {
namespace {

namespace v1 = resorption::v1;

const char* const kNames[] = {"site_list", "history", "series", "action_views"};

absl::Time Soon() { return absl::Now() + absl::Minutes(3); }

absl::Status RegisterAll(ProjectionEngine& engine) {
  if (absl::Status s = engine.Register(std::make_unique<rb::views::SiteListProjection>());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = engine.Register(std::make_unique<views::HistoryProjection>()); !s.ok()) {
    return s;
  }
  if (absl::Status s = engine.Register(std::make_unique<views::SeriesProjection>()); !s.ok()) {
    return s;
  }
  return engine.Register(std::make_unique<views::ActionViewsProjection>());
}

// The child: runs the engine in small synced batches and reports "<name> <generation> <position>"
// per durable commit; mode "rebuild" also rebuilds every projection. Once `site_list` of
// generation `stall_generation` has reported a position at or past `stall_at`, its worker stops
// there (blocked in the report) until the kill: the kill then lands before that projection is
// done however late the parent reads the reports, while the other workers go on writing. Never
// returns.
[[noreturn]] void RunChild(const std::string& mode, const std::string& path,
                           uint64_t stall_generation, uint64_t stall_at, int fd) {
  auto store = rb::es::EventStore::Open(rb::es::Options(), path);
  if (!store.ok()) _exit(3);
  EngineOptions options;
  options.batch_events = 64;
  options.sync_commits = true;
  options.on_commit = [fd, stall_generation, stall_at](const CommitInfo& c) {
    const std::string line =
        absl::StrCat(c.projection, " ", c.generation.generation, " ", c.position, "\n");
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    if (c.projection == "site_list" && c.generation.generation == stall_generation &&
        c.position >= stall_at) {
      for (;;) pause();  // this worker only; the kill ends it
    }
  };
  ProjectionEngine engine(store->get(), options);
  if (!RegisterAll(engine).ok() || !engine.Start().ok()) _exit(4);
  if (mode == "rebuild") {
    for (const char* name : kNames) {
      if (!engine.Rebuild(name).ok()) _exit(6);
    }
  }
  for (;;) pause();
}

struct Report {
  std::string projection;
  uint64_t generation = 0;
  uint64_t position = 0;
};

Report Parse(std::string_view line) {
  std::vector<std::string> parts = absl::StrSplit(absl::string_view(line.data(), line.size()), ' ');
  Report r;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &r.generation) ||
      !absl::SimpleAtoi(parts[2], &r.position)) {
    ADD_FAILURE() << "bad report: " << line;
    return r;
  }
  r.projection = parts[0];
  return r;
}

class ViewsCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::tools::DemoOptions demo;
    demo.seed = 5;
    demo.end = absl::CivilDay(2021, 12, 31);
    absl::StatusOr<rb::tools::DemoReport> r = rb::tools::CreateDemoDataDirectory(demo, path());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->refused, 0u) << r->first_refusal;
    OpenStore();
    AddCorrections();
    head_ = store_->GetHead().position;
    CloseStore();
  }

  std::string path() const { return dir_.path() + "/data"; }

  void OpenStore() {
    auto store = rb::es::EventStore::Open(rb::es::Options(), path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void CloseStore() {
    store_->Close();
    store_.reset();
  }

  // Corrects the population of about one open site in ten, in the middle of its history, so
  // that the views re-fold sites and rewrite past months.
  void AddCorrections() {
    std::vector<std::string> ids;
    absl::StatusOr<rb::es::ReadAllResult> scanned =
        store_->ScanAll(1, {}, SIZE_MAX, [&](const rb::es::RecordedEvent& e) {
          if (e.type == "site.declared" && e.position % 10 < 1) {
            ids.push_back(e.stream_id.substr(5));
          }
          return true;
        });
    ASSERT_TRUE(scanned.ok()) << scanned.status();
    rb::domain::CommandHandler handler(store_.get());
    rb::domain::Context ctx;
    ctx.now_us = absl::ToUnixMicros(absl::Now());
    ctx.actor.user_id = "u-admin";
    ctx.actor.organisation_id = "o-dihal";
    ctx.actor.role = rb::domain::Role::kNationalAdmin;
    int corrected = 0;
    for (const std::string& id : ids) {
      absl::StatusOr<v1::Site> site = handler.LoadSite(id);
      ASSERT_TRUE(site.ok()) << site.status();
      if (site->status() != v1::SITE_STATUS_OPEN || !site->has_population() ||
          site->updated_at_us() - site->created_at_us() < 86400000000) {
        continue;
      }
      v1::SiteCommand c;
      c.set_site_id(id);
      c.set_reason("recomptage");
      c.set_valid_at_us(site->created_at_us() +
                        (site->updated_at_us() - site->created_at_us()) / 2);
      v1::UpdateSite* u = c.mutable_correct_retroactively()->mutable_update();
      *u->mutable_site()->mutable_population() = site->population();
      u->mutable_site()->mutable_population()->set_total(site->population().total() + 3);
      u->mutable_update_mask()->add_paths("population");
      absl::StatusOr<rb::domain::CommandResult> r = handler.HandleSite(c, ctx);
      ASSERT_TRUE(r.ok()) << id << ": " << r.status();
      corrected += r->outcome == rb::domain::CommandResult::Outcome::kAppended;
    }
    ASSERT_GE(corrected, 5);
  }

  std::map<std::string, std::string> Hashes(const ProjectionEngine& engine) {
    std::map<std::string, std::string> out;
    for (const char* name : kNames) {
      absl::StatusOr<ViewReader> reader = engine.Reader(name);
      EXPECT_TRUE(reader.ok()) << name;
      if (!reader.ok()) continue;
      absl::StatusOr<std::string> h = HashViews(*reader);
      EXPECT_TRUE(h.ok()) << name;
      out[name] = h.value_or("");
    }
    return out;
  }

  void WaitAll(const ProjectionEngine& engine) {
    for (const char* name : kNames) {
      ASSERT_TRUE(engine.WaitForPosition(name, head_, Soon()).ok()) << name;
      EXPECT_EQ(engine.GetStatus(name)->active.state, ProjectionState::kLive)
          << name << ": " << engine.GetStatus(name)->active.error;
    }
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  uint64_t head_ = 0;
};

TEST_F(ViewsCrashTest, KillDuringCatchUpResumesExactlyAndEqualsACleanRebuild) {
  std::map<std::string, uint64_t> reported;
  absl::StatusOr<rb::testing::ChildRun> run = rb::testing::RunChildUntil(
      {"catchup", path(), "1", absl::StrCat(head_ / 3)}, [&](std::string_view line) {
        const Report r = Parse(line);
        reported[r.projection] = r.position;
        return r.position >= head_ / 3;
      });
  ASSERT_TRUE(run.ok()) << run.status();
  for (const std::string& line : run->lines) {
    const Report r = Parse(line);
    reported[r.projection] = std::max(reported[r.projection], r.position);
  }

  OpenStore();
  bool mid_way = false;
  for (const char* name : kNames) {
    absl::StatusOr<std::optional<Checkpoint>> stored =
        rb::testing::StoredCheckpoint(store_->kv(), name, /*generation=*/1);
    ASSERT_TRUE(stored.ok()) << name << ": " << stored.status();
    const uint64_t on_disk = stored->has_value() ? (*stored)->position : 0;
    EXPECT_GE(on_disk, reported[name]) << name << ": a reported commit was lost";
    mid_way |= on_disk < head_;
  }
  EXPECT_TRUE(mid_way) << "the kill did not land during the catch-up";

  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(RegisterAll(engine).ok());
  ASSERT_TRUE(engine.Start().ok());
  WaitAll(engine);
  const std::map<std::string, std::string> resumed = Hashes(engine);
  for (const char* name : kNames) {
    ASSERT_TRUE(engine.Rebuild(name).ok()) << name;
    ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok()) << name;
  }
  EXPECT_EQ(Hashes(engine), resumed);
}

TEST_F(ViewsCrashTest, KillDuringARebuildResumesItAndGivesTheSameViews) {
  std::map<std::string, std::string> live;
  OpenStore();
  {
    ProjectionEngine engine(store_.get(), EngineOptions{});
    ASSERT_TRUE(RegisterAll(engine).ok());
    ASSERT_TRUE(engine.Start().ok());
    WaitAll(engine);
    live = Hashes(engine);
  }
  CloseStore();

  absl::StatusOr<rb::testing::ChildRun> run = rb::testing::RunChildUntil(
      {"rebuild", path(), "2", absl::StrCat(head_ / 3)}, [&](std::string_view line) {
        const Report r = Parse(line);
        return r.generation > 1 && r.position >= head_ / 3;
      });
  ASSERT_TRUE(run.ok()) << run.status();

  OpenStore();
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(RegisterAll(engine).ok());
  ASSERT_TRUE(engine.Start().ok());
  bool pending = false;
  for (const char* name : kNames) {
    absl::StatusOr<ProjectionStatus> status = engine.GetStatus(name);
    ASSERT_TRUE(status.ok());
    pending |= status->rebuild.has_value() || status->active.id.generation > 1;
    ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok()) << name;
  }
  EXPECT_TRUE(pending) << "the kill did not land during the rebuild";
  WaitAll(engine);
  EXPECT_EQ(Hashes(engine), live);
}

}  // namespace
}  // namespace rb::proj

int main(int argc, char** argv) {
  uint64_t stall_generation = 0, stall_at = 0;
  if (rb::testing::IsChild(argc, argv) && argc == 7 &&
      absl::SimpleAtoi(argv[4], &stall_generation) && absl::SimpleAtoi(argv[5], &stall_at)) {
    rb::proj::RunChild(argv[2], argv[3], stall_generation, stall_at,
                       rb::testing::ReportFd(argc, argv));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
