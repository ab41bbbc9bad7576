// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/batch_writer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "projections/strings.h"

namespace rb::proj {

namespace {

// Bookkeeping cost of one map entry beyond its key and value bytes.
constexpr size_t kEntryOverhead = 16;

}  // namespace

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
  for (Space& s : spaces_) {
    if (s.short_name == space) return &s;
  }
  return nullptr;
}

absl::StatusOr<std::optional<std::string>> BatchViewWriter::Get(std::string_view space,
                                                                std::string_view key) {
  Space* s = Find(space);
  if (s == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Get on undeclared view space \"", Av(space), "\""));
  }
  if (auto it = s->pending.find(Av(key)); it != s->pending.end()) return it->second;
  if (auto it = s->cache.find(Av(key)); it != s->cache.end()) return it->second;
  absl::StatusOr<std::optional<std::string>> stored = kv_->Get(s->full_name, key);
  if (stored.ok() && cache_limit_ > 0) {
    const size_t cost = key.size() + kEntryOverhead + (stored->has_value() ? (*stored)->size() : 0);
    if (cache_bytes_ + cost > cache_limit_) {
      for (Space& sp : spaces_) sp.cache.clear();
      cache_bytes_ = 0;
    }
    s->cache.emplace(std::string(key), *stored);
    cache_bytes_ += cost;
  }
  return stored;
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
  auto [it, inserted] = s->pending.try_emplace(Av(key), std::nullopt);
  if (inserted) {
    bytes_ += key.size() + kEntryOverhead;
  } else if (it->second.has_value()) {
    bytes_ -= it->second->size();
  }
  if (value.has_value()) {
    if (it->second.has_value()) {
      it->second->assign(value->data(), value->size());
    } else {
      it->second.emplace(*value);
    }
    bytes_ += value->size();
  } else {
    it->second = std::nullopt;
  }
}

void BatchViewWriter::Put(std::string_view space, std::string_view key, std::string_view value) {
  Record("Put", space, key, value);
}

void BatchViewWriter::Delete(std::string_view space, std::string_view key) {
  Record("Delete", space, key, std::nullopt);
}

absl::Status BatchViewWriter::TakeError() {
  absl::Status s = std::move(error_);
  error_ = absl::OkStatus();
  return s;
}

void BatchViewWriter::AppendTo(rb::es::KvWriteBatch* batch) const {
  std::vector<const Entry*>& sorted = sorted_;
  size_t entries = 0;
  for (const Space& s : spaces_) entries += s.pending.size();
  batch->Reserve(entries + 4, 0);
  for (const Space& s : spaces_) {
    sorted.clear();
    sorted.reserve(s.pending.size());
    for (const Entry& e : s.pending) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry* a, const Entry* b) { return a->first < b->first; });
    for (const Entry* e : sorted) {
      if (e->second.has_value()) {
        batch->PutUnowned(s.full_name, e->first, *e->second);
      } else {
        batch->DeleteUnowned(s.full_name, e->first);
      }
    }
  }
}

absl::Status BatchViewWriter::FlushState() {
  if (state_ == nullptr) return absl::OkStatus();
  std::unique_ptr<BatchState> state = std::move(state_);
  absl::Status s = state->Flush(*this);
  if (s.ok()) s = TakeError();
  return s;
}

void BatchViewWriter::Clear() {
  state_.reset();
  // Keep AppendTo's buffer for batches of a similar size; a live worker that caught up after a
  // large catch-up batch lets it go.
  if (sorted_.capacity() > (size_t{1} << 16) && sorted_.size() < sorted_.capacity() / 8) {
    std::vector<const Entry*>().swap(sorted_);
  }
  sorted_.clear();
  for (Space& s : spaces_) s.pending.clear();
  bytes_ = 0;
  error_ = absl::OkStatus();
}

void BatchViewWriter::Committed() {
  if (cache_limit_ > 0) {
    if (cache_bytes_ + bytes_ > cache_limit_) {
      for (Space& s : spaces_) s.cache.clear();
      cache_bytes_ = 0;
    }
    auto cost = [](const std::string& key, const std::optional<std::string>& value) {
      return key.size() + kEntryOverhead + (value.has_value() ? value->size() : 0);
    };
    for (Space& s : spaces_) {
      if (s.cache.size() < s.pending.size()) {
        // Move the smaller map: the batch's writes become the cache, and the older cached
        // entries they do not override are added to it.
        for (const auto& [key, value] : s.pending) cache_bytes_ += cost(key, value);
        s.cache.swap(s.pending);
        for (auto& [key, value] : s.pending) {
          if (!s.cache.try_emplace(key, std::move(value)).second) {
            cache_bytes_ -= std::min(cache_bytes_, cost(key, value));  // overridden
          }
        }
        continue;
      }
      for (auto& [key, value] : s.pending) {
        auto [it, inserted] = s.cache.try_emplace(key, std::nullopt);
        if (!inserted) cache_bytes_ -= std::min(cache_bytes_, cost(key, it->second));
        cache_bytes_ += cost(key, value);
        it->second = std::move(value);
      }
    }
  }
  Clear();
}

}  // namespace rb::proj
