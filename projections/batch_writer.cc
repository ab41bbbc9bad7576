// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/batch_writer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "projections/strings.h"

namespace rb::proj {

namespace {

// Bookkeeping cost of one map entry beyond its key and value bytes.
constexpr size_t kEntryOverhead = 16;
// Bytes of a key held in its SortItem.
constexpr size_t kSortPrefixBytes = 32;
// A log or sort buffer of more than this many writes whose last batch used less than an eighth
// of it is released (a worker that caught up after a large catch-up batch).
constexpr size_t kKeepEntries = size_t{1} << 16;

}  // namespace

absl::string_view BatchViewWriter::Bytes::Copy(std::string_view s) {
  if (s.empty()) return absl::string_view();
  if (s.size() > left_) {
    if (s.size() > kBlockBytes / 4) {
      // A large value is kept on its own (its bytes do not move when the string does), and the
      // rest of the current block stays in use.
      large_.emplace_back(s.data(), s.size());
      return absl::string_view(large_.back().data(), s.size());
    }
    if (spare_.empty()) {
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlockBytes));  // not zeroed
    } else {
      blocks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    }
    next_ = blocks_.back().get();
    left_ = kBlockBytes;
  }
  std::memcpy(next_, s.data(), s.size());
  const absl::string_view out(next_, s.size());
  next_ += s.size();
  left_ -= s.size();
  return out;
}

void BatchViewWriter::Bytes::Clear() {
  large_.clear();
  // Keep a few blocks for reuse (the next batch of a live worker fits in them).
  for (auto& b : blocks_) {
    if (spare_.size() >= kSpareBlocks) break;
    spare_.push_back(std::move(b));
  }
  blocks_.clear();
  next_ = nullptr;
  left_ = 0;
}

void BatchViewWriter::Bytes::TakeFrom(Bytes& other) {
  // This side's current block stays last (and partly free).
  std::unique_ptr<char[]> current;
  if (!blocks_.empty()) {
    current = std::move(blocks_.back());
    blocks_.pop_back();
  }
  for (auto& b : other.blocks_) blocks_.push_back(std::move(b));
  other.blocks_.clear();
  for (std::string& l : other.large_) large_.push_back(std::move(l));
  other.large_.clear();
  other.next_ = nullptr;
  other.left_ = 0;
  if (current != nullptr) {
    blocks_.push_back(std::move(current));
  } else {
    next_ = nullptr;
    left_ = 0;
  }
}

BatchViewWriter::BatchViewWriter(const rb::es::KvStore* kv, std::string_view projection,
                                 GenerationId gen, const std::vector<std::string>& spaces,
                                 size_t cache_bytes)
    : kv_(kv), cache_limit_(cache_bytes) {
  spaces_.reserve(spaces.size());
  for (const std::string& s : spaces) {
    spaces_.push_back(Space{s, ViewSpaceName(projection, gen, s), {}, {}});
  }
}

BatchViewWriter::Space* BatchViewWriter::Find(std::string_view space) {
  // A projection writes runs of one space (a site's record, then its index keys): the last one
  // found is compared first.
  if (last_space_ != nullptr && last_space_->short_name == space) return last_space_;
  for (Space& s : spaces_) {
    if (s.short_name == space) return last_space_ = &s;
  }
  return nullptr;
}

namespace {

// The 8 bytes of `key` from `from`, big-endian, zero-padded: ordered as the keys are, up to ties.
// Entries ahead of the one read whose bytes AppendTo fetches.
constexpr int kPrefetchAhead = 8;

uint64_t OrderPrefix(absl::string_view key, size_t from) {
  if (key.size() >= from + 8) {  // whole: one load
    uint64_t raw;
    std::memcpy(&raw, key.data() + from, 8);
    if constexpr (std::endian::native == std::endian::little) raw = __builtin_bswap64(raw);
    return raw;
  }
  uint64_t v = 0;
  for (size_t i = from; i < from + 8; ++i) {
    v = (v << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0);
  }
  return v;
}

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::optional<std::string> ToOwned(const std::optional<absl::string_view>& v) {
  if (!v.has_value()) return std::nullopt;
  return std::string(v->data(), v->size());
}

}  // namespace

void BatchViewWriter::ClearCache() {
  for (Space& sp : spaces_) sp.cache.clear();
  cache_bytes_store_.Clear();
  cache_bytes_ = 0;
}

absl::StatusOr<std::optional<std::string>> BatchViewWriter::Get(std::string_view space,
                                                                std::string_view key) {
  Space* s = Find(space);
  if (s == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Get on undeclared view space \"", Av(space), "\""));
  }
  ++s->batch_gets;
  if (const Write* pending = FindPending(*s, Av(key)); pending != nullptr) {
    return ToOwned(pending->value);
  }
  if (auto it = s->cache.find(Av(key)); it != s->cache.end()) {
    ++s->batch_committed_reads;
    return ToOwned(it->second);
  }
  if (track_written_) {
    if (s->tracking == Tracking::kUnread) {
      // The first read of a space that started empty: its keys are remembered from now on,
      // unless some were written already (not remembered): then it reads the store.
      s->tracking = s->log.empty() && !s->wrote ? Tracking::kTracked : Tracking::kOff;
    }
    if (s->tracking == Tracking::kTracked &&
        !s->written.contains(std::hash<std::string_view>{}(key))) {
      return std::optional<std::string>();  // never written, and the space started empty
    }
  }
  s->read = true;
  ++s->batch_committed_reads;
  absl::StatusOr<std::optional<std::string>> stored = kv_->Get(s->full_name, key);
  if (stored.ok() && cache_limit_ > 0) {
    const size_t cost = key.size() + kEntryOverhead + (stored->has_value() ? (*stored)->size() : 0);
    if (cache_bytes_ + cost > cache_limit_) ClearCache();
    std::optional<absl::string_view> value;
    if (stored->has_value()) value = cache_bytes_store_.Copy(**stored);
    s->cache.emplace(cache_bytes_store_.Copy(key), value);
    cache_bytes_ += cost;
  }
  return stored;
}

const BatchViewWriter::Write* BatchViewWriter::FindPending(Space& s, absl::string_view key) {
  if (s.log.empty()) return nullptr;
  if (!s.indexed) {
    s.index.reserve(s.log.size());
    for (uint32_t i = 0; i < s.log.size(); ++i) s.index.insert_or_assign(s.log[i].key, i);
    s.indexed = true;
  }
  auto it = s.index.find(key);
  return it == s.index.end() ? nullptr : &s.log[it->second];
}

void BatchViewWriter::Record(std::string_view op, std::string_view space, std::string_view key,
                             std::optional<std::string_view> value) {
  Space* s = Find(space);
  if (s == nullptr) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(
          absl::StrCat(Av(op), " on undeclared view space \"", Av(space), "\""));
    }
    return;
  }
  wrote_ = true;
  s->wrote = true;
  // Only the spaces already read remember their keys: a space only written (an index) never
  // needs them.
  if (track_written_ && s->tracking == Tracking::kTracked &&
      s->written.insert(std::hash<std::string_view>{}(key)).second &&
      ++written_keys_ > kMaxWrittenKeys) {
    ForgetWrittenKeys();  // too many to remember: from now on Get reads the store
  }
  const uint32_t at = static_cast<uint32_t>(s->log.size());
  Write& write = s->log.emplace_back();
  if (s->indexed) {
    // One probe: the key's bytes are copied only when it is new to the batch.
    auto it = s->index.lazy_emplace(Av(key),
                                    [&](const auto& make) { make(pending_bytes_.Copy(key), at); });
    it->second = at;
    write.key = it->first;
  } else {
    write.key = pending_bytes_.Copy(key);
  }
  // A value replaced within the batch keeps its bytes until the batch ends: they stay counted.
  size_t added = key.size() + kEntryOverhead;
  if (value.has_value()) {
    write.value = pending_bytes_.Copy(*value);
    added += value->size();
  }
  bytes_ += added;
  s->pending_bytes += added;
}

void BatchViewWriter::set_spaces_start_empty() {
  track_written_ = !wrote_;
  if (!track_written_) return;
  for (Space& s : spaces_) s.tracking = Tracking::kUnread;
}

void BatchViewWriter::ForgetWrittenKeys() {
  track_written_ = false;
  written_keys_ = 0;
  for (Space& s : spaces_) {
    s.tracking = Tracking::kOff;
    absl::flat_hash_set<uint64_t>().swap(s.written);
  }
}

void BatchViewWriter::Put(std::string_view space, std::string_view key, std::string_view value) {
  Record("Put", space, key, value);
}

void BatchViewWriter::Delete(std::string_view space, std::string_view key) {
  Record("Delete", space, key, std::nullopt);
}

absl::StatusOr<rb::es::RecordedEvent> BatchViewWriter::ReadEvent(uint64_t position) {
  if (log_ == nullptr) return ViewWriter::ReadEvent(position);
  if (position > log_limit_) {
    return absl::OutOfRangeError(absl::StrCat("position ", position,
                                              " is beyond the event being applied (", log_limit_,
                                              "): a projection reads only the log before it"));
  }
  if (auto kept = read_events_.find(position); kept != read_events_.end()) return kept->second;
  absl::StatusOr<rb::es::RecordedEvent> e = log_->ReadEvent(position);
  ++log_reads_;
  if (!e.ok()) return e;
  const size_t bytes = KeptBytes(*e);
  MakeRoom(bytes);
  read_events_bytes_ += bytes;
  read_events_.emplace(position, *e);
  return e;
}

size_t BatchViewWriter::KeptBytes(const rb::es::RecordedEvent& e) {
  return sizeof(rb::es::RecordedEvent) + 64 + e.stream_id.size() + e.type.size() +
         e.payload.size() + e.event_id.size();
}

bool BatchViewWriter::MakeRoom(size_t bytes) {
  if (read_events_bytes_ + bytes <= kReadEventsBytes) return false;
  read_events_.clear();
  read_streams_.clear();
  read_events_bytes_ = 0;
  return true;
}

absl::StatusOr<std::vector<rb::es::RecordedEvent>> BatchViewWriter::ReadStream(
    std::string_view stream_id) {
  if (log_ == nullptr) return ViewWriter::ReadStream(stream_id);
  constexpr size_t kChunk = 1024;
  const std::string stream(stream_id);
  // The stream's first events, as kept by an earlier call (stream order is log order).
  std::vector<rb::es::RecordedEvent> out;
  if (auto kept = read_streams_.find(stream); kept != read_streams_.end()) {
    for (const rb::es::RecordedEvent& e : kept->second) {
      if (e.position > log_limit_) return out;
      out.push_back(e);
    }
  }
  uint64_t next = out.empty() ? 0 : out.back().revision + 1;
  const size_t known = out.size();
  ++log_reads_;
  while (true) {
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> chunk =
        log_->ReadStream(stream, next, rb::es::Direction::kForward, kChunk);
    if (!chunk.ok()) return chunk.status();
    bool done = chunk->size() < kChunk;
    for (rb::es::RecordedEvent& e : *chunk) {
      // What follows the limit was appended after the event applied.
      if (e.position > log_limit_) {
        done = true;
        break;
      }
      out.push_back(std::move(e));
    }
    if (done) break;
    next = out.back().revision + 1;
  }
  if (out.size() > known) {
    size_t bytes = 0;
    for (size_t i = known; i < out.size(); ++i) bytes += KeptBytes(out[i]);
    if (MakeRoom(bytes)) {  // the earlier events of the stream were forgotten too
      for (size_t i = 0; i < known; ++i) bytes += KeptBytes(out[i]);
    }
    read_events_bytes_ += bytes;
    read_streams_[stream].assign(out.begin(), out.end());
  }
  return out;
}

absl::Status BatchViewWriter::TakeError() {
  absl::Status s = std::move(error_);
  error_ = absl::OkStatus();
  return s;
}

bool BatchViewWriter::TieLess(const std::vector<Write>& log, const SortItem& a, const SortItem& b) {
  // The same first 32 bytes, zero-padded: a key shorter than that is a prefix of the other (the
  // other's bytes where it ends are zeros), hence smaller; else the rest decides, then the order
  // of the writes.
  const absl::string_view ka = log[a.index].key;
  const absl::string_view kb = log[b.index].key;
  if (ka.size() != kb.size() && (ka.size() < kSortPrefixBytes || kb.size() < kSortPrefixBytes)) {
    return ka.size() < kb.size();
  }
  const int c = ka.substr(std::min(ka.size(), kSortPrefixBytes))
                    .compare(kb.substr(std::min(kb.size(), kSortPrefixBytes)));
  return c != 0 ? c < 0 : a.index < b.index;
}

void BatchViewWriter::AppendTo(rb::es::KvWriteBatch* batch) const {
  std::vector<SortItem>& sorted = sorted_;
  size_t entries = 0;
  for (const Space& s : spaces_) entries += s.log.size();
  batch->Reserve(entries + 4, 0);
  for (const Space& s : spaces_) {
    const std::vector<Write>& log = s.log;
    sorted.clear();
    sorted.reserve(log.size());
    for (uint32_t i = 0; i < log.size(); ++i) {
      if (i + kPrefetchAhead < log.size()) __builtin_prefetch(log[i + kPrefetchAhead].key.data());
      const absl::string_view k = log[i].key;
      sorted.push_back(SortItem{OrderPrefix(k, 0), OrderPrefix(k, 8), OrderPrefix(k, 16),
                                OrderPrefix(k, 24), i});
    }
    // Key order, then the order of the writes: the writes of one key are adjacent, its last one
    // last.
    std::sort(sorted.begin(), sorted.end(), [&log](const SortItem& a, const SortItem& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      if (a.next != b.next) return a.next < b.next;
      if (a.third != b.third) return a.third < b.third;
      if (a.fourth != b.fourth) return a.fourth < b.fourth;
      return TieLess(log, a, b);
    });
    for (size_t j = 0; j < sorted.size(); ++j) {
      const Write& w = log[sorted[j].index];
      if (j + 1 < sorted.size()) {
        const SortItem& a = sorted[j];
        const SortItem& b = sorted[j + 1];
        if (a.prefix == b.prefix && a.next == b.next && a.third == b.third &&
            a.fourth == b.fourth && w.key == log[b.index].key) {
          continue;  // a later write of the same key follows
        }
      }
      const std::string_view key(w.key.data(), w.key.size());
      if (w.value.has_value()) {
        batch->PutUnowned(s.full_name, key, std::string_view(w.value->data(), w.value->size()));
      } else {
        batch->DeleteUnowned(s.full_name, key);
      }
    }
  }
}

absl::Status BatchViewWriter::FlushState() {
  if (state_ == nullptr) return absl::OkStatus();
  std::unique_ptr<BatchState> state = std::move(state_);
  absl::Status s = state->Flush(*this);
  if (s.ok()) s = TakeError();
  // Flush copied what it wrote: the state is no longer used. A large one (a catch-up batch's
  // tens of megabytes of records on arenas) is destroyed on the reaper's thread.
  if (state->ApproximateBytes() >= kReapStateBytes) {
    reaper_.Hand(std::shared_ptr<BatchState>(std::move(state)));
  }
  return s;
}

void BatchViewWriter::Clear() {
  state_.reset();
  // Keep AppendTo's buffer for batches of a similar size; a live worker that caught up after a
  // large catch-up batch lets it go.
  if (sorted_.capacity() > kKeepEntries && sorted_.size() < sorted_.capacity() / 8) {
    std::vector<SortItem>().swap(sorted_);
  }
  sorted_.clear();
  for (Space& s : spaces_) {
    if (s.log.capacity() > kKeepEntries && s.log.size() < s.log.capacity() / 8) {
      std::vector<Write>().swap(s.log);
    }
    s.log.clear();
    s.index.clear();
    s.indexed = false;
    s.pending_bytes = 0;
    s.batch_gets = 0;
    s.batch_committed_reads = 0;
  }
  pending_bytes_.Clear();
  bytes_ = 0;
  error_ = absl::OkStatus();
}

bool BatchViewWriter::CachesWrites(const Space& s) {
  return s.read && (s.batch_gets < kFewGets || s.batch_committed_reads * 8 >= s.batch_gets);
}

void BatchViewWriter::Committed() {
  if (cache_limit_ > 0) {
    // Only the spaces read through Get are cached (Space::read), and only their bytes count; not
    // those whose many reads of this batch were nearly all answered without the store
    // (CachesWrites). Such a space forgets what it cached: this batch may have changed it.
    size_t read_bytes = 0;
    bool unread_writes = false;
    for (Space& s : spaces_) {
      if (CachesWrites(s)) {
        read_bytes += s.pending_bytes;
      } else {
        unread_writes = unread_writes || !s.log.empty();
        if (!s.log.empty()) s.cache.clear();  // its bytes stay counted until ClearCache
      }
    }
    if (cache_bytes_ + read_bytes > cache_limit_) ClearCache();
    // The batch's entries override the cached ones; the bytes of overridden entries stay until
    // the cache is emptied: they stay counted. An empty cache takes over the batch's blocks (a
    // large batch: no copy of its bytes) when every space written is cached; otherwise the writes
    // of the cached spaces are copied into the cache's blocks and the batch's blocks are reused
    // by the next batch. Writes come in order: the last one of a key stays.
    cache_bytes_ += read_bytes;
    bool empty = true;
    for (const Space& s : spaces_) empty = empty && s.cache.empty();
    if (empty && !unread_writes) {
      cache_bytes_store_.TakeFrom(pending_bytes_);
      for (Space& s : spaces_) {
        s.cache.reserve(s.log.size());
        for (const Write& w : s.log) s.cache.insert_or_assign(w.key, w.value);
      }
    } else {
      for (Space& s : spaces_) {
        if (!CachesWrites(s)) continue;
        for (const Write& w : s.log) {
          std::optional<absl::string_view> copy;
          if (w.value.has_value()) copy = cache_bytes_store_.Copy(Sv(*w.value));
          auto it = s.cache.find(w.key);
          if (it != s.cache.end()) {
            it->second = copy;
          } else {
            s.cache.emplace(cache_bytes_store_.Copy(Sv(w.key)), copy);
          }
        }
      }
    }
  }
  Clear();
}

}  // namespace rb::proj
