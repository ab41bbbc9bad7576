#include "eventstore/kv_store.h"

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
