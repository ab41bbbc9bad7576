// The Server: health and reflection, start-up errors, modules, metrics, graceful shutdown.
#include "services/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::AppendReq;
using testing::Ctx;
using ::testing::HasSubstr;
using testing::TestOptions;
using testing::TestServer;

// Calls `method` with one raw request message and returns the first raw response message.
absl::StatusOr<std::string> RawCall(std::shared_ptr<grpc::Channel> channel,
                                    const std::string& method, const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = stub.PrepareCall(ctx.get(), method, &cq);
  void* tag;
  bool ok;
  auto step = [&](int id) {
    if (!cq.Next(&tag, &ok) || tag != reinterpret_cast<void*>(id) || !ok) return false;
    return true;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(1)) return absl::UnavailableError("start");
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  call->Write(buffer, reinterpret_cast<void*>(2));
  if (!step(2)) return absl::UnavailableError("write");
  call->WritesDone(reinterpret_cast<void*>(3));
  if (!step(3)) return absl::UnavailableError("writes done");
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  if (!step(4)) return absl::UnavailableError("read");
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(ServerTest, HealthServiceReportsServing) {
  TestServer server;
  ASSERT_TRUE(server.status().ok()) << server.status();
  // grpc.health.v1.HealthCheckRequest{service: ""} is empty; SERVING is field 1 = 1.
  auto resp = RawCall(server.channel(), "/grpc.health.v1.Health/Check", "");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(*resp, std::string("\x08\x01", 2));
}

TEST(ServerTest, ReflectionListsTheServices) {
  TestServer server;
  ASSERT_TRUE(server.status().ok()) << server.status();
  // ServerReflectionRequest{list_services: "*"} (field 7).
  auto resp =
      RawCall(server.channel(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
              std::string("\x3a\x01*", 3));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_THAT(*resp, HasSubstr("resorption.v1.EventStream"));
  EXPECT_THAT(*resp, HasSubstr("grpc.health.v1.Health"));
}

TEST(ServerTest, StartFailsClearlyWhenThePortIsTaken) {
  TestServer first;
  ASSERT_TRUE(first.status().ok()) << first.status();
  rb::testing::TempDir dir;
  ServerOptions o = TestOptions(dir.path() + "/other");
  o.listen_address = absl::StrCat("127.0.0.1:", first.server().port());
  Server second(o);
  absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot listen"));
}

TEST(ServerTest, StartFailsClearlyWhenTheDataDirectoryIsNotADirectory) {
  rb::testing::TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  Server server(TestOptions(dir.path() + "/file/data"));
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("data directory"));
}

TEST(ServerTest, StartFailsWhenAnotherServerHoldsTheDataDirectory) {
  TestServer first;
  ASSERT_TRUE(first.status().ok());
  Server second(TestOptions(first.data_dir()));
  absl::Status s = second.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cannot open the data directory"));
}

TEST(ServerTest, StartFailsOnAnUnknownStorageFormatVersion) {
  rb::testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  { TestServer server(data); }
  {
    rocksdb::DB* raw = nullptr;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), data, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), data, cfs, &handles, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[0], "format_version", "99").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  Server server(TestOptions(data));
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("version 99"));
}

TEST(ServerTest, StartFailsOnACorruptedDatabase) {
  rb::testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  { TestServer server(data); }
  std::ofstream(data + "/CURRENT", std::ios::trunc) << "garbage";  // no newline: corrupt
  Server server(TestOptions(data));
  absl::Status s = server.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("cannot open the data directory"));
}

TEST(ServerTest, TlsNeedsBothCertificateAndKey) {
  rb::testing::TempDir dir;
  ServerOptions o = TestOptions(dir.path() + "/data");
  o.tls_cert_file = dir.path() + "/cert.pem";
  Server server(o);
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kFailedPrecondition);
}

class RecordingModule : public ServiceModule {
 public:
  explicit RecordingModule(std::vector<std::string>* calls, bool fail = false)
      : calls_(calls), fail_(fail) {}
  std::string name() const override { return "recording"; }
  absl::Status Init(const ServiceEnvironment& env) override {
    calls_->push_back(env.store != nullptr && env.metrics != nullptr ? "init" : "init-bad");
    return fail_ ? absl::InternalError("boom") : absl::OkStatus();
  }
  std::vector<grpc::Service*> services() override { return {}; }
  void ConfigureBuilder(grpc::ServerBuilder&) override { calls_->push_back("configure"); }
  void BeginShutdown() override { calls_->push_back("begin_shutdown"); }
  void Stop() override { calls_->push_back("stop"); }

 private:
  std::vector<std::string>* calls_;
  bool fail_;
};

TEST(ServerTest, RegisteredModulesFollowTheLifeCycle) {
  rb::testing::TempDir dir;
  std::vector<std::string> calls;
  ServerOptions o = TestOptions(dir.path() + "/data");
  o.modules.push_back([&] { return std::make_unique<RecordingModule>(&calls); });
  {
    Server server(o);
    ASSERT_TRUE(server.Start().ok());
    server.Shutdown();
  }
  EXPECT_EQ(calls, (std::vector<std::string>{"init", "configure", "begin_shutdown", "stop"}));

  calls.clear();
  o.modules.back() = [&] { return std::make_unique<RecordingModule>(&calls, true); };
  Server failing(o);
  absl::Status s = failing.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("module recording"));
}

TEST(ServerTest, MetricsEndpointServesPrometheusText) {
  TestServer server;
  ASSERT_TRUE(server.status().ok());
  auto stub = server.EventStreamStub();
  v1::AppendResponse resp;
  ASSERT_TRUE(stub->Append(Ctx().get(), AppendReq("site-1", 3), &resp).ok());
  std::string page = HttpGet(server.server().metrics_port(), "/metrics");
  EXPECT_THAT(page, HasSubstr("HTTP/1.0 200 OK"));
  EXPECT_THAT(page, HasSubstr("# TYPE rb_appends_total counter\nrb_appends_total 1\n"));
  EXPECT_THAT(page, HasSubstr("rb_appended_events_total 3\n"));
  EXPECT_THAT(page, HasSubstr("rb_group_commit_batch_events_count 1\n"));
  EXPECT_THAT(page, HasSubstr("rb_log_head_position 3\n"));
  EXPECT_THAT(page, HasSubstr("rb_rpc_requests_total{service=\"resorption.v1.EventStream\",method="
                              "\"Append\",code=\"OK\"} 1\n"));
  EXPECT_THAT(page,
              HasSubstr("rb_rpc_duration_seconds_bucket{service=\"resorption.v1.EventStream\","
                        "method=\"Append\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(HttpGet(server.server().metrics_port(), "/nope"), HasSubstr("404"));
}

TEST(ServerTest, GracefulShutdownUnderLoadLosesNothingAcknowledged) {
  TestServer server;
  ASSERT_TRUE(server.status().ok());
  struct Ack {
    std::string stream;
    uint64_t revision;
    uint64_t position;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto stub = server.EventStreamStub();
      for (int i = 0;; ++i) {
        v1::AppendRequest req = AppendReq(absl::StrCat("site-", w), 1 + i % 4);
        req.set_command_id(absl::StrCat("w", w, "-", i));
        v1::AppendResponse resp;
        if (!stub->Append(Ctx().get(), req, &resp).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (uint64_t k = 0; k < static_cast<uint64_t>(req.events_size()); ++k) {
          acks.push_back({req.stream_id(), resp.stream_revision() - req.events_size() + 1 + k,
                          resp.first_position() + k});
        }
        acked++;
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acked.load() < 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  server.server().Shutdown();
  for (auto& t : writers) t.join();
  ASSERT_GE(acked.load(), 200);

  auto store = rb::es::EventStore::Open({}, server.data_dir());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const Ack& a : acks) {
    auto events = (*store)->ReadStream(a.stream, a.revision, rb::es::Direction::kForward, 1);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 1u) << a.stream << "@" << a.revision;
    EXPECT_EQ((*events)[0].position, a.position);
  }
  EXPECT_TRUE((*store)->Verify().ok());
}

}  // namespace
}  // namespace rb::services
