// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/site_rules.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "domain/dates.h"
#include "domain/geo.h"

namespace rb::domain {
namespace {

namespace pb = google::protobuf;
using resorption::v1::Date;
using resorption::v1::TriState;

std::string P(const std::string& path, absl::string_view leaf) {
  return path.empty() ? std::string(leaf) : absl::StrCat(path, ".", leaf);
}

bool Set(TriState t) { return t != resorption::v1::TRI_STATE_UNSPECIFIED; }

// A text left empty or made of spaces only: a required text must say something.
bool Blank(absl::string_view text) { return absl::StripAsciiWhitespace(text).empty(); }

// A tri-state asked only when `applies`.
void OnlyIf(bool applies, TriState value, const std::string& field, absl::string_view rule,
            absl::string_view message, Violations* v) {
  if (!applies && Set(value)) v->Add(field, std::string(rule), std::string(message));
}

// A date that, when present, must be a real day and not after today. Returns the day.
std::optional<absl::CivilDay> CheckPastDate(const Date& d, absl::CivilDay today,
                                            const std::string& field, absl::string_view rule_prefix,
                                            Violations* v) {
  if (IsEmptyDate(d)) return std::nullopt;
  std::optional<absl::CivilDay> day = ToCivilDay(d);
  if (!day) {
    v->Add(field, "date.invalid", "Cette date n'existe pas.");
    return std::nullopt;
  }
  if (*day > today) {
    v->Add(field, absl::StrCat(rule_prefix, ".not_future"),
           "La date ne peut pas être dans le futur.");
  }
  return day;
}

void NonNegative(const std::string& field, bool has, int32_t value, absl::string_view rule,
                 Violations* v) {
  if (has && value < 0) v->Add(field, std::string(rule), "Le nombre doit être positif ou nul.");
}

// Whether messages of type `d` can hold an enum value, in their fields or their sub-messages'
// (memoised per type: most commands check messages without any, and skip the reflective walk).
bool MayHoldEnums(const pb::Descriptor* d) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* memo = new absl::flat_hash_map<const pb::Descriptor*, bool>();
  {
    absl::ReaderMutexLock lock(&mu);
    if (auto it = memo->find(d); it != memo->end()) return it->second;
  }
  {
    absl::MutexLock lock(&mu);
    if (auto it = memo->find(d); it != memo->end()) return it->second;
    (*memo)[d] = true;  // while computing: a recursive type counts as holding enums
  }
  bool holds = false;
  for (int i = 0; i < d->field_count() && !holds; ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    holds = f->type() == pb::FieldDescriptor::TYPE_ENUM ||
            (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && MayHoldEnums(f->message_type()));
  }
  absl::MutexLock lock(&mu);
  (*memo)[d] = holds;
  return holds;
}

void CheckEnumsRec(const pb::Message& m, const std::string& path, Violations* v) {
  if (!MayHoldEnums(m.GetDescriptor())) return;
  const pb::Reflection* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->type() == pb::FieldDescriptor::TYPE_ENUM) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          int n = r->GetRepeatedEnumValue(m, f, i);
          if (n == 0 || f->enum_type()->FindValueByNumber(n) == nullptr) {
            v->Add(absl::StrCat(P(path, f->name()), "[", i, "]"), "enum.unknown_value",
                   "Valeur inconnue : choisissez une valeur de la liste.");
          }
        }
      } else if (f->enum_type()->FindValueByNumber(r->GetEnumValue(m, f)) == nullptr) {
        v->Add(P(path, f->name()), "enum.unknown_value",
               "Valeur inconnue : choisissez une valeur de la liste.");
      }
    } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && MayHoldEnums(f->message_type())) {
      const std::string fp = P(path, f->name());
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          CheckEnumsRec(r->GetRepeatedMessage(m, f, i), absl::StrCat(fp, "[", i, "]"), v);
        }
      } else {
        CheckEnumsRec(r->GetMessage(m, f), fp, v);
      }
    }
  }
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

void CheckEnumValues(const pb::Message& message, const std::string& path, Violations* v) {
  CheckEnumsRec(message, path, v);
}

void CheckName(const std::string& name, const std::string& path, Violations* v) {
  if (Utf8Length(name) > 35) {
    v->Add(path, "name.max_length", "L'appellation du site ne doit pas dépasser 35 caractères.");
  }
  if (name.find_first_of("<>") != std::string::npos) {
    v->Add(path, "name.forbidden_characters",
           "L'appellation du site ne doit pas contenir les caractères < et >.");
  }
}

void CheckLocation(const resorption::v1::SiteLocation& location, const std::string& path,
                   Violations* v) {
  const auto& a = location.address();
  if (Blank(a.label())) {
    v->Add(P(path, "address.label"), "location.address_required",
           "L'adresse du site est obligatoire.");
  }
  const geo::Commune* c = geo::Geography::Get().FindCommune(a.city_code());
  if (c == nullptr) {
    v->Add(P(path, "address.city_code"), "location.city_code_unknown",
           absl::StrCat("Le code commune « ", a.city_code(),
                        " » est inconnu : choisissez l'adresse dans la liste proposée."));
  }
  const double lat = a.coordinates().latitude();
  const double lon = a.coordinates().longitude();
  bool plausible = c != nullptr ? geo::CoordinatesPlausibleFor(c->departement, lat, lon)
                                : geo::PlausibleCoordinates(lat, lon);
  if (!a.has_coordinates() || !plausible) {
    v->Add(P(path, "address.coordinates"), "location.coordinates_implausible",
           "Les coordonnées GPS ne correspondent pas au territoire de la commune : placez le "
           "site sur la carte.");
  }
}

void CheckSiteDates(const Date& built_at, const Date& declared_at, absl::CivilDay today,
                    bool declared_required, Violations* v) {
  auto built = CheckPastDate(built_at, today, "built_at", "built_at", v);
  if (declared_required && IsEmptyDate(declared_at)) {
    v->Add("declared_at", "declared_at.required", "La date de signalement est obligatoire.");
  }
  auto declared = CheckPastDate(declared_at, today, "declared_at", "declared_at", v);
  if (built && declared && *declared < *built) {
    v->Add("declared_at", "declared_at.after_built_at",
           "La date de signalement doit être postérieure ou égale à la date d'installation.");
  }
}

void CheckPopulation(const resorption::v1::Population& p, const std::string& path, Violations* v) {
  const std::string rule = "population.non_negative";
  NonNegative(P(path, "total"), p.has_total(), p.total(), rule, v);
  NonNegative(P(path, "households"), p.has_households(), p.households(), rule, v);
  NonNegative(P(path, "minors"), p.has_minors(), p.minors(), rule, v);
  NonNegative(P(path, "minors_0_3"), p.has_minors_0_3(), p.minors_0_3(), rule, v);
  NonNegative(P(path, "minors_3_6"), p.has_minors_3_6(), p.minors_3_6(), rule, v);
  NonNegative(P(path, "minors_6_12"), p.has_minors_6_12(), p.minors_6_12(), rule, v);
  NonNegative(P(path, "minors_12_16"), p.has_minors_12_16(), p.minors_12_16(), rule, v);
  NonNegative(P(path, "minors_16_18"), p.has_minors_16_18(), p.minors_16_18(), rule, v);
  NonNegative(P(path, "minors_in_school"), p.has_minors_in_school(), p.minors_in_school(), rule, v);
  NonNegative(P(path, "total_females"), p.has_total_females(), p.total_females(), rule, v);
  NonNegative(P(path, "minors_girls"), p.has_minors_girls(), p.minors_girls(), rule, v);
  if (p.has_total() && p.total() < 1) {
    v->Add(P(path, "total"), "population.total_min",
           "Le nombre de personnes doit être d'au moins 1 (laissez vide si inconnu).");
  }
  if (p.has_households() && p.households() < 1) {
    v->Add(P(path, "households"), "population.households_min",
           "Le nombre de ménages doit être d'au moins 1 (laissez vide si inconnu).");
  }
  if (p.has_total() && p.has_households() && p.households() > p.total()) {
    v->Add(P(path, "households"), "population.households_le_total",
           "Le nombre de ménages ne peut pas dépasser le nombre de personnes.");
  }
  if (p.has_total() && p.has_minors() && p.minors() > p.total()) {
    v->Add(P(path, "minors"), "population.minors_le_total",
           "Le nombre de mineurs ne peut pas dépasser le nombre de personnes.");
  }
  const int64_t brackets = int64_t{p.minors_0_3()} + p.minors_3_6() + p.minors_6_12() +
                           p.minors_12_16() + p.minors_16_18();
  const bool any_bracket = p.has_minors_0_3() || p.has_minors_3_6() || p.has_minors_6_12() ||
                           p.has_minors_12_16() || p.has_minors_16_18();
  if (any_bracket && p.has_minors() && brackets > p.minors()) {
    v->Add(P(path, "minors"), "population.age_brackets_le_minors",
           "Le nombre de mineurs doit être au moins égal à la somme des tranches d'âge.");
  }
  if (p.has_minors_in_school() && p.has_minors() && p.minors_in_school() > p.minors()) {
    v->Add(P(path, "minors_in_school"), "population.schooled_le_minors",
           "Le nombre d'enfants scolarisés ne peut pas dépasser le nombre de mineurs.");
  }
  if (p.has_minors_in_school() && p.has_total() && p.minors_in_school() > p.total()) {
    v->Add(P(path, "minors_in_school"), "population.schooled_le_total",
           "Le nombre d'enfants scolarisés ne peut pas dépasser le nombre de personnes.");
  }
  if (p.has_minors_girls() && p.has_minors() && p.minors_girls() > p.minors()) {
    v->Add(P(path, "minors_girls"), "population.girls_le_minors",
           "Le nombre de filles ne peut pas dépasser le nombre de mineurs.");
  }
  if (p.has_total_females() && p.has_total() && p.total_females() > p.total()) {
    v->Add(P(path, "total_females"), "population.females_le_total",
           "Le nombre de femmes et filles ne peut pas dépasser le nombre de personnes.");
  }
  if (p.has_minors_girls() && p.has_total_females() && p.minors_girls() > p.total_females()) {
    v->Add(P(path, "minors_girls"), "population.girls_le_females",
           "Le nombre de filles ne peut pas dépasser le nombre de femmes et filles.");
  }
}

void CheckDwellings(const resorption::v1::Dwellings& d, const std::string& path, Violations* v) {
  const std::string rule = "dwellings.non_negative";
  NonNegative(P(path, "caravans"), d.has_caravans(), d.caravans(), rule, v);
  NonNegative(P(path, "huts"), d.has_huts(), d.huts(), rule, v);
  NonNegative(P(path, "tents"), d.has_tents(), d.tents(), rule, v);
  NonNegative(P(path, "cars"), d.has_cars(), d.cars(), rule, v);
  NonNegative(P(path, "mattresses"), d.has_mattresses(), d.mattresses(), rule, v);
}

void CheckOrigins(const pb::RepeatedField<int>& origins, const std::string& path, Violations* v) {
  std::set<int> seen;
  for (int o : origins) {
    if (!seen.insert(o).second) {
      v->Add(path, "origins.duplicate", "Chaque origine ne peut être indiquée qu'une fois.");
    }
  }
}

void CheckCensus(const resorption::v1::Census& c, const Date& built_at, absl::CivilDay today,
                 const std::string& path, Violations* v) {
  const bool planned = c.status() == resorption::v1::CENSUS_STATUS_SCHEDULED ||
                       c.status() == resorption::v1::CENSUS_STATUS_DONE;
  if (!planned) {
    if (!IsEmptyDate(c.conducted_at()) || !c.conducted_by().empty()) {
      v->Add(path, "census.details_without_status",
             "La date et le service du diagnostic ne s'indiquent que si le diagnostic est prévu "
             "ou réalisé.");
    }
    return;
  }
  if (Blank(c.conducted_by())) {
    v->Add(P(path, "conducted_by"), "census.by_required",
           "Indiquez le service ou l'opérateur en charge du diagnostic.");
  }
  if (IsEmptyDate(c.conducted_at())) {
    v->Add(P(path, "conducted_at"), "census.date_required", "Indiquez la date du diagnostic.");
    return;
  }
  std::optional<absl::CivilDay> day = ToCivilDay(c.conducted_at());
  if (!day) {
    v->Add(P(path, "conducted_at"), "date.invalid", "Cette date n'existe pas.");
    return;
  }
  if (c.status() == resorption::v1::CENSUS_STATUS_SCHEDULED && *day < today) {
    v->Add(P(path, "conducted_at"), "census.scheduled_not_past",
           "Un diagnostic prévu ne peut pas avoir une date passée.");
  }
  if (c.status() == resorption::v1::CENSUS_STATUS_DONE && *day > today) {
    v->Add(P(path, "conducted_at"), "census.done_not_future",
           "Un diagnostic réalisé ne peut pas avoir une date future.");
  }
  std::optional<absl::CivilDay> built = ToCivilDay(built_at);
  if (built && *day < *built) {
    v->Add(P(path, "conducted_at"), "census.after_built_at",
           "Le diagnostic ne peut pas précéder la date d'installation du site.");
  }
}

void CheckLivingConditionsV2(const resorption::v1::LivingConditionsV2& lc, const std::string& path,
                             Violations* v) {
  using namespace resorption::v1;  // NOLINT: enum values
  const auto& w = lc.water();
  const std::string wp = P(path, "water");
  if (w.access_type() == WATER_ACCESS_TYPE_OTHER && Blank(w.access_type_details())) {
    v->Add(P(wp, "access_type_details"), "water.access_type_details_required",
           "Précisez le type d'accès à l'eau.");
  }
  const bool may_be_private = w.access_type() == WATER_ACCESS_TYPE_NETWORK_TAP ||
                              w.access_type() == WATER_ACCESS_TYPE_OTHER;
  OnlyIf(may_be_private, w.is_public(), P(wp, "is_public"), "water.is_public_not_applicable",
         "La question « point d'eau sur la voie publique » ne concerne qu'un robinet connecté au "
         "réseau ou un autre accès.",
         v);
  const bool not_public = may_be_private && w.is_public() == NO;
  OnlyIf(not_public, w.is_continuous(), P(wp, "is_continuous"),
         "water.is_continuous_not_applicable",
         "La continuité ne se renseigne que pour un accès à l'eau qui n'est pas public.", v);
  OnlyIf(
      not_public, w.is_local(), P(wp, "is_local"), "water.is_local_not_applicable",
      "La question « accès sur le site » ne se renseigne que pour un accès qui n'est pas public.",
      v);
  if (w.is_continuous() == NO && Blank(w.is_continuous_details())) {
    v->Add(P(wp, "is_continuous_details"), "water.is_continuous_details_required",
           "Précisez pourquoi l'accès à l'eau est discontinu.");
  }
  if (w.is_continuous() != NO && !w.is_continuous_details().empty()) {
    v->Add(P(wp, "is_continuous_details"), "water.is_continuous_details_not_applicable",
           "Les précisions sur la discontinuité ne s'indiquent que si l'accès est discontinu.");
  }
  const bool local = w.is_local() == YES;
  OnlyIf(local, w.is_close(), P(wp, "is_close"), "water.is_close_not_applicable",
         "La distance ne se renseigne que si l'accès est sur le site.", v);
  OnlyIf(local, w.is_unequal(), P(wp, "is_unequal"), "water.is_unequal_not_applicable",
         "L'inégalité d'accès ne se renseigne que si l'accès est sur le site.", v);
  OnlyIf(local, w.has_stagnant_water(), P(wp, "has_stagnant_water"),
         "water.has_stagnant_water_not_applicable",
         "La présence d'eaux stagnantes ne se renseigne que si l'accès est sur le site.", v);
  if (w.is_unequal() == YES && Blank(w.is_unequal_details())) {
    v->Add(P(wp, "is_unequal_details"), "water.is_unequal_details_required",
           "Précisez en quoi l'accès à l'eau est inégal.");
  }

  const auto& s = lc.sanitary();
  const std::string sp = P(path, "sanitary");
  if (s.working_toilets() == TRI_STATE_UNSPECIFIED) {
    v->Add(P(sp, "working_toilets"), "sanitary.working_toilets_required",
           "Indiquez s'il y a des toilettes fonctionnelles.");
  }
  if (s.working_toilets() != YES && s.toilet_types_size() > 0) {
    v->Add(P(sp, "toilet_types"), "sanitary.toilet_types_not_applicable",
           "Les types de toilettes ne s'indiquent que s'il y a des toilettes fonctionnelles.");
  }
  std::set<int> types;
  bool beyond_latrines = false;
  for (int t : s.toilet_types()) {
    if (!types.insert(t).second) {
      v->Add(P(sp, "toilet_types"), "sanitary.toilet_types_duplicate",
             "Chaque type de toilettes ne peut être indiqué qu'une fois.");
    }
    if (t != TOILET_TYPE_LATRINES) beyond_latrines = true;
  }
  const absl::string_view not_latrines =
      "Cette question ne concerne que des toilettes autres que des latrines.";
  OnlyIf(beyond_latrines, s.toilets_are_inside(), P(sp, "toilets_are_inside"),
         "sanitary.toilets_details_not_applicable", not_latrines, v);
  OnlyIf(beyond_latrines, s.toilets_are_lighted(), P(sp, "toilets_are_lighted"),
         "sanitary.toilets_details_not_applicable", not_latrines, v);
  OnlyIf(beyond_latrines, s.hand_washing(), P(sp, "hand_washing"),
         "sanitary.toilets_details_not_applicable", not_latrines, v);

  const auto& e = lc.electricity();
  const std::string ep = P(path, "electricity");
  if (e.access() == TRI_STATE_UNSPECIFIED) {
    v->Add(P(ep, "access"), "electricity.access_required",
           "Indiquez s'il y a un accès à l'électricité.");
  }
  if (e.access() != YES && e.access_types_size() > 0) {
    v->Add(P(ep, "access_types"), "electricity.access_types_not_applicable",
           "Les types d'accès ne s'indiquent que s'il y a un accès à l'électricité.");
  }
  std::set<int> etypes;
  for (int t : e.access_types()) {
    if (!etypes.insert(t).second) {
      v->Add(P(ep, "access_types"), "electricity.access_types_duplicate",
             "Chaque type d'accès ne peut être indiqué qu'une fois.");
    }
  }
  OnlyIf(e.access() == YES, e.access_is_unequal(), P(ep, "access_is_unequal"),
         "electricity.access_is_unequal_not_applicable",
         "L'inégalité d'accès ne se renseigne que s'il y a un accès à l'électricité.", v);

  const auto& t = lc.trash();
  const std::string tp = P(path, "trash");
  if (t.is_piling() == TRI_STATE_UNSPECIFIED) {
    v->Add(P(tp, "is_piling"), "trash.is_piling_required",
           "Indiquez s'il y a une accumulation de déchets sur le site.");
  }
  if (t.evacuation_is_close() == TRI_STATE_UNSPECIFIED) {
    v->Add(P(tp, "evacuation_is_close"), "trash.evacuation_is_close_required",
           "Indiquez si des points de collecte des déchets sont à proximité.");
  }
  const bool close = t.evacuation_is_close() == YES;
  const absl::string_view not_close =
      "Cette question ne se renseigne que si des points de collecte sont à proximité.";
  OnlyIf(close, t.evacuation_is_safe(), P(tp, "evacuation_is_safe"),
         "trash.collection_details_not_applicable", not_close, v);
  OnlyIf(close, t.evacuation_is_regular(), P(tp, "evacuation_is_regular"),
         "trash.collection_details_not_applicable", not_close, v);
  OnlyIf(close, t.bulky_is_piling(), P(tp, "bulky_is_piling"),
         "trash.collection_details_not_applicable", not_close, v);
}

void CheckLivingConditionsV1(const resorption::v1::LivingConditionsV1& lc, const std::string& path,
                             Violations* v) {
  if (lc.has_water_hand_wash_access_number()) {
    if (lc.water_hand_wash_access() != resorption::v1::YES) {
      v->Add(P(path, "water_hand_wash_access_number"), "v1.hand_wash_number_not_applicable",
             "Le nombre de points de lavage des mains ne s'indique que s'il y en a.");
    }
    NonNegative(P(path, "water_hand_wash_access_number"), true, lc.water_hand_wash_access_number(),
                "v1.non_negative", v);
  }
  NonNegative(P(path, "sanitary_number"), lc.has_sanitary_number(), lc.sanitary_number(),
              "v1.non_negative", v);
}

void CheckJustice(const resorption::v1::JusticeProcedure& j, const Date& built_at,
                  absl::CivilDay today, const std::string& path, Violations* v) {
  using resorption::v1::YES;
  OnlyIf(j.justice_procedure() == YES, j.justice_rendered(), P(path, "justice_rendered"),
         "justice.rendered_without_procedure",
         "Une décision de justice ne s'indique que s'il existe une procédure judiciaire.", v);
  const bool rendered = j.justice_procedure() == YES && j.justice_rendered() == YES;
  OnlyIf(rendered, j.justice_challenged(), P(path, "justice_challenged"),
         "justice.challenged_without_decision",
         "L'appel ne s'indique que si une décision a été rendue.", v);
  if (!rendered && (!IsEmptyDate(j.justice_rendered_at()) || !j.justice_rendered_by().empty())) {
    v->Add(path, "justice.decision_details_without_decision",
           "La date et l'origine de la décision ne s'indiquent que si une décision a été rendue.");
  }
  if (rendered && Blank(j.justice_rendered_by())) {
    v->Add(P(path, "justice_rendered_by"), "justice.rendered_by_required",
           "Indiquez l'origine de la décision de justice.");
  }
  auto day = CheckPastDate(j.justice_rendered_at(), today, P(path, "justice_rendered_at"),
                           "justice.rendered_at", v);
  auto built = ToCivilDay(built_at);
  if (day && built && *day < *built) {
    v->Add(P(path, "justice_rendered_at"), "justice.rendered_at_after_built_at",
           "La décision de justice ne peut pas précéder l'installation du site.");
  }
}

bool HasProcedureOrOrder(const resorption::v1::JusticeProcedure& j,
                         const resorption::v1::AdministrativeOrder& a,
                         const resorption::v1::InsalubrityOrder& i) {
  return j.justice_procedure() == resorption::v1::YES ||
         a.evacuation_under_time_limit() == resorption::v1::YES ||
         i.insalubrity_order() == resorption::v1::YES;
}

void CheckPolice(const resorption::v1::PoliceAssistance& p, bool has_procedure_or_order,
                 absl::CivilDay today, const std::string& path, Violations* v) {
  using namespace resorption::v1;  // NOLINT: enum values
  if (!has_procedure_or_order && p.status() != POLICE_STATUS_UNSPECIFIED) {
    v->Add(P(path, "status"), "police.status_without_procedure",
           "Le concours de la force publique ne s'indique que s'il existe une procédure "
           "judiciaire, un arrêté d'évacuation ou un arrêté d'insalubrité.");
  }
  const bool requested =
      p.status() == POLICE_STATUS_REQUESTED || p.status() == POLICE_STATUS_GRANTED;
  const bool granted = p.status() == POLICE_STATUS_GRANTED;
  if (requested && IsEmptyDate(p.requested_at())) {
    v->Add(P(path, "requested_at"), "police.requested_at_required",
           "Indiquez la date de demande du concours de la force publique.");
  }
  if (!requested && !IsEmptyDate(p.requested_at())) {
    v->Add(P(path, "requested_at"), "police.requested_at_not_applicable",
           "La date de demande ne s'indique que si le concours a été demandé.");
  }
  if (granted && IsEmptyDate(p.granted_at())) {
    v->Add(P(path, "granted_at"), "police.granted_at_required",
           "Indiquez la date d'octroi du concours de la force publique.");
  }
  if (!granted && !IsEmptyDate(p.granted_at())) {
    v->Add(P(path, "granted_at"), "police.granted_at_not_applicable",
           "La date d'octroi ne s'indique que si le concours a été obtenu.");
  }
  auto req =
      CheckPastDate(p.requested_at(), today, P(path, "requested_at"), "police.requested_at", v);
  auto gra = CheckPastDate(p.granted_at(), today, P(path, "granted_at"), "police.granted_at", v);
  if (req && gra && *gra < *req) {
    v->Add(P(path, "granted_at"), "police.granted_after_requested",
           "La date d'octroi doit être postérieure ou égale à la date de demande.");
  }
  OnlyIf(granted, p.existing_litigation(), P(path, "existing_litigation"),
         "police.litigation_not_applicable",
         "L'existence d'un contentieux ne s'indique que si le concours a été obtenu.", v);
}

void CheckAdministrativeOrder(const resorption::v1::AdministrativeOrder& o, absl::CivilDay today,
                              const std::string& path, Violations* v) {
  CheckPastDate(o.decision_at(), today, P(path, "decision_at"), "administrative_order.decision_at",
                v);
  if (o.evacuation_under_time_limit() != resorption::v1::YES && !IsEmptyDate(o.evacuation_at())) {
    v->Add(P(path, "evacuation_at"), "administrative_order.evacuation_at_not_applicable",
           "La date d'évacuation ne s'indique que s'il existe un arrêté d'évacuation.");
  }
  if (auto ev = ToCivilDay(o.evacuation_at()); !IsEmptyDate(o.evacuation_at()) && !ev) {
    v->Add(P(path, "evacuation_at"), "date.invalid", "Cette date n'existe pas.");
  }
}

void CheckInsalubrityOrder(const resorption::v1::InsalubrityOrder& o, absl::CivilDay today,
                           const std::string& path, Violations* v) {
  const bool exists = o.insalubrity_order() == resorption::v1::YES;
  if (!exists && (Set(o.displayed()) || !o.order_type().empty() || !o.order_by().empty() ||
                  !IsEmptyDate(o.order_at()) || !o.parcels().empty())) {
    v->Add(path, "insalubrity.details_without_order",
           "Les détails de l'arrêté ne s'indiquent que s'il existe un arrêté d'insalubrité.");
  }
  CheckPastDate(o.order_at(), today, P(path, "order_at"), "insalubrity.order_at", v);
}

void CheckReinstallation(const resorption::v1::Reinstallation& r, const std::string& site_id,
                         const std::string& path, Violations* v) {
  if (r.is_reinstallation() != resorption::v1::YES && r.incoming_site_ids_size() > 0) {
    v->Add(P(path, "incoming_site_ids"), "reinstallation.origins_not_applicable",
           "Les sites d'origine ne s'indiquent que s'il s'agit d'une réinstallation.");
  }
  std::set<std::string> seen;
  for (const std::string& id : r.incoming_site_ids()) {
    if (id.empty() || id == site_id) {
      v->Add(P(path, "incoming_site_ids"), "reinstallation.invalid_origin",
             "Un site d'origine doit être un autre site.");
    } else if (!seen.insert(id).second) {
      v->Add(P(path, "incoming_site_ids"), "reinstallation.duplicate_origin",
             "Chaque site d'origine ne peut être indiqué qu'une fois.");
    }
  }
}

void CheckResorptionTarget(int32_t year, const std::string& path, Violations* v) {
  if (year != 0 && (year < 2018 || year > 2100)) {
    v->Add(path, "resorption_target.year_range",
           "L'objectif de résorption est une année entre 2018 et 2100.");
  }
}

void CheckClosure(const resorption::v1::Closure& c, const Date& built_at, const Date& declared_at,
                  absl::CivilDay today, const std::string& path, Violations* v) {
  using namespace resorption::v1;  // NOLINT: enum values
  if (c.cause() == CLOSING_CAUSE_UNSPECIFIED) {
    v->Add(P(path, "cause"), "closure.cause_required", "Indiquez la cause de la fermeture.");
  }
  if (c.cause() == CLOSING_CAUSE_OTHER && Blank(c.context())) {
    v->Add(P(path, "context"), "closure.context_required",
           "Précisez le contexte de la fermeture (cause « Autre »).");
  }
  if (c.closed_with_solutions() == TRI_STATE_UNSPECIFIED) {
    v->Add(P(path, "closed_with_solutions"), "closure.resorbed_required",
           "Indiquez si le site a été résorbé.");
  }
  if (IsEmptyDate(c.closed_at())) {
    v->Add(P(path, "closed_at"), "closure.closed_at_required",
           "Indiquez la date de fermeture du site.");
  }
  auto closed = CheckPastDate(c.closed_at(), today, P(path, "closed_at"), "closure.closed_at", v);
  auto declared = ToCivilDay(declared_at);
  auto built = ToCivilDay(built_at);
  if (closed && declared && *closed < *declared) {
    v->Add(P(path, "closed_at"), "closure.closed_at_after_declared_at",
           "La date de fermeture doit être postérieure ou égale à la date de signalement.");
  }
  if (closed && built && *closed <= *built) {
    v->Add(P(path, "closed_at"), "closure.closed_at_after_built_at",
           "La date de fermeture doit être postérieure à la date d'installation.");
  }
  std::set<int> seen;
  for (int i = 0; i < c.solutions_size(); ++i) {
    const auto& s = c.solutions(i);
    const std::string sp = absl::StrCat(P(path, "solutions"), "[", i, "]");
    if (s.solution() == CLOSING_SOLUTION_UNSPECIFIED) {
      v->Add(P(sp, "solution"), "closure.solution_required", "Choisissez une orientation.");
    } else if (!seen.insert(s.solution()).second) {
      v->Add(P(sp, "solution"), "closure.duplicate_solution",
             "Chaque orientation ne peut être indiquée qu'une fois.");
    }
    NonNegative(P(sp, "people"), s.has_people(), s.people(), "closure.non_negative", v);
    NonNegative(P(sp, "households"), s.has_households(), s.households(), "closure.non_negative", v);
    if (s.has_people() && s.has_households() && s.households() > s.people()) {
      v->Add(P(sp, "households"), "closure.households_le_people",
             "Le nombre de ménages orientés ne peut pas dépasser le nombre de personnes.");
    }
  }
}

void CheckIntervener(const resorption::v1::Intervener& i, const std::string& path, Violations* v) {
  if (i.user_id().empty()) {
    v->Add(P(path, "user_id"), "intervener.user_required", "Indiquez l'intervenant.");
  }
  if (i.themes_size() == 0) {
    v->Add(P(path, "themes"), "intervener.themes_required",
           "Indiquez au moins une thématique d'intervention.");
  }
  std::set<int> seen;
  bool other = false;
  for (int t : i.themes()) {
    if (!seen.insert(t).second) {
      v->Add(P(path, "themes"), "intervener.duplicate_theme",
             "Chaque thématique ne peut être indiquée qu'une fois.");
    }
    if (t == resorption::v1::ACTOR_THEME_OTHER) other = true;
  }
  if (other && Blank(i.other_theme())) {
    v->Add(P(path, "other_theme"), "intervener.other_theme_required",
           "Précisez la thématique « Autre ».");
  }
}

}  // namespace rb::domain
