// Copyright: the Résorption-bidonvilles data service authors.
//
// Crash tests: a child process runs the engine over a stored log, reporting each durable commit
// through a pipe; the parent kills it with SIGKILL mid-way (during the first catch-up, or during
// a rebuild), restarts the engine on the same data directory and checks that
//  * the views and the checkpoint found on disk agree (they were committed in one batch),
//  * every commit the child reported survived,
//  * once caught up, the views hash equals a clean rebuild's (none applied twice, none skipped).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "projections/engine.h"
#include "projections/view_hash.h"
#include "tests/projections/test_projections.h"
#include "tests/testing/checkpoint.h"
#include "tests/testing/temp_dir.h"

namespace rb::proj {
namespace {

using ::rb::proj::testing::AppendMany;
using ::rb::proj::testing::CategoryCounts;
using ::rb::proj::testing::StreamDigest;

constexpr int kEvents = 20000;
constexpr const char* kNames[] = {"category_counts", "stream_digest"};
std::string g_self;

absl::Time Soon() { return absl::Now() + absl::Seconds(60); }

absl::Status RegisterAll(ProjectionEngine& engine) {
  if (absl::Status s = engine.Register(std::make_unique<CategoryCounts>()); !s.ok()) return s;
  return engine.Register(std::make_unique<StreamDigest>());
}

// The child: runs the engine with small batches and reports "<name> <generation> <position>"
// per durable commit. Modes "catchup" and "rebuild" sync each commit; with mode "rebuild",
// rebuilds every projection. Mode "catchup-unlogged" commits without the write-ahead log (the
// default) and flushes the store every 50 commits, reporting the commits a flush made durable.
// Mode "rebuild-unlogged" rebuilds with unlogged commits, reporting each (only the switch is
// durable at once). Mode "build-unlogged" builds the first generation with unlogged commits,
// reporting each (only the first commit at the head is durable at once). Modes "catchup-files"
// and "rebuild-files" write every commit as table files (EngineOptions::files_min_bytes),
// reporting each. Mode "resume-files" first applies the log up to position 8,000 with unlogged
// commits that no flush persists, then stops that engine and goes on with a new one writing
// files, reporting each of its commits (the first of which must persist the unlogged ones).
// Once `category_counts` of generation `stall_generation` has reported a position at or past
// `stall_at`, its worker stops there (blocked in the report) until the kill: the kill then lands
// before that projection reaches the head however late the parent reads the reports, while the
// other workers go on writing. Never returns.
[[noreturn]] void RunChild(const std::string& mode, const std::string& path, int fd,
                           uint64_t stall_generation, uint64_t stall_at) {
  auto store = rb::es::EventStore::Open(rb::es::Options(), path);
  if (!store.ok()) _exit(3);
  EngineOptions options;
  options.batch_events = 5;
  const bool unlogged = absl::EndsWith(mode, "-unlogged");
  const bool files = absl::EndsWith(mode, "-files");
  options.sync_commits = !unlogged && !files;
  if (files) {
    options.batch_events = 100;
    options.files_min_bytes = 1;
  }
  if (mode == "resume-files") {
    EngineOptions first;
    first.batch_events = 5;
    first.files_min_bytes = 0;
    ProjectionEngine engine(store->get(), first);
    if (!RegisterAll(engine).ok() || !engine.Start().ok()) _exit(4);
    for (const char* name : kNames) {
      if (!engine.WaitForPosition(name, 8000, Soon()).ok()) _exit(8);
    }
  }
  rb::es::KvStore* kv = &(*store)->kv();
  auto commits = std::make_shared<int>(0);
  options.on_commit = [fd, kv, commits, flushes = mode == "catchup-unlogged", files,
                       stall_generation, stall_at](const CommitInfo& c) {
    if (files && !c.durable) _exit(9);  // every commit is written as files
    if (flushes) {
      if (++*commits % 50 != 0) return;
      if (!kv->Flush().ok()) _exit(7);
    }
    std::string line =
        absl::StrCat(c.projection, " ", c.generation.generation, " ", c.position, "\n");
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    if (c.projection == "category_counts" && c.generation.generation == stall_generation &&
        c.position >= stall_at) {
      for (;;) pause();  // this worker only; the kill ends it
    }
  };
  ProjectionEngine engine(store->get(), options);
  if (!RegisterAll(engine).ok() || !engine.Start().ok()) _exit(4);
  if (absl::StartsWith(mode, "rebuild")) {
    for (const char* name : kNames) {
      if (!engine.Rebuild(name).ok()) _exit(6);
    }
  }
  for (;;) pause();
}

struct Reported {
  std::map<std::string, uint64_t> position;  // per projection, last reported of the generation
};

// Starts the child, reads its reports, and kills it with SIGKILL once a projection's generation
// `generation` reported `kill_at` (with `every_projection`: once all of them did).
void RunAndKill(const std::string& mode, const std::string& path, uint64_t generation,
                uint64_t kill_at, Reported* reported, bool every_projection = false) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    execl(g_self.c_str(), g_self.c_str(), "--child", mode.c_str(), path.c_str(),
          std::to_string(fds[1]).c_str(), std::to_string(generation).c_str(),
          std::to_string(kill_at).c_str(), static_cast<char*>(nullptr));
    _exit(2);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);
  char buf[256];
  bool killed = false;
  while (fgets(buf, sizeof(buf), in) != nullptr) {
    std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(buf), ' ');
    ASSERT_EQ(parts.size(), 3u) << buf;
    uint64_t gen = 0, pos = 0;
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &gen) && absl::SimpleAtoi(parts[2], &pos)) << buf;
    if (gen != generation) continue;
    reported->position[parts[0]] = pos;
    bool reached = pos >= kill_at;
    if (every_projection) {
      for (const char* name : kNames) {
        auto it = reported->position.find(name);
        reached = reached && it != reported->position.end() && it->second >= kill_at;
      }
    }
    if (!killed && reached) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;  // keep reading: reports written before the kill are still in the pipe
    }
  }
  fclose(in);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed) << "the child exited before the kill, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status));
}

class ProjectionCrashTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/db"; }

  void OpenStore() {
    auto store = rb::es::EventStore::Open(rb::es::Options(), path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void CloseStore() {
    store_->Close();
    store_.reset();
  }

  // Reads a generation's checkpoint and "_total" count straight from the key spaces.
  void ExpectCountsMatchCheckpoint(GenerationId gen, uint64_t* position) {
    rb::es::KvStore& kv = store_->kv();
    absl::StatusOr<std::optional<Checkpoint>> cp =
        rb::testing::StoredCheckpoint(kv, "category_counts", gen.generation);
    ASSERT_TRUE(cp.ok()) << cp.status();
    ASSERT_TRUE(cp->has_value());
    auto total = kv.Get(ViewSpaceName("category_counts", gen, "counts"), "_total");
    ASSERT_TRUE(total.ok());
    EXPECT_EQ(total->value_or("0"), absl::StrCat((*cp)->position))
        << "views and checkpoint disagree after the crash";
    *position = (*cp)->position;
  }

  std::map<std::string, std::string> Hashes(const ProjectionEngine& engine) {
    std::map<std::string, std::string> out;
    for (const char* name : kNames) {
      absl::StatusOr<ViewReader> reader = engine.Reader(name);
      EXPECT_TRUE(reader.ok());
      absl::StatusOr<std::string> h = HashViews(*reader);
      EXPECT_TRUE(h.ok());
      out[name] = h.value_or("");
    }
    return out;
  }

  // Appends the log, builds generation 1 of every projection over it, and returns the views'
  // hashes and the last position (the store is closed after).
  std::map<std::string, std::string> BuildLive(uint64_t* last) {
    OpenStore();
    *last = AppendMany(*store_, kEvents);
    std::map<std::string, std::string> live;
    {
      ProjectionEngine engine(store_.get(), EngineOptions{});
      EXPECT_TRUE(RegisterAll(engine).ok());
      EXPECT_TRUE(engine.Start().ok());
      for (const char* name : kNames) {
        EXPECT_TRUE(engine.WaitForPosition(name, *last, Soon()).ok());
      }
      live = Hashes(engine);
    }
    CloseStore();
    return live;
  }

  // Restarts the engine, lets it catch up to `last`, and checks that the views equal a clean
  // rebuild's (none applied twice, none skipped).
  void ExpectResumedEqualsRebuilt(uint64_t last) {
    ProjectionEngine engine(store_.get(), EngineOptions{});
    ASSERT_TRUE(RegisterAll(engine).ok());
    ASSERT_TRUE(engine.Start().ok());
    for (const char* name : kNames) {
      ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok()) << name;
      EXPECT_EQ(engine.GetStatus(name)->active.state, ProjectionState::kLive)
          << engine.GetStatus(name)->active.error;
    }
    ExpectEqualsRebuilt(engine);
  }

  // Checks that the views `engine` serves count every event and equal a clean rebuild's.
  void ExpectEqualsRebuilt(ProjectionEngine& engine) {
    EXPECT_EQ(**engine.Reader("category_counts")->Get("counts", "_total"), absl::StrCat(kEvents));
    const std::map<std::string, std::string> served = Hashes(engine);
    for (const char* name : kNames) {
      ASSERT_TRUE(engine.Rebuild(name).ok());
      ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok());
    }
    EXPECT_EQ(Hashes(engine), served);
  }

  // Appends the log, runs the child in `mode` over it and kills it once generation 1 reported
  // `kill_at`, then checks that views and checkpoint agree on disk, that no reported commit was
  // lost, that the kill landed mid-way and that resuming gives a clean rebuild's views. Returns
  // the position found on disk.
  uint64_t KillDuringCatchUpThenResume(const std::string& mode, uint64_t kill_at) {
    OpenStore();
    const uint64_t last = AppendMany(*store_, kEvents);
    EXPECT_EQ(last, static_cast<uint64_t>(kEvents));
    CloseStore();
    Reported reported;
    RunAndKill(mode, path(), /*generation=*/1, kill_at, &reported);
    OpenStore();
    uint64_t on_disk = 0;
    ExpectCountsMatchCheckpoint(GenerationId{1, 1}, &on_disk);
    EXPECT_GE(on_disk, reported.position["category_counts"]) << "a reported commit was lost";
    EXPECT_LT(on_disk, last) << "the kill did not land mid-way";
    ExpectResumedEqualsRebuilt(last);
    return on_disk;
  }

  // Builds generation 1, runs the child rebuilding every projection in `mode` and kills it once
  // generation 2 reported `kill_at`, then checks that the new generation's views and checkpoint
  // agree on disk, and that the rebuild, resumed by an engine with `options` while the old
  // generation serves, ends with the views of live processing.
  void KillDuringRebuildThenResume(const std::string& mode, uint64_t kill_at,
                                   const EngineOptions& options) {
    uint64_t last = 0;
    const std::map<std::string, std::string> live = BuildLive(&last);
    Reported reported;
    RunAndKill(mode, path(), /*generation=*/2, kill_at, &reported);
    OpenStore();
    uint64_t on_disk = 0;
    ExpectCountsMatchCheckpoint(GenerationId{1, 2}, &on_disk);
    EXPECT_GE(on_disk, reported.position["category_counts"]) << "a reported commit was lost";
    EXPECT_LT(on_disk, last) << "the kill did not land mid-way";
    ProjectionEngine engine(store_.get(), options);
    ASSERT_TRUE(RegisterAll(engine).ok());
    ASSERT_TRUE(engine.Start().ok());
    for (const char* name : kNames) {
      ASSERT_TRUE(engine.WaitForRebuild(name, Soon()).ok()) << name;
      EXPECT_EQ(engine.Reader(name)->generation(), (GenerationId{1, 2}));
    }
    EXPECT_EQ(Hashes(engine), live);
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
};

TEST_F(ProjectionCrashTest, KillDuringCatchUpResumesExactly) {
  KillDuringCatchUpThenResume("catchup", /*kill_at=*/3000);
}

// Commits without the write-ahead log: a crash loses the commits after the last flush, views
// and checkpoint together.
TEST_F(ProjectionCrashTest, KillDuringUnloggedCatchUpLosesViewsAndCheckpointTogether) {
  KillDuringCatchUpThenResume("catchup-unlogged", /*kill_at=*/3000);
}

// A first build from position 0 with unlogged commits, killed once every projection reached the
// head: the build is on disk, views and checkpoint, and the restart does not redo it.
TEST_F(ProjectionCrashTest, KillAfterAnUnloggedBuildReachedTheHeadKeepsTheWholeBuild) {
  OpenStore();
  const uint64_t last = AppendMany(*store_, kEvents);
  CloseStore();

  Reported reported;
  RunAndKill("build-unlogged", path(), /*generation=*/1, /*kill_at=*/last, &reported,
             /*every_projection=*/true);

  OpenStore();
  uint64_t on_disk = 0;
  ExpectCountsMatchCheckpoint(GenerationId{1, 1}, &on_disk);
  EXPECT_EQ(on_disk, last) << "the build was lost with its write buffers";
  for (const char* name : kNames) {
    absl::StatusOr<std::optional<Checkpoint>> cp =
        rb::testing::StoredCheckpoint(store_->kv(), name, 1);
    ASSERT_TRUE(cp.ok()) << cp.status();
    ASSERT_TRUE(cp->has_value()) << name;
    EXPECT_EQ((*cp)->position, last) << name;
  }
  // Served as it was left, and equal to a clean rebuild.
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(RegisterAll(engine).ok());
  ASSERT_TRUE(engine.Start().ok());
  for (const char* name : kNames) ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
  ExpectEqualsRebuilt(engine);
}

// A rebuild with unlogged commits, killed just after its switch: the switch survives with every
// batch of the new generation before it.
TEST_F(ProjectionCrashTest, KillAfterAnUnloggedRebuildSwitchedKeepsTheWholeNewGeneration) {
  uint64_t last = 0;
  const std::map<std::string, std::string> live = BuildLive(&last);

  Reported reported;
  RunAndKill("rebuild-unlogged", path(), /*generation=*/2, /*kill_at=*/last, &reported,
             /*every_projection=*/true);

  OpenStore();
  uint64_t on_disk = 0;
  ExpectCountsMatchCheckpoint(GenerationId{1, 2}, &on_disk);
  EXPECT_EQ(on_disk, last);
  ProjectionEngine engine(store_.get(), EngineOptions{});
  ASSERT_TRUE(RegisterAll(engine).ok());
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(engine.Reader("category_counts")->generation(), (GenerationId{1, 2}));
  for (const char* name : kNames) ASSERT_TRUE(engine.WaitForPosition(name, last, Soon()).ok());
  EXPECT_EQ(Hashes(engine), live);
}

// Commits written as table files are durable when reported, views and checkpoint together.
TEST_F(ProjectionCrashTest, KillDuringACatchUpWrittenAsFilesResumesExactly) {
  KillDuringCatchUpThenResume("catchup-files", /*kill_at=*/6000);
}

// Unlogged commits left in the write buffers by a first engine, then commits written as files
// by the next one: the files never survive without the unlogged commits before them.
TEST_F(ProjectionCrashTest, FilesWrittenAfterUnloggedCommitsNeverSurviveWithoutThem) {
  EXPECT_GE(KillDuringCatchUpThenResume("resume-files", /*kill_at=*/12000), 12000u);
}

TEST_F(ProjectionCrashTest, KillDuringARebuildWrittenAsFilesResumesTheRebuildExactly) {
  KillDuringRebuildThenResume("rebuild-files", /*kill_at=*/6000,
                              EngineOptions{.files_min_bytes = 1});
}

TEST_F(ProjectionCrashTest, KillDuringRebuildResumesTheRebuildExactly) {
  KillDuringRebuildThenResume("rebuild", /*kill_at=*/3000, EngineOptions{});
}

}  // namespace
}  // namespace rb::proj

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "--child") == 0) {
    rb::proj::RunChild(argv[2], argv[3], std::atoi(argv[4]), std::strtoull(argv[5], nullptr, 10),
                       std::strtoull(argv[6], nullptr, 10));
  }
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  rb::proj::g_self = n > 0 ? std::string(buf, n) : "/proc/self/exe";
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
