// Copyright: the Résorption-bidonvilles data service authors.
//
// The identity of a site's owners as personal data (docs/access.md, section 8). The name of an
// owner that is not public (private, unknown or unspecified owner type) never enters the log in
// clear: the command handler seals it with the site's owner key (subject "site-<id>.owner", then
// "site-<id>.owner.<n>" after the n-th anonymisation) before appending, and readers with owner
// access open it. Destroying the key erases every sealed name of the site at once while the hash
// chains still verify; the names then read "Anonymisé le <day>" (AnonymisedOwnerText), as the
// platform's anonymisation job writes them.
//
//   class Keys : public rb::domain::OwnerIdentityCipher { ... };   // access/owner_identity.h
//   rb::domain::CommandHandlerOptions o;
//   o.owner_cipher = &keys;                     // seal before append, open after read
//   // A view's Site (sealed names) for a reader with owner access:
//   RB_RETURN_IF_ERROR(rb::domain::OpenOwnerIdentity(keys, site.mutable_ownership()));
//
// Everything here but the cipher is pure.
#ifndef RB_DOMAIN_OWNER_IDENTITY_H_
#define RB_DOMAIN_OWNER_IDENTITY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::domain {

// What an erased owner name reads as (views, change log, exports): "Anonymisé le 05/03/2027",
// the UTC day of `anonymised_at_us`, or "Anonymisé" when that time is unknown (<= 0).
std::string AnonymisedOwnerText(int64_t anonymised_at_us);
// True for a text made by AnonymisedOwnerText.
bool IsAnonymisedOwnerText(std::string_view name);
// Payload an OwnerIdentityCipher may attach to the FAILED_PRECONDITION of Open: when the key was
// destroyed, in decimal microseconds since the epoch.
inline constexpr char kErasedAtPayload[] = "type.resorption.gouv.fr/rb.ErasedAt";
// site.owner_identity_anonymised rules.
inline constexpr char kRuleOnRequest[] = "on_request";
inline constexpr char kRuleClosedOverOneYear[] = "closed_over_one_year";

// The subject key of the site's owner names after `anonymisations` anonymisations.
std::string OwnerKeySubject(std::string_view site_id, int anonymisations);

// True for the owner types whose names are personal data (everything but OWNER_TYPE_PUBLIC).
bool IsPersonalOwnerType(resorption::v1::OwnerType type);
// True when the site's owner, or one of its parcel owners, is a private owner (the reference's
// rule: only private owners are anonymised).
bool HasPrivateOwner(const resorption::v1::Site& site);
// True when the ownership holds a name of a non-public owner, clear or sealed, that is not
// anonymised yet.
bool HasPersonalOwnerName(const resorption::v1::Ownership& ownership);
// Replaces every non-public name (clear or sealed) by AnonymisedOwnerText(anonymised_at_us)
// (evolve).
void AnonymiseOwnership(resorption::v1::Ownership* ownership, int64_t anonymised_at_us);
// Removes the sealed forms (readers who may not, or cannot, open them).
void DropSealedOwnerNames(resorption::v1::Ownership* ownership);
// True when some name is still sealed.
bool HasSealedOwnerName(const resorption::v1::Ownership& ownership);

// Seals and opens owner names with the subject keys. Implemented over access/subject_keys.h.
class OwnerIdentityCipher {
 public:
  virtual ~OwnerIdentityCipher() = default;
  // AES-256-GCM sealing of `clear` under `subject` (the key is created on first use).
  virtual absl::Status Seal(std::string_view subject, std::string_view clear,
                            resorption::v1::SealedText* out) = 0;
  // The clear text; FAILED_PRECONDITION when the subject's key was destroyed (with the
  // kErasedAtPayload payload when the time is known); DATA_LOSS when the bytes do not
  // authenticate.
  virtual absl::Status Open(const resorption::v1::SealedText& sealed, std::string* clear) const = 0;
  // A keyed digest (32 bytes) of `data` under `subject`'s key, created on first use: what the
  // command handler stores to recognise a command that carries owner names (its fingerprint, see
  // domain/command_fingerprint.h), which nobody can test a guessed name against once the key is
  // destroyed. FAILED_PRECONDITION when the subject's key was destroyed.
  virtual absl::StatusOr<std::string> Digest(std::string_view subject, std::string_view data) = 0;
};

// Before append: seals the non-public names of an ownership event of site `site_id`, whose state
// counts `anonymisations` (Site.owner_anonymisations). Other events are left as they are.
absl::Status SealOwnerIdentity(OwnerIdentityCipher& cipher, std::string_view site_id,
                               int anonymisations, resorption::v1::SiteEvent* event);
// After reading: opens the sealed names in place; a destroyed key gives AnonymisedOwnerText of
// the time the key was destroyed.
// DATA_LOSS when sealed bytes do not authenticate.
absl::Status OpenOwnerIdentity(const OwnerIdentityCipher& cipher,
                               resorption::v1::Ownership* ownership);
absl::Status OpenOwnerIdentity(const OwnerIdentityCipher& cipher, resorption::v1::SiteEvent* event);

}  // namespace rb::domain

#endif  // RB_DOMAIN_OWNER_IDENTITY_H_
