// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/owner_identity.h"

#include <algorithm>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr std::string_view kAnonymisedPrefix = "Anonymisé";

bool IsPersonalName(v1::OwnerType type, const std::string& name, bool sealed) {
  if (!IsPersonalOwnerType(type)) return false;
  return sealed || (!name.empty() && !IsAnonymisedOwnerText(name));
}

// Seals `name` in place when it is a personal name in clear.
absl::Status SealName(OwnerIdentityCipher& cipher, const std::string& subject, v1::OwnerType type,
                      std::string* name, v1::SealedText* sealed) {
  if (!IsPersonalOwnerType(type) || name->empty() || IsAnonymisedOwnerText(*name)) {
    return absl::OkStatus();
  }
  if (absl::Status s = cipher.Seal(subject, *name, sealed); !s.ok()) return s;
  name->clear();
  return absl::OkStatus();
}

absl::Status OpenName(const OwnerIdentityCipher& cipher, std::string* name,
                      v1::SealedText* sealed) {
  if (sealed->sealed().empty() && sealed->subject().empty()) return absl::OkStatus();
  std::string clear;
  absl::Status s = cipher.Open(*sealed, &clear);
  if (s.ok()) {
    *name = std::move(clear);
  } else if (absl::IsFailedPrecondition(s)) {
    int64_t erased_at = 0;
    if (auto at = s.GetPayload(kErasedAtPayload); at.has_value()) {
      if (!absl::SimpleAtoi(std::string(*at), &erased_at)) erased_at = 0;
    }
    *name = AnonymisedOwnerText(erased_at);
  } else {
    return s;
  }
  sealed->Clear();
  return absl::OkStatus();
}

}  // namespace

std::string AnonymisedOwnerText(int64_t anonymised_at_us) {
  if (anonymised_at_us <= 0) return std::string(kAnonymisedPrefix);
  const absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixMicros(anonymised_at_us), absl::UTCTimeZone());
  return absl::StrFormat("%s le %02d/%02d/%04d", Sv(kAnonymisedPrefix), day.day(), day.month(),
                         day.year());
}

bool IsAnonymisedOwnerText(std::string_view name) {
  return name.substr(0, kAnonymisedPrefix.size()) == kAnonymisedPrefix;
}

std::string OwnerKeySubject(std::string_view site_id, int anonymisations) {
  if (anonymisations <= 0) return absl::StrCat("site-", Sv(site_id), ".owner");
  return absl::StrCat("site-", Sv(site_id), ".owner.", anonymisations);
}

bool IsPersonalOwnerType(v1::OwnerType type) { return type != v1::OWNER_TYPE_PUBLIC; }

bool HasPrivateOwner(const v1::Site& site) {
  const v1::Ownership& o = site.ownership();
  return o.owner_type() == v1::OWNER_TYPE_PRIVATE ||
         std::any_of(
             o.parcel_owners().begin(), o.parcel_owners().end(),
             [](const v1::ParcelOwner& p) { return p.owner_type() == v1::OWNER_TYPE_PRIVATE; });
}

bool HasPersonalOwnerName(const v1::Ownership& o) {
  if (IsPersonalName(o.owner_type(), o.owner(), o.has_sealed_owner())) return true;
  return std::any_of(o.parcel_owners().begin(), o.parcel_owners().end(),
                     [](const v1::ParcelOwner& p) {
                       return IsPersonalName(p.owner_type(), p.name(), p.has_sealed_name());
                     });
}

void AnonymiseOwnership(v1::Ownership* o, int64_t anonymised_at_us) {
  const std::string text = AnonymisedOwnerText(anonymised_at_us);
  if (IsPersonalName(o->owner_type(), o->owner(), o->has_sealed_owner())) {
    o->set_owner(text);
    o->clear_sealed_owner();
  }
  for (v1::ParcelOwner& p : *o->mutable_parcel_owners()) {
    if (IsPersonalName(p.owner_type(), p.name(), p.has_sealed_name())) {
      p.set_name(text);
      p.clear_sealed_name();
    }
  }
}

void DropSealedOwnerNames(v1::Ownership* o) {
  o->clear_sealed_owner();
  for (v1::ParcelOwner& p : *o->mutable_parcel_owners()) p.clear_sealed_name();
}

bool HasSealedOwnerName(const v1::Ownership& o) {
  return o.has_sealed_owner() ||
         std::any_of(o.parcel_owners().begin(), o.parcel_owners().end(),
                     [](const v1::ParcelOwner& p) { return p.has_sealed_name(); });
}

absl::Status SealOwnerIdentity(OwnerIdentityCipher& cipher, std::string_view site_id,
                               int anonymisations, v1::SiteEvent* event) {
  if (event->body_case() != v1::SiteEvent::kOwnershipChanged) return absl::OkStatus();
  const std::string subject = OwnerKeySubject(site_id, anonymisations);
  v1::Ownership* o = event->mutable_ownership_changed()->mutable_ownership();
  if (absl::Status s =
          SealName(cipher, subject, o->owner_type(), o->mutable_owner(), o->mutable_sealed_owner());
      !s.ok()) {
    return s;
  }
  for (v1::ParcelOwner& p : *o->mutable_parcel_owners()) {
    if (absl::Status s =
            SealName(cipher, subject, p.owner_type(), p.mutable_name(), p.mutable_sealed_name());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status OpenOwnerIdentity(const OwnerIdentityCipher& cipher, v1::Ownership* o) {
  if (o->has_sealed_owner()) {
    if (absl::Status s = OpenName(cipher, o->mutable_owner(), o->mutable_sealed_owner()); !s.ok()) {
      return s;
    }
    o->clear_sealed_owner();
  }
  for (v1::ParcelOwner& p : *o->mutable_parcel_owners()) {
    if (!p.has_sealed_name()) continue;
    if (absl::Status s = OpenName(cipher, p.mutable_name(), p.mutable_sealed_name()); !s.ok()) {
      return s;
    }
    p.clear_sealed_name();
  }
  return absl::OkStatus();
}

absl::Status OpenOwnerIdentity(const OwnerIdentityCipher& cipher, v1::SiteEvent* event) {
  if (event->body_case() != v1::SiteEvent::kOwnershipChanged) return absl::OkStatus();
  return OpenOwnerIdentity(cipher, event->mutable_ownership_changed()->mutable_ownership());
}

}  // namespace rb::domain
