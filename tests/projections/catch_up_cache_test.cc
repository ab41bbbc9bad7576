// Copyright: the Résorption-bidonvilles data service authors.
//
// CatchUpCache against the store it shares: every read through the cache returns what
// EventStore::ScanAll returns for the same arguments, whoever loaded the chunks; chunks are read
// once for several readers, dropped when all are past them, and never kept beyond the budget.
#include "projections/catch_up_cache.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "eventstore/event_store.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "tests/projections/test_projections.h"
#include "tests/testing/temp_dir.h"

namespace rb::proj {
namespace {

using ::rb::proj::testing::AppendMany;

struct Scanned {
  std::vector<uint64_t> positions;
  std::vector<std::string> payloads;
  uint64_t last_examined = 0;
  uint64_t next_position = 0;
  bool end_of_log = false;
};

// Reads from `from`, at most `max` events, stopping after the event at `stop_at` (0: never).
template <typename ScanFn>
Scanned Read(ScanFn scan, uint64_t from, size_t max, uint64_t stop_at) {
  Scanned out;
  absl::StatusOr<rb::es::ReadAllResult> r = scan(from, max, [&](const rb::es::RecordedEvent& e) {
    out.positions.push_back(e.position);
    out.payloads.push_back(e.payload);
    return e.position != stop_at;
  });
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  out.last_examined = r->last_examined;
  out.next_position = r->next_position;
  out.end_of_log = r->end_of_log;
  return out;
}

void ExpectSame(const Scanned& cached, const Scanned& direct, const std::string& what) {
  EXPECT_EQ(cached.positions, direct.positions) << what;
  EXPECT_EQ(cached.payloads, direct.payloads) << what;
  EXPECT_EQ(cached.last_examined, direct.last_examined) << what;
  EXPECT_EQ(cached.next_position, direct.next_position) << what;
  EXPECT_EQ(cached.end_of_log, direct.end_of_log) << what;
}

class CatchUpCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::es::Options o;
    o.sync = false;
    auto store = rb::es::EventStore::Open(o, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    head_ = AppendMany(*store_, 30);  // chunks of 8: three full ones and 6 events of a fourth
    ASSERT_EQ(head_, 30u);
  }

  auto Direct() {
    return [this](uint64_t from, size_t max, auto fn) {
      return store_->ScanAll(from, rb::es::LogFilter{}, max, fn);
    };
  }
  static auto Through(CatchUpCache::Reader& reader) {
    return [&reader](uint64_t from, size_t max, auto fn) { return reader.Scan(from, max, fn); };
  }

  // A budget with room for one chunk of 8 events, not two (as a cache counts their bytes).
  size_t OneChunkBudget() {
    CatchUpCache sizing(store_.get(), {.chunk_events = 8, .max_bytes = 1 << 20});
    CatchUpCache::Reader a(&sizing);
    CatchUpCache::Reader b(&sizing);
    EXPECT_TRUE(b.Scan(1, 0, [](const rb::es::RecordedEvent&) { return true; }).ok());
    Read(Through(a), 1, 8, 0);
    EXPECT_GT(sizing.cached_bytes(), 0u);
    return std::max<size_t>(sizing.cached_bytes(), 8 * 512) * 3 / 2;
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  uint64_t head_ = 0;
};

TEST_F(CatchUpCacheTest, ReadsEqualTheStoresForEveryStartLimitAndStop) {
  CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 1 << 20});
  CatchUpCache::Reader a(&cache);
  CatchUpCache::Reader b(&cache);
  // Both registered, so that chunks are shared.
  ASSERT_TRUE(a.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
  ASSERT_TRUE(b.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
  for (uint64_t from : {1, 5, 8, 9, 16, 17, 24, 25, 30, 31, 40}) {
    for (size_t max : {1, 3, 8, 9, 20, 100}) {
      for (uint64_t stop : {0, 8, 12, 26, 30}) {
        const std::string what = "from " + std::to_string(from) + " max " + std::to_string(max) +
                                 " stop " + std::to_string(stop);
        const Scanned direct = Read(Direct(), from, max, stop);
        ExpectSame(Read(Through(a), from, max, stop), direct, what);
        ExpectSame(Read(Through(b), from, max, stop), direct, what);
      }
    }
  }
  EXPECT_GT(cache.chunks_loaded(), 0u);
}

TEST_F(CatchUpCacheTest, TwoReadersShareEachFullChunkAndDropItWhenBothArePast) {
  CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 1 << 20});
  CatchUpCache::Reader fast(&cache);
  CatchUpCache::Reader slow(&cache);
  ASSERT_TRUE(slow.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
  // The fast reader reads the whole log: the three full chunks are loaded once, the tail (the
  // fourth chunk, which the log does not fill) comes from the store.
  const Scanned all = Read(Through(fast), 1, 100, 0);
  EXPECT_EQ(all.positions.size(), 30u);
  EXPECT_TRUE(all.end_of_log);
  EXPECT_EQ(cache.chunks_loaded(), 3u);
  const size_t full = cache.cached_bytes();
  EXPECT_GT(full, 0u);
  // The slow one applies the same chunks: nothing more is loaded.
  ExpectSame(Read(Through(slow), 2, 15, 0), Read(Direct(), 2, 15, 0), "slow, first two chunks");
  EXPECT_EQ(cache.chunks_loaded(), 3u);
  // Both are past chunk 0 (positions 1..8) and chunk 1 (9..16): only chunk 2 is left.
  EXPECT_LT(cache.cached_bytes(), full);
  EXPECT_GT(cache.cached_bytes(), 0u);
  fast.Leave();
  slow.Leave();
  EXPECT_EQ(cache.cached_bytes(), 0u);
}

TEST_F(CatchUpCacheTest, ALoneReaderAndAnExhaustedBudgetReadTheStore) {
  {
    CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 1 << 20});
    CatchUpCache::Reader alone(&cache);
    ExpectSame(Read(Through(alone), 1, 100, 0), Read(Direct(), 1, 100, 0), "alone");
    EXPECT_EQ(cache.chunks_loaded(), 0u);
  }
  {
    CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 0});
    CatchUpCache::Reader a(&cache);
    CatchUpCache::Reader b(&cache);
    ASSERT_TRUE(b.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
    ExpectSame(Read(Through(a), 1, 100, 0), Read(Direct(), 1, 100, 0), "no budget");
    EXPECT_EQ(cache.chunks_loaded(), 0u);
    EXPECT_EQ(cache.cached_bytes(), 0u);
  }
  {
    // Room for about one chunk: the others are read from the store, the events are the same.
    CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 8 * 512});
    CatchUpCache::Reader a(&cache);
    CatchUpCache::Reader b(&cache);
    ASSERT_TRUE(b.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
    ExpectSame(Read(Through(a), 1, 100, 0), Read(Direct(), 1, 100, 0), "small budget");
    EXPECT_LE(cache.chunks_loaded(), 1u);
    EXPECT_LE(cache.cached_bytes(), 8u * 512);
  }
}

TEST_F(CatchUpCacheTest, AChunkTheLogFillsLaterIsCachedThen) {
  CatchUpCache cache(store_.get(), {.chunk_events = 8, .max_bytes = 1 << 20});
  CatchUpCache::Reader a(&cache);
  CatchUpCache::Reader b(&cache);
  ASSERT_TRUE(b.Scan(25, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
  ExpectSame(Read(Through(a), 25, 100, 0), Read(Direct(), 25, 100, 0), "partial chunk");
  EXPECT_EQ(cache.chunks_loaded(), 0u);
  ASSERT_EQ(AppendMany(*store_, 2), 32u);  // chunk 3 (25..32) is now full
  ExpectSame(Read(Through(a), 25, 100, 0), Read(Direct(), 25, 100, 0), "full chunk");
  EXPECT_EQ(cache.chunks_loaded(), 1u);
}

TEST_F(CatchUpCacheTest, AChunkIsDecodedOnceAndItsReadersFindTheDecodings) {
  // The decoder attaches each payload wrapped in a message, and counts its calls.
  int calls = 0;
  CatchUpCache cache(store_.get(),
                     {.chunk_events = 8,
                      .max_bytes = 1 << 20,
                      .decode = [&calls](std::span<rb::es::RecordedEvent> events) -> size_t {
                        ++calls;
                        for (rb::es::RecordedEvent& e : events) {
                          auto m = std::make_shared<google::protobuf::StringValue>();
                          m->set_value("decoded " + e.payload);
                          e.decoded = std::move(m);
                        }
                        return 1000;
                      }});
  CatchUpCache::Reader a(&cache);
  CatchUpCache::Reader b(&cache);
  ASSERT_TRUE(b.Scan(1, 1, [](const rb::es::RecordedEvent&) { return true; }).ok());
  // What each reader finds: the decoding, or "store" for an event that carries none.
  auto found = [](CatchUpCache::Reader& reader) {
    std::vector<std::string> out;
    EXPECT_TRUE(reader
                    .Scan(1, 100,
                          [&out](const rb::es::RecordedEvent& e) {
                            const auto* m =
                                dynamic_cast<const google::protobuf::StringValue*>(e.decoded.get());
                            out.push_back(m == nullptr ? "store" : m->value());
                            EXPECT_TRUE(m == nullptr || m->value() == "decoded " + e.payload);
                            return true;
                          })
                    .ok());
    return out;
  };
  const std::vector<std::string> first = found(a);
  ASSERT_EQ(first.size(), 30u);
  // The three full chunks come decoded; the tail (positions 25..30) from the store, bare.
  for (size_t i = 0; i < 24; ++i) EXPECT_NE(first[i], "store") << "position " << i + 1;
  for (size_t i = 24; i < 30; ++i) EXPECT_EQ(first[i], "store") << "position " << i + 1;
  EXPECT_EQ(calls, 3);
  EXPECT_GE(cache.cached_bytes(), 3u * 1000);  // the decodings count in the budget
  // The second reader finds the same decodings, made once.
  EXPECT_EQ(found(b), first);
  EXPECT_EQ(calls, 3);
  // Without the cache (a lone reader), nothing is attached.
  const Scanned direct = Read(Direct(), 1, 100, 0);
  EXPECT_EQ(direct.positions.size(), 30u);
  EXPECT_TRUE(store_
                  ->ScanAll(1, rb::es::LogFilter{}, 100,
                            [](const rb::es::RecordedEvent& e) { return e.decoded == nullptr; })
                  .ok());
}

// Readers moving together drop each chunk soon after it is loaded: the next loads reuse the
// dropped chunks' memory. What they read is still exactly the store's events, with their own
// decodings (never those of the events a reused chunk held before).
TEST_F(CatchUpCacheTest, ReusedChunksCarryOnlyTheirNewEventsAndDecodings) {
  CatchUpCache cache(store_.get(),
                     {.chunk_events = 2,
                      .max_bytes = 1 << 20,
                      .decode = [](std::span<rb::es::RecordedEvent> events) -> size_t {
                        for (rb::es::RecordedEvent& e : events) {
                          auto m = std::make_shared<google::protobuf::StringValue>();
                          m->set_value(std::to_string(e.position));
                          e.decoded = std::move(m);
                        }
                        return 1;
                      }});
  CatchUpCache::Reader a(&cache);
  CatchUpCache::Reader b(&cache);
  ASSERT_TRUE(b.Scan(1, 0, [](const rb::es::RecordedEvent&) { return true; }).ok());  // registers
  Scanned seen_a, seen_b;
  auto step = [](CatchUpCache::Reader& reader, uint64_t from, Scanned* seen) {
    EXPECT_TRUE(reader
                    .Scan(from, 1,
                          [seen](const rb::es::RecordedEvent& e) {
                            const auto* m =
                                dynamic_cast<const google::protobuf::StringValue*>(e.decoded.get());
                            if (e.position <= 30) {  // every chunk of 2 is full: decoded
                              EXPECT_NE(m, nullptr) << e.position;
                              if (m != nullptr) {
                                EXPECT_EQ(m->value(), std::to_string(e.position));
                              }
                            }
                            seen->positions.push_back(e.position);
                            seen->payloads.push_back(e.payload);
                            return true;
                          })
                    .ok());
  };
  for (uint64_t p = 1; p <= head_; ++p) {
    step(a, p, &seen_a);
    step(b, p, &seen_b);
  }
  const Scanned direct = Read(Direct(), 1, 100, 0);
  EXPECT_EQ(seen_a.positions, direct.positions);
  EXPECT_EQ(seen_a.payloads, direct.payloads);
  EXPECT_EQ(seen_b.positions, direct.positions);
  EXPECT_EQ(seen_b.payloads, direct.payloads);
  EXPECT_EQ(cache.chunks_loaded(), 15u);  // each full chunk once
}

// With the budget spent, a reader ahead waits for the one behind to free a chunk, then loads the
// next chunk into the cache, where the one behind finds it: every chunk is read once.
TEST_F(CatchUpCacheTest, AReaderAheadWaitsForRoomInsteadOfReadingAlone) {
  // Room for one chunk, not two. The cached events carry a mark (the store's carry none).
  CatchUpCache cache(store_.get(),
                     {.chunk_events = 8,
                      .max_bytes = OneChunkBudget(),
                      .decode = [](std::span<rb::es::RecordedEvent> events) -> size_t {
                        for (rb::es::RecordedEvent& e : events) {
                          e.decoded = std::make_shared<google::protobuf::StringValue>();
                        }
                        return 0;
                      },
                      .budget_wait = absl::Minutes(10)});
  CatchUpCache::Reader ahead(&cache);
  CatchUpCache::Reader behind(&cache);
  ASSERT_TRUE(behind.Scan(1, 0, [](const rb::es::RecordedEvent&) { return true; }).ok());
  // Chunk 0 (positions 1..8) fills the budget.
  ExpectSame(Read(Through(ahead), 1, 8, 0), Read(Direct(), 1, 8, 0), "chunk 0");
  ASSERT_EQ(cache.chunks_loaded(), 1u);
  // Chunk 1 has to wait until the reader behind is past chunk 0.
  Scanned second;
  int second_cached = 0;
  std::thread waiting([&] {
    second = Read(Through(ahead), 9, 8, 0);
    ASSERT_TRUE(ahead
                    .Scan(9, 8,
                          [&](const rb::es::RecordedEvent& e) {
                            second_cached += e.decoded != nullptr;
                            return true;
                          })
                    .ok());
  });
  while (cache.readers_waiting() == 0) absl::SleepFor(absl::Milliseconds(1));
  ExpectSame(Read(Through(behind), 1, 8, 0), Read(Direct(), 1, 8, 0), "behind, chunk 0");
  ASSERT_TRUE(behind.Scan(9, 0, [](const rb::es::RecordedEvent&) { return true; }).ok());
  waiting.join();
  ExpectSame(second, Read(Direct(), 9, 8, 0), "ahead, chunk 1");
  EXPECT_EQ(second_cached, 8);  // from the cache, not read alone from the store
  ExpectSame(Read(Through(behind), 9, 8, 0), Read(Direct(), 9, 8, 0), "behind, chunk 1");
  EXPECT_EQ(cache.chunks_loaded(), 2u);  // chunk 1 loaded once, for both
}

// A reader ahead does not wait when the reader furthest behind reads the store (its chunk is not
// cached): it would free no room before reaching a cached chunk. The reader ahead reads the store
// at once (a wait would last the ten minutes of budget_wait).
TEST_F(CatchUpCacheTest, AReaderAheadDoesNotWaitForAReaderBehindThatReadsTheStore) {
  CatchUpCache cache(
      store_.get(),
      {.chunk_events = 8, .max_bytes = OneChunkBudget(), .budget_wait = absl::Minutes(10)});
  CatchUpCache::Reader ahead(&cache);
  CatchUpCache::Reader behind(&cache);
  ASSERT_TRUE(behind.Scan(1, 0, [](const rb::es::RecordedEvent&) { return true; }).ok());
  // Chunk 1 (9..16) is cached for `ahead` and fills the budget; chunk 0, where `behind` stands,
  // is not cached.
  ExpectSame(Read(Through(ahead), 9, 8, 0), Read(Direct(), 9, 8, 0), "chunk 1");
  ASSERT_EQ(cache.chunks_loaded(), 1u);
  ExpectSame(Read(Through(ahead), 17, 8, 0), Read(Direct(), 17, 8, 0), "chunk 2, from the store");
  EXPECT_EQ(cache.readers_waiting(), 0);
}

}  // namespace
}  // namespace rb::proj
