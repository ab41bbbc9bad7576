// Helpers for the services tests: a real Server on 127.0.0.1:0 over a temp data directory, real
// gRPC stubs, and decoding of the rich error details from the status trailer.
//
//   rb::services::testing::TestServer server;   // started; ASSERT on server.status()
//   auto stub = server.EventStreamStub();
//   grpc::ClientContext ctx;
//   stub->GetHead(&ctx, {}, &resp);
#ifndef RB_TESTS_SERVICES_TEST_SERVER_H_
#define RB_TESTS_SERVICES_TEST_SERVER_H_

#include <chrono>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/temp_dir.h"

namespace rb::services::testing {

inline ServerOptions TestOptions(const std::string& data_dir) {
  ServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.metrics_address = "127.0.0.1:0";
  o.log_level = LogLevel::kWarning;
  o.shutdown_grace = absl::Seconds(5);
  o.event_stream.checkpoint_interval = absl::Milliseconds(50);
  return o;
}

class TestServer {
 public:
  explicit TestServer(std::string data_dir = "") : data_dir_(std::move(data_dir)) {
    if (data_dir_.empty()) data_dir_ = dir_.path() + "/data";
    Restart(TestOptions(data_dir_));
  }

  // Stops the server (gracefully) and starts a new one on the same data directory.
  void Restart(ServerOptions options) {
    server_.reset();
    options.log_sink = &log_;
    server_ = std::make_unique<Server>(std::move(options));
    status_ = server_->Start();
    if (status_.ok()) {
      channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                     grpc::InsecureChannelCredentials());
    }
  }
  void Restart() { Restart(TestOptions(data_dir_)); }

  const absl::Status& status() const { return status_; }
  Server& server() { return *server_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  std::unique_ptr<resorption::v1::EventStream::Stub> EventStreamStub() {
    return resorption::v1::EventStream::NewStub(channel_);
  }
  const std::string& data_dir() const { return data_dir_; }
  std::string logs() const { return log_.str(); }

 private:
  rb::testing::TempDir dir_;
  std::string data_dir_;
  std::ostringstream log_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  absl::Status status_;
};

// A client context with a deadline, so that no test can hang.
inline std::unique_ptr<grpc::ClientContext> Ctx(
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

// The google.rpc.Status carried in the grpc-status-details-bin trailer.
inline google::rpc::Status Details(const grpc::Status& s) {
  google::rpc::Status out;
  out.ParseFromString(s.error_details());
  return out;
}

template <typename T>
bool FindDetail(const grpc::Status& s, T* out) {
  const google::rpc::Status rich = Details(s);
  for (const auto& any : rich.details()) {
    if (any.Is<T>()) return any.UnpackTo(out);
  }
  return false;
}

inline resorption::v1::AppendRequest AppendReq(const std::string& stream, int n,
                                               const std::string& type = "site.updated") {
  resorption::v1::AppendRequest req;
  req.set_stream_id(stream);
  req.mutable_metadata()->set_actor_user("user-1");
  req.mutable_metadata()->set_reason("test");
  for (int i = 0; i < n; ++i) {
    auto* e = req.add_events();
    e->set_type(type);
    e->set_payload(absl::StrCat("payload ", i));
  }
  return req;
}

}  // namespace rb::services::testing

#endif  // RB_TESTS_SERVICES_TEST_SERVER_H_
