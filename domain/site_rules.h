// Copyright: the Résorption-bidonvilles data service authors.
//
// The validation rules of the site form, one function per part of a site. Each appends every
// violation it finds (field path under `path`, rule id, French message) and never stops early, so
// that a user sees all problems at once. Pure functions; thread-safe.
//
//   rb::domain::Violations v;
//   rb::domain::CheckPopulation(cmd.population(), "population", &v);
//   rb::domain::CheckCensus(cmd.census(), site.built_at(), today, "census", &v);
//   if (!v.empty()) return v.ToStatus();
//
// Rule ids are stable (tests and clients match on them); docs/events.md lists them.
#ifndef RB_DOMAIN_SITE_RULES_H_
#define RB_DOMAIN_SITE_RULES_H_

#include <string>

#include "absl/time/civil_time.h"
#include "domain/violations.h"
#include "google/protobuf/message.h"
#include "resorption/v1/site.pb.h"

namespace rb::domain {

// Every enum field (recursively) holds a declared value: rule "enum.unknown_value".
void CheckEnumValues(const google::protobuf::Message& message, const std::string& path,
                     Violations* v);

// name: at most 35 characters, no '<' or '>'.
void CheckName(const std::string& name, const std::string& path, Violations* v);

// Address label required, commune code known, coordinates plausible for the commune's territory.
void CheckLocation(const resorption::v1::SiteLocation& location, const std::string& path,
                   Violations* v);

// built_at / declared_at: valid, not in the future, declared_at >= built_at; declared_at required
// when `declared_required`.
void CheckSiteDates(const resorption::v1::Date& built_at, const resorption::v1::Date& declared_at,
                    absl::CivilDay today, bool declared_required, Violations* v);

void CheckPopulation(const resorption::v1::Population& p, const std::string& path, Violations* v);
void CheckDwellings(const resorption::v1::Dwellings& d, const std::string& path, Violations* v);
void CheckOrigins(const google::protobuf::RepeatedField<int>& origins, const std::string& path,
                  Violations* v);

void CheckCensus(const resorption::v1::Census& c, const resorption::v1::Date& built_at,
                 absl::CivilDay today, const std::string& path, Violations* v);

void CheckLivingConditionsV2(const resorption::v1::LivingConditionsV2& lc, const std::string& path,
                             Violations* v);
void CheckLivingConditionsV1(const resorption::v1::LivingConditionsV1& lc, const std::string& path,
                             Violations* v);

void CheckJustice(const resorption::v1::JusticeProcedure& j, const resorption::v1::Date& built_at,
                  absl::CivilDay today, const std::string& path, Violations* v);
// The police status needs a judicial procedure, an administrative order or an insalubrity order.
void CheckPolice(const resorption::v1::PoliceAssistance& p, bool has_procedure_or_order,
                 absl::CivilDay today, const std::string& path, Violations* v);
void CheckAdministrativeOrder(const resorption::v1::AdministrativeOrder& o, absl::CivilDay today,
                              const std::string& path, Violations* v);
void CheckInsalubrityOrder(const resorption::v1::InsalubrityOrder& o, absl::CivilDay today,
                           const std::string& path, Violations* v);
// True when the site has a judicial procedure, an administrative order or an insalubrity order.
bool HasProcedureOrOrder(const resorption::v1::JusticeProcedure& j,
                         const resorption::v1::AdministrativeOrder& a,
                         const resorption::v1::InsalubrityOrder& i);

void CheckReinstallation(const resorption::v1::Reinstallation& r, const std::string& site_id,
                         const std::string& path, Violations* v);
void CheckResorptionTarget(int32_t year, const std::string& path, Violations* v);

// Closure: cause, date (valid, not future, >= declared_at and > built_at), context for "other",
// "résorbé" answered, solutions (known, not duplicated, counts >= 0, households <= people).
void CheckClosure(const resorption::v1::Closure& c, const resorption::v1::Date& built_at,
                  const resorption::v1::Date& declared_at, absl::CivilDay today,
                  const std::string& path, Violations* v);

void CheckIntervener(const resorption::v1::Intervener& i, const std::string& path, Violations* v);

}  // namespace rb::domain

#endif  // RB_DOMAIN_SITE_RULES_H_
