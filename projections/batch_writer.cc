// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/batch_writer.h"

#include "absl/strings/str_cat.h"
#include "projections/strings.h"

namespace rb::proj {

BatchViewWriter::BatchViewWriter(const rb::es::KvStore* kv, std::string_view projection,
                                 GenerationId gen, const std::vector<std::string>& spaces)
    : kv_(kv) {
  spaces_.reserve(spaces.size());
  for (const std::string& s : spaces) {
    spaces_.push_back(Space{s, ViewSpaceName(projection, gen, s), {}});
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
  auto it = s->pending.find(key);
  if (it != s->pending.end()) return it->second;
  return kv_->Get(s->full_name, key);
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
  auto it = s->pending.find(key);
  if (it == s->pending.end()) {
    it = s->pending.emplace(std::string(key), std::nullopt).first;
    bytes_ += key.size() + 16;
  } else if (it->second.has_value()) {
    bytes_ -= it->second->size();
  }
  if (value.has_value()) {
    it->second = std::string(*value);
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
  for (const Space& s : spaces_) {
    for (const auto& [key, value] : s.pending) {
      if (value.has_value()) {
        batch->Put(s.full_name, key, *value);
      } else {
        batch->Delete(s.full_name, key);
      }
    }
  }
}

void BatchViewWriter::Clear() {
  for (Space& s : spaces_) s.pending.clear();
  bytes_ = 0;
  error_ = absl::OkStatus();
}

}  // namespace rb::proj
