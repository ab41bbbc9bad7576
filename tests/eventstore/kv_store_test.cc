#include "eventstore/kv_store.h"

#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
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

// The folder WriteFiles writes its files in before adding them to the store.
size_t IngestFolderEntries(const std::string& db) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(db + "/ingest", ec);
       !ec && it != std::filesystem::directory_iterator(); ++it) {
    ++n;
  }
  return n;
}

TEST_F(KvStoreTest, WriteFilesAppliesASortedBatchOfSeveralSpacesDurablyInOrderWithOtherWrites) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpaces({"view.a", "view.b"}).ok());
  KvWriteBatch before;
  before.Put("view.a", "k1", "old");
  before.Put("view.a", "k3", "gone");
  before.Put("view.b", "x", "kept");
  ASSERT_TRUE(kv.Write(before, /*sync=*/true).ok());
  KvWriteBatch unlogged;
  unlogged.Put("view.a", "k2", "buffered");
  ASSERT_TRUE(kv.WriteUnlogged(unlogged).ok());

  KvWriteBatch files;
  files.Put("view.a", "k1", "new");
  files.Put("view.a", "k2", "from file");
  files.Delete("view.a", "k3");
  files.Put("view.a", "k4", "added");
  files.Put("view.b", "checkpoint", "42");
  ASSERT_TRUE(kv.WriteFiles(files).ok());
  EXPECT_EQ(**kv.Get("view.a", "k1"), "new");
  EXPECT_EQ(**kv.Get("view.a", "k2"), "from file");  // later than the buffered write
  EXPECT_FALSE(kv.Get("view.a", "k3")->has_value());
  EXPECT_EQ(**kv.Get("view.a", "k4"), "added");
  EXPECT_EQ(**kv.Get("view.b", "x"), "kept");
  EXPECT_EQ(IngestFolderEntries(dir_.path() + "/db"), 0u) << "the files were moved into the store";

  // A later write wins over the files.
  KvWriteBatch after;
  after.Put("view.a", "k4", "latest");
  ASSERT_TRUE(kv.WriteUnlogged(after).ok());
  EXPECT_EQ(**kv.Get("view.a", "k4"), "latest");

  Reopen();
  KvStore& kv2 = store_->kv();
  EXPECT_EQ(**kv2.Get("view.a", "k1"), "new");
  EXPECT_FALSE(kv2.Get("view.a", "k3")->has_value());
  EXPECT_EQ(**kv2.Get("view.a", "k4"), "latest");  // the close flushed the unlogged write
  EXPECT_EQ(**kv2.Get("view.b", "checkpoint"), "42");
}

TEST_F(KvStoreTest, WriteFilesRefusesABatchBreakingItsRulesAndWritesNothing) {
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpaces({"view.a", "view.b"}).ok());
  auto expect_refused = [&](const KvWriteBatch& batch, absl::StatusCode code, const char* message) {
    absl::Status s = kv.WriteFiles(batch);
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), message)) << s;
    EXPECT_FALSE(kv.Get("view.a", "a")->has_value());
    EXPECT_EQ(IngestFolderEntries(dir_.path() + "/db"), 0u);
  };
  KvWriteBatch unsorted;
  unsorted.Put("view.a", "a", "1");
  unsorted.Put("view.a", "c", "2");
  unsorted.Put("view.a", "b", "3");
  expect_refused(unsorted, absl::StatusCode::kInvalidArgument,
                 "key space 'view.a': keys must be in strictly increasing order");
  KvWriteBatch twice;
  twice.Put("view.a", "a", "1");
  twice.Put("view.a", "a", "2");
  expect_refused(twice, absl::StatusCode::kInvalidArgument, "strictly increasing");
  KvWriteBatch interleaved;
  interleaved.Put("view.a", "a", "1");
  interleaved.Put("view.b", "b", "2");
  interleaved.Put("view.a", "c", "3");
  expect_refused(interleaved, absl::StatusCode::kInvalidArgument,
                 "key space 'view.a': its entries must be contiguous");
  KvWriteBatch range;
  range.Put("view.a", "a", "1");
  range.DeleteRange("view.b", "a", "z");
  expect_refused(range, absl::StatusCode::kInvalidArgument,
                 "key space 'view.b': a range deletion cannot be written so");
  KvWriteBatch unknown;
  unknown.Put("view.a", "a", "1");
  unknown.Put("view.missing", "k", "v");
  expect_refused(unknown, absl::StatusCode::kNotFound, "view.missing");
  EXPECT_FALSE(kv.Get("view.b", "b")->has_value());
}

TEST_F(KvStoreTest, FilesLeftInTheIngestFolderByACrashAreRemovedAtOpen) {
  const std::string folder = dir_.path() + "/db/ingest";
  ASSERT_TRUE(std::filesystem::is_directory(folder));
  std::ofstream(folder + "/7.sst") << "left by a crash before it was added";
  ASSERT_EQ(IngestFolderEntries(dir_.path() + "/db"), 1u);
  Reopen();
  EXPECT_EQ(IngestFolderEntries(dir_.path() + "/db"), 0u);
  // And the store writes files as before.
  KvStore& kv = store_->kv();
  ASSERT_TRUE(kv.CreateSpace("view.a").ok());
  KvWriteBatch files;
  files.Put("view.a", "k", "v");
  ASSERT_TRUE(kv.WriteFiles(files).ok());
  EXPECT_EQ(**kv.Get("view.a", "k"), "v");
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
