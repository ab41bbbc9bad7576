// Copyright: the Résorption-bidonvilles data service authors.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/engine.h"
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
using ::rb::proj::testing::StreamDigest;

absl::Time Soon() { return absl::Now() + absl::Seconds(30); }

// Counts events, and from version 2 on fails on "test.poison".
class Picky : public Projection {
 public:
  explicit Picky(uint32_t version) : version_(version) {}
  std::string name() const override { return "picky"; }
  uint32_t version() const override { return version_; }
  std::vector<std::string> spaces() const override { return {"counts"}; }
  absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
    if (version_ >= 2 && e.type == "test.poison") return absl::InternalError("picky about poison");
    return testing::Increment(w, "counts", "_total");
  }

 private:
  uint32_t version_;
};

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::es::Options o;
    o.sync = false;
    auto store = rb::es::EventStore::Open(o, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string Get(const ProjectionEngine& engine, const std::string& name, const std::string& space,
                  const std::string& key) {
    absl::StatusOr<ViewReader> reader = engine.Reader(name);
    if (!reader.ok()) return "error: " + reader.status().ToString();
    absl::StatusOr<std::optional<std::string>> v = reader->Get(space, key);
    if (!v.ok()) return "error: " + v.status().ToString();
    return v->value_or("absent");
  }

  std::vector<std::string> SpacesOf(const std::string& projection, uint32_t version) {
    std::vector<std::string> out;
    const std::string prefix = absl::StrCat("view.", projection, ".v", version, ".");
    for (const std::string& s : store_->kv().ListSpaces()) {
      if (s.rfind(prefix, 0) == 0) out.push_back(s);
    }
    return out;
  }

  // Builds version 1 of category_counts over `n` events plus one "test.gate" event, and stops.
  uint64_t BuildVersionOne(int n) {
    AppendMany(*store_, n);
    const uint64_t last = AppendEvents(*store_, "site-gate", "test.gate", 1);
    ProjectionEngine engine(store_.get(), EngineOptions{});
    EXPECT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1)).ok());
    EXPECT_TRUE(engine.Start().ok());
    EXPECT_TRUE(engine.WaitForPosition("category_counts", last, Soon()).ok());
    return last;
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
};

TEST_F(RebuildTest, RebuildFromPositionZeroGivesTheSameViewsAsLiveProcessing) {
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 50});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<LastType>()).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<StreamDigest>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  // Live processing: appends arrive while the projections run, in uneven rounds.
  uint64_t last = 0;
  for (int round = 0; round < 10; ++round) {
    last = AppendMany(*store_, 37 * (round + 1), 7);
    if (round % 3 == 0) {
      for (const char* name : {"category_counts", "last_type", "stream_digest"}) {
        ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
      }
    }
  }
  for (const char* name : {"category_counts", "last_type", "stream_digest"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
    absl::StatusOr<std::string> live = HashViews(*engine.Reader(name));
    ASSERT_TRUE(live.ok());
    ASSERT_TRUE(engine.Rebuild(name).ok());
    ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok());
    absl::StatusOr<ViewReader> rebuilt = engine.Reader(name);
    EXPECT_EQ(rebuilt->generation(), (GenerationId{1, 2}));
    EXPECT_EQ(*HashViews(*rebuilt), *live);
    EXPECT_EQ(engine.GetStatus(name)->active.position, last);
  }
  engine.Stop();
  // The replaced generation's spaces are gone once nothing uses them.
  for (const std::string& s : store_->kv().ListSpaces()) {
    EXPECT_EQ(s.find(".g1."), std::string::npos) << s;
  }
}

// A rebuild whose commits are written as table files (EngineOptions::files_min_bytes) gives the
// views that live commits through the write buffers gave.
TEST_F(RebuildTest, RebuildWrittenAsFilesGivesTheSameViewsAsLiveProcessing) {
  const std::vector<std::string> names = {"category_counts", "last_type", "stream_digest"};
  auto register_all = [](ProjectionEngine& engine) {
    ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>()).ok());
    ASSERT_TRUE(engine.Register(std::make_unique<LastType>()).ok());
    ASSERT_TRUE(engine.Register(std::make_unique<StreamDigest>()).ok());
  };
  std::map<std::string, std::string> live;
  uint64_t last = 0;
  {
    ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 50, .files_min_bytes = 0});
    register_all(engine);
    ASSERT_TRUE(engine.Start().ok());
    for (int round = 0; round < 10; ++round) last = AppendMany(*store_, 37 * (round + 1), 7);
    for (const std::string& name : names) {
      ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
      live[name] = *HashViews(*engine.Reader(name));
    }
  }
  // The rebuild's commits before its switch: written as files, they are on disk when reported
  // (through the write buffers, unlogged, they would not be).
  struct Commits {
    absl::Mutex mu;
    int files = 0;     // durable, before the switch
    int buffered = 0;  // not durable
  };
  auto commits = std::make_shared<Commits>();
  EngineOptions options{.batch_events = 50, .files_min_bytes = 1};
  options.on_commit = [commits](const CommitInfo& c) {
    absl::MutexLock lock(&commits->mu);
    if (!c.durable) {
      ++commits->buffered;
    } else if (c.generation.generation == 2 && !c.switched) {
      ++commits->files;
    }
  };
  ProjectionEngine engine(store_.get(), options);
  register_all(engine);
  ASSERT_TRUE(engine.Start().ok());
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(engine.Rebuild(name).ok());
    ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok());
    absl::StatusOr<ViewReader> rebuilt = engine.Reader(name);
    EXPECT_EQ(rebuilt->generation(), (GenerationId{1, 2}));
    EXPECT_EQ(*HashViews(*rebuilt), live[name]);
  }
  {
    absl::MutexLock lock(&commits->mu);
    EXPECT_GT(commits->files, 3) << "the rebuilds' batches did not go to files";
    commits->buffered = 0;
  }
  // Live batches go through the write buffers, whatever their size.
  last = AppendMany(*store_, 20, 7);
  for (const std::string& name : names)
    ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
  // Each projection reports its live commit after WaitForPosition may return: wait for them.
  absl::MutexLock lock(&commits->mu);
  auto all_reported = [&commits]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commits->mu) {
    return commits->buffered >= 3;
  };
  EXPECT_TRUE(commits->mu.AwaitWithTimeout(absl::Condition(&all_reported), absl::Seconds(60)))
      << "live commits were written as files";
}

TEST_F(RebuildTest, NewVersionIsBuiltBesideTheServingOneAndSwitchedAtomically) {
  const uint64_t built = BuildVersionOne(200);
  Gate gate;
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 16});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1)).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(2, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(gate.WaitArrived(absl::Seconds(30)));  // the rebuild is blocked mid-way

  // During the rebuild, queries read version 1, which keeps following the log.
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->rebuild.has_value());
  EXPECT_EQ(st->rebuild->id.version, 2u);
  EXPECT_EQ(st->rebuild->state, ProjectionState::kRebuilding);
  EXPECT_LT(st->rebuild->position, built);
  EXPECT_EQ(st->active.id.version, 1u);
  const uint64_t live = AppendEvents(*store_, "site-live", "test.live", 5);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", live, Soon()).ok());
  absl::StatusOr<ViewReader> old_reader = engine.Reader("category_counts");
  ASSERT_TRUE(old_reader.ok());
  EXPECT_EQ(old_reader->generation().version, 1u);
  EXPECT_EQ(**old_reader->Get("counts", "_total"), absl::StrCat(live));
  EXPECT_FALSE(old_reader->Get("counts", "type:test.live")->has_value());
  EXPECT_EQ(engine.GetStatus("category_counts")->active.state, ProjectionState::kLive);

  gate.Open();
  ASSERT_TRUE(engine.WaitForRebuild("category_counts", Soon()).ok());
  absl::StatusOr<ViewReader> reader = engine.Reader("category_counts");
  EXPECT_EQ(reader->generation().version, 2u);
  EXPECT_EQ(**reader->Get("counts", "_total"), absl::StrCat(live));
  EXPECT_EQ(**reader->Get("counts", "type:test.live"), "5");
  st = engine.GetStatus("category_counts");
  EXPECT_FALSE(st->rebuild.has_value());
  EXPECT_EQ(st->active.id.version, 2u);
  // A reader handed out before the switch still reads its generation.
  EXPECT_EQ(**old_reader->Get("counts", "_total"), absl::StrCat(live));

  // Follows live after the switch.
  const uint64_t after = AppendEvents(*store_, "site-live", "test.live", 1);
  ASSERT_TRUE(engine.WaitForPosition("category_counts", after, Soon()).ok());
  EXPECT_EQ(Get(engine, "category_counts", "counts", "type:test.live"), "6");

  old_reader = absl::UnknownError("released");
  engine.Stop();
  EXPECT_TRUE(SpacesOf("category_counts", 1).empty());
  EXPECT_FALSE(SpacesOf("category_counts", 2).empty());
}

TEST_F(RebuildTest, OldVersionWithoutItsCodeServesItsLastStateUntilTheSwitch) {
  const uint64_t built = BuildVersionOne(100);
  Gate gate;
  ProjectionEngine engine(store_.get(), EngineOptions{.batch_events = 16});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(2, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(gate.WaitArrived(absl::Seconds(30)));
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("category_counts");
  EXPECT_EQ(st->active.id.version, 1u);
  EXPECT_EQ(st->active.state, ProjectionState::kRebuilding);
  EXPECT_EQ(st->active.position, built);
  EXPECT_EQ(Get(engine, "category_counts", "counts", "_total"), absl::StrCat(built));
  // The frozen generation does not reach new positions; the switch will.
  const uint64_t live = AppendEvents(*store_, "site-live", "test.live", 1);
  EXPECT_EQ(
      engine.WaitForPosition("category_counts", live, absl::Now() + absl::Milliseconds(20)).code(),
      absl::StatusCode::kDeadlineExceeded);
  gate.Open();
  ASSERT_TRUE(engine.WaitForPosition("category_counts", live, Soon()).ok());
  EXPECT_EQ(engine.GetStatus("category_counts")->active.id.version, 2u);
  EXPECT_EQ(Get(engine, "category_counts", "counts", "_total"), absl::StrCat(live));
}

TEST_F(RebuildTest, AFailedRebuildLeavesTheServingGenerationAlone) {
  AppendEvents(*store_, "site-1", "test.ok", 5);
  const uint64_t poison = AppendEvents(*store_, "site-1", "test.poison", 1);
  const uint64_t last = AppendEvents(*store_, "site-1", "test.ok", 5);
  {
    ProjectionEngine engine(store_.get(), EngineOptions{});
    ASSERT_TRUE(engine.Register(std::make_unique<Picky>(1)).ok());
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(engine.WaitForPosition("picky", last, Soon()).ok());
  }
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<Picky>(1)).ok());
  ASSERT_TRUE(engine.Register(std::make_unique<Picky>(2)).ok());
  ASSERT_TRUE(engine.Start().ok());
  absl::Status s = engine.WaitForRebuild("picky", Soon());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  absl::StatusOr<ProjectionStatus> st = engine.GetStatus("picky");
  ASSERT_TRUE(st->rebuild.has_value());
  EXPECT_EQ(st->rebuild->state, ProjectionState::kFailed);
  EXPECT_EQ(st->rebuild->failed_position, poison);
  EXPECT_EQ(st->rebuild->position, poison - 1);
  EXPECT_EQ(st->active.id.version, 1u);
  const uint64_t more = AppendEvents(*store_, "site-1", "test.ok", 1);
  ASSERT_TRUE(engine.WaitForPosition("picky", more, Soon()).ok());
  EXPECT_EQ(Get(engine, "picky", "counts", "_total"), absl::StrCat(more));
  // A new rebuild discards the failed one (and fails again, deterministically).
  ASSERT_TRUE(engine.Rebuild("picky").ok());
  EXPECT_EQ(engine.WaitForRebuild("picky", Soon()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine.GetStatus("picky")->rebuild->id.generation, 3u);
  EXPECT_TRUE(SpacesOf("picky", 2).size() == 1) << "the discarded generation's space is dropped";
}

TEST_F(RebuildTest, RebuildErrors) {
  Gate gate;
  AppendEvents(*store_, "site-1", "test.gate", 1);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1, &gate)).ok());
  EXPECT_EQ(engine.Rebuild("category_counts").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(engine.Start().ok());
  gate.Open();
  ASSERT_TRUE(engine.WaitForPosition("category_counts", 1, Soon()).ok());
  EXPECT_EQ(engine.Rebuild("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine.WaitForRebuild("nope", Soon()).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine.WaitForRebuild("category_counts", Soon()).ok());  // none pending
}

TEST_F(RebuildTest, SecondRebuildWhileOneRunsIsFailedPrecondition) {
  Gate gate;
  AppendEvents(*store_, "site-1", "test.ok", 3);
  AppendEvents(*store_, "site-1", "test.gate", 1);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<CategoryCounts>(1, &gate)).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.Rebuild("category_counts").ok());
  EXPECT_EQ(engine.Rebuild("category_counts").code(), absl::StatusCode::kFailedPrecondition);
  gate.Open();
  ASSERT_TRUE(engine.WaitForRebuild("category_counts", Soon()).ok());
  EXPECT_EQ(Get(engine, "category_counts", "counts", "_total"), "4");
}

TEST_F(RebuildTest, RebuildOfAnEmptyLogSwitchesAtOnce) {
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(engine.Register(std::make_unique<LastType>()).ok());
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.Rebuild("last_type").ok());
  ASSERT_TRUE(engine.WaitForRebuild("last_type", Soon()).ok());
  EXPECT_EQ(engine.Reader("last_type")->generation(), (GenerationId{1, 2}));
}

}  // namespace
}  // namespace rb::proj
