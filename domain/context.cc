// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/context.h"

#include <algorithm>

#include "absl/time/time.h"

namespace rb::domain {

absl::string_view RoleId(Role role) {
  switch (role) {
    case Role::kNationalAdmin:
      return "national_admin";
    case Role::kLocalAdmin:
      return "local_admin";
    case Role::kDirectCollaborator:
      return "direct_collaborator";
    case Role::kCollaborator:
      return "collaborator";
    case Role::kAssociation:
      return "association";
    case Role::kNationalEstablishment:
      return "national_establisment";
    case Role::kIntervener:
      return "intervener";
    case Role::kExternalObserver:
      return "external_observator";
  }
  return "";
}

absl::string_view RoleLabel(Role role) {
  switch (role) {
    case Role::kNationalAdmin:
      return "Administrateur national";
    case Role::kLocalAdmin:
      return "Administrateur local";
    case Role::kDirectCollaborator:
      return "Correspondant";
    case Role::kCollaborator:
      return "Partenaire institutionnel";
    case Role::kAssociation:
      return "Opérateur";
    case Role::kNationalEstablishment:
      return "Acteur national";
    case Role::kIntervener:
      return "Intervenant";
    case Role::kExternalObserver:
      return "Observateur externe";
  }
  return "";
}

bool Actor::HasOption(absl::string_view option) const {
  return std::find(options.begin(), options.end(), option) != options.end();
}

bool Actor::CanAccessJustice() const {
  return role == Role::kNationalAdmin || role == Role::kLocalAdmin ||
         role == Role::kDirectCollaborator || HasOption(kOptionAccessJustice);
}

bool Actor::CanAccessActionFinances() const {
  return role == Role::kNationalAdmin || role == Role::kLocalAdmin ||
         role == Role::kDirectCollaborator || role == Role::kNationalEstablishment ||
         HasOption(kOptionAccessActionFinances);
}

absl::CivilDay Context::today() const {
  return absl::ToCivilDay(absl::FromUnixMicros(now_us), absl::UTCTimeZone());
}

}  // namespace rb::domain
