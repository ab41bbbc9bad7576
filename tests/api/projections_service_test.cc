// The Projections service over a real server with test projections.
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/projections/test_projections.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;

// Records the highest committed position of the active generations (the engine's on_commit).
class Commits {
 public:
  void On(const rb::proj::CommitInfo& info) {
    absl::MutexLock l(&mu_);
    if (info.position > position_) position_ = info.position;
  }
  bool WaitFor(uint64_t position) {
    absl::MutexLock l(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return position_ >= position; };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  }

 private:
  absl::Mutex mu_;
  uint64_t position_ ABSL_GUARDED_BY(mu_) = 0;
};

class ProjectionsServiceTest : public ::testing::Test {
 protected:
  static ApiModulesOptions Options(Commits* commits) {
    ApiModulesOptions o;
    o.projections.register_projections = [](rb::proj::ProjectionEngine& e) {
      return e.Register(std::make_unique<rb::proj::testing::CategoryCounts>());
    };
    o.projections.engine.batch_events = 8;  // several commits per rebuild
    o.projections.engine.on_commit = [commits](const rb::proj::CommitInfo& i) { commits->On(i); };
    return o;
  }

  void SetUp() override { ASSERT_TRUE(server_.status().ok()) << server_.status(); }

  void Append(int n) {
    auto stub = EventStreamStub();
    v1::AppendResponse resp;
    ASSERT_TRUE(stub->Append(Ctx().get(), AppendReq("site-1", n), &resp).ok());
  }
  std::unique_ptr<v1::EventStream::Stub> EventStreamStub() {
    return v1::EventStream::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_.server().port()), grpc::InsecureChannelCredentials()));
  }

  Commits commits_;
  ApiServer server_{Options(&commits_)};
  std::unique_ptr<v1::Projections::Stub> stub_ = server_.Projections();
};

TEST_F(ProjectionsServiceTest, ListProjectionsReportsPositionLagAndState) {
  Append(5);
  ASSERT_TRUE(commits_.WaitFor(5));
  v1::ListProjectionsResponse resp;
  ASSERT_TRUE(stub_->ListProjections(Ctx().get(), {}, &resp).ok());
  ASSERT_EQ(resp.projections_size(), 1);
  const v1::ProjectionInfo& p = resp.projections(0);
  EXPECT_EQ(p.name(), "category_counts");
  EXPECT_EQ(p.head_position(), 5u);
  EXPECT_EQ(p.active().position(), 5u);
  EXPECT_EQ(p.active().lag_events(), 0u);
  EXPECT_EQ(p.active().version(), 1u);
  EXPECT_EQ(p.active().state(), v1::PROJECTION_STATE_LIVE);
  EXPECT_FALSE(p.rebuilding());
}

TEST_F(ProjectionsServiceTest, RebuildThenWatchStreamsProgressUntilTheNewGenerationServes) {
  Append(100);
  ASSERT_TRUE(commits_.WaitFor(100));
  v1::ListProjectionsResponse before;
  ASSERT_TRUE(stub_->ListProjections(Ctx().get(), {}, &before).ok());

  v1::RebuildProjectionRequest rebuild;
  rebuild.set_name("category_counts");
  v1::RebuildProjectionResponse started;
  grpc::Status s = stub_->RebuildProjection(Ctx().get(), rebuild, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::WatchRebuildRequest watch;
  watch.set_name("category_counts");
  auto ctx = Ctx();
  auto reader = stub_->WatchRebuild(ctx.get(), watch);
  std::vector<v1::RebuildProgress> progress;
  v1::RebuildProgress msg;
  while (reader->Read(&msg)) progress.push_back(msg);
  s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().switched());
  for (size_t i = 0; i + 1 < progress.size(); ++i) {
    EXPECT_FALSE(progress[i].switched());
    EXPECT_LE(progress[i].position(), progress[i + 1].position());
  }
  EXPECT_EQ(progress.back().position(), 100u);

  v1::ListProjectionsResponse after;
  ASSERT_TRUE(stub_->ListProjections(Ctx().get(), {}, &after).ok());
  EXPECT_FALSE(after.projections(0).rebuilding());
  EXPECT_NE(after.projections(0).active().generation(),
            before.projections(0).active().generation());
  EXPECT_EQ(after.projections(0).active().position(), 100u);
}

TEST_F(ProjectionsServiceTest, UnknownProjectionIsNotFound) {
  v1::RebuildProjectionRequest rebuild;
  rebuild.set_name("nope");
  v1::RebuildProjectionResponse resp;
  EXPECT_EQ(stub_->RebuildProjection(Ctx().get(), rebuild, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::WatchRebuildRequest watch;
  watch.set_name("nope");
  auto ctx = Ctx();
  auto reader = stub_->WatchRebuild(ctx.get(), watch);
  v1::RebuildProgress msg;
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

// A projection that fails on an event, beside a healthy one: the failure shows in /metrics and in
// one error log line.
class FailedProjectionTest : public ::testing::Test {
 protected:
  static ApiModulesOptions Options(Commits* commits, absl::Notification* failed) {
    ApiModulesOptions o;
    o.projections.register_projections = [](rb::proj::ProjectionEngine& e) {
      if (absl::Status s = e.Register(std::make_unique<rb::proj::testing::Poisoned>()); !s.ok()) {
        return s;
      }
      return e.Register(std::make_unique<rb::proj::testing::CategoryCounts>());
    };
    o.projections.engine.on_commit = [commits](const rb::proj::CommitInfo& i) { commits->On(i); };
    o.projections.engine.on_failure = [failed](const rb::proj::FailureInfo&) {
      if (!failed->HasBeenNotified()) failed->Notify();
    };
    return o;
  }

  void SetUp() override { ASSERT_TRUE(server_.status().ok()) << server_.status(); }

  void Append(const std::string& type, int n) {
    auto stub = v1::EventStream::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_.server().port()), grpc::InsecureChannelCredentials()));
    v1::AppendResponse resp;
    ASSERT_TRUE(stub->Append(Ctx().get(), AppendReq("site-1", n, type), &resp).ok());
  }

  Commits commits_;
  absl::Notification failed_;
  ApiServer server_{Options(&commits_, &failed_)};
};

TEST_F(FailedProjectionTest, MetricsShowTheFailedProjectionAndTheOthersHealthy) {
  Append("site.updated", 3);
  Append("test.poison", 1);  // position 4
  Append("site.updated", 2);
  ASSERT_TRUE(failed_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(commits_.WaitFor(6));  // category_counts has applied everything

  const std::string page = server_.server().metrics().Render();
  EXPECT_THAT(page, ::testing::HasSubstr("# TYPE rb_projection_failed gauge\n"));
  EXPECT_THAT(page, ::testing::HasSubstr("rb_projection_failed{projection=\"poisoned\"} 1\n"));
  EXPECT_THAT(page, ::testing::HasSubstr("rb_projection_position{projection=\"poisoned\"} 3\n"));
  EXPECT_THAT(page, ::testing::HasSubstr("rb_projection_lag_events{projection=\"poisoned\"} 3\n"));
  EXPECT_THAT(page,
              ::testing::HasSubstr("rb_projection_failed{projection=\"category_counts\"} 0\n"));
  EXPECT_THAT(page,
              ::testing::HasSubstr("rb_projection_position{projection=\"category_counts\"} 6\n"));
  EXPECT_THAT(page,
              ::testing::HasSubstr("rb_projection_lag_events{projection=\"category_counts\"} 0\n"));
  EXPECT_THAT(page,
              ::testing::HasSubstr("rb_projection_rebuild_position{projection=\"poisoned\"} 0\n"));

  // Later events do not log the failure again.
  Append("site.updated", 1);
  ASSERT_TRUE(commits_.WaitFor(7));
  EXPECT_THAT(server_.server().metrics().Render(),
              ::testing::HasSubstr("rb_projection_lag_events{projection=\"poisoned\"} 4\n"));
  server_.server().Shutdown();
  const std::string logs = server_.logs();
  const std::vector<std::string> lines = absl::StrSplit(logs, '\n');
  std::vector<std::string> failures;
  for (const std::string& line : lines) {
    if (absl::StrContains(line, "\"event\":\"projection.failed\"")) failures.push_back(line);
  }
  ASSERT_EQ(failures.size(), 1u) << logs;
  EXPECT_THAT(failures[0], ::testing::HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(failures[0], ::testing::HasSubstr("\"projection\":\"poisoned\""));
  EXPECT_THAT(failures[0], ::testing::HasSubstr("\"position\":4"));
  EXPECT_THAT(failures[0], ::testing::HasSubstr("cannot digest event"));
}

}  // namespace
}  // namespace rb::services::testing
