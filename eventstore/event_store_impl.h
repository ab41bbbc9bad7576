// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: the RocksDB implementation of EventStore. Not a public header.
#ifndef RB_EVENTSTORE_EVENT_STORE_IMPL_H_
#define RB_EVENTSTORE_EVENT_STORE_IMPL_H_

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "eventstore/encoding.h"
#include "eventstore/event_store.h"
#include "eventstore/rocks_kv_store.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"

namespace rb::es::internal {

class EventStoreImpl : public EventStore {
 public:
  EventStoreImpl(const Options& options, std::string path);
  ~EventStoreImpl() override;

  absl::Status Init();

  absl::StatusOr<AppendResult> Append(const AppendRequest& req) override;
  void AppendAsync(AppendRequest req, AppendCallback done) override;
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id, uint64_t from,
                                                        Direction direction,
                                                        size_t limit) const override;
  absl::StatusOr<ReadAllResult> ReadAll(uint64_t from, size_t limit, const LogFilter& filter,
                                        size_t max_examined) const override;
  absl::StatusOr<ReadAllResult> ScanAll(
      uint64_t from, const LogFilter& filter, size_t max_examined,
      absl::FunctionRef<bool(const RecordedEvent&)> fn) const override;
  absl::StatusOr<size_t> ReadInto(uint64_t from, std::span<RecordedEvent> out) const override;
  absl::StatusOr<ReadAllResult> ReadAllBackward(uint64_t from, size_t limit,
                                                const LogFilter& filter) const override;
  absl::StatusOr<RecordedEvent> ReadEvent(uint64_t position) const override;
  absl::StatusOr<StreamInfo> GetStreamInfo(const std::string& stream_id) const override;
  absl::StatusOr<std::optional<CommandRecord>> GetCommand(
      const std::string& command_id) const override;
  Head GetHead() const override;
  absl::StatusOr<uint64_t> PositionAtOrBefore(int64_t recorded_at_us) const override;
  uint64_t WaitForPosition(uint64_t position, absl::Time deadline) const override;
  uint64_t AddHeadListener(std::function<void(uint64_t)> fn) override;
  void RemoveHeadListener(uint64_t id) override;
  std::unique_ptr<Subscription> Subscribe(uint64_t from, LogFilter filter) const override;
  absl::StatusOr<VerifyReport> Verify() const override;
  KvStore& kv() override { return *kv_; }
  absl::Status Checkpoint(const std::string& dir) override;
  absl::Status PurgeDeleted(const std::string& space) override;
  absl::Status CompactLog() override;
  void Close() override;

  // Wakes every thread blocked in WaitForPosition (used by Subscription::Cancel).
  void WakeWaiters() const;
  absl::Mutex& head_mu() const { return head_mu_; }
  absl::CondVar& head_cv() const { return head_cv_; }
  const Head& GetHeadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(head_mu_) { return head_; }

 private:
  // ScanAll's loop, for `bool fn(RecordedEvent&)`, which may move from the event it is given (the
  // next one is then decoded afresh). Defined and used in event_store.cc only.
  template <typename Fn>
  absl::StatusOr<ReadAllResult> ScanWith(uint64_t from, const LogFilter& filter,
                                         size_t max_examined, Fn&& fn) const;
  struct StreamHead {
    bool exists = false;
    uint64_t last_revision = 0;
    std::array<char, kHashBytes> last_hash{};  // zeros before the first event: the chain's start
    std::string_view hash() const { return std::string_view(last_hash.data(), last_hash.size()); }
  };
  // One stream index entry: revision `revision` of `stream_id` is the event at `position`.
  struct IndexEntry {
    std::string stream_id;
    uint64_t revision = 0;
    uint64_t position = 0;
  };
  // (revision, position) pairs of one stream, ascending; rarely more than a few.
  using RevisionPositions = absl::InlinedVector<std::pair<uint64_t, uint64_t>, 4>;
  // One queued append. A blocking writer (Append) lives on its caller's stack and waits on `cv`;
  // an asynchronous one (AppendAsync) owns its request and is deleted after `callback` ran.
  struct Writer {
    const AppendRequest* req = nullptr;
    std::optional<AppendRequest> owned;  // asynchronous writers only (one allocation with it)
    AppendCallback callback;             // asynchronous writers only
    std::string fingerprint;  // the store's fingerprint of the request (with a command id)
    absl::StatusOr<AppendResult> result;
    bool done = false;
    absl::CondVar cv;
    bool async() const { return owned.has_value(); }
  };

  // Writes (synced) the current format version and the stream index position with it.
  absl::Status WriteFormatVersion(uint64_t indexed_through);
  absl::Status ValidateRequest(const AppendRequest& req) const;
  // Leads one group: commits the writers at the front of the queue (at most max_batch_appends),
  // marks them done and wakes the next leader. Returns the asynchronous writers of the group,
  // whose callbacks the caller runs once mu_ is released. Requires !leading_.
  std::vector<Writer*> LeadOneGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // LeadOneGroup, then the group's asynchronous completions with mu_ released. Requires
  // !leading_; mu_ is held again on return.
  void LeadGroupAndComplete() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes whoever should lead next, when writers wait and nobody leads: the front writer when it
  // is blocking, the committer thread otherwise.
  void WakeNextLeader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void RunCallbacks(std::vector<Writer*>& done);
  // The committer thread: leads groups of asynchronous writers.
  void CommitterLoop();
  // Leader only: decides and encodes every writer of the group into `batch`.
  // Updates stream_cache_ as it goes (the caller clears it when the batch is not written).
  void BuildGroup(const std::vector<Writer*>& group, rocksdb::WriteBatch* batch,
                  std::vector<IndexEntry>* index_entries, uint64_t* new_position,
                  std::string* new_hash, int64_t* new_recorded_at);
  absl::StatusOr<StreamHead> LoadStreamHead(const std::string& stream_id) const;

  // The stream index is written behind the log (docs/storage-format.md, "Stream index"): the
  // committer hands the entries of each durable batch to the indexer thread and keeps them in
  // pending_ until the indexer has written them. Readers take the pending entries of a stream
  // first, then read the streams family: an entry leaves pending_ only after it is written there.
  //
  // Reads the events after `indexed_through` into pending_ (and the indexer's queue when
  // writable): the entries a previous run had not indexed yet when it stopped.
  absl::Status LoadUnindexedTail(uint64_t indexed_through);
  // Durable entries of a batch, in log order: pending for readers, queued for the indexer.
  void AddPending(std::vector<IndexEntry> entries);
  // The pending entries of `stream_id` (ascending revisions; a suffix of the stream).
  RevisionPositions PendingOf(const std::string& stream_id) const;
  // The position of `revision` of `stream_id`, or nullopt when the index has no such entry.
  absl::StatusOr<std::optional<uint64_t>> IndexedPosition(const std::string& stream_id,
                                                          uint64_t revision) const;
  using IndexBatches = std::deque<std::vector<IndexEntry>>;
  // Adds the index entries of `claimed` and the index position after them to `batch`.
  void PutIndexEntries(const IndexBatches& claimed, rocksdb::WriteBatch* batch) const;
  // After the batch holding `claimed` was written (or not): the entries leave pending_, or go
  // back to the front of the queue; either way the claim is released.
  void ReleaseClaim(IndexBatches claimed, bool written) ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  void IndexerLoop();
  absl::StatusOr<std::optional<CommandRecord>> LoadCommand(const std::string& command_id) const;
  absl::StatusOr<RecordedEvent> ReadAt(uint64_t position) const;
  // The events at `positions` (each in the log), in that order: one batched lookup (MultiGet),
  // which reads each block once for the events it holds where a lookup per event would search
  // every level for each (a stream's events often lie together: appended by one command).
  absl::StatusOr<std::vector<RecordedEvent>> ReadAtEach(
      const std::vector<uint64_t>& positions) const;
  void NotifyHead(uint64_t position);

  const Options options_;
  const std::string path_;
  Clock* const clock_;

  // The file system of a writable store (write-ahead log prefill); outlives db_.
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;  // default
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* commands_cf_ = nullptr;
  std::unique_ptr<RocksKvStore> kv_;

  // Group commit queue (LevelDB-style: the front writer leads a group).
  absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // A group is being committed (by a blocking writer or the committer thread).
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  // The committer thread, started by the first AppendAsync, sleeps on committer_cv_.
  absl::CondVar committer_cv_;
  bool committer_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread committer_;

  // Leader-only state (one leader at a time; read by others under head_mu_ copies).
  absl::flat_hash_map<std::string, StreamHead> stream_cache_;
  uint64_t last_position_ = 0;
  std::string last_hash_;
  int64_t last_recorded_at_ = 0;
  absl::BitGen bitgen_;

  // The last revision of the streams written since open (at most kKnownHeadsMax of them; cleared
  // when full or when a write's outcome is unknown). A forward ReadStream past a stream's known
  // head finds nothing without a lookup in the streams family. Updated by the leader after each
  // durable batch, before its writers are told: a read after an acknowledged append sees it.
  static constexpr size_t kKnownHeadsMax = 1'000'000;
  mutable absl::Mutex known_mu_;
  absl::flat_hash_map<std::string, uint64_t> known_heads_ ABSL_GUARDED_BY(known_mu_);

  // Published head, for readers and waiters.
  mutable absl::Mutex head_mu_;
  mutable absl::CondVar head_cv_;
  Head head_ ABSL_GUARDED_BY(head_mu_);

  // Stream index written behind the log.
  mutable absl::Mutex index_mu_;
  absl::CondVar index_cv_;
  // Entries wait here until claimed, in log order. Whoever claims takes the whole queue and
  // writes it with the index position in one batch; one claim at a time, so the recorded position
  // only covers written entries. A few entries ride in the next append's batch (the committer
  // claims them: no write of their own); more, or entries older than kIndexDelay, are written by
  // the indexer thread, off the appends' path.
  IndexBatches index_queue_ ABSL_GUARDED_BY(index_mu_);
  size_t index_queued_entries_ ABSL_GUARDED_BY(index_mu_) = 0;
  absl::Time index_first_queued_at_ ABSL_GUARDED_BY(index_mu_);
  bool index_claimed_ ABSL_GUARDED_BY(index_mu_) = false;
  absl::flat_hash_map<std::string, RevisionPositions> pending_ ABSL_GUARDED_BY(index_mu_);
  bool indexer_stop_ ABSL_GUARDED_BY(index_mu_) = false;
  // The first failed index write; the indexer stops and its entries stay pending.
  absl::Status index_status_ ABSL_GUARDED_BY(index_mu_);
  std::thread indexer_;

  absl::Mutex listeners_mu_;
  std::map<uint64_t, std::function<void(uint64_t)>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_EVENT_STORE_IMPL_H_
