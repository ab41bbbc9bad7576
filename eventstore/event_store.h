// Copyright: the Résorption-bidonvilles data service authors.
//
// EventStore: a durable, ordered, tamper-evident log of events grouped in streams, stored in one
// RocksDB data directory. Domain-agnostic.
//
//   rb::es::Options options;
//   auto store = rb::es::EventStore::Open(options, "/var/lib/resorption");
//   if (!store.ok()) return store.status();
//   rb::es::AppendRequest req;
//   req.stream_id = "site-42";
//   req.expected = rb::es::ExpectedRevision::NoStream();
//   req.command_id = "cmd-7f3a";
//   req.events.push_back({.type = "site.declared", .payload = bytes});
//   absl::StatusOr<rb::es::AppendResult> r = (*store)->Append(req);
//   // r->last_position can be handed to a reader as "see at least this position".
//
// Thread safety: every method may be called concurrently from any thread. Appends from many
// threads are grouped into one RocksDB WriteBatch with one sync (group commit); a call returns
// only once the batch holding its events is durable (when Options::sync is true).
#ifndef RB_EVENTSTORE_EVENT_STORE_H_
#define RB_EVENTSTORE_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventstore/clock.h"
#include "eventstore/event.h"
#include "eventstore/kv_store.h"

namespace rb::es {

struct Options {
  // Sync the write-ahead log before acknowledging an append (fdatasync). Turning it off trades
  // durability on power loss (not on process crash) for throughput.
  bool sync = true;
  // Keep zero-filled space ahead of the write-ahead log's end, so that a sync flushes data only
  // and never writes a new file size (see docs/storage-format.md, "Write-ahead log"). Off:
  // RocksDB's plain appends (logs are still read up to their records' end only).
  bool prefill_wal = true;
  // Largest accepted payload + metadata of one event, in bytes.
  size_t max_event_bytes = 1 << 20;
  // Largest number of events in one append.
  size_t max_events_per_append = 1000;
  // Largest number of appends merged into one WriteBatch.
  size_t max_batch_appends = 512;
  // Time source for recorded_at; nullptr means the system clock. Not owned; must outlive the store.
  Clock* clock = nullptr;
  // Open the data directory read-only (auditors; works while a server has it open).
  bool read_only = false;
  // RocksDB block cache size in bytes.
  size_t block_cache_bytes = 256 << 20;
  // Fault injection for tests: the stream indexer writes nothing, and Close leaves the entries it
  // did not write, as a crash would. Reads stay exact (they are served from memory).
  bool pause_stream_indexer_for_testing = false;
};

// What the writer expects of the stream before its append.
class ExpectedRevision {
 public:
  enum class Kind { kAny, kNoStream, kStreamExists, kExact };
  static ExpectedRevision Any() { return ExpectedRevision(Kind::kAny, 0); }
  static ExpectedRevision NoStream() { return ExpectedRevision(Kind::kNoStream, 0); }
  static ExpectedRevision StreamExists() { return ExpectedRevision(Kind::kStreamExists, 0); }
  static ExpectedRevision Exactly(uint64_t revision) {
    return ExpectedRevision(Kind::kExact, revision);
  }
  Kind kind() const { return kind_; }
  uint64_t revision() const { return revision_; }
  std::string ToString() const;

 private:
  ExpectedRevision(Kind k, uint64_t r) : kind_(k), revision_(r) {}
  Kind kind_;
  uint64_t revision_;
};

struct AppendRequest {
  std::string stream_id;  // non-empty, at most 256 bytes, printable ASCII without spaces
  ExpectedRevision expected = ExpectedRevision::Any();
  // Idempotency key: a retry with the same id and the same request returns the first result and
  // appends nothing, also after a restart; the id reused with a different request is refused
  // (CommandIdReusedError). Empty: no idempotency.
  std::string command_id;
  // What makes two appends under one command id the same request, when the writer knows it
  // better than the appended bytes do (a domain command decided again on a retry yields events
  // with other dates and ids): 32 bytes, e.g. a SHA-256 of the writer's command, stored with the
  // command id in the same batch as the events. Empty: the store's own fingerprint of the request
  // (stream id, expected revision, metadata, events) decides. Requires a command_id.
  std::string command_fingerprint;
  EventMetadata metadata;  // copied onto every event (metadata.command_id is set from command_id)
  std::vector<EventData> events;  // at least one
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t stream_revision = 0;  // revision of the last event appended
  bool replayed = false;         // true when this is the stored result of an earlier identical try
};

// The idempotency record of a command id: what its first append was and what it answered
// (docs/storage-format.md, "Idempotency records").
struct CommandRecord {
  enum class FingerprintKind {
    kAppend,   // the store's fingerprint of the append request (AppendRequest::command_fingerprint
               // was empty; also every record written before writers could give their own)
    kCommand,  // AppendRequest::command_fingerprint, given by the writer
  };
  FingerprintKind kind = FingerprintKind::kAppend;
  std::string fingerprint;  // 32 bytes
  AppendResult result;      // the first result (replayed = false)
};

struct StreamInfo {
  bool exists = false;
  uint64_t last_revision = 0;  // meaningful when exists
  std::string last_hash;       // stream chain hash of the last event
};

struct Head {
  uint64_t position = 0;  // last position; 0 for an empty log
  std::string log_hash;   // log chain hash at that position (32 zero bytes for an empty log)
  int64_t recorded_at_us = 0;
};

enum class Direction { kForward, kBackward };

// Filter of a whole-log read. An event passes when its type starts with one of type_prefixes
// (or the list is empty) and its stream category is in categories (or the list is empty).
struct LogFilter {
  std::vector<std::string> type_prefixes;
  std::vector<std::string> categories;
  bool Matches(const RecordedEvent& e) const;
  bool empty() const { return type_prefixes.empty() && categories.empty(); }
};

struct ReadAllResult {
  std::vector<RecordedEvent> events;
  // Position of the last event examined (matching or not): resume from next_position.
  uint64_t last_examined = 0;
  uint64_t next_position = 0;
  bool end_of_log = false;
};

struct VerifyReport {
  uint64_t events_checked = 0;
  uint64_t streams_checked = 0;
  std::string head_hash;
};

class Subscription;

class EventStore {
 public:
  // Opens (creating when absent, unless read-only) the data directory at `path`.
  // Errors: FAILED_PRECONDITION for a storage format this build does not know (the message names
  // both versions); UNAVAILABLE when the directory is locked or unwritable; DATA_LOSS when RocksDB
  // reports corruption; INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(const Options& options,
                                                          const std::string& path);
  virtual ~EventStore() = default;

  // Appends req.events atomically at the end of req.stream_id. Blocks until durable.
  // Errors: INVALID_ARGUMENT for malformed input (nothing is written); ABORTED when the expected
  // revision does not hold (the message carries the current revision, see CurrentRevisionFrom);
  // ALREADY_EXISTS when command_id was used before for a different request (CommandIdReusedError:
  // with a command_fingerprint, a different one, or none while the first append had one; without,
  // different content); UNAVAILABLE when the store is closing or the disk write failed (the append
  // may be retried with the same command id). The command id check comes before the expected
  // revision's: a retry of an appended request is answered with its first result whatever the
  // stream's revision now.
  virtual absl::StatusOr<AppendResult> Append(const AppendRequest& req) = 0;

  // Called once with the outcome of an AppendAsync.
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;

  // As Append, without blocking the caller: `done` runs once the batch holding the events is
  // durable (or with the error, same errors as Append). INVALID_ARGUMENT and UNAVAILABLE for a
  // closing store may run `done` on the caller's thread before AppendAsync returns; otherwise it
  // runs on the thread that committed the batch, in log order within a batch. `done` must be
  // short and must not block (it may call AppendAsync again). Callers that keep many appends in
  // flight get them grouped into one WriteBatch and one sync without a thread each.
  // The default implementation calls Append and then `done` on the caller's thread.
  virtual void AppendAsync(AppendRequest req, AppendCallback done) { std::move(done)(Append(req)); }

  // Reads up to `limit` events of a stream starting at revision `from` (inclusive) in `direction`.
  // Backward from UINT64_MAX starts at the last event. An absent stream yields an empty vector.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id,
                                                                uint64_t from, Direction direction,
                                                                size_t limit) const = 0;

  // Reads forward from position `from` (inclusive), examining at most `max_examined` events and
  // returning at most `limit` matching ones.
  virtual absl::StatusOr<ReadAllResult> ReadAll(uint64_t from, size_t limit,
                                                const LogFilter& filter,
                                                size_t max_examined = SIZE_MAX) const = 0;

  // Visits, in order, the events at positions >= `from` that pass `filter`, examining at most
  // `max_examined` events; stops early when `fn` returns false. The RecordedEvent passed to `fn`
  // is reused between calls (no allocation per event in steady state): copy what you keep.
  // The fastest way to read the log (projections, exports). `events` in the result is empty.
  virtual absl::StatusOr<ReadAllResult> ScanAll(
      uint64_t from, const LogFilter& filter, size_t max_examined,
      absl::FunctionRef<bool(const RecordedEvent&)> fn) const = 0;

  // Reads the events at positions `from` (0: 1), `from` + 1, ... into `out`, at most out.size()
  // of them, fewer at the end of the log; returns how many. Each element is overwritten whole
  // (its `decoded` reset) where it is: the strings of a buffer read into again keep their
  // capacity, and an event is decoded once into its place instead of decoded then copied. For
  // readers that keep batches of events (the projections' shared catch-up reads); the blocks it
  // reads do not enter the block cache (a bulk read of old events). Storage errors
  // (DATA_LOSS for an undecodable record) leave `out` partly overwritten.
  virtual absl::StatusOr<size_t> ReadInto(uint64_t from, std::span<RecordedEvent> out) const = 0;

  // Reads backward from position `from` (inclusive; UINT64_MAX = head), at most `limit` matching.
  virtual absl::StatusOr<ReadAllResult> ReadAllBackward(uint64_t from, size_t limit,
                                                        const LogFilter& filter) const = 0;

  // The event at `position` (a point read: the views that index events by position read them back
  // with it). Like ScanAll, it sees an event as soon as it is written, possibly just before the
  // head moves over it. NOT_FOUND when no event is stored at `position` (0, beyond the log).
  virtual absl::StatusOr<RecordedEvent> ReadEvent(uint64_t position) const = 0;

  virtual absl::StatusOr<StreamInfo> GetStreamInfo(const std::string& stream_id) const = 0;

  // The idempotency record of `command_id`, nullopt when no durable append used it. A writer that
  // finds the id among its stream's events (metadata.command_id) reads it to tell a retry of the
  // same request (replay) from a reuse of the id (CommandIdReusedError) before deciding anything.
  virtual absl::StatusOr<std::optional<CommandRecord>> GetCommand(
      const std::string& command_id) const = 0;

  virtual Head GetHead() const = 0;

  // The last position whose recorded_at is <= t (0 when none): the log "as it was known at t".
  virtual absl::StatusOr<uint64_t> PositionAtOrBefore(int64_t recorded_at_us) const = 0;

  // Blocks until the head reaches `position` or `deadline` passes; returns the head position.
  virtual uint64_t WaitForPosition(uint64_t position, absl::Time deadline) const = 0;

  // Registers `fn` to be called (on the writer thread, after each durable batch) with the new head
  // position. Keep it short and non-blocking. Returns an id for RemoveHeadListener.
  virtual uint64_t AddHeadListener(std::function<void(uint64_t)> fn) = 0;
  virtual void RemoveHeadListener(uint64_t id) = 0;

  // Starts a subscription delivering every event at position >= `from` that passes `filter`:
  // first the stored ones (catch-up), then live appends, with no gap and no duplicate. Memory is
  // bounded by the batch size whatever the consumer's speed.
  virtual std::unique_ptr<Subscription> Subscribe(uint64_t from, LogFilter filter) const = 0;

  // Walks the whole log, recomputing every hash and both chains and checking the stream index.
  // Errors: DATA_LOSS naming the first position whose stored bytes do not match.
  virtual absl::StatusOr<VerifyReport> Verify() const = 0;

  // The generic key-value store in the same data directory (projections' views).
  virtual KvStore& kv() = 0;

  // Writes a consistent copy of the whole data directory to `dir` (must not exist), while
  // appends go on. Uses hard links where possible.
  virtual absl::Status Checkpoint(const std::string& dir) = 0;

  // Makes the values deleted from key space `space` unrecoverable from the data directory's
  // files: flushes every memtable (the write-ahead log files that held them become obsolete and
  // are deleted) and compacts the space to its last level (the table files that held them are
  // rewritten without them and deleted). A backup taken earlier still holds them. Slow on large
  // spaces: for small spaces such as the subject keys. NOT_FOUND for an unknown space.
  virtual absl::Status PurgeDeleted(const std::string& space) {
    return absl::UnimplementedError("this store cannot purge deleted values");
  }

  // Flushes the log's memtables and compacts the log (events, stream index, command ids, log
  // metadata) into one sorted run at its last level, while appends go on: a later replay or scan
  // then reads one table per key range instead of merging overlapping ones. For maintenance after a
  // bulk import (and before a benchmark); slow in proportion to the log's size. FAILED_PRECONDITION
  // on a store open read-only or closed.
  virtual absl::Status CompactLog() {
    return absl::UnimplementedError("this store cannot compact its log");
  }

  // Stops accepting appends, completes the pending ones and flushes. Idempotent; also run by the
  // destructor.
  virtual void Close() = 0;
};

// Pull-based subscription. Not thread-safe: one consumer thread at a time.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Returns the next batch of at most `max_events` events, waiting up to `deadline` when caught
  // up. An empty batch means the deadline passed (or Cancel was called). `checkpoint()` then tells
  // how far the log was examined, so that a sparse filter still advances.
  virtual absl::StatusOr<std::vector<RecordedEvent>> Next(size_t max_events,
                                                          absl::Time deadline) = 0;
  // Position of the next event to examine.
  virtual uint64_t next_position() const = 0;
  // Wakes a consumer blocked in Next; later Next calls return CANCELLED.
  virtual void Cancel() = 0;
};

// For an ABORTED status returned by Append: the stream's current revision (-1 if absent), when
// the status carries it.
std::optional<int64_t> CurrentRevisionFrom(const absl::Status& status);

// The refusal of a command id already used for a different request: ALREADY_EXISTS "command_id:
// already used for a different command (first used at position P); use a new command id", with P
// as a payload (ReusedCommandPositionFrom). Nothing was appended.
absl::Status CommandIdReusedError(uint64_t first_position);
// For a status made by CommandIdReusedError: the first position of the command id's first append.
std::optional<uint64_t> ReusedCommandPositionFrom(const absl::Status& status);

}  // namespace rb::es

#endif  // RB_EVENTSTORE_EVENT_STORE_H_
