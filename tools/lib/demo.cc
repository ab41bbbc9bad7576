// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/demo.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "domain/context.h"
#include "domain/dates.h"
#include "domain/geo.h"
#include "tools/lib/deterministic_ids.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using absl::CivilDay;
using rb::domain::Role;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
constexpr int64_t kMinuteUs = int64_t{60} * 1000000;

// A small, fast, seedable generator whose sequence does not depend on the standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Real() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Real() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Next() % v.size()];
  }

 private:
  uint64_t s_;
};

int64_t DayUs(CivilDay d) { return absl::ToUnixMicros(absl::FromCivil(d, absl::UTCTimeZone())); }
CivilDay DayOf(int64_t us) { return rb::domain::DayOfMicros(us); }

// Départements with sites, their share of the national stock, and a point near their main
// urban area (the geographic data has no coordinates): sites are placed within ~10 km of it.
struct DepartementShape {
  const char* code;
  int weight;
  double lat, lon;
  const char* court;
};
constexpr DepartementShape kDepartements[] = {
    {"93", 15, 48.915, 2.470, "Bobigny"},    {"91", 7, 48.630, 2.400, "Évry"},
    {"94", 5, 48.790, 2.450, "Créteil"},     {"95", 5, 49.000, 2.250, "Pontoise"},
    {"77", 4, 48.600, 2.750, "Meaux"},       {"78", 3, 48.880, 2.050, "Versailles"},
    {"92", 2, 48.860, 2.230, "Nanterre"},    {"75", 3, 48.860, 2.350, "Paris"},
    {"59", 8, 50.630, 3.070, "Lille"},       {"13", 9, 43.330, 5.400, "Marseille"},
    {"69", 7, 45.750, 4.870, "Lyon"},        {"33", 8, 44.840, -0.580, "Bordeaux"},
    {"31", 5, 43.600, 1.430, "Toulouse"},    {"44", 6, 47.220, -1.560, "Nantes"},
    {"34", 5, 43.610, 3.870, "Montpellier"}, {"06", 3, 43.710, 7.250, "Nice"},
    {"38", 3, 45.180, 5.730, "Grenoble"},    {"67", 2, 48.580, 7.750, "Strasbourg"},
    {"35", 2, 48.110, -1.680, "Rennes"},     {"45", 2, 47.900, 1.910, "Orléans"},
    {"76", 2, 49.440, 1.100, "Rouen"},       {"83", 2, 43.125, 5.930, "Toulon"},
    {"30", 2, 43.840, 4.360, "Nîmes"},       {"57", 1, 49.120, 6.180, "Metz"},
    {"62", 1, 50.290, 2.780, "Arras"},       {"37", 1, 47.390, 0.690, "Tours"},
};
constexpr int kDepartementCount = sizeof(kDepartements) / sizeof(kDepartements[0]);

constexpr const char* kSiteNames[] = {
    "Les Acacias",        "La Prairie",          "Chemin du Halage",  "Rue du Moulin",
    "Terrain des Saules", "Le Petit Bois",       "Bord de Seine",     "La Friche",
    "Les Peupliers",      "Voie ferrée Nord",    "Parking du stade",  "Ancienne usine",
    "Les Jardins",        "Pont de l'Échangeur", "Quai des Docks",    "La Butte",
    "Les Glycines",       "Zone artisanale",     "Chemin des Vignes", "Le Canal",
    "Les Tilleuls",       "Ancien dépôt",        "La Carrière",       "Les Marronniers",
};
constexpr const char* kStreets[] = {
    "rue de la Gare",     "chemin du Halage", "avenue Jean Jaurès",  "rue des Peupliers",
    "route de la Plaine", "quai du Port",     "impasse des Acacias", "boulevard de l'Europe"};

struct CommuneChoice {
  std::string code;
  int64_t weight;
};

// Communes of each shaped département with at least 5,000 inhabitants, weighted by population,
// parsed from the embedded official CSV (code,name,type,departement,region,epci,population,...).
std::map<std::string, std::vector<CommuneChoice>> CommunesByDepartement() {
  std::map<std::string, std::vector<CommuneChoice>> out;
  for (const DepartementShape& d : kDepartements) out[d.code];
  std::string_view csv = rb::domain::geo::EmbeddedCommunesCsv();
  bool header = true;
  while (!csv.empty()) {
    const size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv = nl == std::string_view::npos ? std::string_view() : csv.substr(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    const std::string_view code = line.substr(0, line.find(','));
    const rb::domain::geo::Commune* c = rb::domain::geo::Geography::Get().FindCommune(code);
    if (c == nullptr || c->is_district || c->population < 5000) continue;
    auto it = out.find(std::string(c->departement));
    if (it == out.end()) continue;
    it->second.push_back({std::string(code), c->population});
  }
  return out;
}

const CommuneChoice& PickWeighted(const std::vector<CommuneChoice>& v, Rng& rng) {
  int64_t total = 0;
  for (const auto& c : v) total += c.weight;
  int64_t x = rng.Int(0, total - 1);
  for (const auto& c : v) {
    if (x < c.weight) return c;
    x -= c.weight;
  }
  return v.back();
}

// ---- The script of one site --------------------------------------------------------------

enum class SiteStep : uint8_t {
  kDeclare,
  kPopulation,
  kIntervener,
  kLivingConditions,
  kCensusScheduled,
  kCensusDone,
  kComplaint,
  kJudgement,
  kPoliceRequest,
  kHeatwaveOn,
  kHeatwaveOff,
  kUpToDate,
  kComment,
  kClose,
};

struct SiteScript {
  std::string id;
  int dep = 0;  // index in kDepartements
  std::string city_code;
  double lat = 0, lon = 0;
  CivilDay built, declared;
  int64_t upgrade_us = 0;  // from this time, living conditions are assessed in v2
  bool closes = false;
  std::vector<std::pair<int64_t, SiteStep>> steps;  // time-ordered
  // Evolving facts used to build the next command.
  Rng rng{0};
  int total = 0;
  double minors_share = 0.25;
  std::vector<v1::SocialOrigin> origins;
  int lc_version = 0;
  CivilDay census_day;
};

struct ActionScript {
  std::string id;
  int dep = 0;
  CivilDay started;
  std::optional<CivilDay> ended;
  std::vector<v1::ActionTopic> topics;
  std::vector<std::string> site_ids;
  std::vector<std::pair<int64_t, int>>
      steps;                    // (time, kind: 0 create, 1 indicators, 2 finances, 3 close)
  std::vector<int> step_years;  // year of each step (indicators / finances)
  Rng rng{0};
};

rb::domain::Actor Prefecture(const DepartementShape& d) {
  rb::domain::Actor a;
  a.user_id = absl::StrCat("pref-", d.code);
  a.organisation_id = absl::StrCat("prefecture-", d.code);
  a.role = Role::kLocalAdmin;
  a.options = {std::string(rb::domain::kOptionAccessJustice),
               std::string(rb::domain::kOptionAccessActionFinances)};
  return a;
}
rb::domain::Actor Operator(const DepartementShape& d) {
  rb::domain::Actor a;
  a.user_id = absl::StrCat("asso-", d.code);
  a.organisation_id = absl::StrCat("association-", d.code);
  a.role = Role::kAssociation;
  return a;
}
rb::domain::Actor HistoryImport() {
  rb::domain::Actor a;
  a.user_id = "reprise-historique";
  a.organisation_id = "dihal";
  a.role = Role::kNationalAdmin;
  a.options = {std::string(rb::domain::kOptionImport)};
  return a;
}

int DrawPopulation(Rng& rng) {
  double x = rng.Real();
  if (x < 0.07) return static_cast<int>(rng.Int(4, 9));
  if (x < 0.70) return static_cast<int>(rng.Int(10, 50));
  if (x < 0.92) return static_cast<int>(rng.Int(51, 100));
  return static_cast<int>(rng.Int(101, 250));
}

std::vector<v1::SocialOrigin> DrawOrigins(Rng& rng) {
  double x = rng.Real();
  if (x < 0.68) return {v1::SOCIAL_ORIGIN_EUROPEAN};
  if (x < 0.78) return {v1::SOCIAL_ORIGIN_EUROPEAN, v1::SOCIAL_ORIGIN_OTHER};
  if (x < 0.86) return {v1::SOCIAL_ORIGIN_FRENCH};
  return {v1::SOCIAL_ORIGIN_OTHER};
}

v1::LivingConditionsV2 DrawLivingConditionsV2(Rng& rng) {
  v1::LivingConditionsV2 lc;
  auto* w = lc.mutable_water();
  auto* s = lc.mutable_sanitary();
  auto* e = lc.mutable_electricity();
  auto* t = lc.mutable_trash();
  switch (rng.Int(0, 2)) {
    case 0:  // water and toilets on site
      w->set_access_type(v1::WATER_ACCESS_TYPE_NETWORK_TAP);
      w->set_is_public(v1::NO);
      w->set_is_continuous(v1::YES);
      w->set_is_local(v1::YES);
      w->set_is_close(v1::YES);
      w->set_is_unequal(v1::NO);
      w->set_has_stagnant_water(v1::NO);
      s->set_open_air_defecation(v1::NO);
      s->set_working_toilets(v1::YES);
      s->add_toilet_types(v1::TOILET_TYPE_CHEMICAL);
      s->set_toilets_are_inside(v1::NO);
      s->set_toilets_are_lighted(v1::NO);
      s->set_hand_washing(v1::YES);
      e->set_access(v1::YES);
      e->add_access_types(v1::ELECTRICITY_ACCESS_TYPE_URBAN_NETWORK);
      e->set_access_is_unequal(v1::NO);
      t->set_is_piling(v1::NO);
      t->set_evacuation_is_close(v1::YES);
      t->set_evacuation_is_safe(v1::YES);
      t->set_evacuation_is_regular(v1::YES);
      t->set_bulky_is_piling(v1::NO);
      lc.mutable_pests()->set_animals(v1::NO);
      lc.mutable_fire()->set_prevention_diagnostic(v1::YES);
      break;
    case 1:  // nothing on site
      w->set_access_type(v1::WATER_ACCESS_TYPE_PUBLIC_FOUNTAIN);
      s->set_open_air_defecation(v1::YES);
      s->set_working_toilets(v1::NO);
      e->set_access(v1::NO);
      t->set_is_piling(v1::YES);
      t->set_evacuation_is_close(v1::NO);
      lc.mutable_pests()->set_animals(v1::YES);
      lc.mutable_pests()->set_details("Rats signalés près des habitations");
      lc.mutable_fire()->set_prevention_diagnostic(v1::NO);
      break;
    default:  // partial
      w->set_access_type(v1::WATER_ACCESS_TYPE_FIRE_HYDRANT);
      s->set_working_toilets(v1::YES);
      s->add_toilet_types(v1::TOILET_TYPE_LATRINES);
      e->set_access(v1::YES);
      e->add_access_types(v1::ELECTRICITY_ACCESS_TYPE_GENERATOR);
      e->set_access_is_unequal(v1::YES);
      t->set_is_piling(v1::YES);
      t->set_evacuation_is_close(v1::YES);
      t->set_evacuation_is_safe(v1::NO);
      t->set_evacuation_is_regular(v1::NO);
      t->set_bulky_is_piling(v1::YES);
      lc.mutable_pests()->set_animals(v1::UNKNOWN);
      lc.mutable_fire()->set_prevention_diagnostic(v1::UNKNOWN);
  }
  return lc;
}

v1::LivingConditionsV1 DrawLivingConditionsV1(Rng& rng) {
  v1::LivingConditionsV1 lc;
  const bool water = rng.Chance(0.6);
  lc.set_access_to_water(water ? v1::YES : v1::NO);
  if (water) {
    lc.set_water_potable(v1::YES);
    lc.set_water_continuous_access(rng.Chance(0.7) ? v1::YES : v1::NO);
    lc.set_water_distance(rng.Chance(0.5) ? v1::WATER_DISTANCE_V1_0_20
                                          : v1::WATER_DISTANCE_V1_50_100);
  }
  lc.set_electricity_type(rng.Chance(0.5) ? v1::ELECTRICITY_TYPE_V1_YES
                                          : v1::ELECTRICITY_TYPE_V1_NO);
  lc.set_access_to_sanitary(rng.Chance(0.4) ? v1::YES : v1::NO);
  lc.set_trash_evacuation(rng.Chance(0.5) ? v1::YES : v1::NO);
  lc.set_vermin(rng.Chance(0.4) ? v1::YES : v1::UNKNOWN);
  lc.set_fire_prevention_measures(rng.Chance(0.3) ? v1::YES : v1::NO);
  return lc;
}

// Builds the next command of a site script. Returns false when the step no longer applies.
bool BuildSiteCommand(SiteScript& s, SiteStep step, int64_t t, v1::SiteCommand* cmd,
                      rb::domain::Actor* actor) {
  const DepartementShape& d = kDepartements[s.dep];
  Rng& rng = s.rng;
  cmd->set_site_id(s.id);
  cmd->set_valid_at_us(t);
  *actor = Operator(d);
  switch (step) {
    case SiteStep::kDeclare: {
      *actor = Prefecture(d);
      cmd->set_reason("Signalement du site");
      auto* site = cmd->mutable_declare()->mutable_site();
      site->set_name(kSiteNames[rng.Next() % (sizeof(kSiteNames) / sizeof(kSiteNames[0]))]);
      auto* a = site->mutable_location()->mutable_address();
      const rb::domain::geo::Commune* c =
          rb::domain::geo::Geography::Get().FindCommune(s.city_code);
      a->set_label(absl::StrCat(rng.Int(1, 120), " ",
                                kStreets[rng.Next() % (sizeof(kStreets) / sizeof(kStreets[0]))],
                                " ", std::string(c->name)));
      a->set_city_code(s.city_code);
      a->mutable_coordinates()->set_latitude(s.lat);
      a->mutable_coordinates()->set_longitude(s.lon);
      site->set_field_type(rng.Chance(0.7) ? v1::FIELD_TYPE_LAND : v1::FIELD_TYPE_BUILDING);
      site->mutable_ownership()->set_owner_type(rng.Chance(0.55) ? v1::OWNER_TYPE_PUBLIC
                                                                 : v1::OWNER_TYPE_PRIVATE);
      *site->mutable_built_at() = rb::domain::ToDate(s.built);
      *site->mutable_declared_at() = rb::domain::ToDate(s.declared);
      return true;
    }
    case SiteStep::kPopulation: {
      cmd->set_reason("Comptage sur site");
      if (s.total == 0) {
        s.total = DrawPopulation(rng);
      } else {
        s.total = std::max(3, static_cast<int>(std::lround(s.total * (0.85 + 0.3 * rng.Real()))));
      }
      auto* rp = cmd->mutable_record_population();
      auto* p = rp->mutable_population();
      const int total = s.total;
      const int minors = static_cast<int>(std::lround(total * s.minors_share));
      const int households =
          std::clamp(static_cast<int>(total / (2.5 + 1.5 * rng.Real())), 1, total);
      p->set_total(total);
      p->set_households(households);
      p->set_minors(minors);
      p->set_minors_in_school(static_cast<int>(minors * (0.3 + 0.5 * rng.Real())));
      p->set_total_females(static_cast<int>(total * (0.44 + 0.08 * rng.Real())));
      const bool caravans = rng.Chance(0.3);
      if (caravans) {
        rp->mutable_dwellings()->set_caravans(households);
      } else {
        rp->mutable_dwellings()->set_huts(std::max(1, households - 1));
        rp->mutable_dwellings()->set_tents(households / 5);
      }
      for (v1::SocialOrigin o : s.origins) rp->add_origins(o);
      return true;
    }
    case SiteStep::kIntervener: {
      cmd->set_reason("Intervention de l'association sur le site");
      auto* i = cmd->mutable_declare_intervener()->mutable_intervener();
      i->set_user_id(actor->user_id);
      i->set_organisation_id(actor->organisation_id);
      i->add_themes(v1::ACTOR_THEME_SOCIAL_MEDIATION);
      if (rng.Chance(0.5)) i->add_themes(v1::ACTOR_THEME_HEALTH);
      return true;
    }
    case SiteStep::kLivingConditions: {
      if (t < s.upgrade_us) {
        if (s.lc_version == 2) return false;
        *actor = HistoryImport();
        cmd->set_reason("Reprise de l'historique des conditions de vie (format v1)");
        *cmd->mutable_import_living_conditions_v1()->mutable_living_conditions() =
            DrawLivingConditionsV1(rng);
        s.lc_version = 1;
      } else if (s.lc_version == 1) {
        cmd->set_reason("Passage au nouveau format des conditions de vie");
        *cmd->mutable_upgrade_living_conditions()->mutable_living_conditions() =
            DrawLivingConditionsV2(rng);
        s.lc_version = 2;
      } else {
        cmd->set_reason("Évaluation des conditions de vie");
        *cmd->mutable_assess_living_conditions()->mutable_living_conditions() =
            DrawLivingConditionsV2(rng);
        s.lc_version = 2;
      }
      return true;
    }
    case SiteStep::kCensusScheduled: {
      *actor = Prefecture(d);
      cmd->set_reason("Diagnostic social programmé");
      s.census_day = DayOf(t) + 30;
      auto* c = cmd->mutable_record_census()->mutable_census();
      c->set_status(v1::CENSUS_STATUS_SCHEDULED);
      *c->mutable_conducted_at() = rb::domain::ToDate(s.census_day);
      c->set_conducted_by(absl::StrCat("Opérateur MOUS ", d.code));
      return true;
    }
    case SiteStep::kCensusDone: {
      *actor = Prefecture(d);
      cmd->set_reason("Diagnostic social réalisé");
      auto* c = cmd->mutable_record_census()->mutable_census();
      c->set_status(v1::CENSUS_STATUS_DONE);
      *c->mutable_conducted_at() = rb::domain::ToDate(s.census_day);
      c->set_conducted_by(absl::StrCat("Opérateur MOUS ", d.code));
      return true;
    }
    case SiteStep::kComplaint: {
      *actor = Prefecture(d);
      cmd->set_reason("Plainte du propriétaire");
      auto* j = cmd->mutable_update_procedures()->mutable_justice();
      j->set_owner_complaint(v1::YES);
      j->set_justice_procedure(v1::YES);
      j->set_justice_rendered(v1::NO);
      return true;
    }
    case SiteStep::kJudgement: {
      *actor = Prefecture(d);
      cmd->set_reason("Décision de justice rendue");
      auto* j = cmd->mutable_update_procedures()->mutable_justice();
      j->set_owner_complaint(v1::YES);
      j->set_justice_procedure(v1::YES);
      j->set_justice_rendered(v1::YES);
      *j->mutable_justice_rendered_at() = rb::domain::ToDate(DayOf(t) - rng.Int(3, 20));
      j->set_justice_rendered_by(absl::StrCat("Tribunal judiciaire de ", d.court));
      j->set_justice_challenged(v1::NO);
      return true;
    }
    case SiteStep::kPoliceRequest: {
      *actor = Prefecture(d);
      cmd->set_reason("Demande de concours de la force publique");
      auto* p = cmd->mutable_update_procedures()->mutable_police();
      p->set_status(v1::POLICE_STATUS_REQUESTED);
      *p->mutable_requested_at() = rb::domain::ToDate(DayOf(t));
      return true;
    }
    case SiteStep::kHeatwaveOn:
      cmd->set_reason("Alerte canicule déclenchée");
      cmd->mutable_set_heatwave()->set_active(true);
      return true;
    case SiteStep::kHeatwaveOff:
      cmd->set_reason("Fin de l'épisode de canicule");
      cmd->mutable_set_heatwave()->set_active(false);
      return true;
    case SiteStep::kUpToDate:
      cmd->set_reason("Passage sur site : situation inchangée");
      cmd->mutable_confirm_up_to_date();
      return true;
    case SiteStep::kComment: {
      cmd->set_reason("");
      auto* c = cmd->mutable_post_comment();
      c->set_text("Passage de l'équipe : distribution de kits d'hygiène, orientation vers la PMI.");
      c->add_tags(v1::COMMENT_TAG_SITE_VISIT);
      return true;
    }
    case SiteStep::kClose: {
      *actor = Prefecture(d);
      auto* c = cmd->mutable_close()->mutable_closure();
      *c->mutable_closed_at() = rb::domain::ToDate(DayOf(t));
      const double x = rng.Real();
      const int people = s.total;
      auto add = [&](v1::ClosingSolution sol, int n) {
        if (n <= 0) return;
        auto* o = c->add_solutions();
        o->set_solution(sol);
        o->set_people(n);
        o->set_households(std::clamp(n / 3, 1, n));
      };
      if (x < 0.35) {
        cmd->set_reason("Résorption du site : solutions pour les ménages");
        c->set_cause(v1::CLOSING_CAUSE_RESORBED);
        c->set_closed_with_solutions(v1::YES);
        const int housing = people * 3 / 10, adapted = people * 4 / 10;
        add(v1::CLOSING_SOLUTION_HOUSING, housing);
        add(v1::CLOSING_SOLUTION_LONG_TERM_ADAPTED, adapted);
        add(v1::CLOSING_SOLUTION_TEMPORARY_SHELTER, people - housing - adapted);
      } else {
        cmd->set_reason("Fermeture du site");
        c->set_cause(x < 0.65   ? v1::CLOSING_CAUSE_CLOSED_BY_JUSTICE
                     : x < 0.80 ? v1::CLOSING_CAUSE_CLOSED_BY_PREF_ADMIN
                     : x < 0.90 ? v1::CLOSING_CAUSE_CLOSED_BY_CITY_ADMIN
                                : v1::CLOSING_CAUSE_UNKNOWN);
        c->set_closed_with_solutions(v1::NO);
        const int shelter = people / 4;
        add(v1::CLOSING_SOLUTION_TEMPORARY_SHELTER, shelter);
        add(v1::CLOSING_SOLUTION_NONE, people - shelter);
      }
      return true;
    }
  }
  return false;
}

// Plans a site's life between its declaration and its closure (or the end of the history).
void PlanSite(SiteScript& s, const DemoOptions& o, Rng& rng) {
  const int64_t end_us = DayUs(o.end) + 18 * 3600 * kMinuteUs / 60;
  const int64_t declared_us = DayUs(s.declared) + (8 * 60 + rng.Int(0, 120)) * kMinuteUs;
  // Yearly closure probability ~16 %: an exponential lifetime of mean 6.25 years.
  const double years = -std::log(1.0 - rng.Real()) / 0.16;
  int64_t close_us = declared_us + static_cast<int64_t>(years * 365.25) * kDayUs;
  s.closes = close_us < end_us - 2 * kDayUs;
  const int64_t stop_us = s.closes ? close_us : end_us;
  s.upgrade_us = DayUs(CivilDay(2022, 8, 1) + rng.Int(0, 150)) + 10 * 60 * kMinuteUs;
  if (s.declared >= CivilDay(2022, 8, 1)) s.upgrade_us = 0;  // born in v2
  auto at = [&](int64_t t, SiteStep step) {
    if (t > declared_us && t < stop_us) s.steps.push_back({t, step});
  };
  s.steps.push_back({declared_us, SiteStep::kDeclare});
  s.steps.push_back({declared_us + 10 * kMinuteUs, SiteStep::kPopulation});
  at(declared_us + rng.Int(3, 90) * kDayUs, SiteStep::kLivingConditions);
  at(declared_us + rng.Int(10, 60) * kDayUs, SiteStep::kIntervener);
  // Visits: recounts, assessments, confirmations, journal.
  for (int64_t t = declared_us + rng.Int(60, 200) * kDayUs; t < stop_us;
       t += rng.Int(60, 200) * kDayUs) {
    const double x = rng.Real();
    at(t, x < 0.55   ? SiteStep::kPopulation
          : x < 0.80 ? SiteStep::kLivingConditions
          : x < 0.90 ? SiteStep::kUpToDate
                     : SiteStep::kComment);
  }
  at(s.upgrade_us, SiteStep::kLivingConditions);
  if (rng.Chance(0.5)) {
    const int64_t t = declared_us + rng.Int(20, 300) * kDayUs;
    at(t, SiteStep::kCensusScheduled);
    if (t + 30 * kDayUs + 60 * kMinuteUs < stop_us) {
      at(DayUs(DayOf(t) + 30) + 17 * 60 * kMinuteUs, SiteStep::kCensusDone);
    }
  }
  if (rng.Chance(0.4)) {
    const int64_t complaint = declared_us + rng.Int(30, 400) * kDayUs;
    const int64_t judgement = complaint + rng.Int(90, 300) * kDayUs;
    if (complaint < stop_us) at(complaint, SiteStep::kComplaint);
    if (judgement < stop_us) {
      at(judgement, SiteStep::kJudgement);
      if (rng.Chance(0.6)) at(judgement + rng.Int(30, 90) * kDayUs, SiteStep::kPoliceRequest);
    }
  }
  for (int year = 2022; year <= o.end.year(); ++year) {
    if (!rng.Chance(0.3)) continue;
    const int64_t on = DayUs(CivilDay(year, 7, 1) + rng.Int(0, 40)) + 11 * 60 * kMinuteUs;
    const int64_t off = on + rng.Int(7, 25) * kDayUs;
    if (on > declared_us && off < stop_us) {
      at(on, SiteStep::kHeatwaveOn);
      at(off, SiteStep::kHeatwaveOff);
    }
  }
  std::stable_sort(s.steps.begin(), s.steps.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Strictly increasing times inside a site.
  for (size_t i = 1; i < s.steps.size(); ++i) {
    if (s.steps[i].first <= s.steps[i - 1].first) {
      s.steps[i].first = s.steps[i - 1].first + kMinuteUs;
    }
  }
  if (s.closes) {
    const int64_t last = s.steps.back().first;
    s.steps.push_back({std::max(close_us, last + kDayUs), SiteStep::kClose});
    if (s.steps.back().first >= end_us) {
      s.steps.pop_back();
      s.closes = false;
    }
  }
}

constexpr const char* kActionNames[] = {
    "Accompagnement global vers le logement", "Médiation scolaire",
    "Accès aux soins et médiation sanitaire", "Insertion professionnelle",
    "Espace temporaire d'insertion",          "Sécurisation et accès à l'eau",
};
constexpr v1::ActionTopic kActionTopics[] = {v1::ACTION_TOPIC_HOUSING, v1::ACTION_TOPIC_SCHOOL,
                                             v1::ACTION_TOPIC_HEALTH,  v1::ACTION_TOPIC_WORK,
                                             v1::ACTION_TOPIC_HOUSING, v1::ACTION_TOPIC_SAFETY};

bool BuildActionCommand(ActionScript& a, int kind, int year, int64_t t, v1::ActionCommand* cmd,
                        rb::domain::Actor* actor) {
  const DepartementShape& d = kDepartements[a.dep];
  Rng& rng = a.rng;
  *actor = Prefecture(d);
  cmd->set_action_id(a.id);
  cmd->set_valid_at_us(t);
  switch (kind) {
    case 0: {
      cmd->set_reason("Création de l'action");
      auto* c = cmd->mutable_create();
      auto* det = c->mutable_details();
      const int n = static_cast<int>(rng.Int(0, 5));
      det->set_name(absl::StrCat(kActionNames[n], " - ", d.court));
      *det->mutable_started_at() = rb::domain::ToDate(a.started);
      if (a.ended) *det->mutable_ended_at() = rb::domain::ToDate(*a.ended);
      det->set_goals("Accompagner les habitants vers une solution durable.");
      det->add_topics(kActionTopics[n]);
      if (kActionTopics[n] != v1::ACTION_TOPIC_SCHOOL && rng.Chance(0.4)) {
        det->add_topics(v1::ACTION_TOPIC_SCHOOL);
      }
      det->set_departement_code(d.code);
      if (!a.site_ids.empty()) {
        det->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_ON_SITE);
        for (const std::string& id : a.site_ids) det->mutable_location()->add_site_ids(id);
      } else {
        det->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_OTHER);
        det->mutable_location()->set_other("Plusieurs sites du département");
      }
      auto* m = c->add_managers();
      m->set_user_id(actor->user_id);
      m->set_organisation_id(actor->organisation_id);
      rb::domain::Actor op = Operator(d);
      auto* o = c->add_operators();
      o->set_user_id(op.user_id);
      o->set_organisation_id(op.organisation_id);
      return true;
    }
    case 1: {
      *actor = Operator(d);
      cmd->set_reason(absl::StrCat("Indicateurs ", year));
      auto* m = cmd->mutable_record_indicators()->mutable_indicators();
      const int people = static_cast<int>(rng.Int(15, 120));
      const int minors = people / 3;
      m->set_year(year);
      m->set_nombre_personnes(people);
      m->set_nombre_menages(std::max(1, people / 4));
      m->set_nombre_femmes(people / 2);
      m->set_nombre_mineurs(minors);
      m->set_sante_nombre_personnes(people / 2);
      m->set_travail_nombre_personnes(people / 6);
      m->set_logement_nombre_personnes(people / 8);
      m->set_scolaire_mineurs_scolarisables(minors);
      m->set_scolaire_nombre_elementaire(minors / 2);
      return true;
    }
    case 2: {
      cmd->set_reason(absl::StrCat("Financements ", year));
      auto* f = cmd->mutable_record_finances()->mutable_finances();
      f->set_year(year);
      auto* l = f->add_lines();
      l->set_type(v1::FINANCE_TYPE_DEDICATED);
      l->set_amount_cents(rng.Int(20, 300) * 100000);
      l->set_real_amount_cents(l->amount_cents() * rng.Int(70, 100) / 100);
      if (rng.Chance(0.5)) {
        auto* c = f->add_lines();
        c->set_type(v1::FINANCE_TYPE_LOCAL_AUTHORITY);
        c->set_amount_cents(rng.Int(10, 100) * 100000);
        c->set_real_amount_cents(c->amount_cents());
      }
      return true;
    }
    default: {
      cmd->set_reason("Fin de l'action");
      *cmd->mutable_close()->mutable_closed_at() = rb::domain::ToDate(*a.ended);
      cmd->mutable_close()->set_final_comment("Action terminée ; bilan transmis à la DIHAL.");
      return true;
    }
  }
}

struct Item {
  int64_t time;
  uint32_t script;  // site index, or action index + sites.size()
  uint32_t step;
};

}  // namespace

absl::StatusOr<DemoReport> GenerateDemoHistory(const DemoOptions& o, rb::es::EventStore* store,
                                               rb::es::ManualClock* clock) {
  if (o.scale < 1) return absl::InvalidArgumentError("scale must be at least 1");
  if (o.end <= o.start) return absl::InvalidArgumentError("end must be after start");
  Rng rng(o.seed);
  const auto communes = CommunesByDepartement();
  int weight_total = 0;
  for (const DepartementShape& d : kDepartements) weight_total += d.weight;
  auto pick_dep = [&](Rng& r) {
    int64_t x = r.Int(0, weight_total - 1);
    for (int i = 0; i < kDepartementCount; ++i) {
      if (x < kDepartements[i].weight) return i;
      x -= kDepartements[i].weight;
    }
    return kDepartementCount - 1;
  };

  // Sites: the stock known at the opening, then new ones every year.
  std::vector<SiteScript> sites;
  const int initial = 560 * o.scale;
  const double span_years = static_cast<double>(o.end - o.start) / 365.25;
  const int later = static_cast<int>(70 * o.scale * std::max(0.0, span_years - 0.6));
  sites.reserve(initial + later);
  for (int i = 0; i < initial + later; ++i) {
    SiteScript& s = sites.emplace_back();
    s.id = absl::StrCat(i + 1);
    s.rng = Rng(o.seed * 1000003 + i);
    Rng& r = s.rng;
    s.dep = pick_dep(r);
    const auto& choices = communes.at(kDepartements[s.dep].code);
    if (choices.empty()) return absl::InternalError("no commune for a demo département");
    s.city_code = PickWeighted(choices, r).code;
    s.lat = kDepartements[s.dep].lat + (r.Real() - 0.5) * 0.18;
    s.lon = kDepartements[s.dep].lon + (r.Real() - 0.5) * 0.24;
    if (i < initial) {
      s.declared = o.start + r.Int(0, 200);
    } else {
      s.declared = o.start + 220 + r.Int(0, (o.end - o.start) - 250);
    }
    s.built = s.declared - r.Int(10, i < initial ? 3000 : 400);
    s.minors_share = 0.15 + 0.2 * r.Real();
    s.origins = DrawOrigins(r);
    PlanSite(s, o, r);
  }

  // Actions: about fifty a year, on sites of their département when there are some.
  std::vector<ActionScript> actions;
  const int action_count = static_cast<int>(50 * o.scale * span_years);
  std::vector<std::vector<int>> sites_by_dep(kDepartementCount);
  for (size_t i = 0; i < sites.size(); ++i) sites_by_dep[sites[i].dep].push_back(i);
  const int64_t end_us = DayUs(o.end) + 17 * 60 * kMinuteUs;
  for (int i = 0; i < action_count; ++i) {
    ActionScript& a = actions.emplace_back();
    a.id = absl::StrCat(i + 1);
    a.rng = Rng(o.seed * 2000003 + i);
    Rng& r = a.rng;
    a.dep = pick_dep(r);
    a.started = o.start + r.Int(0, (o.end - o.start) - 60);
    if (r.Chance(0.6)) a.ended = a.started + r.Int(300, 1100);
    for (int tries = 0; tries < 6 && a.site_ids.size() < 3; ++tries) {
      const auto& pool = sites_by_dep[a.dep];
      if (pool.empty()) break;
      const SiteScript& s = sites[pool[r.Next() % pool.size()]];
      if (s.declared < a.started &&
          std::find(a.site_ids.begin(), a.site_ids.end(), s.id) == a.site_ids.end()) {
        a.site_ids.push_back(s.id);
      }
    }
    const int64_t created = DayUs(a.started) + (9 * 60 + r.Int(0, 300)) * kMinuteUs;
    const int64_t closes = a.ended ? DayUs(*a.ended + 30) + 10 * 60 * kMinuteUs : INT64_MAX;
    const int64_t stop = std::min(closes, end_us);
    a.steps.push_back({created, 0});
    a.step_years.push_back(0);
    for (int y = a.started.year(); y <= o.end.year(); ++y) {
      const int64_t fin = std::max(created + kDayUs, DayUs(CivilDay(y, 3, 1) + r.Int(0, 60)));
      if (fin < stop) {
        a.steps.push_back({fin, 2});
        a.step_years.push_back(y);
      }
      const int64_t ind = std::max(created + 2 * kDayUs, DayUs(CivilDay(y, 12, 1) + r.Int(0, 20)));
      if (ind < stop) {
        a.steps.push_back({ind, 1});
        a.step_years.push_back(y);
      }
    }
    if (closes < end_us) {
      a.steps.push_back({closes, 3});
      a.step_years.push_back(0);
    }
  }

  std::vector<Item> items;
  for (size_t i = 0; i < sites.size(); ++i) {
    for (size_t k = 0; k < sites[i].steps.size(); ++k) {
      items.push_back(
          {sites[i].steps[k].first, static_cast<uint32_t>(i), static_cast<uint32_t>(k)});
    }
  }
  for (size_t i = 0; i < actions.size(); ++i) {
    for (size_t k = 0; k < actions[i].steps.size(); ++k) {
      items.push_back({actions[i].steps[k].first, static_cast<uint32_t>(sites.size() + i),
                       static_cast<uint32_t>(k)});
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.script != b.script) return a.script < b.script;
    return a.step < b.step;
  });

  DeterministicIds ids(store, o.seed);
  rb::domain::CommandHandler handler(&ids);
  DemoReport report;
  Rng record_delay(o.seed ^ 0x5eed);
  int64_t last_recorded = 0;
  uint64_t done = 0;
  for (const Item& it : items) {
    // Recorded a little after the declared date, never going back.
    const int64_t recorded =
        std::max(last_recorded + 1, it.time + record_delay.Int(1, 240) * kMinuteUs);
    last_recorded = recorded;
    if (clock != nullptr) clock->Set(recorded);
    rb::domain::Context ctx;
    ctx.now_us = it.time;
    absl::StatusOr<rb::domain::CommandResult> r;
    bool built = false;
    std::string command_id;
    if (it.script < sites.size()) {
      SiteScript& s = sites[it.script];
      v1::SiteCommand cmd;
      built = BuildSiteCommand(s, s.steps[it.step].second, it.time, &cmd, &ctx.actor);
      if (!built) continue;
      cmd.set_command_id(absl::StrCat("demo-", o.seed, "-site-", s.id, "-", it.step));
      r = handler.HandleSite(cmd, ctx);
    } else {
      ActionScript& a = actions[it.script - sites.size()];
      v1::ActionCommand cmd;
      built = BuildActionCommand(a, a.steps[it.step].second, a.step_years[it.step], it.time, &cmd,
                                 &ctx.actor);
      if (!built) continue;
      cmd.set_command_id(absl::StrCat("demo-", o.seed, "-action-", a.id, "-", it.step));
      r = handler.HandleAction(cmd, ctx);
    }
    ++report.commands;
    if (!r.ok()) {
      const absl::StatusCode c = r.status().code();
      if (c == absl::StatusCode::kUnavailable || c == absl::StatusCode::kDataLoss ||
          c == absl::StatusCode::kInternal) {
        return r.status();
      }
      if (report.refused++ == 0) {
        report.first_refusal =
            absl::StrCat(it.script < sites.size() ? "site " : "action ", it.script, " step ",
                         it.step, ": ", r.status().ToString());
      }
    }
    if (o.progress && ++done % o.progress_every == 0) o.progress(done, items.size());
  }

  // The report, from the folded states.
  report.sites = sites.size();
  report.actions = actions.size();
  for (const SiteScript& s : sites) {
    absl::StatusOr<v1::Site> site = handler.LoadSite(s.id);
    if (!site.ok()) return site.status();
    if (site->status() == v1::SITE_STATUS_CLOSED) {
      ++report.closed_sites;
      if (site->closure().closed_with_solutions() == v1::YES) ++report.closed_with_solutions;
      continue;
    }
    if (site->status() != v1::SITE_STATUS_OPEN) continue;
    ++report.open_sites;
    const int total = site->population().total();
    if (total > 10) ++report.open_sites_over_10;
    if (total >= 10 && total <= 50) ++report.open_sites_10_to_50;
    report.open_people += total;
    report.open_minors += site->population().minors();
    for (int origin : site->origins()) {
      if (origin == v1::SOCIAL_ORIGIN_EUROPEAN) ++report.open_european_sites;
    }
  }
  rb::es::Head head = store->GetHead();
  report.events = head.position;
  report.head_hash_hex = rb::es::ToHex(head.log_hash);
  return report;
}

absl::StatusOr<DemoReport> CreateDemoDataDirectory(const DemoOptions& options,
                                                   const std::string& dir) {
  rb::es::ManualClock clock(DayUs(options.start));
  rb::es::Options store_options;
  store_options.sync = false;
  store_options.clock = &clock;
  absl::StatusOr<std::unique_ptr<rb::es::EventStore>> store =
      rb::es::EventStore::Open(store_options, dir);
  if (!store.ok()) return store.status();
  if ((*store)->GetHead().position != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " already holds events: demo data goes into an empty directory"));
  }
  absl::StatusOr<DemoReport> report = GenerateDemoHistory(options, store->get(), &clock);
  (*store)->Close();
  return report;
}

}  // namespace rb::tools
