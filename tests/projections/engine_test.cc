// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/engine.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "eventstore/clock.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/view_hash.h"
#include "tests/projections/test_projections.h"
#include "tests/testing/temp_dir.h"

namespace rb::proj {
namespace {

using ::rb::proj::testing::AppendEvents;
using ::rb::proj::testing::AppendMany;
using ::rb::proj::testing::CategoryCounts;
using ::rb::proj::testing::Gate;
using ::rb::proj::testing::LastType;
using ::rb::proj::testing::Poisoned;
using ::rb::proj::testing::StreamDigest;

absl::Time Soon() { return absl::Now() + absl::Seconds(30); }

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore() {
    rb::es::Options o;
    o.sync = false;
    o.clock = &clock_;
    auto store = rb::es::EventStore::Open(o, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string Count(const ProjectionEngine& engine, const std::string& key) {
    absl::StatusOr<ViewReader> reader = engine.Reader("category_counts");
    if (!reader.ok()) return "error: " + reader.status().ToString();
    absl::StatusOr<std::optional<std::string>> v = reader->Get("counts", key);
    if (!v.ok()) return "error: " + v.status().ToString();
    return v->value_or("absent");
  }

  rb::testing::TempDir dir_;
  rb::es::ManualClock clock_{1'700'000'000'000'000};
  std::unique_ptr<rb::es::EventStore> store_;
};

TEST_F(EngineTest, CatchesUpThenFollowsLive) {
  const uint64_t stored = AppendMany(*store_, 1000);
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 64});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<LastType>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", stored, Soon()).ok());
  EXPECT_EQ(Count(engine, "_total"), "1000");
  EXPECT_EQ(Count(engine, "site"), "500");
  EXPECT_EQ(Count(engine, "action"), "500");

  const uint64_t live = AppendEvents(*store_, "site-99", "test.live", 5);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", live, Soon()).ok());
  ASSERT_TRUE(engine.WaitForPosition("last_type", live, Soon()).ok());
  EXPECT_EQ(Count(engine, "site"), "505");
  auto last = engine.Reader("last_type");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(**last->Get("last", "site-99"), "test.live@4");

  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->active.state, ProjectionState::kLive);
  EXPECT_EQ(st->active.position, live);
  EXPECT_EQ(st->active.lag_events, 0u);
  EXPECT_FALSE(st->rebuild.has_value());
}

TEST_F(EngineTest, FoldsReadTheirOwnPendingWritesWithinABatch) {
  // 300 events of one stream in one batch: each increment reads the previous one's pending write.
  const uint64_t last = AppendMany(*store_, 300, /*streams=*/1);
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 1000});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<StreamDigest>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
  ASSERT_TRUE(engine.WaitForPosition("stream_digest", last, Soon()).ok());
  EXPECT_EQ(Count(engine, "_total"), "300");
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("stream_digest");
  EXPECT_EQ(st->active.state, ProjectionState::kLive) << st->active.error;
}

TEST_F(EngineTest, SmallByteBudgetSplitsBatchesWithoutChangingTheViews) {
  const uint64_t last = AppendMany(*store_, 500);
  std::string expected;
  {
    ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 512});
    ASSERT_TRUE(engine.Register(std::make_unique<StreamDigest>()).ok());
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(engine.WaitForPosition("stream_digest", last, Soon()).ok());
    expected = *HashViews(*engine.Reader("stream_digest"));
  }
  std::atomic<int> commits{0};
  // Same log, fresh views: rebuild with a 1-byte budget (one event per commit).
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 512,
                                                      .max_batch_bytes = 1,
                                                      .on_commit = [&](const CommitInfo& c) {
                                                        if (c.generation.generation == 2) ++commits;
                                                      }});
  ASSERT_TRUE(engine.Register(std::make_unique<StreamDigest>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.Rebuild("stream_digest").ok());
  ASSERT_TRUE(engine.WaitForRebuild("stream_digest", Soon()).ok());
  EXPECT_EQ(*HashViews(*engine.Reader("stream_digest")), expected);
  engine.Stop();                   // all callbacks have returned
  EXPECT_EQ(commits.load(), 500);  // one event per commit
}

TEST_F(EngineTest, ResumesExactlyAfterStopAndReopenMidCatchUp) {
  const uint64_t last = AppendMany(*store_, 3000);
  const uint64_t kStopAt = 700;  // a multiple of the batch size
  uint64_t stopped_at = 0;
  {
    absl::Notification reached;
    absl::Notification release;
    ProjectionEngine engine(store_.get(),
                            EngineOptions{.batch_events = 7, .on_commit = [&](const CommitInfo& c) {
                                            if (c.position == kStopAt) {
                                              reached.Notify();
                                              release.WaitForNotification();
                                            }
                                          }});
    ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(reached.WaitForNotificationWithTimeout(absl::Seconds(30)));
    // Stop races the worker's next batches: wherever it stops, views and checkpoint agree.
    std::thread stopper([&] { engine.Stop(); });
    release.Notify();
    stopper.join();
    absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
    EXPECT_EQ(st->active.state, ProjectionState::kStopped);
    stopped_at = st->active.position;
    EXPECT_GE(stopped_at, kStopAt);
    EXPECT_LE(stopped_at, last);
    EXPECT_EQ(Count(engine, "_total"), absl::StrCat(stopped_at));
  }
  // Close and reopen the store, as after a crash.
  store_->Close();
  store_.reset();
  OpenStore();
  // Nothing lost at reopen (read before an engine runs again).
  auto total = store_->kv().Get(ViewSpaceName("category_counts", {1, 1}, "counts"), "_total");
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->value_or("absent"), absl::StrCat(stopped_at));
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 7});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
  EXPECT_EQ(Count(engine, "_total"), "3000");
  EXPECT_EQ(Count(engine, "site"), "1500");
}

TEST_F(EngineTest, FailingProjectionStopsAtItsEventWhileOthersGoOn) {
  AppendEvents(*store_, "site-1", "test.ok", 10);
  const uint64_t poison = AppendEvents(*store_, "site-1", "test.poison", 1);
  const uint64_t last = AppendEvents(*store_, "site-2", "test.ok", 9);
  ASSERT_EQ(poison, 11u);
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 512});
  ASSERT_TRUE(engine.Register(std::make_unique<Poisoned>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());

  absl::Status wait = engine.WaitForPosition("poisoned", last, Soon());
  EXPECT_EQ(wait.code(), absl::StatusCode::kFailedPrecondition) << wait;
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("poisoned");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->active.state, ProjectionState::kFailed);
  EXPECT_EQ(st->active.failed_position, poison);
  EXPECT_EQ(st->active.position, poison - 1);  // the events before it are committed
  EXPECT_NE(st->active.error.find("cannot digest event"), std::string::npos) << st->active.error;
  EXPECT_EQ(**engine.Reader("poisoned")->Get("counts", "_total"), "10");

  // The other projection goes on living.
  const uint64_t more = AppendEvents(*store_, "site-3", "test.ok", 1);
  EXPECT_TRUE(engine.WaitForPosition("category_counts", more, Soon()).ok());
  EXPECT_EQ(Count(engine, "_total"), "21");
  EXPECT_EQ(engine.GetStatus("poisoned")->active.position, poison - 1);
}

TEST_F(EngineTest, AFailureIsReportedOnceWithItsPosition) {
  AppendEvents(*store_, "site-1", "test.ok", 4);
  const uint64_t poison = AppendEvents(*store_, "site-1", "test.poison", 1);
  AppendEvents(*store_, "site-2", "test.ok", 3);
  absl::Mutex mu;
  std::vector<FailureInfo> failures;
  absl::Notification failed;
  EngineOptions o;
  o.batch_events = 2;  // the failing event is not the first of its batch
  o.on_failure = [&](const FailureInfo& f) {
    {
      absl::MutexLock l(&mu);
      failures.push_back(f);
    }
    if (!failed.HasBeenNotified()) failed.Notify();
  };
  ProjectionEngine engine(store_.get(), o);
  ASSERT_TRUE(engine.Register(std::make_unique<Poisoned>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Reported after the state changed: the status already says so.
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("poisoned");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->active.state, ProjectionState::kFailed);
  // More events do not report it again; the healthy projection reports nothing.
  const uint64_t more = AppendEvents(*store_, "site-3", "test.ok", 5);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", more, Soon()).ok());
  engine.Stop();

  absl::MutexLock l(&mu);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].projection, "poisoned");
  EXPECT_EQ(failures[0].position, poison);
  EXPECT_FALSE(failures[0].rebuild);
  EXPECT_EQ(failures[0].generation, st->active.id);
  EXPECT_NE(failures[0].error.find("cannot digest event"), std::string::npos) << failures[0].error;
}

TEST_F(EngineTest, WritingAnUndeclaredSpaceFailsTheProjection) {
  class Stray : public Projection {
   public:
    std::string name() const override { return "stray"; }
    uint32_t version() const override { return 1; }
    std::vector<std::string> spaces() const override { return {"mine"}; }
    absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
      w.Put(e.position == 3 ? "theirs" : "mine", "k", "v");
      return absl::OkStatus();
    }
  };
  const uint64_t last = AppendEvents(*store_, "site-1", "test.ok", 5);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<Stray>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(engine.WaitForPosition("stray", last, Soon()).code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("stray");
  EXPECT_EQ(st->active.failed_position, 3u);
  EXPECT_NE(st->active.error.find("undeclared view space"), std::string::npos);
}

TEST_F(EngineTest, WaitForPositionReturnsDeadlineExceededWhenNotReached) {
  const uint64_t last = AppendEvents(*store_, "site-1", "test.ok", 3);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  EXPECT_EQ(engine.WaitForPosition("category_counts", 1, Soon()).code(),
            absl::StatusCode::kFailedPrecondition);  // not started
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
  absl::Status s =
      engine.WaitForPosition("category_counts", last + 1, absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(engine.WaitForPosition("nope", 1, Soon()).code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, WaitForPositionIsWokenByALiveAppend) {
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  std::thread writer([&] { AppendEvents(*store_, "site-1", "test.ok", 1); });
  EXPECT_TRUE(engine.WaitForPosition("category_counts", 1, Soon()).ok());
  writer.join();
  EXPECT_EQ(Count(engine, "site"), "1");
}

// Live batching (EngineOptions::live_linger) must never hold back a lone command's events nor a
// query that waits for a position, however long the linger: here an hour, against waits of at
// most 30 seconds.
TEST_F(EngineTest, LiveBatchingNeverDelaysALoneCommandNorAWaitingQuery) {
  absl::Notification first_applied;
  EngineOptions o;
  o.live_linger = absl::Hours(1);
  o.live_linger_quiet = absl::Hours(1);  // only the query can cut the linger short
  o.live_linger_window = absl::Hours(1);
  o.live_linger_from_events = 3;
  o.live_min_batch_events = 1000;
  o.on_commit = [&](const CommitInfo& c) {
    if (c.position >= 1 && !first_applied.HasBeenNotified()) first_applied.Notify();
  };
  ProjectionEngine engine(store_.get(), o);
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  AppendEvents(*store_, "site-1", "test.ok", 1);  // below the threshold: applied at once
  ASSERT_TRUE(first_applied.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(Count(engine, "site"), "1");

  // A burst: the worker lingers for more, but a query waiting for it cuts the linger short.
  const uint64_t burst = AppendEvents(*store_, "site-2", "test.ok", 10);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", burst, Soon()).ok());
  EXPECT_EQ(Count(engine, "site"), "11");
  engine.Stop();  // a lingering worker stops at once too (the test would hang otherwise)
}

// Live batching that only a pause of the stream (20 ms), a query or the engine's stop ends: the
// linger and the stream window are an hour long, and 3 events make a stream.
EngineOptions LingeringOptions() {
  EngineOptions o;
  o.live_linger = absl::Hours(1);
  o.live_linger_quiet = absl::Milliseconds(20);
  o.live_linger_window = absl::Hours(1);
  o.live_linger_from_events = 3;
  o.live_min_batch_events = 1000;
  return o;
}

// When a stream of commands pauses, a lingering worker applies what came without waiting for the
// whole linger (an hour here) nor for a query.
TEST_F(EngineTest, LiveBatchingAppliesAStreamWhenItPauses) {
  EngineOptions o = LingeringOptions();
  absl::Mutex mu;
  uint64_t committed = 0;
  o.on_commit = [&](const CommitInfo& c) {
    absl::MutexLock lock(&mu);
    committed = std::max(committed, c.position);
  };
  ProjectionEngine engine(store_.get(), o);
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  const uint64_t burst = AppendEvents(*store_, "site-1", "test.ok", 10);  // a stream: it lingers
  absl::MutexLock lock(&mu);
  auto applied = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return committed >= burst; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&applied), absl::Seconds(30)));
}

// Under a stream of commands, the events appended while a live batch was being applied join that
// batch: one commit for all of them, not one for each few that came meanwhile.
TEST_F(EngineTest, LiveBatchingKeepsEventsThatCameDuringTheBatchInIt) {
  Gate gate;
  EngineOptions o = LingeringOptions();
  absl::Mutex mu;
  std::vector<uint64_t> commits;
  o.on_commit = [&](const CommitInfo& c) {
    absl::MutexLock lock(&mu);
    commits.push_back(c.position);
  };
  ProjectionEngine engine(store_.get(), o);
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  // One append, so that the worker wakes once to a stream of five events (four, then the gate).
  rb::es::AppendRequest first;
  first.stream_id = "site-1";
  for (int i = 0; i < 4; ++i) first.events.push_back({.type = "test.ok", .payload = "p"});
  first.events.push_back({.type = "test.gate", .payload = "p"});
  absl::StatusOr<rb::es::AppendResult> appended = store_->Append(first);
  ASSERT_TRUE(appended.ok()) << appended.status();
  const uint64_t gated = appended->last_position;
  ASSERT_TRUE(gate.WaitArrived(absl::Seconds(30)));  // the batch is being applied
  const uint64_t last = AppendEvents(*store_, "site-2", "test.ok", 6);
  gate.Open();
  {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return !commits.empty() && commits.back() >= last;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30)));
    EXPECT_EQ(commits, std::vector<uint64_t>{last}) << "a commit stopped at " << gated;
  }
  EXPECT_EQ(Count(engine, "site"), "11");
}

// A first build over an empty log is at the head at once: live, with nothing committed.
TEST_F(EngineTest, AProjectionOverAnEmptyLogIsLiveWithoutCommitting) {
  int commits = 0;
  absl::Mutex mu;
  EngineOptions o;
  o.on_commit = [&](const CommitInfo&) {
    absl::MutexLock lock(&mu);
    ++commits;
  };
  ProjectionEngine engine(store_.get(), o);
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", 0, absl::Now() + absl::Seconds(30)).ok());
  // The worker becomes live once its first read finds the end of the log.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  while (st.ok() && st->active.state != ProjectionState::kLive && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
    st = engine.GetStatus("category_counts");
  }
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->active.state, ProjectionState::kLive);
  EXPECT_EQ(st->active.position, 0u);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(commits, 0);
}

TEST_F(EngineTest, StatusReportsLagInEventsAndSeconds) {
  Gate gate;
  AppendEvents(*store_, "site-1", "test.ok", 4);
  AppendEvents(*store_, "site-1", "test.gate", 1);  // position 5 blocks
  clock_.Advance(absl::Hours(1));
  const uint64_t last = AppendEvents(*store_, "site-1", "test.ok", 5);
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 1});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(gate.WaitArrived(absl::Seconds(30)));
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->head_position, last);
  EXPECT_EQ(st->active.position, 4u);
  EXPECT_EQ(st->active.state, ProjectionState::kCatchingUp);
  EXPECT_EQ(st->active.lag_events, 6u);
  EXPECT_EQ(st->active.lag, absl::Hours(1));
  gate.Open();
  ASSERT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
  st = engine.GetStatus("category_counts");
  EXPECT_EQ(st->active.lag_events, 0u);
  EXPECT_EQ(st->active.lag, absl::ZeroDuration());
  EXPECT_EQ(ToString(st->active.state), "live");
}

TEST_F(EngineTest, LagAtPositionZeroCountsFromTheFirstEvent) {
  Gate gate;
  AppendEvents(*store_, "site-1", "test.gate", 1);
  clock_.Advance(absl::Minutes(10));
  AppendEvents(*store_, "site-1", "test.ok", 1);
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 1});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(gate.WaitArrived(absl::Seconds(30)));
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  EXPECT_EQ(st->active.lag_events, 2u);
  EXPECT_EQ(st->active.lag, absl::Minutes(10));
  gate.Open();
}

TEST_F(EngineTest, RegisterValidatesNamesVersionsAndSpaces) {
  class Bad : public Projection {
   public:
    Bad(std::string name, uint32_t version, std::vector<std::string> spaces)
        : name_(std::move(name)), version_(version), spaces_(std::move(spaces)) {}
    std::string name() const override { return name_; }
    uint32_t version() const override { return version_; }
    std::vector<std::string> spaces() const override { return spaces_; }
    absl::Status Apply(const rb::es::RecordedEvent&, ViewWriter&) const override {
      return absl::OkStatus();
    }

   private:
    std::string name_;
    uint32_t version_;
    std::vector<std::string> spaces_;
  };
  ProjectionEngine engine(store_.get(), EngineOptions{});
  auto code = [&](std::string n, uint32_t v, std::vector<std::string> s) {
    return engine.Register(std::make_unique<Bad>(std::move(n), v, std::move(s))).code();
  };
  EXPECT_EQ(code("Bad.Name", 1, {"a"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("good", 0, {"a"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("good", 1, {}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("good", 1, {"a", "a"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("good", 1, {"a.b"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("good", 1, {"a"}), absl::StatusCode::kOk);
  EXPECT_EQ(code("good", 1, {"a"}), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(code("late", 1, {"a"}), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, ReaderRejectsUndeclaredSpacesAndUnknownProjections) {
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  EXPECT_EQ(engine.Reader("category_counts").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(engine.Reader("nope").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ViewReader> reader = engine.Reader("category_counts");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->Get("other", "k").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader->NewIterator("other").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ViewSnapshot> snapshot = reader->Snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->NewIterator("other").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(snapshot->NewIterator("counts").ok());
  EXPECT_EQ(reader->generation(), (GenerationId{1, 1}));
}

TEST_F(EngineTest, ReaderIteratesASpaceInKeyOrder) {
  const uint64_t last = AppendMany(*store_, 400);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
  absl::StatusOr<ViewReader> reader = engine.Reader("category_counts");
  auto it = reader->NewIterator("counts");
  ASSERT_TRUE(it.ok());
  std::vector<std::pair<std::string, std::string>> rows;
  for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
    rows.emplace_back(std::string((*it)->key()), std::string((*it)->value()));
  }
  std::vector<std::pair<std::string, std::string>> expected = {
      {"_total", "400"}, {"action", "200"}, {"site", "200"}};
  EXPECT_EQ(rows, expected);
  // The same rows through a snapshot, which later events do not change.
  absl::StatusOr<ViewSnapshot> snapshot = reader->Snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const uint64_t more = AppendMany(*store_, 10);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", more, Soon()).ok());
  auto frozen = snapshot->NewIterator("counts");
  ASSERT_TRUE(frozen.ok());
  rows.clear();
  for ((*frozen)->Seek(""); (*frozen)->Valid(); (*frozen)->Next()) {
    rows.emplace_back(std::string((*frozen)->key()), std::string((*frozen)->value()));
  }
  EXPECT_EQ(rows, expected);
  EXPECT_EQ(**reader->Get("counts", "_total"), "410");
}

TEST_F(EngineTest, EmptyLogIsLiveAtPositionZero) {
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_TRUE(engine.WaitForPosition("category_counts", 0, Soon()).ok());
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  EXPECT_EQ(st->active.position, 0u);
  EXPECT_EQ(st->active.lag_events, 0u);
  engine.Stop();
  EXPECT_EQ(engine.GetStatus("category_counts")->active.state, ProjectionState::kStopped);
  EXPECT_EQ(engine.WaitForPosition("category_counts", 1, Soon()).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace rb::proj
