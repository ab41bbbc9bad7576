// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/site_table.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "domain/dates.h"
#include "domain/geo.h"
#include "domain/labels.h"
#include "tools/lib/csv.h"
#include "tools/lib/json.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using Getter = std::function<std::string(const SiteRow&)>;
using Setter = std::function<absl::Status(const std::string&, v1::Site*)>;

std::string Day(const v1::Date& d) {
  if (rb::domain::IsEmptyDate(d)) return "";
  return absl::StrFormat("%02d/%02d/%04d", d.day(), d.month(), d.year());
}

std::string Number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

template <typename E>
std::string Label(E value) {
  return std::string(rb::domain::FrenchLabel(value));
}

std::string DomainLabel(v1::DomainStatus s) {
  switch (s) {
    case v1::DOMAIN_STATUS_GOOD:
      return "Bon";
    case v1::DOMAIN_STATUS_TO_IMPROVE:
      return "À améliorer";
    case v1::DOMAIN_STATUS_BAD:
      return "Mauvais";
    case v1::DOMAIN_STATUS_UNKNOWN:
      return "Inconnu";
    default:
      return "Non renseigné";
  }
}

// The number of the value of enum `d` whose French label or platform code is `text` (ASCII case
// ignored); the unspecified value (0) is never read.
absl::Status ParseEnumNumber(const google::protobuf::EnumDescriptor* d, absl::string_view text,
                             int* out) {
  std::vector<std::string> accepted;
  for (int i = 0; i < d->value_count(); ++i) {
    const int n = d->value(i)->number();
    if (n == 0) continue;
    absl::string_view label = rb::domain::FrenchLabel(d, n);
    absl::string_view code = rb::domain::PlatformCode(d, n);
    if (absl::EqualsIgnoreCase(label, text) || absl::EqualsIgnoreCase(code, text)) {
      *out = n;
      return absl::OkStatus();
    }
    accepted.emplace_back(label);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not one of: ", absl::StrJoin(accepted, ", ")));
}

template <typename E>
absl::Status ParseEnum(const std::string& text, E* out) {
  int n = 0;
  if (absl::Status s = ParseEnumNumber(google::protobuf::GetEnumDescriptor<E>(),
                                       absl::string_view(text.data(), text.size()), &n);
      !s.ok()) {
    return s;
  }
  *out = static_cast<E>(n);
  return absl::OkStatus();
}

absl::Status ParseInt(const std::string& text, int min, int32_t* out) {
  int32_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a whole number"));
  }
  if (v < min) {
    return absl::InvalidArgumentError(absl::StrCat(v, " is below the minimum ", min));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseDouble(const std::string& text, double* out) {
  std::string s = absl::StrReplaceAll(absl::string_view(text.data(), text.size()), {{",", "."}});
  if (!absl::SimpleAtod(s, out)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a decimal number"));
  }
  return absl::OkStatus();
}

// An optional int32 of a message: getter and setter from a field name of Population/Dwellings.
template <typename M>
SiteColumn Count(std::string section, std::string header, M* (v1::Site::*mut)(),
                 const M& (v1::Site::*get)() const, std::string field) {
  const auto* fd = M::descriptor()->FindFieldByName(field);
  SiteColumn c;
  c.section = std::move(section);
  c.header = std::move(header);
  c.get = [get, fd](const SiteRow& r) -> std::string {
    const M& m = (r.site.*get)();
    if (!m.GetReflection()->HasField(m, fd)) return "";
    return absl::StrCat(m.GetReflection()->GetInt32(m, fd));
  };
  c.set = [mut, fd](const std::string& text, v1::Site* s) -> absl::Status {
    int32_t v = 0;
    if (absl::Status st = ParseInt(text, 0, &v); !st.ok()) return st;
    M* m = (s->*mut)();
    m->GetReflection()->SetInt32(m, fd, v);
    return absl::OkStatus();
  };
  return c;
}

SiteColumn Col(std::string section, std::string header, Getter get, Setter set = nullptr,
               bool required = false) {
  return SiteColumn{std::move(section), std::move(header), std::move(get), std::move(set),
                    required};
}

const v1::Territory& Terr(const SiteRow& r) { return r.site.location().territory(); }

// "<organisation> (<user>) : Santé, Éducation" — themes by their French label, "autre" by its
// free text.
std::string IntervenerCell(const v1::Intervener& i) {
  std::vector<std::string> themes;
  for (int t : i.themes()) {
    const auto theme = static_cast<v1::ActorTheme>(t);
    themes.push_back(theme == v1::ACTOR_THEME_OTHER && !i.other_theme().empty() ? i.other_theme()
                                                                                : Label(theme));
  }
  std::string cell = absl::StrCat(i.organisation_id(), " (", i.user_id(), ")");
  if (!themes.empty()) absl::StrAppend(&cell, " : ", absl::StrJoin(themes, ", "));
  return cell;
}

// The outcome of `solution` in a closed site's closure, or nullptr.
const v1::ClosingSolutionOutcome* OutcomeOf(const v1::Site& s, v1::ClosingSolution solution) {
  if (s.status() != v1::SITE_STATUS_CLOSED) return nullptr;
  for (const v1::ClosingSolutionOutcome& o : s.closure().solutions()) {
    if (o.solution() == solution) return &o;
  }
  return nullptr;
}

// The outcome of `solution` in the closure of a site being read from a spreadsheet, added when
// missing.
v1::ClosingSolutionOutcome* MutableOutcome(v1::Site* s, v1::ClosingSolution solution) {
  for (v1::ClosingSolutionOutcome& o : *s->mutable_closure()->mutable_solutions()) {
    if (o.solution() == solution) return &o;
  }
  v1::ClosingSolutionOutcome* o = s->mutable_closure()->add_solutions();
  o->set_solution(solution);
  return o;
}

// A column of one answer of the living conditions (format v2): `path` is the field's path in
// LivingConditionsV2 ("water.access_type"). Enumerations read and write their French label (a
// repeated one joins its labels with "; "), texts are copied. The cell is empty when the field is
// unset (an enumeration at its unspecified value, an empty text or list).
SiteColumn LivingConditionsColumn(const std::string& section, std::string header,
                                  const std::string& path) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::Message;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  const FieldDescriptor* domain =
      v1::LivingConditionsV2::descriptor()->FindFieldByName(parts.at(0));
  const FieldDescriptor* fd = domain->message_type()->FindFieldByName(parts.at(1));
  SiteColumn c;
  c.section = section;
  c.header = std::move(header);
  c.field = absl::StrCat("living_conditions_v2.", path);
  c.get = [domain, fd](const SiteRow& r) -> std::string {
    const Message& m = r.site.living_conditions_v2().GetReflection()->GetMessage(
        r.site.living_conditions_v2(), domain);
    const auto* ref = m.GetReflection();
    if (fd->is_repeated()) {
      std::vector<std::string> labels;
      for (int i = 0; i < ref->FieldSize(m, fd); ++i) {
        labels.emplace_back(
            rb::domain::FrenchLabel(fd->enum_type(), ref->GetRepeatedEnumValue(m, fd, i)));
      }
      return absl::StrJoin(labels, "; ");
    }
    if (fd->type() == FieldDescriptor::TYPE_STRING) return ref->GetString(m, fd);
    const int n = ref->GetEnumValue(m, fd);
    return n == 0 ? "" : std::string(rb::domain::FrenchLabel(fd->enum_type(), n));
  };
  c.set = [domain, fd](const std::string& text, v1::Site* s) -> absl::Status {
    v1::LivingConditionsV2* lc = s->mutable_living_conditions_v2();
    Message* m = lc->GetReflection()->MutableMessage(lc, domain);
    const auto* ref = m->GetReflection();
    if (fd->type() == FieldDescriptor::TYPE_STRING) {
      ref->SetString(m, fd, text);
      return absl::OkStatus();
    }
    if (!fd->is_repeated()) {
      int n = 0;
      if (absl::Status st = ParseEnumNumber(fd->enum_type(), text, &n); !st.ok()) return st;
      ref->SetEnumValue(m, fd, n);
      return absl::OkStatus();
    }
    for (absl::string_view part :
         absl::StrSplit(absl::string_view(text.data(), text.size()), ';', absl::SkipWhitespace())) {
      int n = 0;
      if (absl::Status st = ParseEnumNumber(fd->enum_type(), absl::StripAsciiWhitespace(part), &n);
          !st.ok()) {
        return st;
      }
      ref->AddEnumValue(m, fd, n);
    }
    return absl::OkStatus();
  };
  return c;
}

std::vector<SiteColumn> BuildColumns() {
  const std::string loc = "Localisation", site = "Site", hab = "Habitants",
                    lc = "Conditions de vie", diag = "Diagnostic", just = "Procédure judiciaire",
                    upd = "Mise à jour";
  std::vector<SiteColumn> c;
  // Localisation.
  c.push_back(Col(
      loc, "Identifiant", [](const SiteRow& r) { return r.site.id(); },
      [](const std::string& t, v1::Site* s) {
        s->set_id(std::string(t));
        return absl::OkStatus();
      }));
  c.push_back(Col(loc, "Département", [](const SiteRow& r) {
    const auto* d = rb::domain::geo::Geography::Get().FindDepartement(Terr(r).departement_code());
    if (d == nullptr) return Terr(r).departement_code();
    return absl::StrCat(std::string(d->code), " - ", std::string(d->name));
  }));
  c.push_back(Col(loc, "Commune", [](const SiteRow& r) { return Terr(r).city_name(); }));
  c.push_back(Col(
      loc, "Code INSEE", [](const SiteRow& r) { return r.site.location().address().city_code(); },
      [](const std::string& t, v1::Site* s) {
        if (rb::domain::geo::Geography::Get().FindCommune(t) == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("unknown commune code \"", t, "\""));
        }
        s->mutable_location()->mutable_address()->set_city_code(std::string(t));
        return absl::OkStatus();
      },
      true));
  c.push_back(Col(loc, "EPCI", [](const SiteRow& r) {
    const auto* e = rb::domain::geo::Geography::Get().FindEpci(Terr(r).epci_code());
    return e == nullptr ? Terr(r).epci_code() : std::string(e->name);
  }));
  c.push_back(Col(
      loc, "Adresse", [](const SiteRow& r) { return r.site.location().address().label(); },
      [](const std::string& t, v1::Site* s) {
        s->mutable_location()->mutable_address()->set_label(std::string(t));
        return absl::OkStatus();
      },
      true));
  c.push_back(Col(
      loc, "Appellation du site", [](const SiteRow& r) { return r.site.name(); },
      [](const std::string& t, v1::Site* s) {
        s->set_name(std::string(t));
        return absl::OkStatus();
      }));
  c.push_back(Col(
      loc, "Informations d'accès",
      [](const SiteRow& r) { return r.site.location().address_details(); },
      [](const std::string& t, v1::Site* s) {
        s->mutable_location()->set_address_details(std::string(t));
        return absl::OkStatus();
      }));
  c.push_back(Col(
      loc, "Latitude",
      [](const SiteRow& r) { return Number(r.site.location().address().coordinates().latitude()); },
      [](const std::string& t, v1::Site* s) {
        double v = 0;
        if (absl::Status st = ParseDouble(t, &v); !st.ok()) return st;
        s->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(v);
        return absl::OkStatus();
      },
      true));
  c.push_back(Col(
      loc, "Longitude",
      [](const SiteRow& r) {
        return Number(r.site.location().address().coordinates().longitude());
      },
      [](const std::string& t, v1::Site* s) {
        double v = 0;
        if (absl::Status st = ParseDouble(t, &v); !st.ok()) return st;
        s->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(v);
        return absl::OkStatus();
      },
      true));
  // Site.
  c.push_back(Col(
      site, "Type de site", [](const SiteRow& r) { return Label(r.site.field_type()); },
      [](const std::string& t, v1::Site* s) {
        v1::FieldType v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->set_field_type(v);
        return absl::OkStatus();
      },
      true));
  c.push_back(Col(
      site, "Date d'installation", [](const SiteRow& r) { return Day(r.site.built_at()); },
      [](const std::string& t, v1::Site* s) { return ParseDay(t, s->mutable_built_at()); }));
  c.push_back(Col(
      site, "Date de signalement", [](const SiteRow& r) { return Day(r.site.declared_at()); },
      [](const std::string& t, v1::Site* s) { return ParseDay(t, s->mutable_declared_at()); },
      true));
  c.push_back(Col(
      site, "S'agit-il d'une réinstallation ?",
      [](const SiteRow& r) { return Label(r.site.reinstallation().is_reinstallation()); },
      [](const std::string& t, v1::Site* s) {
        v1::TriState v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->mutable_reinstallation()->set_is_reinstallation(v);
        return absl::OkStatus();
      }));
  c.push_back(Col(
      site, "Précisions sur la réinstallation",
      [](const SiteRow& r) { return r.site.reinstallation().comments(); },
      [](const std::string& t, v1::Site* s) {
        s->mutable_reinstallation()->set_comments(std::string(t));
        return absl::OkStatus();
      }));
  // The open actions "sur site" that list the site (the list's signals), read-only; empty when
  // the row knows no action (the list at a past date).
  c.push_back(Col(site, "Le site fait-il l’objet d’une action ?", [](const SiteRow& r) {
    if (!r.actions_known) return std::string();
    return std::string(r.signals.has_action() ? "oui" : "non");
  }));
  c.push_back(Col(site,
                  "Le site fait-il l’objet d’une action financée l’année correspondant à la date "
                  "d’extraction ?",
                  [](const SiteRow& r) {
                    if (!r.actions_known) return std::string();
                    return std::string(r.financed_in_extraction_year ? "oui" : "non");
                  }));
  c.push_back(Col(
      site, "Objectif de résorption",
      [](const SiteRow& r) {
        return r.site.resorption_target() ? absl::StrCat(r.site.resorption_target()) : "";
      },
      [](const std::string& t, v1::Site* s) {
        int32_t v = 0;
        if (absl::Status st = ParseInt(t, 1900, &v); !st.ok()) return st;
        s->set_resorption_target(v);
        return absl::OkStatus();
      }));
  c.push_back(Col(site, "Statut", [](const SiteRow& r) { return Label(r.site.status()); }));
  // The closure: read back by the import as a CloseSite after the declaration.
  c.push_back(Col(
      site, "Date de fermeture", [](const SiteRow& r) { return Day(r.site.closure().closed_at()); },
      [](const std::string& t, v1::Site* s) {
        return ParseDay(t, s->mutable_closure()->mutable_closed_at());
      }));
  c.push_back(Col(
      site, "Résorbé",
      [](const SiteRow& r) { return Label(r.site.closure().closed_with_solutions()); },
      [](const std::string& t, v1::Site* s) {
        v1::TriState v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->mutable_closure()->set_closed_with_solutions(v);
        return absl::OkStatus();
      }));
  c.push_back(Col(
      site, "Cause de fermeture", [](const SiteRow& r) { return Label(r.site.closure().cause()); },
      [](const std::string& t, v1::Site* s) {
        v1::ClosingCause v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->mutable_closure()->set_cause(v);
        return absl::OkStatus();
      }));
  c.push_back(Col(
      site, "Contexte de fermeture", [](const SiteRow& r) { return r.site.closure().context(); },
      [](const std::string& t, v1::Site* s) {
        s->mutable_closure()->set_context(t);
        return absl::OkStatus();
      }));
  // Habitants.
  using P = v1::Population;
  using D = v1::Dwellings;
  const std::vector<std::pair<std::string, std::string>> population = {
      {"Nombre de personnes", "total"},
      {"Nombre de ménages", "households"},
      {"Nombre de mineurs", "minors"},
      {"Mineurs 0-3 ans", "minors_0_3"},
      {"Mineurs 3-6 ans", "minors_3_6"},
      {"Mineurs 6-12 ans", "minors_6_12"},
      {"Mineurs 12-16 ans", "minors_12_16"},
      {"Mineurs 16-18 ans", "minors_16_18"},
      {"Enfants inscrits dans un établissement scolaire", "minors_in_school"},
      {"dont femmes et filles", "total_females"},
      {"dont filles", "minors_girls"},
  };
  for (const auto& [header, field] : population) {
    c.push_back(Count<P>(hab, header, &v1::Site::mutable_population, &v1::Site::population, field));
  }
  const std::vector<std::pair<std::string, std::string>> dwellings = {
      {"Caravanes", "caravans"},    {"Cabanes", "huts"},       {"Tentes", "tents"},
      {"Voitures dortoir", "cars"}, {"Matelas", "mattresses"},
  };
  for (const auto& [header, field] : dwellings) {
    c.push_back(Count<D>(hab, header, &v1::Site::mutable_dwellings, &v1::Site::dwellings, field));
  }
  c.push_back(Col(
      hab, "Origines",
      [](const SiteRow& r) {
        std::vector<std::string> labels;
        for (int o : r.site.origins()) labels.push_back(Label(static_cast<v1::SocialOrigin>(o)));
        return absl::StrJoin(labels, "; ");
      },
      [](const std::string& t, v1::Site* s) {
        for (absl::string_view part :
             absl::StrSplit(absl::string_view(t.data(), t.size()), ';', absl::SkipWhitespace())) {
          part = absl::StripAsciiWhitespace(part);
          v1::SocialOrigin v{};
          if (absl::Status st = ParseEnum(std::string(part), &v); !st.ok()) {
            return st;
          }
          s->add_origins(v);
        }
        return absl::OkStatus();
      }));
  // Conditions de vie.
  c.push_back(Col(lc, "Alerte canicule",
                  [](const SiteRow& r) { return std::string(r.site.heatwave() ? "Oui" : "Non"); }));
  const std::vector<std::pair<std::string, v1::DomainStatus (v1::DomainStatuses::*)() const>>
      domains = {
          {"Accès à l'eau", &v1::DomainStatuses::water},
          {"Accès aux toilettes", &v1::DomainStatuses::sanitary},
          {"Accès à l'électricité", &v1::DomainStatuses::electricity},
          {"Évacuation des déchets", &v1::DomainStatuses::trash},
          {"Présence de nuisibles", &v1::DomainStatuses::pests},
          {"Prévention incendie", &v1::DomainStatuses::fire},
      };
  for (const auto& [header, get] : domains) {
    auto g = get;
    c.push_back(Col(lc, header,
                    [g](const SiteRow& r) { return DomainLabel((r.signals.statuses().*g)()); }));
  }
  // The answers the statuses come from (format v2): read back by the import as an
  // AssessLivingConditions. Headers as in the change log, but the two that the statuses above
  // already use.
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"water.access_type", "Type d'accès à l'eau"},
      {"water.access_type_details", "Précisions sur l'accès à l'eau"},
      {"water.is_public", "Point d'eau sur la voie publique"},
      {"water.is_continuous", "Accès à l'eau continu"},
      {"water.is_continuous_details", "Précisions sur la continuité"},
      {"water.is_local", "Point d'eau sur le site"},
      {"water.is_close", "Point d'eau à proximité"},
      {"water.is_unequal", "Accès à l'eau inégal entre les habitants"},
      {"water.is_unequal_details", "Précisions sur les inégalités d'accès"},
      {"water.has_stagnant_water", "Présence d'eaux stagnantes"},
      {"water.comments", "Commentaires sur l'accès à l'eau"},
      {"sanitary.open_air_defecation", "Défécation à l'air libre"},
      {"sanitary.working_toilets", "Présence de toilettes fonctionnelles"},
      {"sanitary.toilet_types", "Types de toilettes"},
      {"sanitary.toilets_are_inside", "Toilettes à l'intérieur du site"},
      {"sanitary.toilets_are_lighted", "Toilettes éclairées"},
      {"sanitary.hand_washing", "Point de lavage des mains"},
      {"electricity.access", "Présence d'un accès à l'électricité"},
      {"electricity.access_types", "Types d'accès à l'électricité"},
      {"electricity.access_is_unequal", "Accès à l'électricité inégal"},
      {"trash.is_piling", "Accumulation de déchets"},
      {"trash.evacuation_is_close", "Points de collecte à proximité"},
      {"trash.evacuation_is_safe", "Points de collecte sécurisés"},
      {"trash.evacuation_is_regular", "Collecte régulière"},
      {"trash.bulky_is_piling", "Accumulation d'encombrants"},
      {"pests.animals", "Présence d'animaux nuisibles"},
      {"pests.details", "Précisions sur les nuisibles"},
      {"fire.prevention_diagnostic", "Diagnostic prévention incendie par le SDIS réalisé"},
  };
  for (const auto& [path, header] : answers) c.push_back(LivingConditionsColumn(lc, header, path));
  // Diagnostic.
  // The social diagnostic: read back by the import as a RecordCensus.
  c.push_back(Col(
      diag, "Statut du diagnostic social",
      [](const SiteRow& r) { return Label(r.site.census().status()); },
      [](const std::string& t, v1::Site* s) {
        v1::CensusStatus v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->mutable_census()->set_status(v);
        return absl::OkStatus();
      }));
  c.push_back(Col(
      diag, "Date du diagnostic",
      [](const SiteRow& r) { return Day(r.site.census().conducted_at()); },
      [](const std::string& t, v1::Site* s) {
        return ParseDay(t, s->mutable_census()->mutable_conducted_at());
      }));
  c.push_back(Col(
      diag, "Service en charge du diagnostic",
      [](const SiteRow& r) { return r.site.census().conducted_by(); },
      [](const std::string& t, v1::Site* s) {
        s->mutable_census()->set_conducted_by(t);
        return absl::OkStatus();
      }));
  // Procédure judiciaire (with the administrative and insalubrity orders a police assistance may
  // rest on): read back by the import as an UpdateProcedures.
  auto tri = [&](std::string header, std::function<v1::TriState(const v1::Site&)> get,
                 std::function<void(v1::Site*, v1::TriState)> set) {
    c.push_back(Col(
        just, std::move(header), [get](const SiteRow& r) { return Label(get(r.site)); },
        [set](const std::string& t, v1::Site* s) {
          v1::TriState v{};
          if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
          set(s, v);
          return absl::OkStatus();
        }));
  };
  auto day = [&](std::string header, std::function<const v1::Date&(const v1::Site&)> get,
                 std::function<v1::Date*(v1::Site*)> set) {
    c.push_back(Col(
        just, std::move(header), [get](const SiteRow& r) { return Day(get(r.site)); },
        [set](const std::string& t, v1::Site* s) { return ParseDay(t, set(s)); }));
  };
  auto text = [&](std::string header, std::function<const std::string&(const v1::Site&)> get,
                  std::function<void(v1::Site*, const std::string&)> set) {
    c.push_back(Col(
        just, std::move(header), [get](const SiteRow& r) { return get(r.site); },
        [set](const std::string& t, v1::Site* s) {
          set(s, t);
          return absl::OkStatus();
        }));
  };
  using S = v1::Site;
  tri(
      "Dépôt de plainte par le propriétaire",
      [](const S& s) { return s.justice().owner_complaint(); },
      [](S* s, v1::TriState v) { s->mutable_justice()->set_owner_complaint(v); });
  tri(
      "Existence d'une procédure judiciaire",
      [](const S& s) { return s.justice().justice_procedure(); },
      [](S* s, v1::TriState v) { s->mutable_justice()->set_justice_procedure(v); });
  tri(
      "Décision de justice rendue", [](const S& s) { return s.justice().justice_rendered(); },
      [](S* s, v1::TriState v) { s->mutable_justice()->set_justice_rendered(v); });
  day(
      "Date de la décision",
      [](const S& s) -> const v1::Date& { return s.justice().justice_rendered_at(); },
      [](S* s) { return s->mutable_justice()->mutable_justice_rendered_at(); });
  text(
      "Origine de la décision",
      [](const S& s) -> const std::string& { return s.justice().justice_rendered_by(); },
      [](S* s, const std::string& t) { s->mutable_justice()->set_justice_rendered_by(t); });
  tri(
      "Appel en cours", [](const S& s) { return s.justice().justice_challenged(); },
      [](S* s, v1::TriState v) { s->mutable_justice()->set_justice_challenged(v); });
  tri(
      "Procédure administrative prescrivant l'évacuation sous délai",
      [](const S& s) { return s.administrative_order().evacuation_under_time_limit(); },
      [](S* s, v1::TriState v) {
        s->mutable_administrative_order()->set_evacuation_under_time_limit(v);
      });
  day(
      "Date de l'arrêté",
      [](const S& s) -> const v1::Date& { return s.administrative_order().decision_at(); },
      [](S* s) { return s->mutable_administrative_order()->mutable_decision_at(); });
  text(
      "Auteur de l'arrêté",
      [](const S& s) -> const std::string& {
        return s.administrative_order().decision_rendered_by();
      },
      [](S* s, const std::string& t) {
        s->mutable_administrative_order()->set_decision_rendered_by(t);
      });
  day(
      "Date de l'évacuation",
      [](const S& s) -> const v1::Date& { return s.administrative_order().evacuation_at(); },
      [](S* s) { return s->mutable_administrative_order()->mutable_evacuation_at(); });
  tri(
      "Arrêté d'insalubrité", [](const S& s) { return s.insalubrity_order().insalubrity_order(); },
      [](S* s, v1::TriState v) { s->mutable_insalubrity_order()->set_insalubrity_order(v); });
  tri(
      "Affichage de l'arrêté d'insalubrité",
      [](const S& s) { return s.insalubrity_order().displayed(); },
      [](S* s, v1::TriState v) { s->mutable_insalubrity_order()->set_displayed(v); });
  text(
      "Type d'arrêté",
      [](const S& s) -> const std::string& { return s.insalubrity_order().order_type(); },
      [](S* s, const std::string& t) { s->mutable_insalubrity_order()->set_order_type(t); });
  text(
      "Auteur de l'arrêté d'insalubrité",
      [](const S& s) -> const std::string& { return s.insalubrity_order().order_by(); },
      [](S* s, const std::string& t) { s->mutable_insalubrity_order()->set_order_by(t); });
  day(
      "Date de l'arrêté d'insalubrité",
      [](const S& s) -> const v1::Date& { return s.insalubrity_order().order_at(); },
      [](S* s) { return s->mutable_insalubrity_order()->mutable_order_at(); });
  text(
      "Parcelles concernées",
      [](const S& s) -> const std::string& { return s.insalubrity_order().parcels(); },
      [](S* s, const std::string& t) { s->mutable_insalubrity_order()->set_parcels(t); });
  c.push_back(Col(
      just, "Concours de la force publique",
      [](const SiteRow& r) { return Label(r.site.police().status()); },
      [](const std::string& t, v1::Site* s) {
        v1::PoliceStatus v{};
        if (absl::Status st = ParseEnum(t, &v); !st.ok()) return st;
        s->mutable_police()->set_status(v);
        return absl::OkStatus();
      }));
  day(
      "Date de la demande du CFP",
      [](const S& s) -> const v1::Date& { return s.police().requested_at(); },
      [](S* s) { return s->mutable_police()->mutable_requested_at(); });
  day(
      "Date d'octroi du CFP", [](const S& s) -> const v1::Date& { return s.police().granted_at(); },
      [](S* s) { return s->mutable_police()->mutable_granted_at(); });
  text(
      "Nom de l'étude d'huissiers",
      [](const S& s) -> const std::string& { return s.police().bailiff(); },
      [](S* s, const std::string& t) { s->mutable_police()->set_bailiff(t); });
  tri(
      "Existence d'un contentieux", [](const S& s) { return s.police().existing_litigation(); },
      [](S* s, v1::TriState v) { s->mutable_police()->set_existing_litigation(v); });
  // Intervenants: who acts on the site, with their themes (hidden by the server from readers
  // without access to personal data).
  const std::string actors = "Intervenants", orientation = "Orientation";
  c.push_back(Col(actors, "Intervenants", [](const SiteRow& r) {
    std::vector<std::string> out;
    for (const v1::Intervener& i : r.site.interveners()) out.push_back(IntervenerCell(i));
    return absl::StrJoin(out, "; ");
  }));
  c.push_back(Col(actors, "Intervenant de ma structure", [](const SiteRow& r) {
    if (r.viewer_organisation_id.empty()) return std::string();
    for (const v1::Intervener& i : r.site.interveners()) {
      if (i.organisation_id() == r.viewer_organisation_id) return std::string("Oui");
    }
    return std::string("Non");
  }));
  c.push_back(Col(actors, "Nombre d'intervenants", [](const SiteRow& r) {
    return r.site.interveners().empty() ? std::string() : absl::StrCat(r.site.interveners_size());
  }));
  // Orientation: for a closed site, the people and households per closing solution.
  for (int n = v1::CLOSING_SOLUTION_UNSPECIFIED + 1; n <= v1::ClosingSolution_MAX; ++n) {
    if (!v1::ClosingSolution_IsValid(n)) continue;
    const auto solution = static_cast<v1::ClosingSolution>(n);
    const std::string label = Label(solution);
    c.push_back(Col(
        orientation, absl::StrCat(label, " : personnes"),
        [solution](const SiteRow& r) {
          const v1::ClosingSolutionOutcome* o = OutcomeOf(r.site, solution);
          return o != nullptr && o->has_people() ? absl::StrCat(o->people()) : std::string();
        },
        [solution](const std::string& t, v1::Site* s) {
          int32_t v = 0;
          if (absl::Status st = ParseInt(t, 0, &v); !st.ok()) return st;
          MutableOutcome(s, solution)->set_people(v);
          return absl::OkStatus();
        }));
    c.push_back(Col(
        orientation, absl::StrCat(label, " : ménages"),
        [solution](const SiteRow& r) {
          const v1::ClosingSolutionOutcome* o = OutcomeOf(r.site, solution);
          return o != nullptr && o->has_households() ? absl::StrCat(o->households())
                                                     : std::string();
        },
        [solution](const std::string& t, v1::Site* s) {
          int32_t v = 0;
          if (absl::Status st = ParseInt(t, 0, &v); !st.ok()) return st;
          MutableOutcome(s, solution)->set_households(v);
          return absl::OkStatus();
        }));
    c.push_back(Col(
        orientation, absl::StrCat(label, " : précisions"),
        [solution](const SiteRow& r) {
          const v1::ClosingSolutionOutcome* o = OutcomeOf(r.site, solution);
          return o != nullptr ? o->message() : std::string();
        },
        [solution](const std::string& t, v1::Site* s) {
          MutableOutcome(s, solution)->set_message(t);
          return absl::OkStatus();
        }));
  }
  // Commentaires: the journal as the reader may read it, newest first; moderated messages left out.
  const std::string journal = "Commentaires";
  c.push_back(Col(journal, "Commentaires", [](const SiteRow& r) {
    std::vector<std::string> lines;
    for (auto it = r.site.comments().rbegin(); it != r.site.comments().rend(); ++it) {
      if (it->moderated()) continue;
      lines.push_back(absl::StrCat(
          Day(rb::domain::ToDate(rb::domain::DayOfMicros(it->posted_at_us()))), " ",
          it->author_organisation_id(), " (", it->author_user_id(), ") : ", it->text()));
    }
    return absl::StrJoin(lines, "\n");
  }));
  c.push_back(Col(journal, "Date du dernier commentaire", [](const SiteRow& r) {
    int64_t last = 0;
    for (const v1::Comment& m : r.site.comments()) {
      if (!m.moderated()) last = std::max(last, m.posted_at_us());
    }
    return last == 0 ? std::string() : Day(rb::domain::ToDate(rb::domain::DayOfMicros(last)));
  }));
  // Mise à jour.
  c.push_back(Col(upd, "Date de mise à jour", [](const SiteRow& r) {
    if (r.site.updated_at_us() == 0) return std::string();
    return Day(rb::domain::ToDate(rb::domain::DayOfMicros(r.site.updated_at_us())));
  }));
  return c;
}

bool HasProcedure(const v1::Site& s) {
  return s.has_justice() || s.has_police() || s.has_administrative_order() ||
         s.has_insalubrity_order();
}

}  // namespace

const std::vector<SiteColumn>& SiteColumns() {
  static const auto* columns = new std::vector<SiteColumn>(BuildColumns());
  return *columns;
}

const SiteColumn* FindSiteColumn(std::string_view header) {
  for (const SiteColumn& c : SiteColumns()) {
    if (c.header == header) return &c;
  }
  return nullptr;
}

std::vector<const SiteColumn*> ExportColumns(const std::vector<SiteRow>& rows) {
  bool justice = false, journal = false;
  for (const SiteRow& r : rows) {
    justice = justice || HasProcedure(r.site);
    for (const v1::Comment& m : r.site.comments()) journal = journal || !m.moderated();
  }
  std::vector<const SiteColumn*> out;
  for (const SiteColumn& c : SiteColumns()) {
    if (!justice && c.section == "Procédure judiciaire") continue;
    if (!journal && c.section == "Commentaires") continue;
    out.push_back(&c);
  }
  return out;
}

std::string SitesCsv(const std::vector<const SiteColumn*>& columns,
                     const std::vector<SiteRow>& rows) {
  std::vector<std::string> cells;
  for (const SiteColumn* c : columns) cells.push_back(c->header);
  std::string out = CsvLine(cells);
  for (const SiteRow& r : rows) {
    cells.clear();
    for (const SiteColumn* c : columns) cells.push_back(c->get(r));
    out += CsvLine(cells);
  }
  return out;
}

std::string SitesGeoJson(const std::vector<const SiteColumn*>& columns,
                         const std::vector<SiteRow>& rows) {
  std::string out = R"({"type":"FeatureCollection","features":[)";
  for (size_t i = 0; i < rows.size(); ++i) {
    const SiteRow& r = rows[i];
    const auto& p = r.site.location().address().coordinates();
    JsonObject props;
    for (const SiteColumn* c : columns) props.Add(c->header, c->get(r));
    if (i > 0) out += ",";
    out += absl::StrCat(R"({"type":"Feature","id":)", JsonQuote(r.site.id()),
                        R"(,"geometry":{"type":"Point","coordinates":[)", Number(p.longitude()),
                        ",", Number(p.latitude()), "]},\"properties\":", props.str(), "}");
  }
  out += "]}\n";
  return out;
}

absl::Status ParseDay(const std::string& text, v1::Date* date) {
  int y = 0, m = 0, d = 0;
  std::vector<std::string> parts;
  absl::string_view t(text.data(), text.size());
  if (t.size() == 10 && t[2] == '/' && t[5] == '/') {
    parts = absl::StrSplit(t, '/');
    if (!absl::SimpleAtoi(parts[0], &d) || !absl::SimpleAtoi(parts[1], &m) ||
        !absl::SimpleAtoi(parts[2], &y)) {
      parts.clear();
    }
  } else if (t.size() == 10 && t[4] == '-' && t[7] == '-') {
    parts = absl::StrSplit(t, '-');
    if (!absl::SimpleAtoi(parts[0], &y) || !absl::SimpleAtoi(parts[1], &m) ||
        !absl::SimpleAtoi(parts[2], &d)) {
      parts.clear();
    }
  }
  const absl::CivilDay day(y, m, d);
  if (parts.empty() || day.year() != y || day.month() != m || day.day() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a date (DD/MM/YYYY or YYYY-MM-DD)"));
  }
  *date = rb::domain::ToDate(day);
  return absl::OkStatus();
}

}  // namespace rb::tools
