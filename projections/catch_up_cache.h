// Copyright: the Résorption-bidonvilles data service authors.
//
// CatchUpCache: the stored log read once for every projection worker catching up at the same
// time (a restart after a version change rebuilds several projections from position 0).
//
// Without it, each worker scans the log by itself: N workers, N scans of the same events. With
// it, the log is read in fixed chunks of `chunk_events` events (chunk k holds positions
// k * chunk_events + 1 .. (k + 1) * chunk_events); the first worker to need a chunk reads it and
// keeps a copy, the others apply that copy. A chunk is dropped once every registered reader has
// gone past it, and no chunk is kept beyond `max_bytes`: a reader that finds the budget spent, or
// a chunk the log has not filled yet (the head lies in it), reads the store itself, exactly as
// without the cache. The events a reader sees are the store's, in the same order, whatever was
// cached: the cache changes who reads, never what is read.
//
//   CatchUpCache cache(store, {.chunk_events = 8192, .max_bytes = 256 << 20});
//   CatchUpCache::Reader reader(&cache);  // one per worker thread
//   absl::StatusOr<rb::es::ReadAllResult> r = reader.Scan(from, 65536, apply);
//   reader.Leave();  // caught up: stop holding chunks for this worker
//
// The cache may also decode each chunk once for all its readers (`decode`, e.g.
// rb::domain::AttachDecodedEnvelopes): what it attaches to the events (RecordedEvent::decoded) is
// what the readers find on them; the events read from the store directly carry nothing.
//
// A reader ahead of others that finds the budget spent waits (`budget_wait` at most) for the
// reader furthest behind to free a chunk, rather than reading the store alone: the chunk it then
// loads is shared too. It waits only while that reader goes through cached chunks (dropping each
// as it passes); the reader furthest behind never waits.
//
// A chunk is cached only when another reader is registered (a lone rebuild reads the store
// directly: copying would only cost). The memory of up to four dropped chunks (their events and
// decodings, beyond the budget) is reused by the next loads while two readers or more are
// registered (their events' strings keep their capacity: loading a chunk then copies bytes
// without allocating), and freed when fewer remain. A chunk nobody keeps is freed by the cache's
// own thread, not by the reader that dropped it (the one furthest behind, which finishes last).
// Thread-safe; readers are used by one thread each.
#ifndef RB_PROJECTIONS_CATCH_UP_CACHE_H_
#define RB_PROJECTIONS_CATCH_UP_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/reaper.h"

namespace rb::proj {

// Attaches to the events of a chunk, once for all the readers sharing it, what each of them would
// otherwise compute from the events (RecordedEvent::decoded); returns the bytes attached (counted
// in the cache's budget). Called by the loading reader, before any reader sees the chunk.
using ChunkDecoder = std::function<size_t(std::span<rb::es::RecordedEvent> events)>;

struct CatchUpCacheOptions {
  size_t chunk_events = 8192;
  size_t max_bytes = 256 << 20;  // 0: never cache (every reader reads the store)
  ChunkDecoder decode;           // empty: the chunks carry the stored events only
  // How long a reader ahead of others waits for room in the budget before it reads the store.
  absl::Duration budget_wait = absl::Milliseconds(500);
};

class CatchUpCache {
 public:
  CatchUpCache(const rb::es::EventStore* store, CatchUpCacheOptions options);
  ~CatchUpCache();  // Every Reader must be gone.
  CatchUpCache(const CatchUpCache&) = delete;
  CatchUpCache& operator=(const CatchUpCache&) = delete;

  // One worker's access. Registered from its first Scan until Leave (or destruction); while
  // registered, the chunks from its next position on are kept for it (within the budget).
  class Reader {
   public:
    explicit Reader(CatchUpCache* cache) : cache_(cache) {}
    ~Reader() { Leave(); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // As EventStore::ScanAll(from, no filter, max_examined, fn): calls `fn` on the events from
    // `from` on, in position order, at most `max_examined` of them, until `fn` returns false
    // (that event counts as examined). `end_of_log` tells whether the log held nothing after the
    // last event examined when it was read. Storage errors as returned by the store.
    absl::StatusOr<rb::es::ReadAllResult> Scan(
        uint64_t from, size_t max_examined,
        absl::FunctionRef<bool(const rb::es::RecordedEvent&)> fn);

    // Unregisters: the chunks no longer wait for this reader. Idempotent; the next Scan
    // registers again.
    void Leave();

   private:
    CatchUpCache* const cache_;
    int id_ = 0;  // 0: not registered
  };

  // Bytes held by cached chunks (for tests and metrics).
  size_t cached_bytes() const;
  // Chunks read from the store and kept in the cache since construction (for tests and metrics).
  uint64_t chunks_loaded() const;
  // Readers waiting for room in the budget now (for tests and metrics).
  int readers_waiting() const;

 private:
  struct Chunk {
    std::vector<rb::es::RecordedEvent> events;
    size_t bytes = 0;
    bool ready = false;  // false while its loader reads it
  };

  // The full chunk `index` for reader `reader`, cached or read now; nullptr when the caller must
  // read the store (the log does not fill the chunk, the budget stays spent, no other reader
  // would share it, or the read failed: the caller's own read then reports the error).
  std::shared_ptr<const Chunk> Acquire(int reader, uint64_t index);
  // Whether the readers behind `reader` will free room in the budget soon: the one furthest
  // behind is reading a cached chunk (it drops that chunk when it has gone past).
  bool RoomComingLocked(int reader) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPosition(int reader, uint64_t next_position);
  int Register(uint64_t next_position);
  void Unregister(int reader);
  // Drops the chunks every reader has gone past, into `dropped` (for the caller to release after
  // unlocking: the last holder of a chunk recycles or frees it).
  void EvictLocked(std::vector<std::shared_ptr<Chunk>>* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A chunk to fill: a spare one, or a new one. Shared, it goes back to the spares (Recycle)
  // when its last holder drops it.
  std::shared_ptr<Chunk> NewChunk();
  void Recycle(Chunk* chunk);
  // Hands `chunks` to reaper_: the reader dropping a chunk nobody keeps is the one furthest
  // behind, often the last to finish a catch-up, and freeing a chunk (thousands of events'
  // strings and decodings) would lengthen it.
  void FreeInBackground(std::vector<std::unique_ptr<Chunk>> chunks);

  const rb::es::EventStore* const store_;
  const CatchUpCacheOptions options_;

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<Chunk>> chunks_ ABSL_GUARDED_BY(mu_);
  std::map<int, uint64_t> readers_ ABSL_GUARDED_BY(mu_);  // id -> next position needed
  int next_reader_id_ ABSL_GUARDED_BY(mu_) = 1;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // ready chunks + estimates of loading ones
  uint64_t chunks_loaded_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_per_event_ ABSL_GUARDED_BY(mu_) = 512;  // of the last chunk read: the estimate
  std::atomic<int> registered_{0};  // readers_.size(), read by Recycle without mu_

  // Dropped chunks kept for reuse while readers are registered. Its own lock: a chunk may be
  // dropped (Recycle) with mu_ held.
  absl::Mutex spare_mu_;
  std::vector<std::unique_ptr<Chunk>> spare_ ABSL_GUARDED_BY(spare_mu_);

  // Frees the chunks nobody keeps. Declared last: destroyed (waiting for what it holds) first.
  Reaper reaper_;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_CATCH_UP_CACHE_H_
