// Copyright: the Résorption-bidonvilles data service authors.
#include "access/owner_identity.h"

namespace rb::access {

absl::Status OwnerKeys::Seal(std::string_view subject, std::string_view clear,
                             resorption::v1::SealedText* out) {
  absl::StatusOr<std::string> sealed = keys_->Seal(subject, clear);
  if (!sealed.ok()) return sealed.status();
  out->set_subject(std::string(subject));
  out->set_sealed(std::move(*sealed));
  return absl::OkStatus();
}

absl::Status OwnerKeys::Open(const resorption::v1::SealedText& sealed, std::string* clear) const {
  absl::StatusOr<std::string> out = keys_->Open(sealed.subject(), sealed.sealed());
  if (!out.ok()) return out.status();
  *clear = std::move(*out);
  return absl::OkStatus();
}

absl::StatusOr<std::string> OwnerKeys::Digest(std::string_view subject, std::string_view data) {
  return keys_->Digest(subject, data);
}

absl::Status OwnerKeys::Destroy(std::string_view site_id, int anonymisations,
                                int64_t erased_at_us) {
  for (int g = 0; g < anonymisations; ++g) {
    if (absl::Status s = keys_->Destroy(rb::domain::OwnerKeySubject(site_id, g), erased_at_us);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> OwnerKeys::HasKey(std::string_view site_id, int generation) const {
  return keys_->Exists(rb::domain::OwnerKeySubject(site_id, generation));
}

}  // namespace rb::access
