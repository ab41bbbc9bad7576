// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: KvStore over the event store's RocksDB instance. Key space "X" is the column family
// "kv/X" (docs/storage-format.md).
#ifndef RB_EVENTSTORE_ROCKS_KV_STORE_H_
#define RB_EVENTSTORE_ROCKS_KV_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "eventstore/kv_store.h"
#include "rocksdb/db.h"

namespace rb::es::internal {

inline constexpr char kKvPrefix[] = "kv/";

class RocksKvStore : public KvStore {
 public:
  // `db` is not owned. `handles` are the already-open "kv/..." column families (owned after).
  RocksKvStore(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
               rocksdb::ColumnFamilyOptions cf_options, bool read_only);
  ~RocksKvStore() override;

  absl::Status CreateSpace(const std::string& space) override;
  absl::Status CreateSpaces(const std::vector<std::string>& spaces) override;
  absl::Status DropSpace(const std::string& space) override;
  bool HasSpace(const std::string& space) const override;
  std::vector<std::string> ListSpaces() const override;
  absl::StatusOr<std::optional<std::string>> Get(const std::string& space,
                                                 std::string_view key) const override;
  absl::Status Write(const KvWriteBatch& batch, bool sync) override;
  absl::Status WriteUnlogged(const KvWriteBatch& batch) override;
  absl::Status Flush() override;
  absl::Status FlushThenWrite(const KvWriteBatch& batch) override;
  absl::Status WriteFiles(const KvWriteBatch& batch) override;

  // The folder of the table files WriteFiles writes before adding them to the store
  // (`<data directory>/ingest`). Made empty at open (what a crash left there was never added),
  // before any WriteFiles.
  absl::Status ResetIngestFolder();

  // Flush, when an unlogged write was made since the last flush (at close: keeps them).
  absl::Status FlushUnlogged();

  // Held exclusively while a backup is taken, shared by FlushThenWrite: a backup never sees a
  // FlushThenWrite's logged write without its flush.
  absl::Mutex& backup_barrier() { return backup_barrier_; }
  absl::StatusOr<std::unique_ptr<KvIterator>> NewIterator(const std::string& space) const override;
  absl::StatusOr<std::unique_ptr<KvSnapshot>> Snapshot() const override;
  // An iterator over `space` reading `snapshot` (the latest state when null), which it keeps
  // alive.
  absl::StatusOr<std::unique_ptr<KvIterator>> NewIteratorAt(
      const std::string& space, std::shared_ptr<const rocksdb::Snapshot> snapshot) const;

  // Flushes every key space (and `also_flush`), then compacts `space` to its last level so that
  // deleted values leave the files (EventStore::PurgeDeleted).
  absl::Status FlushAllAndCompact(const std::string& space,
                                  std::vector<rocksdb::ColumnFamilyHandle*> also_flush);

  // Releases the column family handles; called before the DB closes.
  void CloseHandles();

 private:
  rocksdb::ColumnFamilyHandle* Find(const std::string& space) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status WriteWith(const rocksdb::WriteOptions& options, const KvWriteBatch& batch);

  rocksdb::DB* const db_;
  const rocksdb::ColumnFamilyOptions cf_options_;
  const bool read_only_;
  mutable absl::Mutex mu_;
  absl::Mutex backup_barrier_;
  std::atomic<bool> unlogged_{false};  // an unlogged write since the last Flush
  std::map<std::string, rocksdb::ColumnFamilyHandle*> spaces_ ABSL_GUARDED_BY(mu_);
  const std::string ingest_folder_;
  std::atomic<uint64_t> next_ingest_file_{1};  // names the files WriteFiles writes
};

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_ROCKS_KV_STORE_H_
