// Copyright: the Résorption-bidonvilles data service authors.
//
// BatchViewWriter: the engine's ViewWriter. It buffers the writes of a batch of events in logs
// (one per space, in the order they came; the emitted batch holds each key once, its last write,
// sorted by key so that it is deterministic), answers Get from that buffer, then from a cache of
// committed values, then from the store, and appends the buffered writes to a KvWriteBatch at
// commit.
//
// The buffer. A write appends to its space's log: no hashing and no probing of a table that
// outgrows the processor's caches, the common case of a projection that reads its records first
// and writes them at the end of the batch. A space's log gets a hash index (key -> its last write)
// only when a Get must look into it: at the first Get after writes to that space; the index then
// follows every write until the batch ends.
//
// The cache. The worker owning the writer is the only writer of its generation's spaces, so the
// values it committed (and the absences it read) stay true until it writes again: after a
// successful commit, Committed() moves the batch's writes into the cache, and a later Get of the
// same key (a site record, a series delta) costs a hash lookup instead of a store read. The cache
// is bounded (`cache_bytes`); when full it is emptied and refills from the store. It changes no
// result, only the cost of Get.
//
// Memory. Keys and values are copied into 64 KiB blocks (larger values on their own); the logs
// and maps hold views into them. A batch's blocks are released all at once when it is cleared (a
// few kept for the next batch); at commit its entries are copied into the cache's blocks, or the
// blocks are handed over when the cache is empty. Bytes of a value replaced within a batch (or of a
// cached entry overridden) stay until the batch (the cache) is emptied, and stay counted: every
// write counts its key and value, even of a key already written in the batch.
//
//   BatchViewWriter writer(&kv, "category_counts", gen, {"counts"});
//   absl::Status s = projection.Apply(event, writer);
//   if (s.ok()) s = writer.TakeError();
//   rb::es::KvWriteBatch batch;
//   writer.AppendTo(&batch);
//   if (kv.Write(batch).ok()) writer.Committed(); else writer.Clear();
//
// The writer also holds the projection's BatchState of the current batch (projection.h): the
// engine calls FlushState() before AppendTo.
//
// Not thread-safe. `kv` is not owned and must outlive the writer.
#ifndef RB_PROJECTIONS_BATCH_WRITER_H_
#define RB_PROJECTIONS_BATCH_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "eventstore/event_store.h"
#include "eventstore/kv_store.h"
#include "projections/layout.h"
#include "projections/projection.h"
#include "projections/reaper.h"

namespace rb::proj {

class BatchViewWriter final : public ViewWriter {
 public:
  BatchViewWriter(const rb::es::KvStore* kv, std::string_view projection, GenerationId gen,
                  const std::vector<std::string>& spaces, size_t cache_bytes = kDefaultCacheBytes);

  // Gives ReadEvent access to `log` (not owned; must outlive the writer), up to `limit`: the
  // engine moves the limit to each event before applying it. The events ReadEvent and ReadStream
  // read are kept (the log never changes below the event being applied), at most
  // kReadEventsBytes of them, then forgotten all at once: a projection that re-folds a site after
  // a retroactive version reads the same versions again at each of the site's next retroactive
  // versions.
  void set_log(const rb::es::EventStore* log) { log_ = log; }
  void set_log_limit(uint64_t limit) { log_limit_ = limit; }

  static constexpr size_t kDefaultCacheBytes = size_t{32} << 20;
  static constexpr size_t kReadEventsBytes = size_t{16} << 20;
  // ReadEvent and ReadStream calls that read the log (not answered by the events kept alone).
  uint64_t log_reads() const { return log_reads_; }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view space,
                                                 std::string_view key) override;
  void Put(std::string_view space, std::string_view key, std::string_view value) override;
  void Delete(std::string_view space, std::string_view key) override;
  absl::StatusOr<rb::es::RecordedEvent> ReadEvent(uint64_t position) override;
  absl::StatusOr<std::vector<rb::es::RecordedEvent>> ReadStream(
      std::string_view stream_id) override;
  BatchState* batch_state() override { return state_.get(); }
  void set_batch_state(std::unique_ptr<BatchState> state) override { state_ = std::move(state); }

  // Writes the projection's deferred work (BatchState::Flush) into the buffer and drops the
  // state (a large one, of a catch-up batch, is destroyed on a thread of the writer's own while
  // the worker goes on). OK when there is none. On error the state is dropped too (the batch must
  // be cleared).
  absl::Status FlushState();

  // The first error of a Put or Delete since the last call (then cleared); OK when none.
  absl::Status TakeError();
  // Approximate size of the buffered writes and of the batch state, in bytes.
  size_t ApproximateBytes() const {
    return bytes_ + (state_ != nullptr ? state_->ApproximateBytes() : 0);
  }
  // No buffered write and no batch state.
  bool empty() const { return bytes_ == 0 && state_ == nullptr; }
  // Appends the buffered writes to `batch`: spaces in declaration order, keys in byte order.
  // The batch refers to the writer's buffer (no copy): write it before the next Put, Delete,
  // Clear or Committed.
  void AppendTo(rb::es::KvWriteBatch* batch) const;
  // Declares that the writer's spaces held nothing when it started (a generation built from
  // position 0, whose every write goes through this writer): Get then answers "absent" for a key
  // the writer never wrote without reading the store, as most reads of a rebuild are of keys not
  // written yet. From the first Get of a space on, the writer remembers a hash of each key
  // written there, at most kMaxWrittenKeys in all; beyond, Get reads the store as usual. A space
  // written before its first Get (keys not remembered) reads the store as usual; a space never
  // read (an index) costs nothing. Call before the first Put or Delete.
  void set_spaces_start_empty();
  static constexpr size_t kMaxWrittenKeys = size_t{4} << 20;
  // A batch that reads a space this many times or more, and finds committed data (cached or
  // stored) for fewer than one read in eight, does not cache its writes of that space (a rebuild
  // meets each record once: they would not be read again); it forgets what the space cached.
  static constexpr size_t kFewGets = 1024;
  // Forgets the keys written (their memory) and reads the store for every key not buffered or
  // cached again: for a worker that caught up, whose reads are few.
  void ForgetWrittenKeys();

  // Forgets the buffered writes, the batch state and any pending error (the cache of committed
  // values stays).
  void Clear();
  // The buffered writes were committed: moves them into the cache, then as Clear.
  void Committed();

 private:
  // Bytes of keys and values, copied into blocks that never move (the maps hold views into them)
  // and freed all at once: no allocation per write, and no free per entry.
  class Bytes {
   public:
    Bytes() = default;
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;
    absl::string_view Copy(std::string_view s);
    // Forgets every byte copied; keeps a few blocks for reuse, frees the others.
    void Clear();
    // Takes over the blocks of `other` (the views into them stay valid); `other` is left empty.
    void TakeFrom(Bytes& other);

   private:
    static constexpr size_t kBlockBytes = size_t{64} << 10;
    static constexpr size_t kSpareBlocks = 16;
    std::vector<std::unique_ptr<char[]>> blocks_;  // the last one is the current one
    std::vector<std::unique_ptr<char[]>> spare_;   // free blocks kept by Clear
    std::deque<std::string> large_;                // values larger than a quarter block
    char* next_ = nullptr;
    size_t left_ = 0;
  };
  using Map = absl::flat_hash_map<absl::string_view, std::optional<absl::string_view>>;
  // A buffered write: nullopt value for a delete. Views into pending_bytes_.
  struct Write {
    absl::string_view key;
    std::optional<absl::string_view> value;
  };
  // How Get treats a key neither buffered nor cached, in a space that started empty.
  enum class Tracking : uint8_t {
    kOff,      // reads the store
    kUnread,   // never read yet: the first Get decides (kTracked if nothing was written before)
    kTracked,  // "absent" unless its hash is in `written`
  };
  struct Space {
    std::string short_name;
    std::string full_name;
    // The batch's writes, in the order they came (a key may come several times: its last write
    // counts).
    std::vector<Write> log;
    // Key -> index in `log` of its last write; kept only while `indexed`.
    absl::flat_hash_map<absl::string_view, uint32_t> index;
    bool indexed = false;
    // Committed values (nullopt: known absent). Views into cache_bytes_store_.
    Map cache;
    // Get was called on this space: its writes are worth caching. Spaces that are only written
    // (indexes rewritten from typed batch state) keep no cache, and their bytes do not count
    // against it.
    bool read = false;
    // This batch's Gets of the space, and those answered by committed data (the cache or the
    // store). A batch whose many Gets were nearly all answered otherwise (keys never written: a
    // rebuild meeting each site once) does not cache its writes: they would not be read again.
    size_t batch_gets = 0;
    size_t batch_committed_reads = 0;
    size_t pending_bytes = 0;  // this space's share of bytes_
    // Whether Get may answer "absent" from `written` (set_spaces_start_empty).
    Tracking tracking = Tracking::kOff;
    bool wrote = false;  // a Put or Delete was recorded in this space
    // Hashes of every key written since the space's tracking began (kTracked).
    absl::flat_hash_set<uint64_t> written;
  };
  Space* Find(std::string_view space);
  // Whether Committed caches the batch's writes of `s`: a space read through Get, unless this
  // batch made at least kFewGets Gets of it and fewer than one in eight found committed data.
  static bool CachesWrites(const Space& s);
  // The last write of `key` in `s`'s log; nullptr when none. Indexes the log when it is not.
  const Write* FindPending(Space& s, absl::string_view key);
  void Record(std::string_view op, std::string_view space, std::string_view key,
              std::optional<std::string_view> value);
  void ClearCache();

  const rb::es::KvStore* kv_;
  bool track_written_ = false;  // set_spaces_start_empty, until kMaxWrittenKeys
  bool wrote_ = false;          // a Put or Delete was ever recorded
  size_t written_keys_ = 0;
  const rb::es::EventStore* log_ = nullptr;
  uint64_t log_limit_ = 0;
  // Events ReadEvent read from the log, by position; ReadStream's, by stream (each stream's
  // first events, in order); their approximate bytes.
  absl::flat_hash_map<uint64_t, rb::es::RecordedEvent> read_events_;
  absl::flat_hash_map<std::string, std::vector<rb::es::RecordedEvent>> read_streams_;
  size_t read_events_bytes_ = 0;
  // What keeping `e` costs, about.
  static size_t KeptBytes(const rb::es::RecordedEvent& e);
  // Forgets every event kept when `bytes` more would exceed kReadEventsBytes; whether it did.
  bool MakeRoom(size_t bytes);
  uint64_t log_reads_ = 0;
  std::vector<Space> spaces_;    // never resized after construction
  Space* last_space_ = nullptr;  // the space Find returned last
  // The keys' first 32 bytes decide most comparisons of a sort without reading the keys (index
  // keys sorted by commune share 22 or more: a departement, a sort, a commune's name and code,
  // then the site id).
  struct SortItem {
    uint64_t prefix;  // the key's first 8 bytes, big-endian, zero-padded
    uint64_t next;    // its bytes 8 to 15, likewise
    uint64_t third;   // its bytes 16 to 23, likewise
    uint64_t fourth;  // its bytes 24 to 31, likewise
    uint32_t index;   // of the write in its space's log
  };
  // Whether `a` sorts before `b`, two writes of `log` whose keys share their first 32 bytes
  // (zero-padded): by key, then in the order written. Out of line: the sort's common case
  // (different prefixes) stays small enough to be inlined.
  ABSL_ATTRIBUTE_NOINLINE static bool TieLess(const std::vector<Write>& log, const SortItem& a,
                                              const SortItem& b);
  mutable std::vector<SortItem> sorted_;  // AppendTo's buffer, kept between batches
  Bytes pending_bytes_;
  Bytes cache_bytes_store_;
  const size_t cache_limit_;
  size_t bytes_ = 0;
  size_t cache_bytes_ = 0;
  absl::Status error_;
  std::unique_ptr<BatchState> state_;
  // Destroys the batch states of at least kReapStateBytes once flushed. Declared last: destroyed
  // first, after the states it holds.
  static constexpr size_t kReapStateBytes = size_t{4} << 20;
  Reaper reaper_;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_BATCH_WRITER_H_
