// Copyright: the Résorption-bidonvilles data service authors.
//
// OwnerKeys: the owner names of sites sealed with per-site subject keys (domain/owner_identity.h
// describes what is sealed and when), over the same key space as users' keys
// (access/subject_keys.h, "access.subject_keys.v1", keys "site-<id>.owner[.<n>]").
//
//   rb::access::SubjectKeys keys(&store->kv());
//   rb::access::OwnerKeys owners(&keys);
//   rb::domain::CommandHandlerOptions o;
//   o.owner_cipher = &owners;                                  // seal on append, open on load
//   RB_RETURN_IF_ERROR(rb::domain::OpenOwnerIdentity(owners, site.mutable_ownership()));
//   RB_RETURN_IF_ERROR(owners.Destroy("42", site.owner_anonymisations(), now_us));  // after it
//
// Thread-safe; the SubjectKeys must outlive the OwnerKeys.
#ifndef RB_ACCESS_OWNER_IDENTITY_H_
#define RB_ACCESS_OWNER_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "access/subject_keys.h"
#include "domain/owner_identity.h"

namespace rb::access {

class OwnerKeys : public rb::domain::OwnerIdentityCipher {
 public:
  explicit OwnerKeys(SubjectKeys* keys) : keys_(keys) {}

  absl::Status Seal(std::string_view subject, std::string_view clear,
                    resorption::v1::SealedText* out) override;
  absl::Status Open(const resorption::v1::SealedText& sealed, std::string* clear) const override;
  absl::StatusOr<std::string> Digest(std::string_view subject, std::string_view data) override;

  // Destroys the owner keys of the site's first `anonymisations` generations (the keys that
  // sealed the names erased by that many site.owner_identity_anonymised events), recording
  // `erased_at_us` (the anonymisation's time) in their tombstones. Idempotent: a key already
  // destroyed keeps its time.
  absl::Status Destroy(std::string_view site_id, int anonymisations, int64_t erased_at_us);
  // True when the key of generation `generation` still exists.
  absl::StatusOr<bool> HasKey(std::string_view site_id, int generation) const;

 private:
  SubjectKeys* keys_;
};

}  // namespace rb::access

#endif  // RB_ACCESS_OWNER_IDENTITY_H_
