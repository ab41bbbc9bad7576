// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/history_versions.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "domain/events.h"
#include "domain/site.h"
#include "google/protobuf/arena.h"

namespace rb::proj::views {

namespace v1 = ::resorption::v1;

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

void AppendOrderedInt64(std::string* out, int64_t v) {
  AppendBigEndian64(out, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string VersionKey(std::string_view site_id, int64_t valid_at_us, uint64_t position) {
  std::string key(site_id);
  key.push_back('\0');
  AppendOrderedInt64(&key, valid_at_us);
  AppendBigEndian64(&key, position);
  return key;
}

bool ParseSiteVersionIndex(std::string_view bytes, v1::SiteVersionIndex* index) {
  return index->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) &&
         index->valid_at_us_size() == index->positions_size();
}

absl::StatusOr<v1::SiteEvent> ReadVersion(
    absl::FunctionRef<absl::StatusOr<rb::es::RecordedEvent>(uint64_t)> read,
    std::string_view site_id, uint64_t position) {
  absl::StatusOr<rb::es::RecordedEvent> recorded = read(position);
  if (!recorded.ok()) {
    if (!absl::IsNotFound(recorded.status())) return recorded.status();
    return absl::DataLossError(absl::StrCat("history: version of site ", std::string(site_id),
                                            " at position ", position, " is missing from the log"));
  }
  if (SiteIdViewOfStream(recorded->stream_id) != site_id) {
    return absl::DataLossError(absl::StrCat("history: the event at position ", position,
                                            " is not of site ", std::string(site_id)));
  }
  return rb::domain::DecodeSiteEvent(*recorded);
}

std::string_view SiteIdViewOfStream(std::string_view stream_id) {
  constexpr std::string_view kPrefix = "site-";
  if (stream_id.substr(0, kPrefix.size()) != kPrefix) return {};
  return stream_id.substr(kPrefix.size());
}

std::string SiteIdOfStream(std::string_view stream_id) {
  return std::string(SiteIdViewOfStream(stream_id));
}

namespace {

// Whether version `i` of `index` comes before the key (valid_at_us, position).
bool KeyLess(const v1::SiteVersionIndex& index, int i, int64_t valid_at_us, uint64_t position) {
  const int64_t valid = index.valid_at_us(i);
  return valid < valid_at_us || (valid == valid_at_us && index.positions(i) < position);
}

}  // namespace

void SiteVersionLog::Batch::Flush(ViewWriter& w) {
  for (const auto& [site_id, index] : order_) {
    w.Put(space_, site_id, rb::domain::DeterministicBytes(*index));
  }
  sites_.clear();
  order_.clear();
  last_.Forget();
  arena_.Reset();
  bytes_ = 0;
}

namespace {
// Two packed varints of at most 10 bytes each, counted twice like the record (parsed and
// serialised copies), plus the snapshot entries that come every few versions.
constexpr size_t kBytesPerVersion = 48;
}  // namespace

absl::StatusOr<SiteVersionLog::Change> SiteVersionLog::Add(ViewWriter& w, Batch& batch,
                                                           const rb::es::RecordedEvent& recorded,
                                                           const v1::SiteEvent& event) const {
  const std::string_view site_id = SiteIdViewOfStream(recorded.stream_id);
  if (batch.space_.empty()) batch.space_ = options_.sites;
  bool inserted = false;
  size_t stored_bytes = 0;  // of the record read, for a site new to the batch
  Batch::Entry* found = batch.last_.Find(site_id);
  if (found == nullptr) {
    auto [it, added] = batch.sites_.try_emplace(absl::string_view(site_id.data(), site_id.size()));
    inserted = added;
    if (inserted) {
      it->second.index =
          google::protobuf::Arena::CreateMessage<v1::SiteVersionIndex>(&batch.arena_);
      absl::StatusOr<std::optional<std::string>> stored = w.Get(options_.sites, site_id);
      if (!stored.ok() ||
          (stored->has_value() && !ParseSiteVersionIndex(**stored, it->second.index))) {
        batch.sites_.erase(it);
        batch.last_.Forget();
        if (!stored.ok()) return stored.status();
        return absl::DataLossError(
            absl::StrCat("history: bad record of site ", std::string(site_id)));
      }
      if (stored->has_value()) stored_bytes = (*stored)->size();
      batch.order_.emplace_back(site_id, it->second.index);
    }
    found = batch.last_.Remember(site_id, &it->second);
  }
  Batch::Entry& entry = *found;
  v1::SiteVersionIndex& index = *entry.index;
  absl::StatusOr<Change> change = AddTo(w, index, recorded, event);
  if (!change.ok()) return change.status();
  // Memory: the stored record's size when it enters the batch, then an allowance per version
  // added and the event's size (what the tail state may grow by): measuring the record at each
  // add would be quadratic in its versions. The event's stored size stands for its decoded one
  // (computing that would cost a walk of it).
  const size_t added = kBytesPerVersion + 2 * recorded.payload.size();
  const size_t cost =
      inserted ? site_id.size() + 64 + 2 * stored_bytes + added : entry.bytes + added;
  batch.bytes_ = batch.bytes_ - entry.bytes + cost;  // bytes_ includes entry.bytes
  entry.bytes = cost;
  return change;
}

absl::StatusOr<SiteVersionLog::Change> SiteVersionLog::AddTo(ViewWriter& w,
                                                             v1::SiteVersionIndex& index,
                                                             const rb::es::RecordedEvent& recorded,
                                                             const v1::SiteEvent& event) const {
  const std::string_view site_id = SiteIdViewOfStream(recorded.stream_id);
  Change change;
  const int64_t valid = recorded.valid_at_us;
  const uint64_t position = recorded.position;
  const size_t n = index.positions_size();
  // Versions are ordered by (valid_at, position); the new event has the highest position so far,
  // so it goes after every version of the same or an earlier valid date.
  size_t at = n;
  while (at > 0 && !KeyLess(index, static_cast<int>(at) - 1, valid, position)) --at;
  change.inserted_at = at;
  change.retroactive = at < n;

  // Grown 16 versions at a time at least: a site's index gains a version per event, and each
  // growth on a batch's arena leaves the previous array behind.
  auto make_room = [](auto* field) {
    if (field->size() == field->Capacity()) field->Reserve(std::max(16, 2 * field->size()));
  };
  make_room(index.mutable_valid_at_us());
  make_room(index.mutable_positions());
  index.add_valid_at_us(valid);
  index.add_positions(position);
  for (size_t i = n; i > at; --i) {
    index.mutable_valid_at_us()->SwapElements(static_cast<int>(i), static_cast<int>(i) - 1);
    index.mutable_positions()->SwapElements(static_cast<int>(i), static_cast<int>(i) - 1);
  }

  // Where the fold restarts: the tail for an append (folded in place); the last snapshot still
  // valid otherwise, into a new state made where the index lives (moved into the tail at the end
  // without a copy).
  const bool snapshots = !options_.snapshots.empty();
  std::unique_ptr<v1::Site> local;  // made only for a retroactive version off an arena
  v1::Site* folded = index.mutable_tail();
  if (change.retroactive) {
    if (index.GetArena() != nullptr) {
      folded = google::protobuf::Arena::CreateMessage<v1::Site>(index.GetArena());
    } else {
      local = std::make_unique<v1::Site>();
      folded = local.get();
    }
  }
  v1::Site& state = *folded;
  size_t from = 0;            // first version to fold into `state`
  uint64_t max_position = 0;  // highest position among versions [0, from)
  uint32_t last_snapshot = 0;
  if (!change.retroactive) {
    from = at;
    max_position = at == 0 ? 0 : position;  // every earlier version has a lower position
    if (index.snapshots_size() > 0) last_snapshot = index.snapshots().rbegin()->count();
  } else {
    // Drop snapshots that cover the insertion point.
    while (index.snapshots_size() > 0 && index.snapshots().rbegin()->count() > at) {
      const auto& s = *index.snapshots().rbegin();
      w.Delete(options_.snapshots, VersionKey(site_id, s.valid_at_us(), s.position()));
      index.mutable_snapshots()->RemoveLast();
    }
    if (index.snapshots_size() > 0) {
      const auto& s = *index.snapshots().rbegin();
      absl::StatusOr<std::optional<std::string>> bytes =
          w.Get(options_.snapshots, VersionKey(site_id, s.valid_at_us(), s.position()));
      if (!bytes.ok()) return bytes.status();
      if (!bytes->has_value() || !state.ParseFromString(**bytes)) {
        return absl::DataLossError(
            absl::StrCat("history: missing snapshot of site ", std::string(site_id)));
      }
      from = s.count();
      max_position = s.max_position();
      last_snapshot = s.count();
    }
  }
  const size_t total = index.positions_size();
  for (size_t j = from; j < total; ++j) {
    const int64_t v_valid_at_us = index.valid_at_us(static_cast<int>(j));
    const uint64_t v_position = index.positions(static_cast<int>(j));
    if (j == at) {
      change.before_city_code = state.location().territory().city_code();
      rb::domain::EvolveSiteInPlace(state, event);
    } else {
      absl::StatusOr<v1::SiteEvent> got =
          ReadVersion([&w](uint64_t p) { return w.ReadEvent(p); }, site_id, v_position);
      if (!got.ok()) return got.status();
      rb::domain::EvolveSiteInPlace(state, *got);
    }
    max_position = std::max(max_position, v_position);
    if (j >= at) {
      if (j + 1 < total) change.earlier_states.push_back(state);
      change.valid_at_us.push_back(v_valid_at_us);
    }
    if (snapshots && j + 1 - last_snapshot >= options_.snapshot_every) {
      auto* s = index.add_snapshots();
      s->set_valid_at_us(v_valid_at_us);
      s->set_position(v_position);
      s->set_max_position(max_position);
      s->set_count(static_cast<uint32_t>(j + 1));
      last_snapshot = static_cast<uint32_t>(j + 1);
      w.Put(options_.snapshots, VersionKey(site_id, v_valid_at_us, v_position),
            rb::domain::DeterministicBytes(state));
    }
  }
  if (change.retroactive) index.mutable_tail()->Swap(&state);
  change.last = &index.tail();
  return change;
}

}  // namespace rb::proj::views
