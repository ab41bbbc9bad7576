// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/changelog.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "domain/action.h"
#include "domain/command_handler.h"
#include "domain/dates.h"
#include "domain/events.h"
#include "domain/labels.h"
#include "domain/site.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "projections/strings.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// ---- Labels and sensitivities ---------------------------------------------------------------

struct FieldInfo {
  std::string_view path;
  std::string_view label;
};

// French labels of the fields users see in the platform's history (getDiff.ts).
constexpr FieldInfo kLabels[] = {
    // Site
    {"status", "Statut du site"},
    {"name", "Appellation du site"},
    {"location.address.label", "Adresse"},
    {"location.address.city_code", "Commune (code INSEE)"},
    {"location.address.coordinates", "Coordonnées GPS"},
    {"location.address_details", "Informations d'accès"},
    {"field_type", "Type de site"},
    {"ownership.owner_type", "Type de propriétaire"},
    {"ownership.owner", "Propriétaire"},
    {"ownership.parcel_owners", "Propriétaires des parcelles"},
    {"built_at", "Date d'installation"},
    {"declared_at", "Date de signalement"},
    {"reinstallation.is_reinstallation", "S'agit-il d'une réinstallation ?"},
    {"reinstallation.comments", "Précisions sur la réinstallation"},
    {"reinstallation.incoming_site_ids", "Sites dont sont originaires les habitant(e)s"},
    {"resorption_target", "Objectif de résorption"},
    {"resorption_phases", "Phases de résorption"},
    {"heatwave", "Alerte canicule"},
    {"census.status", "Statut du diagnostic social"},
    {"census.conducted_at", "Date du diagnostic"},
    {"census.conducted_by", "Service ou opérateur en charge du diagnostic"},
    {"population.total", "Nombre de personnes"},
    {"population.households", "Nombre de ménages"},
    {"population.minors", "Nombre de mineurs"},
    {"population.minors_0_3", "Mineurs de 0 à 3 ans"},
    {"population.minors_3_6", "Mineurs de 3 à 6 ans"},
    {"population.minors_6_12", "Mineurs de 6 à 12 ans"},
    {"population.minors_12_16", "Mineurs de 12 à 16 ans"},
    {"population.minors_16_18", "Mineurs de 16 à 18 ans"},
    {"population.minors_in_school", "Enfants inscrits dans un établissement scolaire"},
    {"population.total_females", "Dont femmes et filles"},
    {"population.minors_girls", "Dont filles"},
    {"dwellings.caravans", "Nombre de caravanes"},
    {"dwellings.huts", "Nombre de cabanes"},
    {"dwellings.tents", "Nombre de tentes"},
    {"dwellings.cars", "Nombre de voitures dortoir"},
    {"dwellings.mattresses", "Nombre de matelas"},
    {"origins", "Origines"},
    // Living conditions, old format (v1, 2019 -> 2022)
    {"living_conditions_v1.access_to_water", "Accès à l'eau"},
    {"living_conditions_v1.water_comments", "Commentaires sur l'accès à l'eau"},
    {"living_conditions_v1.water_potable", "Eau potable"},
    {"living_conditions_v1.water_continuous_access", "Accès à l'eau continu"},
    {"living_conditions_v1.water_public_point", "Point d'eau public"},
    {"living_conditions_v1.water_distance", "Distance du point d'eau"},
    {"living_conditions_v1.water_roads_to_cross",
     "Routes à traverser pour atteindre le point d'eau"},
    {"living_conditions_v1.water_everyone_has_access", "Accès à l'eau pour tous les habitants"},
    {"living_conditions_v1.water_stagnant_water", "Présence d'eaux stagnantes"},
    {"living_conditions_v1.water_hand_wash_access", "Accès à un point de lavage des mains"},
    {"living_conditions_v1.water_hand_wash_access_number", "Nombre de points de lavage des mains"},
    {"living_conditions_v1.electricity_type", "Accès à l'électricité"},
    {"living_conditions_v1.electricity_comments", "Commentaires sur l'accès à l'électricité"},
    {"living_conditions_v1.access_to_sanitary", "Accès à des toilettes"},
    {"living_conditions_v1.sanitary_comments", "Commentaires sur l'accès aux toilettes"},
    {"living_conditions_v1.sanitary_number", "Nombre de toilettes"},
    {"living_conditions_v1.sanitary_insalubrious", "Toilettes insalubres"},
    {"living_conditions_v1.sanitary_on_site", "Toilettes sur le site"},
    {"living_conditions_v1.trash_evacuation", "Évacuation des déchets"},
    {"living_conditions_v1.trash_cans_on_site", "Poubelles sur le site"},
    {"living_conditions_v1.trash_accumulation", "Accumulation de déchets"},
    {"living_conditions_v1.trash_evacuation_regular", "Collecte régulière des déchets"},
    {"living_conditions_v1.vermin", "Présence de nuisibles"},
    {"living_conditions_v1.vermin_comments", "Précisions sur les nuisibles"},
    {"living_conditions_v1.fire_prevention_measures", "Mesures de prévention incendie"},
    {"living_conditions_v1.fire_prevention_diagnostic", "Diagnostic prévention incendie réalisé"},
    {"living_conditions_v1.fire_prevention_site_accessible", "Site accessible aux secours"},
    {"living_conditions_v1.fire_prevention_devices", "Dispositifs de prévention incendie"},
    {"living_conditions_v1.fire_prevention_comments", "Commentaires sur la prévention incendie"},
    // Living conditions (v2, 2022 ->)
    {"living_conditions_v2.water.access_type", "Type d'accès à l'eau"},
    {"living_conditions_v2.water.access_type_details", "Précisions sur l'accès à l'eau"},
    {"living_conditions_v2.water.is_public", "Point d'eau sur la voie publique"},
    {"living_conditions_v2.water.is_continuous", "Accès à l'eau continu"},
    {"living_conditions_v2.water.is_continuous_details", "Précisions sur la continuité"},
    {"living_conditions_v2.water.is_local", "Point d'eau sur le site"},
    {"living_conditions_v2.water.is_close", "Point d'eau à proximité"},
    {"living_conditions_v2.water.is_unequal", "Accès à l'eau inégal entre les habitants"},
    {"living_conditions_v2.water.is_unequal_details", "Précisions sur les inégalités d'accès"},
    {"living_conditions_v2.water.has_stagnant_water", "Présence d'eaux stagnantes"},
    {"living_conditions_v2.water.comments", "Commentaires sur l'accès à l'eau"},
    {"living_conditions_v2.sanitary.open_air_defecation", "Défécation à l'air libre"},
    {"living_conditions_v2.sanitary.working_toilets", "Présence de toilettes fonctionnelles"},
    {"living_conditions_v2.sanitary.toilet_types", "Types de toilettes"},
    {"living_conditions_v2.sanitary.toilets_are_inside", "Toilettes à l'intérieur du site"},
    {"living_conditions_v2.sanitary.toilets_are_lighted", "Toilettes éclairées"},
    {"living_conditions_v2.sanitary.hand_washing", "Point de lavage des mains"},
    {"living_conditions_v2.electricity.access", "Accès à l'électricité"},
    {"living_conditions_v2.electricity.access_types", "Types d'accès à l'électricité"},
    {"living_conditions_v2.electricity.access_is_unequal", "Accès à l'électricité inégal"},
    {"living_conditions_v2.trash.is_piling", "Accumulation de déchets"},
    {"living_conditions_v2.trash.evacuation_is_close", "Points de collecte à proximité"},
    {"living_conditions_v2.trash.evacuation_is_safe", "Points de collecte sécurisés"},
    {"living_conditions_v2.trash.evacuation_is_regular", "Collecte régulière"},
    {"living_conditions_v2.trash.bulky_is_piling", "Accumulation d'encombrants"},
    {"living_conditions_v2.pests.animals", "Présence de nuisibles"},
    {"living_conditions_v2.pests.details", "Précisions sur les nuisibles"},
    {"living_conditions_v2.fire.prevention_diagnostic",
     "Diagnostic prévention incendie par le SDIS réalisé"},
    {"justice.owner_complaint", "Dépôt de plainte par le propriétaire"},
    {"justice.justice_procedure", "Existence d'une procédure judiciaire"},
    {"justice.justice_rendered", "Décision de justice rendue"},
    {"justice.justice_rendered_at", "Date de la décision de justice"},
    {"justice.justice_rendered_by", "Origine de la décision"},
    {"justice.justice_challenged", "Appel en cours"},
    {"police.status", "Concours de la force publique"},
    {"police.requested_at", "Date de la demande du concours de la force publique"},
    {"police.granted_at", "Date d'octroi du concours de la force publique"},
    {"police.bailiff", "Nom de l'étude d'huissiers"},
    {"police.existing_litigation", "Existence d'un contentieux"},
    {"administrative_order.evacuation_under_time_limit",
     "Procédure administrative prescrivant l'évacuation sous délai"},
    {"administrative_order.decision_at", "Date de l'arrêté"},
    {"administrative_order.decision_rendered_by", "Auteur de l'arrêté"},
    {"administrative_order.evacuation_at", "Date de l'évacuation"},
    {"insalubrity_order.insalubrity_order", "Arrêté d'insalubrité"},
    {"insalubrity_order.displayed", "Affichage de l'arrêté d'insalubrité"},
    {"insalubrity_order.order_type", "Type d'arrêté"},
    {"insalubrity_order.order_by", "Auteur de l'arrêté d'insalubrité"},
    {"insalubrity_order.order_at", "Date de l'arrêté d'insalubrité"},
    {"insalubrity_order.parcels", "Parcelles concernées"},
    {"closure.cause", "Cause de la fermeture"},
    {"closure.closed_at", "Date de fermeture"},
    {"closure.context", "Contexte de la fermeture"},
    {"closure.closed_with_solutions", "Résorbé"},
    {"closure.solutions", "Orientation des ménages"},
    {"interveners", "Intervenants"},
    {"living_conditions_version", "Conditions de vie"},
    // Action
    {"details.name", "Nom de l'action"},
    {"details.started_at", "Date de début"},
    {"details.ended_at", "Date de fin"},
    {"details.goals", "Objectifs de l'action"},
    {"details.topics", "Thématiques"},
    {"details.departement_code", "Département"},
    {"details.location.type", "Lieu de l'action"},
    {"details.location.eti_addresses", "Adresses de l'espace temporaire d'insertion"},
    {"details.location.site_ids", "Sites concernés"},
    {"details.location.other", "Précisions sur le lieu"},
    {"managers", "Pilotes"},
    {"operators", "Opérateurs"},
    {"closed_at", "Date de clôture"},
    {"final_comment", "Commentaire final"},
};

std::string Label(const std::string& path) {
  for (const FieldInfo& f : kLabels) {
    if (f.path == path) return std::string(f.label);
  }
  // Keyed entries: "indicators.2024.nombre_personnes", "finances.2024".
  if (path.rfind("indicators.", 0) == 0) {
    std::string rest = path.substr(11);
    const size_t dot = rest.find('.');
    if (dot != std::string::npos) {
      const std::string field = rest.substr(dot + 1);
      const absl::string_view heading = rb::domain::IndicatorLabel(field);
      return absl::StrCat("Indicateurs ", rest.substr(0, dot), " : ",
                          heading.empty() ? absl::string_view(field) : heading);
    }
  }
  if (path.rfind("finances.", 0) == 0) return absl::StrCat("Financements ", path.substr(9));
  if (path.rfind("living_conditions_v1.", 0) == 0) {
    return absl::StrCat("Conditions de vie (ancien format) : ", path.substr(21));
  }
  return path;
}

bool HasPrefix(const std::string& path, std::string_view prefix) {
  return path.size() >= prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '.');
}

pb::Sensitivity SensitivityOf(const std::string& path) {
  for (std::string_view p : {"justice", "police", "administrative_order", "insalubrity_order"}) {
    if (HasPrefix(path, p)) return pb::SENSITIVITY_JUSTICE;
  }
  if (HasPrefix(path, "ownership.owner") || HasPrefix(path, "ownership.parcel_owners") ||
      HasPrefix(path, "ownership.sealed_owner")) {
    return pb::SENSITIVITY_OWNER;
  }
  if (HasPrefix(path, "finances")) return pb::SENSITIVITY_FINANCES;
  for (std::string_view p : {"interveners", "managers", "operators"}) {
    if (HasPrefix(path, p)) return pb::SENSITIVITY_PERSONAL;
  }
  return pb::SENSITIVITY_NONE;
}

// Bookkeeping and journal: never a change.
bool Skipped(const std::string& path) {
  static constexpr std::string_view kSkipped[] = {"id",
                                                  "revision",
                                                  "created_at_us",
                                                  "created_by",
                                                  "updated_at_us",
                                                  "updated_by",
                                                  "population_updated_at_us",
                                                  "updated_without_any_change",
                                                  "owner_anonymisations",
                                                  "comments",
                                                  "location.territory",
                                                  "living_conditions_version"};
  for (std::string_view s : kSkipped) {
    if (path == s) return true;
  }
  return false;
}

// ---- Values ---------------------------------------------------------------------------------

constexpr absl::string_view kMonths[] = {"janvier",   "février", "mars",     "avril",
                                         "mai",       "juin",    "juillet",  "août",
                                         "septembre", "octobre", "novembre", "décembre"};

std::string FormatDay(absl::CivilDay d) {
  return absl::StrCat(d.day() < 10 ? "0" : "", d.day(), " ", kMonths[d.month() - 1], " ", d.year());
}

std::string FormatEuros(int64_t cents) {
  const bool negative = cents < 0;
  uint64_t c = negative ? -static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string units = absl::StrCat(c / 100);
  std::string grouped;
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0 && (units.size() - i) % 3 == 0) grouped.push_back(' ');
    grouped.push_back(units[i]);
  }
  const uint64_t rest = c % 100;
  return absl::StrCat(negative ? "-" : "", grouped, ",", rest < 10 ? "0" : "", rest, " €");
}

std::string FormatEnum(const google::protobuf::EnumValueDescriptor* v) {
  if (v->type()->full_name() == "resorption.v1.TriState") {
    switch (v->number()) {
      case pb::YES:
        return "oui";
      case pb::NO:
        return "non";
      case pb::UNKNOWN:
        return "inconnu";
      default:
        return "";
    }
  }
  if (v->number() == 0) return "";
  absl::string_view label = rb::domain::FrenchLabel(v->type(), v->number());
  return label.empty() ? std::string(v->name()) : std::string(label);
}

std::string FormatMessage(const Message& m);

// One value of field `f` (element `index` when repeated).
std::string FormatValue(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
      if (f->name().size() > 6 && f->name().substr(f->name().size() - 6) == "_at_us") {
        return v == 0 ? "" : FormatDay(rb::domain::DayOfMicros(v));
      }
      if (f->name().size() > 6 && f->name().substr(f->name().size() - 6) == "_cents") {
        return FormatEuros(v);
      }
      return absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "oui" : "non";
    case FieldDescriptor::CPPTYPE_ENUM:
      return FormatEnum(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f));
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return FormatMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return "";
}

// A singular field: "" when not filled (no presence, or proto3 default other than a boolean).
std::string FormatSingular(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->has_presence() && !r->HasField(m, f)) return "";
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_BOOL && !f->has_presence() && !r->HasField(m, f)) {
    return "";
  }
  return FormatValue(m, f, 0);
}

std::string FormatRepeated(const Message& m, const FieldDescriptor* f) {
  std::vector<std::string> items;
  const int n = m.GetReflection()->FieldSize(m, f);
  for (int i = 0; i < n; ++i) {
    std::string v = FormatValue(m, f, i);
    if (!v.empty()) items.push_back(std::move(v));
  }
  return JoinFrench(items);
}

// Compact text of a message used as a value (a list element, a date, a point).
std::string FormatMessage(const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "resorption.v1.Date") return FormatFrenchDate(static_cast<const pb::Date&>(m));
  if (type == "resorption.v1.GeoPoint") {
    const auto& p = static_cast<const pb::GeoPoint&>(m);
    if (p.latitude() == 0 && p.longitude() == 0) return "";
    return absl::StrCat(p.latitude(), ", ", p.longitude());
  }
  if (type == "resorption.v1.Address") return static_cast<const pb::Address&>(m).label();
  if (type == "resorption.v1.Intervener") {
    // "u-12 (org-3) : Santé et Autre (veille sanitaire)": the user and organisation as for action
    // members, then the themes.
    const auto& i = static_cast<const pb::Intervener&>(m);
    std::string s = i.organisation_id().empty()
                        ? i.user_id()
                        : absl::StrCat(i.user_id(), " (", i.organisation_id(), ")");
    std::vector<std::string> themes;
    for (int t : i.themes()) {
      std::string theme(rb::domain::FrenchLabel(static_cast<pb::ActorTheme>(t)));
      if (t == pb::ACTOR_THEME_OTHER && !i.other_theme().empty()) {
        absl::StrAppend(&theme, " (", i.other_theme(), ")");
      }
      if (!theme.empty()) themes.push_back(std::move(theme));
    }
    if (!themes.empty()) absl::StrAppend(&s, " : ", JoinFrench(themes));
    return s;
  }
  if (type == "resorption.v1.ParcelOwner") {
    // "Privé : Jean Dupont", "Public : SNCF Réseau (inactif)". The name is the one in clear: a
    // sealed name was opened or dropped before the diff, and is never read here.
    const auto& o = static_cast<const pb::ParcelOwner&>(m);
    std::vector<std::string> parts;
    if (absl::string_view t = rb::domain::FrenchLabel(o.owner_type()); !t.empty()) {
      parts.emplace_back(t);
    }
    if (!o.name().empty()) parts.push_back(o.name());
    std::string s = absl::StrJoin(parts, " : ");
    if (!o.active()) absl::StrAppend(&s, s.empty() ? "" : " ", "(inactif)");
    return s;
  }
  if (type == "resorption.v1.ActionMember") {
    const auto& a = static_cast<const pb::ActionMember&>(m);
    return absl::StrCat(a.user_id(), " (", a.organisation_id(), ")");
  }
  if (type == "resorption.v1.FinanceLine") {
    const auto& l = static_cast<const pb::FinanceLine&>(m);
    std::string s =
        absl::StrCat(rb::domain::FrenchLabel(l.type()), " : ", FormatEuros(l.amount_cents()),
                     " prévus, ", FormatEuros(l.real_amount_cents()), " dépensés");
    if (!l.comments().empty()) absl::StrAppend(&s, " (", l.comments(), ")");
    return s;
  }
  if (type == "resorption.v1.ClosingSolutionOutcome") {
    const auto& o = static_cast<const pb::ClosingSolutionOutcome&>(m);
    std::string s(rb::domain::FrenchLabel(o.solution()));
    std::vector<std::string> counts;
    // French agreement: 0 and 1 take the singular.
    auto count = [](int64_t n, std::string_view one, std::string_view many) {
      return absl::StrCat(n, " ", rb::proj::Av(n <= 1 ? one : many));
    };
    if (o.has_people()) counts.push_back(count(o.people(), "personne", "personnes"));
    if (o.has_households()) counts.push_back(count(o.households(), "ménage", "ménages"));
    if (!counts.empty()) absl::StrAppend(&s, " : ", absl::StrJoin(counts, ", "));
    return s;
  }
  if (type == "resorption.v1.ResorptionPhaseProgress") {
    const auto& p = static_cast<const pb::ResorptionPhaseProgress&>(m);
    std::string s(rb::domain::FrenchLabel(p.phase()));
    if (p.completed_at_us() != 0) {
      absl::StrAppend(&s, " (terminée le ", FormatDay(rb::domain::DayOfMicros(p.completed_at_us())),
                      ")");
    } else if (p.started_at_us() != 0) {
      absl::StrAppend(&s, " (commencée le ", FormatDay(rb::domain::DayOfMicros(p.started_at_us())),
                      ")");
    }
    return s;
  }
  // Generic: "field : value" of every filled field.
  std::vector<std::string> parts;
  const auto* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    std::string v = f->is_repeated() ? FormatRepeated(m, f) : FormatSingular(m, f);
    if (!v.empty()) parts.push_back(absl::StrCat(f->name(), " : ", v));
  }
  return absl::StrJoin(parts, ", ");
}

bool IsLeafMessage(const FieldDescriptor* f) {
  const std::string& t = f->message_type()->full_name();
  return t == "resorption.v1.Date" || t == "resorption.v1.GeoPoint";
}

void Emit(std::vector<pb::FieldChange>& out, const std::string& path, std::string old_value,
          std::string new_value) {
  if (old_value == new_value) return;
  pb::FieldChange& c = out.emplace_back();
  c.set_field_key(path);
  c.set_field(Label(path));
  c.set_old_value(std::move(old_value));
  c.set_new_value(std::move(new_value));
  c.set_sensitivity(SensitivityOf(path));
}

void DiffMessages(const Message& a, const Message& b, const std::string& prefix,
                  std::vector<pb::FieldChange>& out);

// Repeated messages with a `year` field (indicators, finances): matched by year.
void DiffByYear(const Message& a, const Message& b, const FieldDescriptor* f,
                const std::string& path, std::vector<pb::FieldChange>& out) {
  std::map<int, const Message*> ya, yb;
  const FieldDescriptor* year = f->message_type()->FindFieldByName("year");
  auto collect = [&](const Message& m, std::map<int, const Message*>& into) {
    const Reflection* r = m.GetReflection();
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      const Message& e = r->GetRepeatedMessage(m, f, i);
      into[e.GetReflection()->GetInt32(e, year)] = &e;
    }
  };
  collect(a, ya);
  collect(b, yb);
  std::map<int, bool> years;
  for (const auto& [y, unused] : ya) years[y] = true;
  for (const auto& [y, unused] : yb) years[y] = true;
  const Message& empty =
      *google::protobuf::MessageFactory::generated_factory()->GetPrototype(f->message_type());
  for (const auto& [y, unused] : years) {
    const Message& ea = ya.count(y) ? *ya[y] : empty;
    const Message& eb = yb.count(y) ? *yb[y] : empty;
    const std::string p = absl::StrCat(path, ".", y);
    if (f->name() == "finances") {
      const FieldDescriptor* lines = f->message_type()->FindFieldByName("lines");
      Emit(out, p, FormatRepeated(ea, lines), FormatRepeated(eb, lines));
      continue;
    }
    const auto* d = f->message_type();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* g = d->field(i);
      if (g->name() == "year" || g->name() == "updated_at_us") continue;
      Emit(out, absl::StrCat(p, ".", g->name()), FormatSingular(ea, g), FormatSingular(eb, g));
    }
  }
}

void DiffMessages(const Message& a, const Message& b, const std::string& prefix,
                  std::vector<pb::FieldChange>& out) {
  const auto* d = a.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (Skipped(path)) continue;
    if (f->is_repeated()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
          f->message_type()->FindFieldByName("year") != nullptr) {
        DiffByYear(a, b, f, path, out);
      } else {
        Emit(out, path, FormatRepeated(a, f), FormatRepeated(b, f));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !IsLeafMessage(f)) {
      DiffMessages(a.GetReflection()->GetMessage(a, f), b.GetReflection()->GetMessage(b, f), path,
                   out);
    } else {
      Emit(out, path, FormatSingular(a, f), FormatSingular(b, f));
    }
  }
}

// ---- Versions -----------------------------------------------------------------------------------

// Reads the stream's versions (the events of one append) in log order and diffs the state before
// each version with the state after it. `in_valid_order(events, until)` folds the events read in
// valid order up to a date, or returns nullopt for an aggregate folded in log order (actions).
// Sites' states are those of the history view: a version dated before an earlier one (a retroactive
// correction) is diffed against the state on its own date (the fold, in valid order, of the
// versions valid by then), and the state the next versions start from is the fold of every version
// in valid order.
template <typename State, typename Decode, typename Evolve, typename Diff, typename InValidOrder>
absl::StatusOr<pb::ChangeLog> Build(const rb::es::EventStore& store, const std::string& stream_id,
                                    const Visibility& visibility, Decode decode, Evolve evolve,
                                    Diff diff, InValidOrder in_valid_order) {
  using Event = typename decltype(decode(std::declval<const rb::es::RecordedEvent&>()))::value_type;
  pb::ChangeLog log;
  log.set_stream_id(stream_id);
  State state;
  std::vector<std::pair<uint64_t, Event>> seen;  // every event read so far, with its position
  int64_t max_valid_at_us = std::numeric_limits<int64_t>::min();
  uint64_t from = 0;
  std::vector<rb::es::RecordedEvent> pending;  // the events of the version being read
  auto flush = [&]() -> absl::Status {
    if (pending.empty()) return absl::OkStatus();
    const int64_t valid_at_us = pending.front().valid_at_us;
    std::optional<State> on_date;
    if (!seen.empty() && valid_at_us < max_valid_at_us) on_date = in_valid_order(seen, valid_at_us);
    const State& before = on_date.has_value() ? *on_date : state;
    State next = before;
    pb::ChangeLogEntry entry;
    for (const rb::es::RecordedEvent& e : pending) {
      auto ev = decode(e);
      if (!ev.ok()) return ev.status();
      next = evolve(std::move(next), *ev);
      seen.emplace_back(e.position, *std::move(ev));
      entry.add_event_types(e.type);
    }
    const rb::es::RecordedEvent& first = pending.front();
    entry.set_first_revision(first.revision);
    entry.set_last_revision(pending.back().revision);
    entry.set_author_user_id(first.metadata.actor_user);
    entry.set_author_organisation_id(first.metadata.actor_organisation);
    entry.set_author_role(first.metadata.actor_role);
    entry.set_valid_at_us(first.valid_at_us);
    entry.set_recorded_at_us(first.recorded_at_us);
    entry.set_reason(first.metadata.reason);
    for (pb::FieldChange& c : diff(before, next)) {
      if (visibility.Sees(c.sensitivity())) *entry.add_changes() = std::move(c);
    }
    if (entry.changes_size() > 0) *log.add_entries() = std::move(entry);
    max_valid_at_us = std::max(max_valid_at_us, valid_at_us);
    if (on_date.has_value()) {
      state = *in_valid_order(seen, std::nullopt);
    } else {
      state = std::move(next);
    }
    pending.clear();
    return absl::OkStatus();
  };
  constexpr size_t kChunk = 512;
  while (true) {
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> events =
        store.ReadStream(stream_id, from, rb::es::Direction::kForward, kChunk);
    if (!events.ok()) return events.status();
    for (rb::es::RecordedEvent& e : *events) {
      if (!pending.empty() && !SameVersion(pending.back(), e)) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      pending.push_back(std::move(e));
    }
    if (events->size() < kChunk) break;
    from = pending.back().revision + 1;
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return log;
}

}  // namespace

bool SameVersion(const rb::es::RecordedEvent& a, const rb::es::RecordedEvent& b) {
  return a.metadata == b.metadata && a.valid_at_us == b.valid_at_us &&
         a.recorded_at_us == b.recorded_at_us;
}

std::string FormatFrenchDate(const pb::Date& date) {
  std::optional<absl::CivilDay> d = rb::domain::ToCivilDay(date);
  return d.has_value() ? FormatDay(*d) : "";
}

std::string JoinFrench(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  if (items.size() == 1) return items[0];
  std::vector<std::string> head(items.begin(), items.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " et ", items.back());
}

std::vector<pb::FieldChange> DiffSites(const pb::Site& before, const pb::Site& after) {
  std::vector<pb::FieldChange> out;
  const bool upgrade =
      before.living_conditions_version() == 1 && after.living_conditions_version() == 2;
  if (!upgrade) {
    DiffMessages(before, after, "", out);
    // An anonymisation is shown even when the names read the same on both sides (the erased key
    // makes the earlier versions read "Anonymisé le …" too).
    if (after.owner_anonymisations() > before.owner_anonymisations() &&
        std::none_of(out.begin(), out.end(),
                     [](const pb::FieldChange& c) { return c.field_key() == "ownership.owner"; })) {
      std::string text = rb::domain::AnonymisedOwnerText(0);
      if (rb::domain::IsAnonymisedOwnerText(after.ownership().owner())) {
        text = after.ownership().owner();
      } else {
        for (const pb::ParcelOwner& p : after.ownership().parcel_owners()) {
          if (rb::domain::IsAnonymisedOwnerText(p.name())) text = p.name();
        }
      }
      Emit(out, "ownership.owner", "", text);
    }
    return out;
  }
  // v1 -> v2: one pseudo-change instead of every field of both schemas.
  pb::Site a = before, b = after;
  a.clear_living_conditions_v1();
  a.clear_living_conditions_v2();
  b.clear_living_conditions_v1();
  b.clear_living_conditions_v2();
  DiffMessages(a, b, "", out);
  Emit(out, "living_conditions_version", "Ancien format", "Nouveau format");
  return out;
}

std::vector<pb::FieldChange> DiffActions(const pb::Action& before, const pb::Action& after) {
  std::vector<pb::FieldChange> out;
  DiffMessages(before, after, "", out);
  // The labels are shared with sites; "status" is the one field both messages name alike.
  for (pb::FieldChange& c : out) {
    if (c.field_key() == "status") c.set_field("Statut de l'action");
  }
  return out;
}

absl::StatusOr<pb::ChangeLog> ChangeLogQuery::ForSite(const std::string& site_id,
                                                      const Visibility& visibility) const {
  return Build<pb::Site>(
      *store_, rb::domain::SiteStreamId(site_id), visibility,
      [&](const rb::es::RecordedEvent& e) -> absl::StatusOr<pb::SiteEvent> {
        absl::StatusOr<pb::SiteEvent> event = rb::domain::DecodeSiteEvent(e);
        if (!event.ok() || event->body_case() != pb::SiteEvent::kOwnershipChanged) return event;
        pb::Ownership* o = event->mutable_ownership_changed()->mutable_ownership();
        if (visibility.owner && owner_cipher_ != nullptr) {
          if (absl::Status s = rb::domain::OpenOwnerIdentity(*owner_cipher_, o); !s.ok()) return s;
        } else {
          rb::domain::DropSealedOwnerNames(o);
        }
        return event;
      },
      [](pb::Site s, const pb::SiteEvent& e) { return rb::domain::EvolveSite(std::move(s), e); },
      &DiffSites,
      // The fold in valid order of the events read, up to a date.
      [](const std::vector<std::pair<uint64_t, pb::SiteEvent>>& seen,
         std::optional<int64_t> until_us) -> std::optional<pb::Site> {
        std::vector<rb::domain::LoggedSiteEvent> events;
        events.reserve(seen.size());
        for (const auto& [position, e] : seen) events.push_back({position, e});
        return rb::domain::FoldSiteInValidOrder(std::move(events), until_us);
      });
}

absl::StatusOr<pb::ChangeLog> ChangeLogQuery::ForAction(const std::string& action_id,
                                                        const Visibility& visibility) const {
  return Build<pb::Action>(
      *store_, rb::domain::ActionStreamId(action_id), visibility,
      [](const rb::es::RecordedEvent& e) { return rb::domain::DecodeActionEvent(e); },
      [](pb::Action a, const pb::ActionEvent& e) {
        return rb::domain::EvolveAction(std::move(a), e);
      },
      &DiffActions,
      // Actions have no retroactive corrections: their versions are folded in log order.
      [](const std::vector<std::pair<uint64_t, pb::ActionEvent>>&,
         std::optional<int64_t>) -> std::optional<pb::Action> { return std::nullopt; });
}

}  // namespace rb::views
