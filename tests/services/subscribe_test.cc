// Subscribe over real gRPC: catch-up then live, sparse filters, resume after restart, shutdown.
#include <atomic>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::AppendReq;
using testing::Ctx;

class SubscribeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    stub_ = server_.EventStreamStub();
  }
  void Append(const std::string& stream, int n, const std::string& type = "site.updated") {
    v1::AppendResponse resp;
    grpc::Status s = stub_->Append(Ctx().get(), AppendReq(stream, n, type), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  testing::TestServer server_;
  std::unique_ptr<v1::EventStream::Stub> stub_;
};

TEST_F(SubscribeTest, CatchUpThenLiveDeliversEveryPositionOnceInOrder) {
  for (int i = 0; i < 30; ++i) Append(absl::StrCat("site-", i % 7), 10);
  auto ctx = Ctx(std::chrono::seconds(30));
  v1::SubscribeRequest req;
  req.set_max_batch_events(64);
  auto reader = stub_->Subscribe(ctx.get(), req);
  std::vector<uint64_t> positions;
  v1::SubscribeResponse msg;
  auto read_until = [&](uint64_t n) {
    while (positions.size() < n && reader->Read(&msg)) {
      if (!msg.has_batch()) continue;
      EXPECT_LE(msg.batch().events_size(), 64);
      for (const auto& e : msg.batch().events()) positions.push_back(e.position());
      EXPECT_EQ(msg.batch().next_position(), positions.back() + 1);
    }
  };
  // Appends race with the catch-up reads.
  std::thread writer([&] {
    auto stub = server_.EventStreamStub();
    for (int i = 0; i < 100; ++i) {
      v1::AppendResponse resp;
      ASSERT_TRUE(
          stub->Append(Ctx().get(), AppendReq(absl::StrCat("site-", i % 5), 1 + i % 3), &resp)
              .ok());
    }
  });
  read_until(300);
  writer.join();
  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &head).ok());
  read_until(head.position());
  // Live: one more append arrives on the open subscription.
  Append("site-live", 2);
  read_until(head.position() + 2);
  ASSERT_EQ(positions.size(), head.position() + 2);
  for (size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
  ctx->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(SubscribeTest, SparseFilterStillAdvancesThroughCheckpoints) {
  Append("action-1", 20, "action.updated");
  auto ctx = Ctx(std::chrono::seconds(30));
  v1::SubscribeRequest req;
  req.mutable_filter()->add_categories("site");
  auto reader = stub_->Subscribe(ctx.get(), req);
  v1::SubscribeResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_checkpoint());
  EXPECT_TRUE(msg.checkpoint().caught_up());
  EXPECT_EQ(msg.checkpoint().next_position(), 21u);
  EXPECT_EQ(msg.checkpoint().head_position(), 20u);

  // Live non-matching events: a periodic checkpoint reports the progress.
  Append("action-1", 5, "action.updated");
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_checkpoint());
  EXPECT_EQ(msg.checkpoint().next_position(), 26u);

  Append("site-1", 1);
  ASSERT_TRUE(reader->Read(&msg));
  while (msg.has_checkpoint()) ASSERT_TRUE(reader->Read(&msg));
  ASSERT_EQ(msg.batch().events_size(), 1);
  EXPECT_EQ(msg.batch().events(0).stream_id(), "site-1");
  EXPECT_EQ(msg.batch().events(0).position(), 26u);
  EXPECT_EQ(msg.batch().next_position(), 27u);
  ctx->TryCancel();
  reader->Finish();
}

TEST_F(SubscribeTest, ResumesFromCheckpointAfterServerRestartWithNoGapNoDuplicate) {
  for (int i = 0; i < 10; ++i) Append(absl::StrCat("site-", i), 10);
  std::vector<uint64_t> positions;
  uint64_t resume = 0;
  {
    auto ctx = Ctx();
    v1::SubscribeRequest req;
    req.set_max_batch_events(30);
    auto reader = stub_->Subscribe(ctx.get(), req);
    v1::SubscribeResponse msg;
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(reader->Read(&msg));
      ASSERT_TRUE(msg.has_batch());
      for (const auto& e : msg.batch().events()) positions.push_back(e.position());
      resume = msg.batch().next_position();
    }
    ctx->TryCancel();
    reader->Finish();
  }
  EXPECT_EQ(resume, 61u);
  server_.Restart();
  ASSERT_TRUE(server_.status().ok()) << server_.status();
  stub_ = server_.EventStreamStub();
  Append("site-after", 25);

  auto ctx = Ctx();
  v1::SubscribeRequest req;
  req.set_from_position(resume);
  auto reader = stub_->Subscribe(ctx.get(), req);
  v1::SubscribeResponse msg;
  while (positions.size() < 125 && reader->Read(&msg)) {
    for (const auto& e : msg.batch().events()) positions.push_back(e.position());
  }
  ASSERT_EQ(positions.size(), 125u);
  for (size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
  ctx->TryCancel();
  reader->Finish();
}

TEST_F(SubscribeTest, FromHeadDeliversOnlyLiveEvents) {
  Append("site-1", 5);
  auto ctx = Ctx();
  v1::SubscribeRequest req;
  req.set_from_head(true);
  auto reader = stub_->Subscribe(ctx.get(), req);
  v1::SubscribeResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.checkpoint().caught_up());
  EXPECT_EQ(msg.checkpoint().next_position(), 6u);
  Append("site-2", 1);
  do {
    ASSERT_TRUE(reader->Read(&msg));
  } while (!msg.has_batch());
  EXPECT_EQ(msg.batch().events(0).position(), 6u);
  ctx->TryCancel();
  reader->Finish();
}

TEST_F(SubscribeTest, ShutdownEndsSubscriptionsWithUnavailableAndResumePosition) {
  Append("site-1", 3);
  auto ctx = Ctx();
  auto reader = stub_->Subscribe(ctx.get(), v1::SubscribeRequest());
  v1::SubscribeResponse msg;
  do {
    ASSERT_TRUE(reader->Read(&msg));
  } while (!msg.has_checkpoint());
  auto t0 = std::chrono::steady_clock::now();
  server_.server().Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4))
      << "subscriptions must not hold the drain until the grace period ends";
  while (reader->Read(&msg)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("resume from position 4"), std::string::npos)
      << s.error_message();
}

TEST_F(SubscribeTest, InvalidSubscribeRequestIsInvalidArgument) {
  v1::SubscribeRequest req;
  req.set_from_head(true);
  req.set_from_position(5);
  auto ctx = Ctx();
  auto reader = stub_->Subscribe(ctx.get(), req);
  v1::SubscribeResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::BadRequest br;
  ASSERT_TRUE(testing::FindDetail(s, &br));
  EXPECT_EQ(br.field_violations(0).field(), "from_position");
}

TEST_F(SubscribeTest, CancelledSubscriberIsReleased) {
  Gauge* active = server_.server().metrics().AddGauge("rb_subscriptions_active", "");
  {
    auto ctx = Ctx();
    auto reader = stub_->Subscribe(ctx.get(), v1::SubscribeRequest());
    v1::SubscribeResponse msg;
    ASSERT_TRUE(reader->Read(&msg));  // caught-up checkpoint: the reactor is now parked
    EXPECT_EQ(active->value(), 1);
    ctx->TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (active->value() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(active->value(), 0);
}

}  // namespace
}  // namespace rb::services
