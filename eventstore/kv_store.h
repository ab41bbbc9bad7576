// Copyright: the Résorption-bidonvilles data service authors.
//
// KvStore: named key spaces (RocksDB column families) in the event store's data directory, for
// derived data such as projection views. A WriteBatch spans several key spaces and is applied
// atomically, so a projection commits its view writes and its checkpoint together.
//
//   rb::es::KvStore& kv = store->kv();
//   RB_RETURN_IF_ERROR(kv.CreateSpace("view.sites.v1"));
//   rb::es::KvWriteBatch batch;
//   batch.Put("view.sites.v1", "site/42", bytes);
//   batch.Put("projection.checkpoints", "sites", "1234");
//   RB_RETURN_IF_ERROR(kv.Write(batch));
//
// Thread safety: all methods are thread-safe. Dropping a space while another thread uses it is
// the caller's responsibility to avoid.
#ifndef RB_EVENTSTORE_KV_STORE_H_
#define RB_EVENTSTORE_KV_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rb::es {

// A batch of writes over several key spaces, applied atomically by KvStore::Write. The keys and
// values are copied into one buffer (no allocation per entry in steady state); Clear keeps the
// capacity, so a batch reused for successive commits stops allocating.
class KvWriteBatch {
 public:
  enum class Op { kPut, kDelete, kDeleteRange };
  // A view of one entry; valid until the batch is next modified.
  struct Entry {
    Op op;
    std::string_view space;
    std::string_view key;
    std::string_view value;  // for kDeleteRange: the exclusive end key
  };
  void Put(std::string_view space, std::string_view key, std::string_view value);
  void Delete(std::string_view space, std::string_view key);
  void DeleteRange(std::string_view space, std::string_view begin, std::string_view end);
  // As Put and Delete, without copying the key and the value: they must stay valid and unchanged
  // until the batch is cleared, destroyed or written for the last time.
  void PutUnowned(std::string_view space, std::string_view key, std::string_view value);
  void DeleteUnowned(std::string_view space, std::string_view key);
  // Reserves room for `entries` more entries holding `bytes` more key and value bytes.
  void Reserve(size_t entries, size_t bytes);

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  Entry entry(size_t i) const;
  // Every entry, in the order added.
  std::vector<Entry> entries() const;
  // Calls fn(const Entry&) for each entry, in the order added.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (size_t i = 0; i < records_.size(); ++i) fn(entry(i));
  }
  size_t ApproximateBytes() const { return bytes_; }
  void Clear() {
    records_.clear();
    data_.clear();
    bytes_ = 0;
  }

 private:
  struct Record {
    Op op;
    bool unowned;    // key and value are the caller's: `key` and `value` hold their addresses
    uint32_t space;  // index in spaces_
    uint32_t key_size;
    uint32_t value_size;
    uintptr_t key;  // offset in data_ (or address)
    uintptr_t value;
  };
  uint32_t SpaceIndex(std::string_view space);
  void Add(Op op, std::string_view space, std::string_view key, std::string_view value);

  std::vector<std::string> spaces_;  // the distinct space names seen, in first-use order
  std::vector<Record> records_;
  std::string data_;
  size_t bytes_ = 0;
};

// Forward iterator over one key space, over a consistent snapshot.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void Seek(std::string_view key) = 0;
  virtual void SeekForPrev(std::string_view key) = 0;  // last key <= key
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual absl::Status status() const = 0;
};

// A consistent read view of every key space at one instant: the iterators it makes all read that
// instant, whatever is written meanwhile (a merge of several ranges, or a read of one space then
// of another, sees each key as of one instant). Its iterators keep the instant alive after it is
// destroyed. Neither may outlive the store.
class KvSnapshot {
 public:
  virtual ~KvSnapshot() = default;
  // NOT_FOUND when the space is absent.
  virtual absl::StatusOr<std::unique_ptr<KvIterator>> NewIterator(
      const std::string& space) const = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Creates the key space if absent. Names are free-form printable ASCII.
  virtual absl::Status CreateSpace(const std::string& space) = 0;
  // Creates those of `spaces` that are absent, at once (one change of the store's catalogue for
  // all of them, where CreateSpace makes one per space). INVALID_ARGUMENT for an empty name
  // (nothing is created then).
  virtual absl::Status CreateSpaces(const std::vector<std::string>& spaces) = 0;
  // Drops the key space and its data. NOT_FOUND when absent.
  virtual absl::Status DropSpace(const std::string& space) = 0;
  virtual bool HasSpace(const std::string& space) const = 0;
  virtual std::vector<std::string> ListSpaces() const = 0;
  // nullopt when the key is absent. NOT_FOUND when the space is absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& space,
                                                         std::string_view key) const = 0;
  // Applies the batch atomically; `sync` makes it durable before returning.
  virtual absl::Status Write(const KvWriteBatch& batch, bool sync = false) = 0;
  // Applies the batch atomically without writing it to the write-ahead log: cheaper, and lost in
  // a crash unless a flush persisted it first. Every flush covers all key spaces at once (atomic
  // flush), so a crash keeps the unlogged writes up to some instant, never a later one without
  // an earlier one. Meant for derived data that carries its own progress marker in the same
  // batch (projection views and their checkpoint): after a crash it is behind, never
  // inconsistent. Before a logged write that must not survive without the unlogged writes before
  // it, call Flush.
  virtual absl::Status WriteUnlogged(const KvWriteBatch& batch) = 0;
  // Persists every write made so far, unlogged ones included (one atomic flush of every key
  // space), before returning.
  virtual absl::Status Flush() = 0;
  // Flush, then Write(batch, sync = true), with no backup (EventStore::Checkpoint) taken in
  // between: a logged write that must never be found, on disk or in a backup, without the
  // unlogged writes before it (a projection rebuild's switch).
  virtual absl::Status FlushThenWrite(const KvWriteBatch& batch) = 0;
  // Applies the batch atomically as new table files of its spaces, bypassing the write buffers
  // and the write-ahead log: durable on return, and cheaper than Write for a large batch of
  // sorted keys (a projection catching up writes each batch so). A later write of a key wins
  // over this one, this one over earlier writes, as with Write. Requirements, checked before
  // anything is added to the store (INVALID_ARGUMENT naming the space and the rule otherwise): the
  // entries of a space are contiguous in the batch, in strictly increasing key order, and there is
  // no DeleteRange. The write-ahead log is synced first (the files never outlive writes logged
  // before them). Earlier unlogged writes are persisted first only when they hold keys of the
  // batch (RocksDB then flushes the write buffers): a caller whose unlogged writes must not be
  // lost while these files survive calls Flush first.
  virtual absl::Status WriteFiles(const KvWriteBatch& batch) = 0;
  virtual absl::StatusOr<std::unique_ptr<KvIterator>> NewIterator(
      const std::string& space) const = 0;
  // A snapshot of every key space, now.
  virtual absl::StatusOr<std::unique_ptr<KvSnapshot>> Snapshot() const = 0;
};

}  // namespace rb::es

#endif  // RB_EVENTSTORE_KV_STORE_H_
