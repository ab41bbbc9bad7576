// Copyright: the Résorption-bidonvilles data service authors.
#include "access/subject_keys.h"

#include "absl/strings/str_cat.h"
#include "access/crypto.h"
#include "access/strings.h"

namespace rb::access {
namespace {

const std::string& Space() {
  static const auto* s = new std::string(kSubjectKeySpace);
  return *s;
}

}  // namespace

absl::Status SubjectKeys::Init() { return kv_->CreateSpace(Space()); }

absl::StatusOr<std::string> SubjectKeys::Seal(std::string_view subject,
                                              std::string_view plaintext) {
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    auto v = kv_->Get(Space(), subject);
    if (!v.ok()) return v.status();
    if (v->has_value()) {
      key = std::move(**v);
    } else {
      key = NewKey();
      rb::es::KvWriteBatch batch;
      batch.Put(Space(), subject, key);
      if (absl::Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) return s;
    }
  }
  return rb::access::Seal(key, plaintext, subject);
}

absl::StatusOr<std::string> SubjectKeys::Open(std::string_view subject,
                                              std::string_view sealed) const {
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", Sv(subject), " was erased"));
  }
  return rb::access::Open(**v, sealed, subject);
}

absl::Status SubjectKeys::Destroy(std::string_view subject) {
  absl::MutexLock lock(&mu_);
  rb::es::KvWriteBatch batch;
  batch.Delete(Space(), subject);
  return kv_->Write(batch, /*sync=*/true);
}

}  // namespace rb::access

namespace rb::access {

absl::StatusOr<bool> SubjectKeys::Exists(std::string_view subject) const {
  auto v = kv_->Get(Space(), subject);
  if (!v.ok()) return v.status();
  return v->has_value();
}

absl::Status SubjectKeys::Purge(rb::es::EventStore* store) {
  return store->PurgeDeleted(std::string(kSubjectKeySpace));
}

}  // namespace rb::access
