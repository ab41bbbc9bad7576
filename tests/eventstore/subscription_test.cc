#include <atomic>
#include <set>
#include <thread>

#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::es {
namespace {

AppendRequest One(const std::string& stream, const std::string& type) {
  AppendRequest r;
  r.stream_id = stream;
  r.events.push_back(EventData{.type = type, .payload = "x"});
  return r;
}

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EventStore::Open(Options{.sync = false}, dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  rb::testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(SubscriptionTest, StartedMidStreamDuringConcurrentAppendsSeesEveryEventOnceInOrder) {
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(store_->Append(One("s-1", "before")).ok());
  constexpr int kWriters = 4, kPer = 500;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPer; ++i) {
        ASSERT_TRUE(store_->Append(One("s-" + std::to_string(w), "during")).ok());
      }
    });
  }
  auto sub = store_->Subscribe(251, LogFilter());
  const uint64_t total = 500 + kWriters * kPer;
  uint64_t expected = 251;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (expected <= total && absl::Now() < deadline) {
    auto batch = sub->Next(64, absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const auto& e : *batch) {
      ASSERT_EQ(e.position, expected) << "gap or duplicate";
      ++expected;
    }
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(expected, total + 1);
  // Caught up: the next call waits for new events and returns empty at the deadline.
  auto none = sub->Next(10, absl::Now() + absl::Milliseconds(1));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(sub->next_position(), total + 1);
}

TEST_F(SubscriptionTest, SparseFilterAdvancesThePositionWithoutMatches) {
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(store_->Append(One("site-1", "site.updated")).ok());
  ASSERT_TRUE(store_->Append(One("action-1", "action.created")).ok());
  LogFilter f;
  f.categories = {"action"};
  auto sub = store_->Subscribe(1, f);
  std::vector<RecordedEvent> got;
  while (got.empty()) {
    auto b = sub->Next(10, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(b.ok());
    got = *b;
  }
  EXPECT_EQ(got[0].position, 10001u);
  EXPECT_EQ(sub->next_position(), 10002u);
}

TEST_F(SubscriptionTest, LiveEventsWakeABlockedConsumer) {
  auto sub = store_->Subscribe(1, LogFilter());
  std::thread writer([&] { ASSERT_TRUE(store_->Append(One("s-1", "live")).ok()); });
  std::vector<RecordedEvent> got;
  while (got.empty()) {
    auto b = sub->Next(10, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(b.ok());
    got = *b;
  }
  writer.join();
  EXPECT_EQ(got[0].type, "live");
}

TEST_F(SubscriptionTest, CancelWakesTheConsumer) {
  auto sub = store_->Subscribe(1, LogFilter());
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    auto b = sub->Next(10, absl::Now() + absl::Hours(1));
    returned = true;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kCancelled);
  });
  sub->Cancel();
  consumer.join();
  EXPECT_TRUE(returned.load());
}

}  // namespace
}  // namespace rb::es
