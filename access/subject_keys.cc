// Copyright: the Résorption-bidonvilles data service authors.
#include "access/subject_keys.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "access/crypto.h"
#include "access/strings.h"
#include "domain/owner_identity.h"

namespace rb::access {
namespace {

const std::string& Space() {
  static const auto* s = new std::string(kSubjectKeySpace);
  return *s;
}

constexpr std::string_view kTombstonePrefix = "erased:";

// A stored value is a live key (32 bytes) or a tombstone ("erased:<microseconds>").
bool IsTombstone(std::string_view value) {
  return value.substr(0, kTombstonePrefix.size()) == kTombstonePrefix;
}

}  // namespace

absl::Status SubjectKeys::Init() { return kv_->CreateSpace(Space()); }

absl::StatusOr<std::string> SubjectKeys::KeyForUse(std::string_view subject, bool keep_tombstone) {
  absl::MutexLock lock(&mu_);
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  if (v->has_value() && !IsTombstone(**v)) return std::move(**v);
  if (v->has_value() && keep_tombstone) {
    std::string_view at = std::string_view(**v).substr(kTombstonePrefix.size());
    absl::Status s = absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", Sv(subject), " was erased"));
    s.SetPayload(rb::domain::kErasedAtPayload, absl::Cord(Sv(at)));
    return s;
  }
  std::string key = NewKey();
  rb::es::KvWriteBatch batch;
  batch.Put(Space(), subject, key);
  if (absl::Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) return s;
  return key;
}

absl::StatusOr<std::string> SubjectKeys::Seal(std::string_view subject,
                                              std::string_view plaintext) {
  absl::StatusOr<std::string> key = KeyForUse(subject, /*keep_tombstone=*/false);
  if (!key.ok()) return key.status();
  return rb::access::Seal(*key, plaintext, subject);
}

absl::StatusOr<std::string> SubjectKeys::Digest(std::string_view subject, std::string_view data) {
  absl::StatusOr<std::string> key = KeyForUse(subject, /*keep_tombstone=*/true);
  if (!key.ok()) return key.status();
  // A key of its own for the digests, derived: the AES key itself never keys anything else.
  return HmacSha256(HmacSha256(*key, "resorption.subject-digest.v1"), data);
}

absl::StatusOr<std::string> SubjectKeys::Open(std::string_view subject,
                                              std::string_view sealed) const {
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", Sv(subject), " was erased"));
  }
  if (IsTombstone(**v)) {
    std::string_view at = std::string_view(**v).substr(kTombstonePrefix.size());
    absl::Status s = absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", Sv(subject), " was erased"));
    s.SetPayload(rb::domain::kErasedAtPayload, absl::Cord(Sv(at)));
    return s;
  }
  return rb::access::Open(**v, sealed, subject);
}

absl::Status SubjectKeys::Destroy(std::string_view subject, int64_t erased_at_us) {
  absl::MutexLock lock(&mu_);
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  if (!v->has_value() || IsTombstone(**v)) return absl::OkStatus();  // nothing left to destroy
  rb::es::KvWriteBatch batch;
  if (erased_at_us > 0) {
    batch.Put(Space(), subject, absl::StrCat(Sv(kTombstonePrefix), erased_at_us));
  } else {
    batch.Delete(Space(), subject);
  }
  return kv_->Write(batch, /*sync=*/true);
}

}  // namespace rb::access

namespace rb::access {

absl::StatusOr<bool> SubjectKeys::Exists(std::string_view subject) const {
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  return v->has_value() && !IsTombstone(**v);
}

absl::Status SubjectKeys::Purge(rb::es::EventStore* store) {
  return store->PurgeDeleted(std::string(kSubjectKeySpace));
}

}  // namespace rb::access
