// Crash test of the real resorptiond binary: append over gRPC from several clients, kill -9 the
// server mid-load, restart it on the same data directory and check that every acknowledged
// event is there, then stop it with SIGTERM and expect a clean exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::AppendReq;
using testing::Ctx;

struct Process {
  pid_t pid = -1;
  int port = 0;
};

// Starts resorptiond and reads its stderr until the server.started line gives the port.
Process Spawn(const std::string& data_dir) {
  const char* bin_dir = std::getenv("RB_BINARY_DIR");
  std::string binary = std::string(bin_dir ? bin_dir : ".") + "/tools/resorptiond";
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::string dd = "--data-dir=" + data_dir;
    execl(binary.c_str(), binary.c_str(), "--listen=127.0.0.1:0", "--metrics-listen=", dd.c_str(),
          "--log-level=info", "--auth=disabled", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* err = fdopen(fds[0], "r");
  char line[4096];
  Process p{pid, 0};
  std::regex port_re("\"event\":\"server.started\".*\"port\":([0-9]+)");
  while (fgets(line, sizeof(line), err) != nullptr) {
    std::cmatch m;
    if (std::regex_search(line, m, port_re)) {
      p.port = std::stoi(m[1].str());
      break;
    }
  }
  // Keep draining stderr in the background so the server never blocks on a full pipe.
  std::thread([err] {
    char buf[4096];
    while (fgets(buf, sizeof(buf), err) != nullptr) {
    }
    fclose(err);
  }).detach();
  return p;
}

TEST(ResorptiondCrashTest, EveryAcknowledgedAppendSurvivesKillNine) {
  rb::testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  Process p = Spawn(data);
  ASSERT_GT(p.port, 0) << "resorptiond did not start";
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", p.port), grpc::InsecureChannelCredentials());
  std::mutex mu;
  std::map<std::string, uint64_t> last_acked;  // stream -> last acknowledged revision
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      auto stub = v1::EventStream::NewStub(channel);
      const std::string stream = absl::StrCat("site-", w);
      for (int i = 0;; ++i) {
        v1::AppendRequest req = AppendReq(stream, 1 + i % 3);
        v1::AppendResponse resp;
        if (!stub->Append(Ctx(std::chrono::seconds(5)).get(), req, &resp).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        last_acked[stream] = resp.stream_revision();
        acked++;
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acked.load() < 300 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  kill(p.pid, SIGKILL);
  int status = 0;
  waitpid(p.pid, &status, 0);
  for (auto& t : writers) t.join();
  ASSERT_GE(acked.load(), 300);

  Process q = Spawn(data);
  ASSERT_GT(q.port, 0) << "resorptiond did not restart";
  auto stub = v1::EventStream::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", q.port), grpc::InsecureChannelCredentials()));
  for (const auto& [stream, revision] : last_acked) {
    v1::GetStreamInfoRequest req;
    req.set_stream_id(stream);
    v1::GetStreamInfoResponse info;
    ASSERT_TRUE(stub->GetStreamInfo(Ctx().get(), req, &info).ok());
    ASSERT_TRUE(info.exists());
    EXPECT_GE(info.last_revision(), revision) << stream;
  }
  v1::VerifyResponse verify;
  grpc::Status vs = stub->Verify(Ctx(std::chrono::seconds(60)).get(), {}, &verify);
  EXPECT_TRUE(vs.ok()) << vs.error_message();

  kill(q.pid, SIGTERM);
  waitpid(q.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace rb::services
