// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/batch_writer.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::proj {
namespace {

class BatchViewWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = rb::es::EventStore::Open(rb::es::Options(), dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->kv().CreateSpace(ViewSpaceName("p", gen_, "a")).ok());
    ASSERT_TRUE(store_->kv().CreateSpace(ViewSpaceName("p", gen_, "b")).ok());
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  const GenerationId gen_{.version = 1, .generation = 1};
};

TEST_F(BatchViewWriterTest, GetSeesPendingWritesBeforeCommittedOnes) {
  rb::es::KvWriteBatch committed;
  committed.Put(ViewSpaceName("p", gen_, "a"), "k", "committed");
  committed.Put(ViewSpaceName("p", gen_, "a"), "gone", "committed");
  ASSERT_TRUE(store_->kv().Write(committed).ok());

  BatchViewWriter w(&store_->kv(), "p", gen_, {"a", "b"});
  EXPECT_EQ(**w.Get("a", "k"), "committed");
  w.Put("a", "k", "pending");
  EXPECT_EQ(**w.Get("a", "k"), "pending");
  w.Delete("a", "gone");
  EXPECT_FALSE(w.Get("a", "gone")->has_value());
  EXPECT_FALSE(w.Get("b", "k")->has_value());
  EXPECT_TRUE(w.TakeError().ok());
}

TEST_F(BatchViewWriterTest, AppendToWritesEachKeyOnceInSpaceThenKeyOrder) {
  BatchViewWriter w(&store_->kv(), "p", gen_, {"b", "a"});
  w.Put("a", "z", "1");
  w.Put("a", "y", "1");
  w.Put("b", "x", "1");
  w.Put("a", "z", "2");
  rb::es::KvWriteBatch batch;
  w.AppendTo(&batch);
  ASSERT_EQ(batch.entries().size(), 3u);
  EXPECT_EQ(batch.entries()[0].space, ViewSpaceName("p", gen_, "b"));
  EXPECT_EQ(batch.entries()[1].key, "y");
  EXPECT_EQ(batch.entries()[2].key, "z");
  EXPECT_EQ(batch.entries()[2].value, "2");
  w.Clear();
  EXPECT_TRUE(w.empty());
}

TEST_F(BatchViewWriterTest, AKeyWrittenSeveralTimesCountsItsLastWriteBeforeAndAfterReads) {
  const std::string a = ViewSpaceName("p", gen_, "a");
  const std::string long_key(40, 'k');  // beyond the 32 bytes a sort compares without the key
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  // Writes with no read in between.
  w.Put("a", "k", "1");
  w.Put("a", long_key, "1");
  w.Put("a", "k", "2");
  w.Put("a", "d", "1");
  w.Delete("a", "d");
  w.Delete("a", "e");
  w.Put("a", "e", "1");
  w.Put("a", long_key, "2");
  // A read sees the last write; the writes after it too.
  EXPECT_EQ(**w.Get("a", "k"), "2");
  EXPECT_EQ(**w.Get("a", long_key), "2");
  EXPECT_FALSE(w.Get("a", "d")->has_value());
  w.Put("a", "k", "3");
  EXPECT_EQ(**w.Get("a", "k"), "3");
  w.Delete("a", long_key);
  EXPECT_FALSE(w.Get("a", long_key)->has_value());
  w.Put("a", "m", "1");
  w.Put("a", "m", "2");
  EXPECT_EQ(**w.Get("a", "m"), "2");

  rb::es::KvWriteBatch batch;
  w.AppendTo(&batch);
  ASSERT_EQ(batch.entries().size(), 5u);
  const std::vector<std::string> keys = {"d", "e", "k", long_key, "m"};
  const std::vector<std::optional<std::string>> values = {std::nullopt, "1", "3", std::nullopt,
                                                          "2"};
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(batch.entries()[i].key, keys[i]) << "at " << i;
    EXPECT_EQ(batch.entries()[i].op == rb::es::KvWriteBatch::Op::kDelete, !values[i].has_value())
        << "at " << i;
    if (values[i].has_value()) {
      EXPECT_EQ(batch.entries()[i].value, *values[i]) << "at " << i;
    }
  }
  ASSERT_TRUE(store_->kv().Write(batch).ok());
  w.Committed();
  // The cache, then the store, answer as the batch left them.
  EXPECT_EQ(**w.Get("a", "k"), "3");
  EXPECT_EQ(**w.Get("a", "m"), "2");
  EXPECT_FALSE(w.Get("a", long_key)->has_value());
  EXPECT_FALSE(w.Get("a", "d")->has_value());
  EXPECT_EQ(*store_->kv().Get(a, "e"), std::optional<std::string>("1"));
}

TEST_F(BatchViewWriterTest, AppendToOrdersKeysByBytesWhateverTheirSharedPrefixes) {
  // Keys sharing their first 8, 16, 24 or 32 bytes, keys that are prefixes of others, zero bytes at
  // and around those lengths, and bytes above 0x7f: the batch is in std::string order.
  const std::string p24 =
      "d93" + std::string(1, '\0') + "Ocmontreuil" + std::string(1, '\0') + "12345678";  // 24 bytes
  std::vector<std::string> keys = {
      p24,
      p24 + "8",
      p24 + std::string(1, '\0'),
      p24 + std::string(2, '\0') + "x",
      p24.substr(0, 23),
      p24.substr(0, 16),
      p24.substr(0, 16) + std::string(8, '\0'),
      p24.substr(0, 16) + std::string(7, '\0'),
      p24.substr(0, 8),
      p24.substr(0, 8) + "\xff",
      std::string(1, '\0'),
      std::string(2, '\0'),
      "",
      p24 + "7\x80",
      p24 + "70",
      p24 + "abcdefgh",  // 32 bytes
      p24 + "abcdefgh" + "1",
      p24 + "abcdefgh" + "0",
      p24 + "abcdefgh" + std::string(1, '\0'),
      p24 + "abcdefg",
      p24 + "abcdefg" + std::string(1, '\0') + "z",
  };
  ASSERT_EQ(p24.size(), 24u);
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  for (size_t i = 0; i < keys.size(); ++i) w.Put("a", keys[keys.size() - 1 - i], "v");
  rb::es::KvWriteBatch batch;
  w.AppendTo(&batch);
  std::sort(keys.begin(), keys.end());
  ASSERT_EQ(batch.entries().size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(batch.entries()[i].key, keys[i]) << "at " << i;
  }
}

TEST_F(BatchViewWriterTest, GetAfterCommitReturnsCommittedValuesAndDiscardedWritesAreForgotten) {
  for (size_t cache_bytes : {size_t{0}, size_t{64}, BatchViewWriter::kDefaultCacheBytes}) {
    const std::string a = ViewSpaceName("p", gen_, "a");
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"}, cache_bytes);
    EXPECT_FALSE(w.Get("a", "k")->has_value());
    w.Put("a", "k", "v1");
    w.Put("a", "long", std::string(100, 'x'));
    rb::es::KvWriteBatch batch;
    w.AppendTo(&batch);
    ASSERT_TRUE(store_->kv().Write(batch).ok());
    w.Committed();
    EXPECT_TRUE(w.empty());
    EXPECT_EQ(**w.Get("a", "k"), "v1");
    EXPECT_EQ(**w.Get("a", "long"), std::string(100, 'x'));
    // Writes of a batch that is discarded (a failed Apply) are not seen afterwards.
    w.Put("a", "k", "v2");
    w.Delete("a", "long");
    w.Clear();
    EXPECT_EQ(**w.Get("a", "k"), "v1");
    EXPECT_EQ(**w.Get("a", "long"), std::string(100, 'x'));
    // A committed delete.
    w.Delete("a", "k");
    rb::es::KvWriteBatch del;
    w.AppendTo(&del);
    ASSERT_TRUE(store_->kv().Write(del).ok());
    w.Committed();
    EXPECT_FALSE(w.Get("a", "k")->has_value());
    EXPECT_FALSE(store_->kv().Get(a, "k")->has_value());
    rb::es::KvWriteBatch cleanup;
    cleanup.Delete(a, "long");
    ASSERT_TRUE(store_->kv().Write(cleanup).ok());
  }
}

// A writer whose spaces started empty answers "absent" for the keys it never wrote without
// reading the store, in a space read before its first write: a value planted behind its back
// (which never happens to a generation being built) shows that the store is not read; the keys it
// wrote, committed or discarded, are read. A space written before its first read did not
// remember its keys: it reads the store.
TEST_F(BatchViewWriterTest, SpacesThatStartedEmptyAnswerUnwrittenKeysWithoutTheStore) {
  const std::string a = ViewSpaceName("p", gen_, "a");
  for (size_t cache_bytes : {size_t{0}, BatchViewWriter::kDefaultCacheBytes}) {
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"}, cache_bytes);
    w.set_spaces_start_empty();
    EXPECT_FALSE(w.Get("a", "k")->has_value());  // the first read, before any write
    w.Put("a", "k", "v1");
    w.Put("a", "discarded", "v");
    w.Clear();
    w.Put("a", "k", "v1");
    rb::es::KvWriteBatch batch;
    w.AppendTo(&batch);
    ASSERT_TRUE(store_->kv().Write(batch).ok());
    w.Committed();
    rb::es::KvWriteBatch planted;
    planted.Put(a, "planted", "x");
    planted.Put(a, "discarded", "y");
    ASSERT_TRUE(store_->kv().Write(planted).ok());
    EXPECT_EQ(**w.Get("a", "k"), "v1");
    EXPECT_FALSE(w.Get("a", "planted")->has_value());
    EXPECT_EQ(**w.Get("a", "discarded"), "y");  // written once: read from the store
    rb::es::KvWriteBatch cleanup;
    for (const char* k : {"k", "planted", "discarded"}) cleanup.Delete(a, k);
    ASSERT_TRUE(store_->kv().Write(cleanup).ok());
  }
  rb::es::KvWriteBatch planted;
  planted.Put(a, "planted", "x");
  ASSERT_TRUE(store_->kv().Write(planted).ok());
  {
    // Without the declaration, every key not buffered nor cached is read from the store.
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
    EXPECT_EQ(**w.Get("a", "planted"), "x");
  }
  {
    // Declared after a write: ignored.
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"}, 0);
    w.Put("a", "k", "v1");
    w.set_spaces_start_empty();
    EXPECT_EQ(**w.Get("a", "planted"), "x");
  }
  {
    // Written before its first read: the keys were not remembered, the store is read.
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"}, 0);
    w.set_spaces_start_empty();
    w.Put("a", "k", "v1");
    EXPECT_EQ(**w.Get("a", "planted"), "x");
    EXPECT_EQ(**w.Get("a", "k"), "v1");
  }
  {
    // Forgotten (the worker caught up): the store is read again.
    BatchViewWriter w(&store_->kv(), "p", gen_, {"a"}, 0);
    w.set_spaces_start_empty();
    EXPECT_FALSE(w.Get("a", "k")->has_value());
    w.Put("a", "k", "v1");
    EXPECT_FALSE(w.Get("a", "planted")->has_value());
    w.ForgetWrittenKeys();
    EXPECT_EQ(**w.Get("a", "planted"), "x");
  }
}

// A batch whose many reads were nearly all of keys never written (a rebuild meeting each record
// once) does not cache its writes: later reads take them from the store (a value planted behind
// the writer's back shows it), never a value cached before the batch changed it. A batch of few
// reads (live) caches them.
TEST_F(BatchViewWriterTest, ABatchOfReadsOfUnwrittenKeysDoesNotCacheItsWrites) {
  const std::string a = ViewSpaceName("p", gen_, "a");
  auto commit = [&](BatchViewWriter& w) {
    rb::es::KvWriteBatch batch;
    w.AppendTo(&batch);
    ASSERT_TRUE(store_->kv().Write(batch).ok());
    w.Committed();
  };
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  w.set_spaces_start_empty();
  EXPECT_FALSE(w.Get("a", "k")->has_value());
  w.Put("a", "k", "v1");
  commit(w);
  EXPECT_EQ(**w.Get("a", "k"), "v1");  // read from the store, and cached
  // A catch-up batch: the cached key changes, among thousands of reads of new keys.
  w.Put("a", "k", "v2");
  for (int i = 0; i < 2 * static_cast<int>(BatchViewWriter::kFewGets); ++i) {
    const std::string key = "new" + std::to_string(i);
    EXPECT_FALSE(w.Get("a", key)->has_value());
    w.Put("a", key, "x");
  }
  commit(w);
  EXPECT_EQ(**w.Get("a", "k"), "v2");  // not the value cached before the batch
  rb::es::KvWriteBatch planted;
  planted.Put(a, "new7", "planted");
  ASSERT_TRUE(store_->kv().Write(planted).ok());
  EXPECT_EQ(**w.Get("a", "new7"), "planted");  // not cached: read from the store
  // A live batch: one read, one write, cached.
  w.Put("a", "k", "v3");
  commit(w);
  rb::es::KvWriteBatch behind;
  behind.Put(a, "k", "planted");
  ASSERT_TRUE(store_->kv().Write(behind).ok());
  EXPECT_EQ(**w.Get("a", "k"), "v3");
}

TEST_F(BatchViewWriterTest, UndeclaredSpaceIsInvalidArgument) {
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  EXPECT_EQ(w.Get("c", "k").status().code(), absl::StatusCode::kInvalidArgument);
  w.Put("c", "k", "v");
  EXPECT_EQ(w.TakeError().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(w.TakeError().ok());
  EXPECT_TRUE(w.empty());
}

TEST_F(BatchViewWriterTest, ReadEventReadsTheLogUpToTheEventBeingAppliedOnly) {
  for (const char* stream : {"site-1", "site-2", "site-3"}) {
    rb::es::AppendRequest req;
    req.stream_id = stream;
    req.events.push_back(rb::es::EventData{.type = "t", .payload = stream});
    ASSERT_TRUE(store_->Append(req).ok());
  }
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  EXPECT_EQ(w.ReadEvent(1).status().code(), absl::StatusCode::kFailedPrecondition);
  w.set_log(store_.get());
  w.set_log_limit(2);
  absl::StatusOr<rb::es::RecordedEvent> e = w.ReadEvent(2);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->stream_id, "site-2");
  EXPECT_EQ(w.ReadEvent(1)->payload, "site-1");
  // Position 3 is in the log, but after the event being applied.
  EXPECT_EQ(w.ReadEvent(3).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(w.ReadEvent(0).status().code(), absl::StatusCode::kNotFound);
  w.set_log_limit(3);
  EXPECT_EQ(w.ReadEvent(3)->payload, "site-3");
}

TEST_F(BatchViewWriterTest, ReadEventReadsEachPositionFromTheLogOnce) {
  for (const char* stream : {"site-1", "site-2"}) {
    rb::es::AppendRequest req;
    req.stream_id = stream;
    req.events.push_back(rb::es::EventData{.type = "t", .payload = stream});
    ASSERT_TRUE(store_->Append(req).ok());
  }
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  w.set_log(store_.get());
  w.set_log_limit(1);
  absl::StatusOr<rb::es::RecordedEvent> first = w.ReadEvent(1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(w.log_reads(), 1u);
  // Kept: the same event again, without reading the log.
  absl::StatusOr<rb::es::RecordedEvent> again = w.ReadEvent(1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->payload, "site-1");
  EXPECT_EQ(again->log_hash, first->log_hash);
  EXPECT_EQ(w.log_reads(), 1u);
  // A kept position is still refused beyond the limit; a position not read yet reads the log.
  w.set_log_limit(0);
  EXPECT_EQ(w.ReadEvent(1).status().code(), absl::StatusCode::kOutOfRange);
  w.set_log_limit(2);
  EXPECT_EQ(w.ReadEvent(2)->payload, "site-2");
  EXPECT_EQ(w.log_reads(), 2u);
  // A position absent from the log is not kept: each call reads the log.
  EXPECT_EQ(w.ReadEvent(0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(w.ReadEvent(0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(w.log_reads(), 4u);
}

TEST_F(BatchViewWriterTest, ReadStreamKeepsTheStreamsFirstEventsAndReadsOnlyWhatFollows) {
  auto append = [&](const char* stream, const char* payload) {
    rb::es::AppendRequest req;
    req.stream_id = stream;
    req.events.push_back(rb::es::EventData{.type = "t", .payload = payload});
    ASSERT_TRUE(store_->Append(req).ok());
  };
  append("site-1", "a");  // 1
  append("site-2", "b");  // 2
  append("site-1", "c");  // 3
  auto payloads = [](const absl::StatusOr<std::vector<rb::es::RecordedEvent>>& events) {
    std::vector<std::string> out;
    if (!events.ok()) return std::vector<std::string>{events.status().ToString()};
    for (const rb::es::RecordedEvent& e : *events) out.push_back(e.payload);
    return out;
  };
  using Payloads = std::vector<std::string>;
  BatchViewWriter w(&store_->kv(), "p", gen_, {"a"});
  w.set_log(store_.get());
  w.set_log_limit(3);
  EXPECT_EQ(payloads(w.ReadStream("site-1")), (Payloads{"a", "c"}));
  EXPECT_EQ(w.log_reads(), 1u);
  // Before the limit, from what was kept, without reading the log.
  w.set_log_limit(1);
  EXPECT_EQ(payloads(w.ReadStream("site-1")), (Payloads{"a"}));
  EXPECT_EQ(w.log_reads(), 1u);
  // Appended since: what was kept, then what follows, read from the log.
  append("site-1", "d");  // 4
  w.set_log_limit(4);
  EXPECT_EQ(payloads(w.ReadStream("site-1")), (Payloads{"a", "c", "d"}));
  EXPECT_EQ(w.log_reads(), 2u);
  // The same events as a writer that kept nothing.
  BatchViewWriter fresh(&store_->kv(), "p", gen_, {"a"});
  fresh.set_log(store_.get());
  fresh.set_log_limit(4);
  absl::StatusOr<std::vector<rb::es::RecordedEvent>> kept = w.ReadStream("site-1");
  absl::StatusOr<std::vector<rb::es::RecordedEvent>> read = fresh.ReadStream("site-1");
  ASSERT_TRUE(kept.ok() && read.ok());
  ASSERT_EQ(kept->size(), read->size());
  for (size_t i = 0; i < kept->size(); ++i) {
    EXPECT_EQ((*kept)[i].position, (*read)[i].position);
    EXPECT_EQ((*kept)[i].revision, (*read)[i].revision);
    EXPECT_EQ((*kept)[i].log_hash, (*read)[i].log_hash);
  }
  EXPECT_EQ(payloads(w.ReadStream("site-3")), Payloads{});
}

}  // namespace
}  // namespace rb::proj
