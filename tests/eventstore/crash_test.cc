// Crash test: a child process appends durably from several threads and reports every
// acknowledged position through a pipe; the parent kills it with SIGKILL at a random moment,
// reopens the store and checks that every acknowledged event survived, with no hole in the
// positions and chains that verify, and that every event in the log, acknowledged or not, has its
// command record with the writer's fingerprint (written in the same batch): a retry of the same
// command is replayed, another command under its id refused. Repeated 20 times on the same data
// directory.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::es {
namespace {

std::string g_self;

[[noreturn]] void RunChild(const std::string& path, int fd) {
  auto store = EventStore::Open(Options(), path);
  if (!store.ok()) _exit(3);
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        AppendRequest r;
        r.stream_id = "crash-" + std::to_string(t);
        r.command_id =
            "c" + std::to_string(getpid()) + "-" + std::to_string(t) + "-" + std::to_string(i);
        r.command_fingerprint = Sha256(r.command_id);
        r.events.push_back(EventData{.type = "crash.tick", .payload = r.command_id});
        auto res = (*store)->Append(r);
        if (!res.ok()) _exit(4);
        std::lock_guard<std::mutex> l(mu);
        uint64_t p = res->last_position;
        if (write(fd, &p, sizeof(p)) != sizeof(p)) _exit(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

TEST(CrashTest, EveryAcknowledgedAppendSurvivesKillNine) {
  rb::testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  std::mt19937 rng(20261128);
  uint64_t total_acked = 0;
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      execl(g_self.c_str(), g_self.c_str(), "--child", path.c_str(), std::to_string(fds[1]).c_str(),
            static_cast<char*>(nullptr));
      _exit(2);
    }
    close(fds[1]);
    const int kill_after = std::uniform_int_distribution<int>(1, 300)(rng);
    std::vector<uint64_t> acked;
    while (static_cast<int>(acked.size()) < kill_after) {
      uint64_t p;
      ssize_t n = read(fds[0], &p, sizeof(p));
      ASSERT_EQ(n, static_cast<ssize_t>(sizeof(p))) << "child stopped early in round " << round;
      acked.push_back(p);
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    // Acknowledgements written before the kill are still in the pipe: collect them all.
    uint64_t p;
    while (read(fds[0], &p, sizeof(p)) == static_cast<ssize_t>(sizeof(p))) acked.push_back(p);
    close(fds[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));

    auto store = EventStore::Open(Options(), path);
    ASSERT_TRUE(store.ok()) << store.status();
    const Head head = (*store)->GetHead();
    for (uint64_t a : acked) {
      ASSERT_LE(a, head.position) << "acknowledged position " << a << " lost in round " << round;
      auto r = (*store)->ReadAll(a, 1, LogFilter());
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->events.size(), 1u);
      EXPECT_EQ(r->events[0].position, a);
      EXPECT_EQ(r->events[0].payload, r->events[0].metadata.command_id);
    }
    // This round's events, acknowledged or not: each has its command record.
    auto events =
        (*store)->ReadAll(head.position + 1 > 400 ? head.position - 399 : 1, 400, LogFilter());
    ASSERT_TRUE(events.ok());
    for (const RecordedEvent& e : events->events) {
      auto record = (*store)->GetCommand(e.metadata.command_id);
      ASSERT_TRUE(record.ok()) << record.status();
      ASSERT_TRUE(record->has_value()) << "no command record for position " << e.position;
      EXPECT_EQ((*record)->kind, CommandRecord::FingerprintKind::kCommand);
      EXPECT_EQ((*record)->fingerprint, Sha256(e.metadata.command_id));
      EXPECT_EQ((*record)->result.first_position, e.position);
    }
    if (!events->events.empty()) {
      const RecordedEvent& last = events->events.back();
      AppendRequest retry;
      retry.stream_id = last.stream_id;
      retry.command_id = last.metadata.command_id;
      retry.command_fingerprint = Sha256(retry.command_id);
      retry.events.push_back(EventData{.type = "crash.tick", .payload = "again"});
      auto replayed = (*store)->Append(retry);
      ASSERT_TRUE(replayed.ok()) << replayed.status();
      EXPECT_TRUE(replayed->replayed);
      EXPECT_EQ(replayed->first_position, last.position);
      retry.command_fingerprint = Sha256("another command");
      EXPECT_EQ((*store)->Append(retry).status().code(), absl::StatusCode::kAlreadyExists);
      EXPECT_EQ((*store)->GetHead().position, head.position);
    }
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->events_checked, head.position);  // no holes
    total_acked += acked.size();
  }
  EXPECT_GE(total_acked, 20u);
}

}  // namespace
}  // namespace rb::es

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) {
    rb::es::RunChild(argv[2], std::atoi(argv[3]));
  }
  rb::es::g_self = "/proc/self/exe";
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) rb::es::g_self.assign(buf, n);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
