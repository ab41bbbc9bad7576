// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/view_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "projections/strings.h"

namespace rb::proj {
namespace internal {
namespace {

std::vector<std::string> FullNames(std::string_view projection, GenerationId id,
                                   const std::vector<std::string>& spaces) {
  std::vector<std::string> out;
  out.reserve(spaces.size());
  for (const std::string& s : spaces) out.push_back(ViewSpaceName(projection, id, s));
  return out;
}

}  // namespace

GenerationHandle::GenerationHandle(rb::es::KvStore* kv, std::string projection, GenerationId id,
                                   std::vector<std::string> spaces)
    : kv_(kv),
      projection_(std::move(projection)),
      id_(id),
      spaces_(std::move(spaces)),
      full_names_(FullNames(projection_, id_, spaces_)) {}

GenerationHandle::~GenerationHandle() {
  if (!drop_on_release_.load()) return;
  for (const std::string& full : full_names_) {
    if (kv_->HasSpace(full)) kv_->DropSpace(full).IgnoreError();
  }
}

const std::string* GenerationHandle::FullName(std::string_view space) const {
  for (size_t i = 0; i < spaces_.size(); ++i) {
    if (spaces_[i] == space) return &full_names_[i];
  }
  return nullptr;
}

absl::Status GenerationHandle::CreateSpaces() const { return kv_->CreateSpaces(full_names_); }

}  // namespace internal

ViewReader::ViewReader(std::shared_ptr<const internal::GenerationHandle> generation)
    : generation_(std::move(generation)) {}

absl::StatusOr<std::optional<std::string>> ViewReader::Get(std::string_view space,
                                                           std::string_view key) const {
  const std::string* full = generation_->FullName(space);
  if (full == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("projection \"", projection(), "\" has no view space \"", Av(space), "\""));
  }
  return generation_->kv()->Get(*full, key);
}

absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> ViewReader::NewIterator(
    std::string_view space) const {
  const std::string* full = generation_->FullName(space);
  if (full == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("projection \"", projection(), "\" has no view space \"", Av(space), "\""));
  }
  return generation_->kv()->NewIterator(*full);
}

absl::StatusOr<ViewSnapshot> ViewReader::Snapshot() const {
  absl::StatusOr<std::unique_ptr<rb::es::KvSnapshot>> snapshot = generation_->kv()->Snapshot();
  if (!snapshot.ok()) return snapshot.status();
  return ViewSnapshot(generation_, std::move(*snapshot));
}

ViewSnapshot::ViewSnapshot(std::shared_ptr<const internal::GenerationHandle> generation,
                           std::shared_ptr<const rb::es::KvSnapshot> snapshot)
    : generation_(std::move(generation)), snapshot_(std::move(snapshot)) {}

absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> ViewSnapshot::NewIterator(
    std::string_view space) const {
  const std::string* full = generation_->FullName(space);
  if (full == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("projection \"", generation_->projection(),
                                                   "\" has no view space \"", Av(space), "\""));
  }
  return snapshot_->NewIterator(*full);
}

}  // namespace rb::proj
