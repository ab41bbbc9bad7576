// The write-ahead log prefill: zeroed space ahead of the log's end while the store is open, cut
// back on close, and an unclosed log's zero tail read as the end of the log.
#include "eventstore/wal_prefill.h"

#include <filesystem>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace rb::es
