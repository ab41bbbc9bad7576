// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/catch_up_cache.h"

#include <algorithm>
#include <utility>

namespace rb::proj {
namespace {

size_t EventBytes(const rb::es::RecordedEvent& e) {
  return sizeof(e) + e.event_id.size() + e.stream_id.size() + e.type.size() + e.payload.size() +
         e.stream_hash.size() + e.log_hash.size() + e.metadata.actor_user.size() +
         e.metadata.actor_organisation.size() + e.metadata.actor_role.size() +
         e.metadata.command_id.size() + e.metadata.correlation_id.size() +
         e.metadata.causation_id.size() + e.metadata.reason.size();
}

// Dropped chunks kept for reuse: enough for the loads that follow the drops of a rebuild.
constexpr size_t kMaxSpareChunks = 4;

// Fetches the parts of `e` its consumers read: a slot spans eight cache lines, and the views read
// its stream, position and dates, its author, its payload's size and its decoding (the last line,
// which the fetch of its decoding four events later needs at once).
void PrefetchEvent(const rb::es::RecordedEvent& e) {
  __builtin_prefetch(&e.stream_id);
  __builtin_prefetch(&e.position);
  __builtin_prefetch(&e.valid_at_us);
  __builtin_prefetch(&e.metadata.command_id);
  __builtin_prefetch(&e.metadata.reason);
  __builtin_prefetch(&e.payload);
  __builtin_prefetch(&e.decoded);
}

CatchUpCacheOptions WithValidChunk(CatchUpCacheOptions options) {
  options.chunk_events = std::max<size_t>(options.chunk_events, 1);
  return options;
}

}  // namespace

CatchUpCache::CatchUpCache(const rb::es::EventStore* store, CatchUpCacheOptions options)
    : store_(store), options_(WithValidChunk(options)) {}

CatchUpCache::~CatchUpCache() {
  std::map<uint64_t, std::shared_ptr<Chunk>> chunks;
  {
    absl::MutexLock lock(&mu_);
    chunks.swap(chunks_);
    registered_ = 0;  // no reader is left: the chunks dropped below are freed, not kept
  }
  chunks.clear();
  {
    absl::MutexLock lock(&spare_mu_);
    spare_.clear();
  }
}

std::shared_ptr<CatchUpCache::Chunk> CatchUpCache::NewChunk() {
  std::unique_ptr<Chunk> chunk;
  {
    absl::MutexLock lock(&spare_mu_);
    if (!spare_.empty()) {
      chunk = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (chunk == nullptr) chunk = std::make_unique<Chunk>();
  chunk->bytes = 0;
  chunk->ready = false;
  return std::shared_ptr<Chunk>(chunk.release(), [this](Chunk* c) { Recycle(c); });
}

void CatchUpCache::FreeInBackground(std::vector<std::unique_ptr<Chunk>> chunks) {
  if (chunks.empty()) return;
  reaper_.Hand(std::make_shared<std::vector<std::unique_ptr<Chunk>>>(std::move(chunks)));
}

void CatchUpCache::Recycle(Chunk* chunk) {
  std::unique_ptr<Chunk> owned(chunk);
  {
    absl::MutexLock lock(&spare_mu_);
    // Kept as is: its events (and the decodings they share) are overwritten by its next load.
    if (registered_ >= 2 && spare_.size() < kMaxSpareChunks) {
      spare_.push_back(std::move(owned));
      return;
    }
  }
  std::vector<std::unique_ptr<Chunk>> doomed;
  doomed.push_back(std::move(owned));
  FreeInBackground(std::move(doomed));
}

size_t CatchUpCache::cached_bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

int CatchUpCache::readers_waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

uint64_t CatchUpCache::chunks_loaded() const {
  absl::MutexLock lock(&mu_);
  return chunks_loaded_;
}

int CatchUpCache::Register(uint64_t next_position) {
  absl::MutexLock lock(&mu_);
  const int id = next_reader_id_++;
  readers_[id] = next_position;
  registered_ = static_cast<int>(readers_.size());
  return id;
}

void CatchUpCache::Unregister(int reader) {
  std::vector<std::shared_ptr<Chunk>> dropped;  // released after the lock
  {
    absl::MutexLock lock(&mu_);
    readers_.erase(reader);
    registered_ = static_cast<int>(readers_.size());
    EvictLocked(&dropped);
  }
  dropped.clear();
  // Fewer than two readers: nothing is cached any more, the spare memory goes too (Recycle keeps
  // nothing more).
  std::vector<std::unique_ptr<Chunk>> freed;
  {
    absl::MutexLock lock(&spare_mu_);
    if (registered_ < 2) freed.swap(spare_);
  }
  FreeInBackground(std::move(freed));
}

void CatchUpCache::SetPosition(int reader, uint64_t next_position) {
  std::vector<std::shared_ptr<Chunk>> dropped;  // released after the lock
  absl::MutexLock lock(&mu_);
  readers_[reader] = next_position;
  EvictLocked(&dropped);
}

void CatchUpCache::EvictLocked(std::vector<std::shared_ptr<Chunk>>* dropped) {
  uint64_t min_next = UINT64_MAX;
  for (const auto& [id, next] : readers_) min_next = std::min(min_next, next);
  const uint64_t n = options_.chunk_events;
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    // Chunk k ends at (k + 1) * n: every reader is past it when its next position is beyond.
    if (it->second->ready && (it->first + 1) * n < min_next) {
      bytes_ -= it->second->bytes;
      dropped->push_back(std::move(it->second));
      it = chunks_.erase(it);
    } else {
      ++it;
    }
  }
}

bool CatchUpCache::RoomComingLocked(int reader) const {
  const auto self = readers_.find(reader);
  if (self == readers_.end()) return false;
  uint64_t min_next = UINT64_MAX;
  for (const auto& [id, next] : readers_) min_next = std::min(min_next, next);
  if (min_next >= self->second) return false;  // none behind: nobody frees a chunk for it
  // The reader furthest behind frees a chunk as it goes past one: soon if it is reading a cached
  // (or loading) chunk, not before it reaches one if it reads the store.
  return chunks_.count((min_next - 1) / options_.chunk_events) > 0;
}

std::shared_ptr<const CatchUpCache::Chunk> CatchUpCache::Acquire(int reader, uint64_t index) {
  const uint64_t n = options_.chunk_events;
  const uint64_t first = index * n + 1;
  const uint64_t last = (index + 1) * n;
  std::shared_ptr<Chunk> chunk;
  size_t estimate = 0;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      auto it = chunks_.find(index);
      if (it != chunks_.end()) {
        std::shared_ptr<Chunk> found = it->second;
        if (found->ready) return found;
        // Another reader is reading it: wait for its copy (or for its failure, which removes
        // it).
        auto done = [this, index, &found]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          auto at = chunks_.find(index);
          return at == chunks_.end() || at->second != found || found->ready;
        };
        mu_.Await(absl::Condition(&done));
        continue;
      }
      if (options_.max_bytes == 0 || readers_.size() < 2) return nullptr;
      if (store_->GetHead().position < last) return nullptr;  // the log does not fill it yet
      estimate = n * bytes_per_event_;
      if (bytes_ + estimate <= options_.max_bytes) break;  // room: this reader loads it
      if (!RoomComingLocked(reader)) return nullptr;
      // Ahead of others: their progress frees chunks (or one of them loads this chunk). Waits
      // for it, a while; then looks again.
      auto moved = [this, index, reader, estimate]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return bytes_ + estimate <= options_.max_bytes || chunks_.count(index) > 0 ||
               !RoomComingLocked(reader);
      };
      ++waiting_;
      const bool room = mu_.AwaitWithTimeout(absl::Condition(&moved), options_.budget_wait);
      --waiting_;
      if (!room) return nullptr;
    }
    chunk = NewChunk();
    chunks_[index] = chunk;
    bytes_ += estimate;
  }
  // Read outside the lock: the other readers go on with their own chunks meanwhile. Decoded in
  // place, over a reused chunk's events, whose strings keep their capacity.
  std::vector<rb::es::RecordedEvent>& events = chunk->events;
  events.resize(n);
  absl::StatusOr<size_t> read = store_->ReadInto(first, std::span(events));
  size_t bytes = 0;
  bool dense = read.ok() && *read == n;
  for (size_t i = 0; dense && i < n; ++i) {
    dense = events[i].position == first + i;
    bytes += EventBytes(events[i]);
  }
  const bool complete = dense;
  if (complete && options_.decode) bytes += options_.decode(std::span(chunk->events));
  absl::MutexLock lock(&mu_);
  bytes_ -= estimate;
  if (!complete) {
    chunks_.erase(index);
    return nullptr;
  }
  chunk->ready = true;
  bytes_per_event_ = std::max<size_t>(1, bytes / n);
  if (bytes_ + bytes > options_.max_bytes) {
    // Larger than estimated: used by this reader only, so that the budget holds.
    chunks_.erase(index);
    return chunk;
  }
  chunk->bytes = bytes;
  bytes_ += bytes;
  ++chunks_loaded_;
  return chunk;
}

absl::StatusOr<rb::es::ReadAllResult> CatchUpCache::Reader::Scan(
    uint64_t from, size_t max_examined, absl::FunctionRef<bool(const rb::es::RecordedEvent&)> fn) {
  if (from == 0) from = 1;
  if (id_ == 0) {
    id_ = cache_->Register(from);
  } else {
    cache_->SetPosition(id_, from);
  }
  const uint64_t n = cache_->options_.chunk_events;
  rb::es::ReadAllResult r;
  r.next_position = from;
  r.last_examined = from - 1;
  size_t examined = 0;
  bool stopped = false;
  while (examined < max_examined && !stopped) {
    const uint64_t index = (from - 1) / n;
    const uint64_t chunk_last = (index + 1) * n;
    std::shared_ptr<const Chunk> chunk = cache_->Acquire(id_, index);
    if (chunk == nullptr) {
      // The store, up to the end of this chunk: the next one may be shared.
      const size_t limit = std::min<uint64_t>(max_examined - examined, chunk_last - from + 1);
      absl::StatusOr<rb::es::ReadAllResult> part = cache_->store_->ScanAll(
          from, rb::es::LogFilter{}, limit, [&](const rb::es::RecordedEvent& e) {
            ++examined;
            if (!fn(e)) stopped = true;
            return !stopped;
          });
      if (!part.ok()) return part.status();
      r.last_examined = std::max(r.last_examined, part->last_examined);
      r.next_position = std::max(r.next_position, part->next_position);
      if (part->end_of_log) {
        r.end_of_log = true;
        cache_->SetPosition(id_, r.next_position);
        return r;
      }
    } else {
      const std::vector<rb::es::RecordedEvent>& events = chunk->events;
      for (size_t i = from - (index * n + 1); i < events.size(); ++i) {
        if (examined == max_examined) break;
        // Loaded by another thread, the events are not in this one's cache: the slot eight ahead
        // and the decoding of the one four ahead (its envelope, then its body beside it on the
        // chunk's arena) are fetched while this one is applied.
        if (i + 8 < events.size()) PrefetchEvent(events[i + 8]);
        if (i + 4 < events.size() && events[i + 4].decoded != nullptr) {
          const char* decoded = reinterpret_cast<const char*>(events[i + 4].decoded.get());
          __builtin_prefetch(decoded);
          __builtin_prefetch(decoded + 64);
          __builtin_prefetch(decoded + 128);
        }
        const rb::es::RecordedEvent& e = events[i];
        ++examined;
        r.last_examined = e.position;
        r.next_position = e.position + 1;
        if (!fn(e)) {
          stopped = true;
          break;
        }
      }
    }
    from = r.next_position;
    cache_->SetPosition(id_, from);
  }
  r.end_of_log = cache_->store_->GetHead().position < r.next_position;
  return r;
}

void CatchUpCache::Reader::Leave() {
  if (id_ == 0) return;
  cache_->Unregister(id_);
  id_ = 0;
}

}  // namespace rb::proj
