// The write-ahead log prefill: zeroed space ahead of the log's end while the store is open, cut
// back on close, and an unclosed log's zero tail read as the end of the log.
#include "eventstore/wal_prefill.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/testing/temp_dir.h"

namespace rb::es {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> WalFiles(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (internal::IsWalFileName(e.path().string())) out.push_back(e.path());
  }
  return out;
}

uint64_t WalBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const fs::path& p : WalFiles(dir)) total += fs::file_size(p);
  return total;
}

std::unique_ptr<EventStore> OpenStore(const std::string& path, bool prefill) {
  Options o;
  o.prefill_wal = prefill;
  auto s = EventStore::Open(o, path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// Appends `n` events of about 1 KB to `stream`, one durable append each.
void AppendMany(EventStore& store, const std::string& stream, int n) {
  for (int i = 0; i < n; ++i) {
    AppendRequest r;
    r.stream_id = stream;
    r.events.push_back(EventData{.type = "site.declared", .payload = std::string(1000, 'x')});
    ASSERT_TRUE(store.Append(r).ok());
  }
}

TEST(WalFileName, OnlyNumberedLogFiles) {
  EXPECT_TRUE(internal::IsWalFileName("000012.log"));
  EXPECT_TRUE(internal::IsWalFileName("/data/db/000012.log"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db/LOG"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db/LOG.old.1700000000"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db/000012.sst"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db/.log"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db/x12.log"));
  EXPECT_FALSE(internal::IsWalFileName("/data/db.log/MANIFEST-000005"));
}

// Writes `bytes` to a new file `name` of `dir` through the prefill file system, in 64 KiB
// appends; returns the file's size on disk before it is closed, and sets `*closed` after.
uint64_t WriteThroughPrefill(const std::string& dir, const std::string& name, uint64_t bytes,
                             uint64_t* closed) {
  auto fs = internal::NewWalPrefillFileSystem(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::FSWritableFile> file;
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok());
  const std::string chunk(64 << 10, 'w');
  for (uint64_t done = 0; done < bytes; done += chunk.size()) {
    EXPECT_TRUE(file->Append(chunk, rocksdb::IOOptions(), nullptr).ok());
  }
  EXPECT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
  const uint64_t open_size = fs::file_size(path);
  EXPECT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  *closed = fs::file_size(path);
  return open_size;
}

TEST(WalPrefill, ZeroedSpaceStaysAheadOfTheLogAndIsCutBackOnClose) {
  rb::testing::TempDir dir;
  uint64_t closed = 0;
  // A new log starts with 16 MiB of zeros, and the zeroed region grows ahead of the writes.
  EXPECT_EQ(WriteThroughPrefill(dir.path(), "000007.log", 0, &closed), 16u << 20);
  EXPECT_EQ(closed, 0u);
  const uint64_t written = 300 * (64 << 10);  // 19.7 MB: past the first 16 MiB
  EXPECT_GT(WriteThroughPrefill(dir.path(), "000008.log", written, &closed), written);
  EXPECT_EQ(closed, written);
  // Any other file holds exactly what was written, open or closed.
  EXPECT_EQ(WriteThroughPrefill(dir.path(), "000009.sst", written, &closed), written);
  EXPECT_EQ(closed, written);
}

// One record of RocksDB's log format: checksum (not checked here), length, type, data.
std::string Record(size_t length, char type = 1) {
  std::string r(4, 'c');
  r.push_back(static_cast<char>(length & 0xff));
  r.push_back(static_cast<char>(length >> 8));
  r.push_back(type);
  r.append(length, 'd');
  return r;
}

// What a reader gets of `path` through the prefill file system: its size and its bytes.
std::pair<uint64_t, std::string> ReadBack(const std::string& path) {
  auto fs = internal::NewWalPrefillFileSystem(rocksdb::FileSystem::Default());
  uint64_t size = 0;
  EXPECT_TRUE(fs->GetFileSize(path, rocksdb::IOOptions(), &size, nullptr).ok());
  std::unique_ptr<rocksdb::FSSequentialFile> file;
  EXPECT_TRUE(fs->NewSequentialFile(path, rocksdb::FileOptions(), &file, nullptr).ok());
  std::string all, scratch(1 << 16, '\0');
  while (true) {
    rocksdb::Slice got;
    EXPECT_TRUE(
        file->Read(scratch.size(), rocksdb::IOOptions(), &got, scratch.data(), nullptr).ok());
    if (got.empty()) break;
    all.append(got.data(), got.size());
  }
  return {size, all};
}

TEST(WalPrefill, LogsAreReadUpToTheirRecordsEndOnly) {
  rb::testing::TempDir dir;
  const std::string path = dir.path() + "/000012.log";
  // Two records, a gap of zeros to the end of the first 32 KiB block, then a record that a
  // reader must not reach (it could only be there after a gap: earlier writes lost).
  std::string log = Record(100) + Record(200);
  const size_t records_end = log.size();
  log.append(32768 - log.size(), '\0');
  log += Record(300);
  log.append(1 << 20, '\0');  // the zeroed region
  std::ofstream(path, std::ios::binary) << log;
  auto [size, bytes] = ReadBack(path);
  EXPECT_EQ(size, records_end);
  EXPECT_TRUE(bytes == log.substr(0, records_end)) << bytes.size() << " bytes read";

  // A block's last bytes (fewer than a header) are its padding, not the end.
  std::string padded = Record(32768 - 7 - 3);  // leaves 3 bytes in the first block
  padded.append(3, '\0');
  padded += Record(50);
  const size_t padded_end = padded.size();
  padded.append(4096, '\0');
  std::ofstream(path, std::ios::binary | std::ios::trunc) << padded;
  EXPECT_EQ(ReadBack(path).first, padded_end);

  // A log without zeros (written without prefill) is read whole; other files are not touched.
  const std::string plain = Record(10) + Record(20);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << plain;
  EXPECT_TRUE(ReadBack(path).second == plain);
  const std::string other = dir.path() + "/MANIFEST-000005";
  std::ofstream(other, std::ios::binary) << std::string(64, '\0') << "after zeros";
  EXPECT_EQ(ReadBack(other).first, 64u + 11u);
}

TEST(WalPrefill, TheLiveLogOfAnOpenStoreIsPrefilled) {
  rb::testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  auto store = OpenStore(path, true);
  ASSERT_NE(store, nullptr);
  EXPECT_GE(WalBytes(path), 16u << 20);
  rb::testing::TempDir plain_dir;
  auto plain = OpenStore(plain_dir.path() + "/db", false);
  ASSERT_NE(plain, nullptr);
  EXPECT_LT(WalBytes(plain_dir.path() + "/db"), 1u << 20);
}

TEST(WalPrefill, AnUnclosedLogWithItsZeroTailRecoversEveryEvent) {
  rb::testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  const std::string image = dir.path() + "/crash-image";
  auto store = OpenStore(path, true);
  ASSERT_NE(store, nullptr);
  AppendMany(*store, "site-1", 1500);
  AppendMany(*store, "site-2", 10);
  // A copy taken while the store is open is what a crash leaves: the log ends in zeros.
  fs::copy(path, image, fs::copy_options::recursive);
  store.reset();
  bool zero_tail = false;
  for (const fs::path& p : WalFiles(image)) zero_tail |= fs::file_size(p) >= (2u << 20);
  EXPECT_TRUE(zero_tail);
  fs::remove(image + "/LOCK");

  auto recovered = OpenStore(image, true);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->GetHead().position, 1510u);
  auto info = recovered->GetStreamInfo("site-2");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->exists);
  EXPECT_EQ(info->last_revision, 9u);
  auto report = recovered->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->events_checked, 1510u);
  // Appends go on after the recovered end.
  AppendMany(*recovered, "site-2", 1);
  EXPECT_EQ(recovered->GetHead().position, 1511u);
}

// The offsets of the whole records (type FULL) of a log file, by walking its headers.
std::vector<uint64_t> FullRecordOffsets(const std::string& log) {
  std::vector<uint64_t> out;
  uint64_t at = 0;
  while (at + 7 <= log.size()) {
    const uint64_t left = 32768 - at % 32768;
    if (left < 7) {
      at += left;
      continue;
    }
    const auto* h = reinterpret_cast<const unsigned char*>(log.data() + at);
    if (h[6] == 0) break;
    if (h[6] == 1) out.push_back(at);
    at += 7 + (h[4] | (h[5] << 8));
  }
  return out;
}

std::string Key(int i) { return absl::StrCat("key-", 1000 + i); }

// RocksDB's own reader skips a zeroed record to the next 32 KiB block and replays what it finds
// there; through the prefill file system the replay ends at the gap.
TEST(WalPrefill, AGapInTheLogEndsTheReplayThere) {
  rb::testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  const std::string image = dir.path() + "/image";
  auto env =
      rocksdb::NewCompositeEnv(internal::NewWalPrefillFileSystem(rocksdb::FileSystem::Default()));
  rocksdb::Options o;
  o.create_if_missing = true;
  o.env = env.get();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    // Records of exactly 1 KiB (7-byte header, 12-byte batch header, 12 bytes of key and lengths):
    // 32 fill the first block, and the second block starts with a whole record.
    for (int i = 0; i < 64; ++i) ASSERT_TRUE(db->Put(sync, Key(i), std::string(993, 'v')).ok());
    fs::copy(path, image, fs::copy_options::recursive);  // what a crash leaves
  }
  fs::remove(image + "/LOCK");
  std::vector<fs::path> logs = WalFiles(image);
  ASSERT_EQ(logs.size(), 1u);
  std::string log;
  {
    std::ifstream in(logs[0], std::ios::binary);
    log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Zero the 11th record and the rest of the first block, as if those pages were lost while
  // later ones reached the disk.
  const std::vector<uint64_t> records = FullRecordOffsets(log);
  ASSERT_EQ(records.size(), 64u);
  ASSERT_EQ(records[32], 32768u);
  const uint64_t gap = records[10];
  ASSERT_LT(gap, 32768u);
  std::fill(log.begin() + gap, log.begin() + 32768, '\0');
  std::ofstream(logs[0], std::ios::binary | std::ios::trunc) << log;

  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, image, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(db->Get({}, Key(i), &value).ok()) << i;
  for (int i = 10; i < 64; ++i) EXPECT_TRUE(db->Get({}, Key(i), &value).IsNotFound()) << i;
}

}  // namespace
}  // namespace rb::es
