// Physical limits measured with RocksDB and POSIX calls directly, on the same disk.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "bench/bench.h"
#include "eventstore/wal_prefill.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"

namespace rb::bench {
namespace {

std::unique_ptr<rocksdb::DB> OpenRaw(const std::string& path, rocksdb::Env* env = nullptr) {
  std::filesystem::remove_all(path);
  rocksdb::Options o;
  o.create_if_missing = true;
  if (env != nullptr) o.env = env;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, path, &db).ok()) std::abort();
  return std::unique_ptr<rocksdb::DB>(db);
}

std::string Key(uint64_t i) {
  std::string k(8, '\0');
  for (int b = 7; b >= 0; --b, i >>= 8) k[b] = static_cast<char>(i & 0xff);
  return k;
}

}  // namespace

double RawSyncPutPerSecond(const Config& c, int n) {
  auto db = OpenRaw(c.dir + "/raw-put");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string value(200, 'v');
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) db->Put(wo, Key(i), value).PermitUncheckedError();
  return n / SecondsSince(t0);
}

double RawSyncBatch100EventsPerSecond(const Config& c, int batches, bool prefill_wal) {
  std::unique_ptr<rocksdb::Env> env;
  if (prefill_wal) {
    env = rocksdb::NewCompositeEnv(
        es::internal::NewWalPrefillFileSystem(rocksdb::FileSystem::Default()));
  }
  auto db = OpenRaw(c.dir + "/raw-batch", env.get());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string value(200, 'v');
  uint64_t k = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < batches; ++b) {
    rocksdb::WriteBatch wb;
    for (int i = 0; i < 100; ++i) wb.Put(Key(k++), value).PermitUncheckedError();
    db->Write(wo, &wb).PermitUncheckedError();
  }
  return batches * 100.0 / SecondsSince(t0);
}

double RawFdatasyncP99Micros(const Config& c, int n) {
  std::string path = c.dir + "/raw-fsync";
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return 0;
  std::string block(4096, 'x');
  std::vector<double> lat;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    fdatasync(fd);
    lat.push_back(SecondsSince(t0) * 1e6);
  }
  close(fd);
  return Percentile(lat, 99);
}

double RawScanPerSecond(const Config& c, int n, int value_bytes) {
  auto db = OpenRaw(c.dir + "/raw-scan");
  std::string value(value_bytes, 'v');
  rocksdb::WriteOptions wo;
  for (int b = 0; b < n; b += 1000) {
    rocksdb::WriteBatch wb;
    for (int i = b; i < std::min(n, b + 1000); ++i) {
      value[i % value_bytes] = static_cast<char>('a' + i % 26);
      wb.Put(Key(i), value).PermitUncheckedError();
    }
    db->Write(wo, &wb).PermitUncheckedError();
  }
  db->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
  double best = 0;
  for (int round = 0; round < 2; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    size_t count = 0, bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->value().size();
      ++count;
    }
    best = std::max(best, count / SecondsSince(t0));
    if (bytes == 0) std::abort();
  }
  return best;
}

}  // namespace rb::bench
