#include "eventstore/kv_store.h"

#include <memory>

#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::es {
namespace {

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto s = EventStore::Open(Options(), dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  rb::testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(KvStoreTest, BatchSpansSpacesAtomicallyAndSurvivesReopen) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("view.a").ok());
  ASSERT_TRUE(kv.CreateSpace("view.b").ok());
  KvWriteBatch batch;
  batch.Put("view.a", "k1", "v1");
  batch.Put("view.b", "checkpoint", "42");
  ASSERT_TRUE(kv.Write(batch, true).ok());
  Reopen();
  KvStore& kv2 = store_->kv();
  EXPECT_TRUE(kv2.HasSpace("view.a"));
  EXPECT_EQ(**kv2.Get("view.a", "k1"), "v1");
  EXPECT_EQ(**kv2.Get("view.b", "checkpoint"), "42");
  EXPECT_FALSE(kv2.Get("view.a", "absent")->has_value());
}

TEST_F(KvStoreTest, CreateSpacesMakesTheMissingOnesAtOnceAndRefusesAnEmptyName) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("view.a").ok());
  KvWriteBatch before;
  before.Put("view.a", "k", "kept");
  ASSERT_TRUE(kv.Write(before, true).ok());
  EXPECT_EQ(kv.CreateSpaces({"view.x", ""}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(kv.HasSpace("view.x"));
  // An existing space is kept as it is; a name given twice is made once.
  ASSERT_TRUE(kv.CreateSpaces({"view.a", "view.b", "view.c", "view.b"}).ok());
  ASSERT_TRUE(kv.CreateSpaces({}).ok());
  KvWriteBatch batch;
  batch.Put("view.b", "k", "b");
  batch.Put("view.c", "k", "c");
  ASSERT_TRUE(kv.Write(batch, true).ok());
  Reopen();
  KvStore& kv2 = store_->kv();
  EXPECT_EQ(**kv2.Get("view.a", "k"), "kept");
  EXPECT_EQ(**kv2.Get("view.b", "k"), "b");
  EXPECT_EQ(**kv2.Get("view.c", "k"), "c");
}

TEST_F(KvStoreTest, BatchNamingAnUnknownSpaceWritesNothing) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("view.a").ok());
  KvWriteBatch batch;
  batch.Put("view.a", "k1", "v1");
  batch.Put("view.missing", "k", "v");
  EXPECT_EQ(kv.Write(batch).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(kv.Get("view.a", "k1")->has_value());
}

TEST_F(KvStoreTest, IteratesInKeyOrderAndDeletesRanges) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("s").ok());
  KvWriteBatch batch;
  for (const char* k : {"b", "a", "d", "c"}) batch.Put("s", k, k);
  ASSERT_TRUE(kv.Write(batch).ok());
  auto it = *kv.NewIterator("s");
  std::string keys;
  for (it->Seek(""); it->Valid(); it->Next()) keys += it->key();
  EXPECT_EQ(keys, "abcd");
  KvWriteBatch del;
  del.DeleteRange("s", "b", "d");
  del.Delete("s", "a");
  ASSERT_TRUE(kv.Write(del).ok());
  it = *kv.NewIterator("s");
  keys.clear();
  for (it->Seek(""); it->Valid(); it->Next()) keys += it->key();
  EXPECT_EQ(keys, "d");
}

// The iterators of one snapshot read one instant, in every space: a key moved from one range to
// another afterwards is still in its first range for all of them, never in both or in neither.
TEST_F(KvStoreTest, IteratorsOfOneSnapshotReadOneInstant) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("s").ok());
  ASSERT_TRUE(kv.CreateSpace("t").ok());
  KvWriteBatch batch;
  batch.Put("s", "a/1", "x");
  batch.Put("t", "ranges", "a");
  ASSERT_TRUE(kv.Write(batch).ok());
  absl::StatusOr<std::unique_ptr<KvSnapshot>> snapshot = kv.Snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  absl::StatusOr<std::unique_ptr<KvIterator>> first = (*snapshot)->NewIterator("s");
  ASSERT_TRUE(first.ok()) << first.status();
  KvWriteBatch move;
  move.Delete("s", "a/1");
  move.Put("s", "b/1", "x");
  move.Put("t", "ranges", "b");
  ASSERT_TRUE(kv.Write(move).ok());
  // Made after the write, from the snapshot: still the instant before it.
  absl::StatusOr<std::unique_ptr<KvIterator>> second = (*snapshot)->NewIterator("s");
  absl::StatusOr<std::unique_ptr<KvIterator>> other_space = (*snapshot)->NewIterator("t");
  ASSERT_TRUE(second.ok() && other_space.ok());
  snapshot->reset();  // the iterators keep the instant
  (*first)->Seek("a/");
  ASSERT_TRUE((*first)->Valid());
  EXPECT_EQ((*first)->key(), "a/1");
  (*second)->Seek("b/");
  EXPECT_FALSE((*second)->Valid());
  (*other_space)->Seek("");
  ASSERT_TRUE((*other_space)->Valid());
  EXPECT_EQ((*other_space)->value(), "a");
  for (const auto* it : {&*first, &*second, &*other_space}) EXPECT_TRUE((*it)->status().ok());
  // A later snapshot sees the move; an absent space is NOT_FOUND.
  snapshot = kv.Snapshot();
  ASSERT_TRUE(snapshot.ok());
  absl::StatusOr<std::unique_ptr<KvIterator>> later = (*snapshot)->NewIterator("s");
  ASSERT_TRUE(later.ok());
  (*later)->Seek("a/");
  ASSERT_TRUE((*later)->Valid());
  EXPECT_EQ((*later)->key(), "b/1");
  EXPECT_EQ((*snapshot)->NewIterator("missing").status().code(), absl::StatusCode::kNotFound);
  // A store opened read-only (beside the writer) takes snapshots too.
  Options ro;
  ro.read_only = true;
  absl::StatusOr<std::unique_ptr<EventStore>> reader = EventStore::Open(ro, dir_.path() + "/db");
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::unique_ptr<KvSnapshot>> read_only = (*reader)->kv().Snapshot();
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  absl::StatusOr<std::unique_ptr<KvIterator>> it = (*read_only)->NewIterator("s");
  ASSERT_TRUE(it.ok()) << it.status();
  (*it)->Seek("");
  EXPECT_TRUE((*it)->Valid());
}

TEST_F(KvStoreTest, DropSpaceRemovesIt) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("tmp").ok());
  ASSERT_TRUE(kv.DropSpace("tmp").ok());
  EXPECT_FALSE(kv.HasSpace("tmp"));
  EXPECT_EQ(kv.DropSpace("tmp").code(), absl::StatusCode::kNotFound);
  Reopen();
  EXPECT_FALSE(store_->kv().HasSpace("tmp"));
}

}  // namespace
}  // namespace rb::es
