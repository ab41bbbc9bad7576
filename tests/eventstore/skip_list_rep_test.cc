// The memtable of the store's column families (eventstore/skip_list_rep.h), driven through a real
// RocksDB whose writes all stay in the memtable: every read is answered by the skip list.
#include "eventstore/skip_list_rep.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/perf_context.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/write_batch.h"
#include "tests/testing/temp_dir.h"

namespace rb::es::internal {
namespace {

class SkipListRepTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(NewFingerSkipListFactory()); }

  void Open(std::shared_ptr<rocksdb::MemTableRepFactory> factory) {
    db_.reset();
    rocksdb::Options o;
    o.create_if_missing = true;
    o.allow_concurrent_memtable_write = false;
    o.memtable_factory = std::move(factory);
    o.write_buffer_size = 512 << 20;  // nothing is flushed: the memtable answers every read
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_.path() + "/db" + std::to_string(++opened_), &db).ok());
    db_.reset(db);
  }

  // Key comparisons per insert of `batches` sorted batches, each between the keys of the earlier
  // ones (as a projection catching up writes them), then of appends after the last key.
  std::pair<double, double> ComparisonsPerInsert(int batches) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
    rocksdb::get_perf_context()->Reset();
    int inserts = 0;
    for (int b = 0; b < batches; ++b) {
      std::vector<std::string> keys;
      for (int i = b; i < 20000; i += batches) keys.push_back(Key(i));
      std::sort(keys.begin(), keys.end());
      Write(keys);
      inserts += static_cast<int>(keys.size());
    }
    const double between =
        static_cast<double>(rocksdb::get_perf_context()->user_key_comparison_count) / inserts;
    rocksdb::get_perf_context()->Reset();
    std::vector<std::string> tail;
    for (int i = 0; i < 20000; ++i) tail.push_back(absl::StrFormat("z%06d", i));
    Write(tail);
    const double appended =
        static_cast<double>(rocksdb::get_perf_context()->user_key_comparison_count) / 20000;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return {between, appended};
  }

  // Writes `keys` in one batch, in the order given; a key of `deleted` is deleted instead.
  void Write(const std::vector<std::string>& keys, bool deleted = false) {
    rocksdb::WriteBatch batch;
    for (const std::string& k : keys) {
      if (deleted) {
        ASSERT_TRUE(batch.Delete(k).ok());
        model_.erase(k);
      } else {
        const std::string v = absl::StrFormat("%s@%d", k, ++version_);
        ASSERT_TRUE(batch.Put(k, v).ok());
        model_[k] = v;
      }
    }
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    ASSERT_TRUE(db_->Write(wo, &batch).ok());
  }

  // Every read the views make agrees with the model.
  void ExpectSameAsModel(std::mt19937& rng) {
    std::string sst_files;
    ASSERT_TRUE(db_->GetProperty("rocksdb.num-files-at-level0", &sst_files));
    ASSERT_EQ(sst_files, "0") << "a read must come from the memtable";
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::pair<std::string, std::string>> forward;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      forward.emplace_back(it->key().ToString(), it->value().ToString());
    }
    ASSERT_TRUE(it->status().ok());
    const std::vector<std::pair<std::string, std::string>> expected(model_.begin(), model_.end());
    EXPECT_EQ(forward, expected);
    std::vector<std::string> backward;
    for (it->SeekToLast(); it->Valid(); it->Prev()) backward.push_back(it->key().ToString());
    std::vector<std::string> expected_backward;
    for (auto m = model_.rbegin(); m != model_.rend(); ++m) expected_backward.push_back(m->first);
    EXPECT_EQ(backward, expected_backward);
    for (int i = 0; i < 500; ++i) {
      const std::string target = Key(static_cast<int>(rng() % 40000));
      auto lower = model_.lower_bound(target);
      it->Seek(target);
      ASSERT_EQ(it->Valid(), lower != model_.end()) << target;
      if (it->Valid()) {
        EXPECT_EQ(it->key().ToString(), lower->first);
      }
      auto upper = model_.upper_bound(target);
      it->SeekForPrev(target);
      ASSERT_EQ(it->Valid(), upper != model_.begin()) << target;
      if (it->Valid()) {
        EXPECT_EQ(it->key().ToString(), std::prev(upper)->first);
      }
      std::string value;
      const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), target, &value);
      auto found = model_.find(target);
      ASSERT_EQ(s.ok(), found != model_.end()) << target << ": " << s.ToString();
      if (s.ok()) {
        EXPECT_EQ(value, found->second);
      }
    }
  }

  static std::string Key(int i) { return absl::StrFormat("k%d", i); }  // decimal: interleaves

  rb::testing::TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, std::string> model_;
  int version_ = 0;
  int opened_ = 0;
};

TEST_F(SkipListRepTest, InsertsResumeFromThePreviousOne) {
  // Four sorted batches of 5,000 keys, each between the keys of the earlier ones, then 20,000
  // appends. Counted by RocksDB itself (PerfContext), for this list and RocksDB's own.
  const auto [between, appended] = ComparisonsPerInsert(4);
  Open(std::make_shared<rocksdb::SkipListFactory>());
  model_.clear();
  const auto [rocksdb_between, rocksdb_appended] = ComparisonsPerInsert(4);
  std::printf(
      "key comparisons per insert: between stored keys %.1f (RocksDB's list %.1f), "
      "after the last %.1f (RocksDB's list %.1f)\n",
      between, rocksdb_between, appended, rocksdb_appended);
  EXPECT_LT(between, 8.0);
  EXPECT_LT(appended, 3.0);
}

TEST_F(SkipListRepTest, SortedBatchesBetweenEarlierKeysReadBackInOrder) {
  std::mt19937 rng(7);
  // As a projection catching up: batch b holds sites [b * 5000, (b + 1) * 5000), written in key
  // order, so that each batch falls between the keys of the earlier ones.
  for (int b = 0; b < 6; ++b) {
    std::vector<std::string> keys;
    for (int i = b * 5000; i < (b + 1) * 5000; ++i) keys.push_back(Key(i));
    std::sort(keys.begin(), keys.end());
    Write(keys);
    ExpectSameAsModel(rng);
  }
  // Rewrites of existing keys, then appends after the last key, then deletions.
  std::vector<std::string> again;
  for (int i = 0; i < 30000; i += 7) again.push_back(Key(i));
  std::sort(again.begin(), again.end());
  Write(again);
  std::vector<std::string> tail;
  for (int i = 0; i < 2000; ++i) tail.push_back(absl::StrFormat("z%06d", i));
  Write(tail);
  std::vector<std::string> gone;
  for (int i = 0; i < 30000; i += 11) gone.push_back(Key(i));
  std::sort(gone.begin(), gone.end());
  Write(gone, /*deleted=*/true);
  ExpectSameAsModel(rng);
}

TEST_F(SkipListRepTest, KeysInAnyOrderReadBackInOrder) {
  std::mt19937 rng(11);
  std::vector<int> ids(40000);
  for (int i = 0; i < 40000; ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  // Descending runs, random order and repeated keys within one batch.
  for (size_t start = 0; start < ids.size(); start += 4000) {
    std::vector<std::string> keys;
    for (size_t i = start; i < start + 4000; ++i) keys.push_back(Key(ids[i]));
    if (start % 8000 == 0) std::sort(keys.rbegin(), keys.rend());
    keys.push_back(keys.front());
    Write(keys);
  }
  ExpectSameAsModel(rng);
}

TEST_F(SkipListRepTest, ReadersNeverSeeAPartialList) {
  // One writer appends keys in batches while readers scan: each scan is in strictly increasing
  // order and holds at least every key acknowledged before it started.
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  std::atomic<int> scans{0};
  std::atomic<bool> failed{false};
  auto reader = [&] {
    while (!done.load() || scans.load() < 4) {
      const int before = acknowledged.load();
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
      std::string previous;
      int count = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string k = it->key().ToString();
        if (!previous.empty() && !(previous < k)) failed = true;
        previous = k;
        ++count;
      }
      if (count < before) failed = true;
      ++scans;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int b = 0; b < 200; ++b) {
    std::vector<std::string> keys;
    for (int i = b; i < 40000; i += 200) keys.push_back(absl::StrFormat("%08d", i));
    rocksdb::WriteBatch batch;
    for (const std::string& k : keys) ASSERT_TRUE(batch.Put(k, "v").ok());
    ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
    acknowledged += static_cast<int>(keys.size());
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_FALSE(failed.load());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  int count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  EXPECT_EQ(count, 40000);
}

TEST_F(SkipListRepTest, IteratorsMadeInTurnEachReadTheList) {
  Write({"a", "b", "c"});
  // Each DB iterator makes one memtable iterator in a slot of the list, reused once enough others
  // were handed back: thousands in turn, each reading the list from its own position.
  for (int i = 0; i < 20000; ++i) {
    std::unique_ptr<rocksdb::Iterator> held(db_->NewIterator(rocksdb::ReadOptions()));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->Seek("b");
    held->SeekToLast();
    ASSERT_TRUE(it->Valid());
    ASSERT_EQ(it->key().ToString(), "b");
    it->Prev();
    ASSERT_TRUE(it->Valid());
    ASSERT_EQ(it->key().ToString(), "a");
    ASSERT_TRUE(held->Valid());
    ASSERT_EQ(held->key().ToString(), "c");
  }
}

}  // namespace
}  // namespace rb::es::internal
