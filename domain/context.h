// Copyright: the Résorption-bidonvilles data service authors.
//
// What a decision may know besides the state and the command: the valid date "now" and who acts.
// decide() never reads a clock; the caller (the command handler, a test) fills the context.
//
//   rb::domain::Context ctx;
//   ctx.now_us = absl::ToUnixMicros(absl::Now());   // in the service layer only
//   ctx.actor = {.user_id = "u-12", .organisation_id = "o-3",
//                .role = rb::domain::Role::kLocalAdmin, .options = {"access_justice"}};
#ifndef RB_DOMAIN_CONTEXT_H_
#define RB_DOMAIN_CONTEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace rb::domain {

// The platform's roles.
enum class Role {
  kNationalAdmin,          // national_admin: Administrateur national
  kLocalAdmin,             // local_admin: Administrateur local
  kDirectCollaborator,     // direct_collaborator: Correspondant
  kCollaborator,           // collaborator: Partenaire institutionnel
  kAssociation,            // association: Opérateur
  kNationalEstablishment,  // national_establisment: Acteur national
  kIntervener,             // intervener: Intervenant
  kExternalObserver,       // external_observator: Observateur externe
};

// The platform's role id ("national_admin", ...) and French label.
absl::string_view RoleId(Role role);
absl::string_view RoleLabel(Role role);

// Permission options a user may hold.
inline constexpr absl::string_view kOptionAccessJustice = "access_justice";
inline constexpr absl::string_view kOptionAccessActionFinances = "access_action_finances";
// "import": the actor is the history import; only it may record living conditions v1.
inline constexpr absl::string_view kOptionImport = "import";

struct Actor {
  std::string user_id;
  std::string organisation_id;
  Role role = Role::kCollaborator;
  std::vector<std::string> options;

  bool HasOption(absl::string_view option) const;
  // Justice, police, administrative and insalubrity procedures.
  bool CanAccessJustice() const;
  bool CanAccessActionFinances() const;
  bool IsNationalAdmin() const { return role == Role::kNationalAdmin; }
};

struct Context {
  // Valid time "now" in microseconds since the Unix epoch; also defines today's date (UTC).
  int64_t now_us = 0;
  Actor actor;

  absl::CivilDay today() const;
};

}  // namespace rb::domain

#endif  // RB_DOMAIN_CONTEXT_H_
