#include "eventstore/kv_store.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eventstore/rocks_kv_store.h"
#include "eventstore/rocks_status.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/write_batch.h"

namespace rb::es {

uint32_t KvWriteBatch::SpaceIndex(std::string_view space) {
  // Few spaces per batch, most entries in the last one used: search from the end.
  for (size_t i = spaces_.size(); i > 0; --i) {
    if (spaces_[i - 1] == space) return static_cast<uint32_t>(i - 1);
  }
  spaces_.emplace_back(space);
  return static_cast<uint32_t>(spaces_.size() - 1);
}

void KvWriteBatch::Add(Op op, std::string_view space, std::string_view key,
                       std::string_view value) {
  const uintptr_t offset = data_.size();
  records_.push_back(Record{op, false, SpaceIndex(space), static_cast<uint32_t>(key.size()),
                            static_cast<uint32_t>(value.size()), offset, offset + key.size()});
  data_.append(key.data(), key.size());
  data_.append(value.data(), value.size());
}

void KvWriteBatch::PutUnowned(std::string_view space, std::string_view key,
                              std::string_view value) {
  bytes_ += key.size() + value.size() + 16;
  records_.push_back(Record{Op::kPut, true, SpaceIndex(space), static_cast<uint32_t>(key.size()),
                            static_cast<uint32_t>(value.size()),
                            reinterpret_cast<uintptr_t>(key.data()),
                            reinterpret_cast<uintptr_t>(value.data())});
}

void KvWriteBatch::DeleteUnowned(std::string_view space, std::string_view key) {
  bytes_ += key.size() + 16;
  records_.push_back(Record{Op::kDelete, true, SpaceIndex(space), static_cast<uint32_t>(key.size()),
                            0, reinterpret_cast<uintptr_t>(key.data()), 0});
}

void KvWriteBatch::Put(std::string_view space, std::string_view key, std::string_view value) {
  bytes_ += key.size() + value.size() + 16;
  Add(Op::kPut, space, key, value);
}

void KvWriteBatch::Delete(std::string_view space, std::string_view key) {
  bytes_ += key.size() + 16;
  Add(Op::kDelete, space, key, {});
}

void KvWriteBatch::DeleteRange(std::string_view space, std::string_view begin,
                               std::string_view end) {
  bytes_ += begin.size() + end.size() + 16;
  Add(Op::kDeleteRange, space, begin, end);
}

void KvWriteBatch::Reserve(size_t entries, size_t bytes) {
  records_.reserve(records_.size() + entries);
  data_.reserve(data_.size() + bytes);
}

KvWriteBatch::Entry KvWriteBatch::entry(size_t i) const {
  const Record& r = records_[i];
  if (r.unowned) {
    return Entry{r.op, spaces_[r.space],
                 std::string_view(reinterpret_cast<const char*>(r.key), r.key_size),
                 std::string_view(reinterpret_cast<const char*>(r.value), r.value_size)};
  }
  const std::string_view data(data_);
  return Entry{r.op, spaces_[r.space], data.substr(r.key, r.key_size),
               data.substr(r.value, r.value_size)};
}

std::vector<KvWriteBatch::Entry> KvWriteBatch::entries() const {
  std::vector<Entry> out;
  out.reserve(records_.size());
  ForEach([&](const Entry& e) { out.push_back(e); });
  return out;
}

namespace internal {
namespace {

class RocksKvIterator : public KvIterator {
 public:
  // `snapshot`, when not null, is the snapshot `it` reads: released after its last user.
  RocksKvIterator(rocksdb::Iterator* it, std::shared_ptr<const rocksdb::Snapshot> snapshot)
      : snapshot_(std::move(snapshot)), it_(it) {}
  void Seek(std::string_view key) override { it_->Seek(rocksdb::Slice(key.data(), key.size())); }
  void SeekForPrev(std::string_view key) override {
    it_->SeekForPrev(rocksdb::Slice(key.data(), key.size()));
  }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override {
    rocksdb::Slice k = it_->key();
    return std::string_view(k.data(), k.size());
  }
  std::string_view value() const override {
    rocksdb::Slice v = it_->value();
    return std::string_view(v.data(), v.size());
  }
  absl::Status status() const override { return FromRocks(it_->status(), "kv iterator"); }

 private:
  std::shared_ptr<const rocksdb::Snapshot> snapshot_;  // destroyed after it_
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksKvSnapshot : public KvSnapshot {
 public:
  RocksKvSnapshot(const RocksKvStore* store, std::shared_ptr<const rocksdb::Snapshot> snapshot)
      : store_(store), snapshot_(std::move(snapshot)) {}
  absl::StatusOr<std::unique_ptr<KvIterator>> NewIterator(const std::string& space) const override {
    return store_->NewIteratorAt(space, snapshot_);
  }

 private:
  const RocksKvStore* const store_;
  const std::shared_ptr<const rocksdb::Snapshot> snapshot_;
};

// Batches at least this large reuse a per-thread RocksDB batch (RocksKvStore::Write).
constexpr size_t kLargeBatchBytes = size_t{1} << 20;

absl::Status MissingSpace(const std::string& space) {
  return absl::NotFoundError(absl::StrCat("key space '", space, "' does not exist"));
}

}  // namespace

RocksKvStore::RocksKvStore(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                           rocksdb::ColumnFamilyOptions cf_options, bool read_only)
    : db_(db),
      cf_options_(std::move(cf_options)),
      read_only_(read_only),
      ingest_folder_(db->GetName() + "/ingest") {
  for (auto* h : handles) spaces_[h->GetName().substr(sizeof(kKvPrefix) - 1)] = h;
}

RocksKvStore::~RocksKvStore() { CloseHandles(); }

void RocksKvStore::CloseHandles() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, h] : spaces_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  spaces_.clear();
}

rocksdb::ColumnFamilyHandle* RocksKvStore::Find(const std::string& space) const {
  auto it = spaces_.find(space);
  return it == spaces_.end() ? nullptr : it->second;
}

absl::Status RocksKvStore::CreateSpace(const std::string& space) { return CreateSpaces({space}); }

absl::Status RocksKvStore::CreateSpaces(const std::vector<std::string>& spaces) {
  for (const std::string& space : spaces) {
    if (space.empty()) return absl::InvalidArgumentError("key space name must not be empty");
  }
  absl::MutexLock lock(&mu_);
  std::vector<std::string> missing;
  for (const std::string& space : spaces) {
    if (Find(space) == nullptr &&
        std::find(missing.begin(), missing.end(), space) == missing.end()) {
      missing.push_back(space);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  std::vector<std::string> families;
  families.reserve(missing.size());
  for (const std::string& space : missing) families.push_back(kKvPrefix + space);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto s = db_->CreateColumnFamilies(cf_options_, families, &handles);
  // On error RocksDB returns the handles of the families it created before failing.
  for (size_t i = 0; i < handles.size(); ++i) spaces_[missing[i]] = handles[i];
  if (!s.ok()) {
    return FromRocks(s, absl::StrCat("create key spaces ", absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

absl::Status RocksKvStore::DropSpace(const std::string& space) {
  absl::MutexLock lock(&mu_);
  rocksdb::ColumnFamilyHandle* h = Find(space);
  if (h == nullptr) return MissingSpace(space);
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  auto s = db_->DropColumnFamily(h);
  if (!s.ok()) return FromRocks(s, absl::StrCat("drop key space ", space));
  db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  spaces_.erase(space);
  return absl::OkStatus();
}

absl::Status RocksKvStore::FlushAllAndCompact(
    const std::string& space, std::vector<rocksdb::ColumnFamilyHandle*> also_flush) {
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  absl::ReaderMutexLock lock(&mu_);
  rocksdb::ColumnFamilyHandle* target = Find(space);
  if (target == nullptr) return MissingSpace(space);
  for (const auto& [name, h] : spaces_) also_flush.push_back(h);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (auto s = db_->Flush(fo, also_flush); !s.ok()) return FromRocks(s, "flush");
  if (auto s = db_->FlushWAL(/*sync=*/true); !s.ok()) return FromRocks(s, "flush wal");
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  co.exclusive_manual_compaction = false;
  if (auto s = db_->CompactRange(co, target, nullptr, nullptr); !s.ok()) {
    return FromRocks(s, absl::StrCat("compact key space ", space));
  }
  return absl::OkStatus();
}

bool RocksKvStore::HasSpace(const std::string& space) const {
  absl::ReaderMutexLock lock(&mu_);
  return Find(space) != nullptr;
}

std::vector<std::string> RocksKvStore::ListSpaces() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, h] : spaces_) out.push_back(name);
  return out;
}

absl::StatusOr<std::optional<std::string>> RocksKvStore::Get(const std::string& space,
                                                             std::string_view key) const {
  absl::ReaderMutexLock lock(&mu_);
  rocksdb::ColumnFamilyHandle* h = Find(space);
  if (h == nullptr) return MissingSpace(space);
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), h, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "kv get");
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksKvStore::Write(const KvWriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return WriteWith(wo, batch);
}

absl::Status RocksKvStore::WriteUnlogged(const KvWriteBatch& batch) {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  unlogged_.store(true);
  return WriteWith(wo, batch);
}

absl::Status RocksKvStore::FlushUnlogged() { return unlogged_.load() ? Flush() : absl::OkStatus(); }

absl::Status RocksKvStore::Flush() {
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  absl::ReaderMutexLock lock(&mu_);
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (const auto& [name, h] : spaces_) all.push_back(h);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  unlogged_.store(false);  // before: a write racing with the flush sets it again
  return FromRocks(db_->Flush(fo, all), "flush key spaces");
}

absl::Status RocksKvStore::FlushThenWrite(const KvWriteBatch& batch) {
  absl::ReaderMutexLock barrier(&backup_barrier_);
  if (absl::Status s = Flush(); !s.ok()) return s;
  return Write(batch, /*sync=*/true);
}

absl::Status RocksKvStore::WriteWith(const rocksdb::WriteOptions& options,
                                     const KvWriteBatch& batch) {
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  absl::ReaderMutexLock lock(&mu_);
  // Room for the whole batch at once (its ApproximateBytes counts 16 bytes per entry, more than
  // RocksDB's tag and lengths). A large batch (a projection catching up) reuses the buffer of
  // its thread's previous large batch instead of faulting in fresh pages; the thread lets it go
  // at its next small batch.
  thread_local std::unique_ptr<rocksdb::WriteBatch> large;
  const size_t reserve = batch.ApproximateBytes() + 64;
  std::optional<rocksdb::WriteBatch> small;
  if (reserve >= kLargeBatchBytes) {
    if (large == nullptr) {
      large = std::make_unique<rocksdb::WriteBatch>(reserve);
    } else {
      large->Clear();
    }
  } else {
    large.reset();
    small.emplace(reserve);
  }
  rocksdb::WriteBatch& wb = small.has_value() ? *small : *large;
  std::string space;
  rocksdb::ColumnFamilyHandle* h = nullptr;
  for (size_t i = 0; i < batch.size(); ++i) {
    const KvWriteBatch::Entry e = batch.entry(i);
    if (h == nullptr || e.space != space) {
      space.assign(e.space.data(), e.space.size());
      h = Find(space);
      if (h == nullptr) return MissingSpace(space);
    }
    const rocksdb::Slice key(e.key.data(), e.key.size());
    const rocksdb::Slice value(e.value.data(), e.value.size());
    rocksdb::Status s;
    switch (e.op) {
      case KvWriteBatch::Op::kPut:
        s = wb.Put(h, key, value);
        break;
      case KvWriteBatch::Op::kDelete:
        s = wb.Delete(h, key);
        break;
      case KvWriteBatch::Op::kDeleteRange:
        s = wb.DeleteRange(h, key, value);
        break;
    }
    if (!s.ok()) return FromRocks(s, "kv batch");
  }
  return FromRocks(db_->Write(options, &wb), "kv write");
}

absl::Status RocksKvStore::ResetIngestFolder() {
  std::error_code ec;
  std::filesystem::remove_all(ingest_folder_, ec);
  if (!ec) std::filesystem::create_directories(ingest_folder_, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("prepare folder ", ingest_folder_, ": ", ec.message()));
  }
  return absl::OkStatus();
}

namespace {

// The spaces of `batch` in order, each with its entries' range [begin, end); INVALID_ARGUMENT
// when a space's entries are not contiguous or a range deletion is found. (The keys' order is
// checked as the files are written: reading every key here would cost one more pass over
// memory the files' writer reads anyway.)
struct SpaceRun {
  std::string_view space;
  size_t begin;
  size_t end;
};

absl::StatusOr<std::vector<SpaceRun>> SpaceRuns(const KvWriteBatch& batch) {
  std::vector<SpaceRun> runs;
  for (size_t i = 0; i < batch.size(); ++i) {
    const KvWriteBatch::Entry e = batch.entry(i);
    if (e.op == KvWriteBatch::Op::kDeleteRange) {
      return absl::InvalidArgumentError(absl::StrCat("write as files: key space '",
                                                     std::string(e.space),
                                                     "': a range deletion cannot be written so"));
    }
    if (!runs.empty() && runs.back().space == e.space) {
      runs.back().end = i + 1;
      continue;
    }
    for (const SpaceRun& run : runs) {
      if (run.space == e.space) {
        return absl::InvalidArgumentError(absl::StrCat("write as files: key space '",
                                                       std::string(e.space),
                                                       "': its entries must be contiguous"));
      }
    }
    runs.push_back(SpaceRun{e.space, i, i + 1});
  }
  return runs;
}

}  // namespace

// How many entries ahead WriteFiles fetches the bytes of.
constexpr size_t kPrefetchAhead = 6;

absl::Status RocksKvStore::WriteFiles(const KvWriteBatch& batch) {
  if (read_only_) return absl::FailedPreconditionError("the store is open read-only");
  absl::StatusOr<std::vector<SpaceRun>> runs = SpaceRuns(batch);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) return absl::OkStatus();
  // Files as a flush writes them: uncompressed (compactions compress deeper levels), with the
  // family's filters and block format. Their pages stay cached: the views read them next.
  rocksdb::Options options(db_->GetDBOptions(), cf_options_);
  options.compression = rocksdb::kNoCompression;
  options.compression_per_level.clear();
  options.bottommost_compression = rocksdb::kDisableCompressionOption;
  std::vector<std::string> written;
  auto remove_written = [&written] {
    std::error_code ignored;
    for (const std::string& path : written) std::filesystem::remove(path, ignored);
  };
  // One file per space. Its writer is opened under the lock (it reads its family's id and name),
  // filled and finished without it: a DropSpace waiting for the lock would otherwise hold up
  // every read of the store while the files are written.
  struct File {
    std::string space;
    rocksdb::ColumnFamilyHandle* family;
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    const SpaceRun* run;
  };
  std::vector<File> files;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const SpaceRun& run : *runs) {
      File f{std::string(run.space), Find(std::string(run.space)), nullptr, &run};
      if (f.family == nullptr) {
        remove_written();
        return MissingSpace(f.space);
      }
      f.writer =
          std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(options), options, f.family,
                                                   /*invalidate_page_cache=*/false);
      const std::string path = absl::StrCat(ingest_folder_, "/", next_ingest_file_++, ".sst");
      if (rocksdb::Status s = f.writer->Open(path); !s.ok()) {
        remove_written();
        return FromRocks(s, absl::StrCat("write a file of key space ", f.space));
      }
      written.push_back(path);
      files.push_back(std::move(f));
    }
  }
  for (File& f : files) {
    rocksdb::Status s;
    for (size_t i = f.run->begin; s.ok() && i < f.run->end; ++i) {
      // The entries' bytes lie in key order, not in memory order: fetch a few ahead.
      if (i + kPrefetchAhead < f.run->end) {
        const KvWriteBatch::Entry ahead = batch.entry(i + kPrefetchAhead);
        __builtin_prefetch(ahead.key.data());
        __builtin_prefetch(ahead.value.data());
      }
      const KvWriteBatch::Entry e = batch.entry(i);
      const rocksdb::Slice key(e.key.data(), e.key.size());
      s = e.op == KvWriteBatch::Op::kPut
              ? f.writer->Put(key, rocksdb::Slice(e.value.data(), e.value.size()))
              : f.writer->Delete(key);
      if (s.IsInvalidArgument()) {  // the only rule the writer checks: the keys' order
        remove_written();
        return absl::InvalidArgumentError(
            absl::StrCat("write as files: key space '", f.space,
                         "': keys must be in strictly increasing order"));
      }
    }
    if (s.ok()) s = f.writer->Finish();
    if (!s.ok()) {
      remove_written();
      return FromRocks(s, absl::StrCat("write a file of key space ", f.space));
    }
  }
  // Derived data must never be on disk ahead of the log it comes from: the write-ahead log's last
  // writes (appends made without a sync) are synced before the files become part of the store.
  if (rocksdb::Status s = db_->FlushWAL(/*sync=*/true); !s.ok()) {
    remove_written();
    return FromRocks(s, "sync the write-ahead log");
  }
  absl::ReaderMutexLock lock(&mu_);
  std::vector<rocksdb::IngestExternalFileArg> args;
  for (size_t i = 0; i < files.size(); ++i) {
    if (Find(files[i].space) != files[i].family) {  // dropped while its file was written
      remove_written();
      return MissingSpace(files[i].space);
    }
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = files[i].family;
    arg.external_files.push_back(written[i]);
    arg.options.move_files = true;            // linked into the store, not copied
    arg.options.allow_blocking_flush = true;  // a key also in a write buffer: flushed first
    arg.options.write_global_seqno = false;   // the sequence number lives in the manifest
    args.push_back(std::move(arg));
  }
  // One manifest change for every family: all the files are added, or none.
  rocksdb::Status s = db_->IngestExternalFiles(args);
  if (!s.ok()) {
    remove_written();
    return FromRocks(s, "add written files to the store");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvIterator>> RocksKvStore::NewIterator(
    const std::string& space) const {
  return NewIteratorAt(space, nullptr);
}

absl::StatusOr<std::unique_ptr<KvIterator>> RocksKvStore::NewIteratorAt(
    const std::string& space, std::shared_ptr<const rocksdb::Snapshot> snapshot) const {
  absl::ReaderMutexLock lock(&mu_);
  rocksdb::ColumnFamilyHandle* h = Find(space);
  if (h == nullptr) return MissingSpace(space);
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.get();
  return std::unique_ptr<KvIterator>(
      std::make_unique<RocksKvIterator>(db_->NewIterator(options, h), std::move(snapshot)));
}

absl::StatusOr<std::unique_ptr<KvSnapshot>> RocksKvStore::Snapshot() const {
  rocksdb::DB* const db = db_;
  std::shared_ptr<const rocksdb::Snapshot> snapshot(db->GetSnapshot(),
                                                    [db](const rocksdb::Snapshot* s) {
                                                      if (s != nullptr) db->ReleaseSnapshot(s);
                                                    });
  if (snapshot == nullptr) return absl::InternalError("kv snapshot: not available");
  return std::unique_ptr<KvSnapshot>(std::make_unique<RocksKvSnapshot>(this, std::move(snapshot)));
}

}  // namespace internal
}  // namespace rb::es
