// Helpers for the API tests: a real Server on 127.0.0.1:0 over a temp data directory serving the
// API modules (with test projections when asked), real stubs, and the actor metadata.
//
//   rb::services::testing::ApiServer server;          // ASSERT_TRUE(server.status().ok())
//   auto sites = server.Sites();
//   auto ctx = server.Ctx();                           // deadline + x-actor-* metadata
//   sites->DeclareSite(ctx.get(), req, &result);
//   Watch watch(*sites, server.Ctx(), request);       // a WatchActivity stream, read in turn
#ifndef RB_TESTS_API_API_TEST_UTIL_H_
#define RB_TESTS_API_API_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "services/projections_module.h"
#include "tests/services/test_server.h"

namespace rb::services::testing {

struct Actor {
  std::string user = "u-1";
  std::string organisation = "o-1";
  std::string role = "local_admin";
  std::string options;
};

class ApiServer {
 public:
  // `extra`: modules served besides the API modules (e.g. the Directory).
  explicit ApiServer(ApiModulesOptions api = {}, std::vector<ModuleFactory> extra = {}) {
    ServerOptions o = TestOptions(dir_.path() + "/data");
    o.modules = ApiModules(std::move(api));
    for (ModuleFactory& f : extra) o.modules.push_back(std::move(f));
    o.log_sink = &log_;
    server_ = std::make_unique<Server>(std::move(o));
    status_ = server_->Start();
    if (status_.ok()) {
      channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                     grpc::InsecureChannelCredentials());
    }
  }

  const absl::Status& status() const { return status_; }
  Server& server() { return *server_; }
  uint64_t head() { return server_->store()->GetHead().position; }
  // The log lines written so far; read it after server().Shutdown() when the server may log.
  std::string logs() const { return log_.str(); }

  std::unique_ptr<resorption::v1::Sites::Stub> Sites() {
    return resorption::v1::Sites::NewStub(channel_);
  }
  std::unique_ptr<resorption::v1::Actions::Stub> Actions() {
    return resorption::v1::Actions::NewStub(channel_);
  }
  std::unique_ptr<resorption::v1::Territories::Stub> Territories() {
    return resorption::v1::Territories::NewStub(channel_);
  }
  std::unique_ptr<resorption::v1::Projections::Stub> Projections() {
    return resorption::v1::Projections::NewStub(channel_);
  }
  std::unique_ptr<resorption::v1::Directory::Stub> Directory() {
    return resorption::v1::Directory::NewStub(channel_);
  }

  // A context with a deadline and the actor's metadata.
  static std::unique_ptr<grpc::ClientContext> Ctx(
      const Actor& actor = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto ctx = rb::services::testing::Ctx(timeout);
    if (!actor.user.empty()) ctx->AddMetadata("x-actor-user", actor.user);
    if (!actor.organisation.empty()) ctx->AddMetadata("x-actor-organisation", actor.organisation);
    if (!actor.role.empty()) ctx->AddMetadata("x-actor-role", actor.role);
    if (!actor.options.empty()) ctx->AddMetadata("x-actor-options", actor.options);
    return ctx;
  }

 private:
  rb::testing::TempDir dir_;
  std::ostringstream log_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  absl::Status status_;
};

// One Sites.WatchActivity call, read message by message. Every read waits at most until the
// context's deadline: a stream that stops sending ends the call, it never hangs the test.
class Watch {
 public:
  Watch(resorption::v1::Sites::Stub& sites, std::unique_ptr<grpc::ClientContext> ctx,
        const resorption::v1::WatchActivityRequest& req)
      : ctx_(std::move(ctx)), reader_(sites.WatchActivity(ctx_.get(), req)) {}

  // The next message; nullopt once the stream ended (see Finish).
  std::optional<resorption::v1::WatchActivityResponse> Next() {
    resorption::v1::WatchActivityResponse m;
    if (!reader_->Read(&m)) return std::nullopt;
    return m;
  }

  // The next activity, past the checkpoints; nullopt once the stream ended.
  std::optional<resorption::v1::Activity> NextActivity() {
    while (std::optional<resorption::v1::WatchActivityResponse> m = Next()) {
      if (m->has_activity()) return m->activity();
    }
    return std::nullopt;
  }

  // The activities up to the first checkpoint that says the stream caught up with the log, whose
  // position goes to `*caught_up_at`. Fails the test when the stream ends before.
  std::vector<resorption::v1::Activity> UntilCaughtUp(uint64_t* caught_up_at = nullptr) {
    std::vector<resorption::v1::Activity> out;
    while (std::optional<resorption::v1::WatchActivityResponse> m = Next()) {
      if (m->has_activity()) {
        out.push_back(m->activity());
      } else if (m->checkpoint().caught_up()) {
        if (caught_up_at != nullptr) *caught_up_at = m->checkpoint().position();
        return out;
      }
    }
    ADD_FAILURE() << "the stream ended before it caught up: " << Finish().error_message();
    return out;
  }

  void Cancel() { ctx_->TryCancel(); }
  // The call's status, once the stream ended (or was cancelled).
  grpc::Status Finish() { return reader_->Finish(); }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<resorption::v1::WatchActivityResponse>> reader_;
};

}  // namespace rb::services::testing

#endif  // RB_TESTS_API_API_TEST_UTIL_H_
