// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/signals.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "absl/strings/str_cat.h"
#include "domain/dates.h"

namespace rb::views {
namespace {

using resorption::v1::DomainStatus;
using resorption::v1::Site;
using resorption::v1::TriState;
namespace pb = resorption::v1;

// The impacts of a domain's criteria; the status is the worst of bad > unknown > toImprove, else
// good (the platform's rule). Unanswered criteria (TRI_STATE_UNSPECIFIED) are not counted.
class Impacts {
 public:
  void Good() { any_ = true; }
  void ToImprove() { any_ = true, to_improve_ = true; }
  void Bad() { any_ = true, bad_ = true; }
  void Unknown() { any_ = true, unknown_ = true; }
  // A tri-state criterion: `bad_answer` gives `bad_impact`, the other answer is good.
  void Tri(TriState t, TriState bad_answer, bool bad_impact) {
    if (t == pb::TRI_STATE_UNSPECIFIED) return;
    if (t == pb::UNKNOWN) return Unknown();
    if (t != bad_answer) return Good();
    if (bad_impact) return Bad();
    ToImprove();
  }
  DomainStatus Status(bool assessed) const {
    if (bad_) return pb::DOMAIN_STATUS_BAD;
    if (unknown_ || (!any_ && assessed)) return pb::DOMAIN_STATUS_UNKNOWN;
    if (to_improve_) return pb::DOMAIN_STATUS_TO_IMPROVE;
    if (any_) return pb::DOMAIN_STATUS_GOOD;
    return pb::DOMAIN_STATUS_UNSPECIFIED;
  }

 private:
  bool any_ = false, to_improve_ = false, bad_ = false, unknown_ = false;
};

constexpr bool kBad = true;
constexpr bool kToImprove = false;

DomainStatus V2Status(const pb::LivingConditionsV2& lc, pb::LivingConditionsDomain domain) {
  Impacts i;
  switch (domain) {
    case pb::LIVING_CONDITIONS_DOMAIN_WATER: {
      const auto& w = lc.water();
      switch (w.access_type()) {
        case pb::WATER_ACCESS_TYPE_UNSPECIFIED:
          break;
        case pb::WATER_ACCESS_TYPE_UNKNOWN:
          i.Unknown();
          break;
        case pb::WATER_ACCESS_TYPE_NETWORK_TAP:
        case pb::WATER_ACCESS_TYPE_OTHER:
          i.Good();
          break;
        default:  // fountain, hydrant, bottles, tank
          i.Bad();
      }
      i.Tri(w.is_public(), pb::YES, kBad);
      i.Tri(w.is_local(), pb::NO, kBad);
      i.Tri(w.is_continuous(), pb::NO, kToImprove);
      i.Tri(w.is_close(), pb::NO, kToImprove);
      i.Tri(w.is_unequal(), pb::YES, kToImprove);
      i.Tri(w.has_stagnant_water(), pb::YES, kToImprove);
      break;
    }
    case pb::LIVING_CONDITIONS_DOMAIN_SANITARY: {
      const auto& s = lc.sanitary();
      i.Tri(s.working_toilets(), pb::NO, kBad);
      i.Tri(s.open_air_defecation(), pb::YES, kToImprove);
      if (s.toilet_types_size() > 0 &&
          std::all_of(s.toilet_types().begin(), s.toilet_types().end(),
                      [](int t) { return t == pb::TOILET_TYPE_LATRINES; })) {
        i.ToImprove();
      }
      i.Tri(s.toilets_are_lighted(), pb::NO, kToImprove);
      i.Tri(s.hand_washing(), pb::NO, kToImprove);
      break;
    }
    case pb::LIVING_CONDITIONS_DOMAIN_ELECTRICITY: {
      const auto& e = lc.electricity();
      i.Tri(e.access(), pb::NO, kBad);
      i.Tri(e.access_is_unequal(), pb::YES, kToImprove);
      if (e.access_types_size() > 0 &&
          std::all_of(e.access_types().begin(), e.access_types().end(),
                      [](int t) { return t == pb::ELECTRICITY_ACCESS_TYPE_GENERATOR; })) {
        i.ToImprove();
      }
      break;
    }
    case pb::LIVING_CONDITIONS_DOMAIN_TRASH: {
      const auto& t = lc.trash();
      i.Tri(t.is_piling(), pb::YES, kBad);
      i.Tri(t.evacuation_is_close(), pb::NO, kBad);
      i.Tri(t.evacuation_is_safe(), pb::NO, kToImprove);
      i.Tri(t.evacuation_is_regular(), pb::NO, kToImprove);
      i.Tri(t.bulky_is_piling(), pb::YES, kToImprove);
      break;
    }
    case pb::LIVING_CONDITIONS_DOMAIN_PESTS:
      i.Tri(lc.pests().animals(), pb::YES, kBad);
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_FIRE:
      i.Tri(lc.fire().prevention_diagnostic(), pb::NO, kBad);
      break;
    default:
      break;
  }
  return i.Status(/*assessed=*/true);
}

DomainStatus V1Status(const pb::LivingConditionsV1& lc, pb::LivingConditionsDomain domain) {
  Impacts i;
  switch (domain) {
    case pb::LIVING_CONDITIONS_DOMAIN_WATER:
      i.Tri(lc.access_to_water(), pb::NO, kBad);
      i.Tri(lc.water_potable(), pb::NO, kBad);
      i.Tri(lc.water_continuous_access(), pb::NO, kToImprove);
      i.Tri(lc.water_everyone_has_access(), pb::NO, kToImprove);
      i.Tri(lc.water_stagnant_water(), pb::YES, kToImprove);
      if (lc.water_distance() == pb::WATER_DISTANCE_V1_100_PLUS) i.ToImprove();
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_SANITARY:
      i.Tri(lc.access_to_sanitary(), pb::NO, kBad);
      i.Tri(lc.sanitary_insalubrious(), pb::YES, kToImprove);
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_ELECTRICITY:
      switch (lc.electricity_type()) {
        case pb::ELECTRICITY_TYPE_V1_YES:
          i.Good();
          break;
        case pb::ELECTRICITY_TYPE_V1_NO:
          i.Bad();
          break;
        case pb::ELECTRICITY_TYPE_V1_UNKNOWN:
          i.Unknown();
          break;
        default:
          break;
      }
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_TRASH:
      i.Tri(lc.trash_evacuation(), pb::NO, kBad);
      i.Tri(lc.trash_accumulation(), pb::YES, kToImprove);
      i.Tri(lc.trash_evacuation_regular(), pb::NO, kToImprove);
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_PESTS:
      i.Tri(lc.vermin(), pb::YES, kBad);
      break;
    case pb::LIVING_CONDITIONS_DOMAIN_FIRE:
      i.Tri(lc.fire_prevention_measures(), pb::NO, kBad);
      i.Tri(lc.fire_prevention_diagnostic(), pb::NO, kToImprove);
      break;
    default:
      break;
  }
  return i.Status(/*assessed=*/true);
}

bool Known(TriState t) { return t == pb::YES || t == pb::NO; }

void AddFactor(pb::Signals& s, const char* code, std::string label, int points,
               pb::Sensitivity sensitivity = pb::SENSITIVITY_NONE) {
  if (points <= 0) return;
  pb::PriorityFactor* f = s.add_priority_factors();
  f->set_code(code);
  f->set_label(std::move(label));
  f->set_points(points);
  f->set_sensitivity(sensitivity);
}

}  // namespace

bool Visibility::Sees(pb::Sensitivity s) const {
  switch (s) {
    case pb::SENSITIVITY_JUSTICE:
      return justice;
    case pb::SENSITIVITY_OWNER:
      return owner;
    case pb::SENSITIVITY_FINANCES:
      return finances;
    case pb::SENSITIVITY_PERSONAL:
      return personal;
    default:
      return true;
  }
}

DomainStatus DomainStatusOf(const Site& site, pb::LivingConditionsDomain domain) {
  switch (site.living_conditions_version()) {
    case 1:
      return V1Status(site.living_conditions_v1(), domain);
    case 2:
      return V2Status(site.living_conditions_v2(), domain);
    default:
      return pb::DOMAIN_STATUS_UNSPECIFIED;
  }
}

pb::DomainStatuses LivingConditionStatuses(const Site& site) {
  pb::DomainStatuses s;
  s.set_water(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_WATER));
  s.set_sanitary(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_SANITARY));
  s.set_electricity(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_ELECTRICITY));
  s.set_trash(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_TRASH));
  s.set_pests(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_PESTS));
  s.set_fire(DomainStatusOf(site, pb::LIVING_CONDITIONS_DOMAIN_FIRE));
  return s;
}

bool HasAccessToWater(const Site& site) {
  if (site.living_conditions_version() == 1) {
    return site.living_conditions_v1().access_to_water() == pb::YES;
  }
  if (site.living_conditions_version() != 2) return false;
  const auto& w = site.living_conditions_v2().water();
  return (w.access_type() == pb::WATER_ACCESS_TYPE_NETWORK_TAP ||
          w.access_type() == pb::WATER_ACCESS_TYPE_OTHER) &&
         w.is_public() != pb::YES && w.is_local() == pb::YES && w.is_continuous() != pb::NO &&
         w.is_close() != pb::NO && w.is_unequal() != pb::YES && w.has_stagnant_water() != pb::YES;
}

absl::CivilDay FirstOutOfDateDay(absl::CivilDay last_update_day, int months) {
  // Out of date once `reference` - `months` months, the same day of month clamped to the month's
  // last day (31 August - 6 months = 28/29 February), is after the update: the first such limit
  // is the day after the update, reached on that day `months` months later; when the later month
  // is too short the limits jump from its last day to the next month's 1st.
  const absl::CivilDay next = last_update_day + 1;
  const absl::CivilMonth m = absl::CivilMonth(next) + months;
  const absl::CivilDay first(m.year(), m.month(), next.day());
  return absl::CivilMonth(first) == m ? first : absl::CivilDay(m + 1);
}

bool IsOutOfDate(const Site& site, absl::CivilDay reference, int months) {
  if (site.status() != pb::SITE_STATUS_OPEN) return false;
  const int64_t last = site.updated_at_us() != 0 ? site.updated_at_us() : site.created_at_us();
  return reference >= FirstOutOfDateDay(rb::domain::DayOfMicros(last), months);
}

int CompletionFilled(const Site& site) {
  int n = 0;
  const auto& address = site.location().address();
  n += !address.label().empty() && address.has_coordinates();
  n += site.field_type() != pb::FIELD_TYPE_UNSPECIFIED &&
       site.field_type() != pb::FIELD_TYPE_UNKNOWN;
  n += site.ownership().owner_type() != pb::OWNER_TYPE_UNSPECIFIED &&
       site.ownership().owner_type() != pb::OWNER_TYPE_UNKNOWN;
  n += site.census().status() != pb::CENSUS_STATUS_UNSPECIFIED;
  n += site.population().has_total();
  n += site.population().has_households();
  n += site.population().has_minors();
  n += site.origins_size() > 0;
  if (site.living_conditions_version() == 2) {
    const auto& lc = site.living_conditions_v2();
    n += lc.water().access_type() != pb::WATER_ACCESS_TYPE_UNSPECIFIED &&
         lc.water().access_type() != pb::WATER_ACCESS_TYPE_UNKNOWN;
    n += Known(lc.electricity().access());
    n += Known(lc.trash().is_piling());
    n += Known(lc.sanitary().working_toilets());
  } else if (site.living_conditions_version() == 1) {
    const auto& lc = site.living_conditions_v1();
    n += Known(lc.access_to_water());
    n += lc.electricity_type() == pb::ELECTRICITY_TYPE_V1_YES ||
         lc.electricity_type() == pb::ELECTRICITY_TYPE_V1_NO;
    n += Known(lc.trash_evacuation());
    n += Known(lc.access_to_sanitary());
  }
  return n;
}

pb::OriginClass OriginClassOf(const Site& site) {
  int seen = 0;
  pb::SocialOrigin first = pb::SOCIAL_ORIGIN_UNSPECIFIED;
  for (int o : site.origins()) {
    if (o == pb::SOCIAL_ORIGIN_UNSPECIFIED) continue;
    if (seen == 0) first = static_cast<pb::SocialOrigin>(o);
    if (seen > 0 && o != first) return pb::ORIGIN_CLASS_MIXED;
    ++seen;
  }
  switch (first) {
    case pb::SOCIAL_ORIGIN_FRENCH:
      return pb::ORIGIN_CLASS_FRENCH;
    case pb::SOCIAL_ORIGIN_EUROPEAN:
      return pb::ORIGIN_CLASS_EUROPEAN;
    case pb::SOCIAL_ORIGIN_OTHER:
      return pb::ORIGIN_CLASS_OTHER;
    default:
      return pb::ORIGIN_CLASS_UNKNOWN;
  }
}

pb::PopulationBucket PopulationBucketOf(const Site& site) {
  if (!site.population().has_total()) return pb::POPULATION_BUCKET_UNKNOWN;
  const int n = site.population().total();
  if (n < 10) return pb::POPULATION_BUCKET_LESS_THAN_10;
  if (n <= 50) return pb::POPULATION_BUCKET_10_TO_50;
  if (n <= 100) return pb::POPULATION_BUCKET_51_TO_100;
  return pb::POPULATION_BUCKET_MORE_THAN_100;
}

pb::Signals ComputeSignals(const Site& site, const ActionFacts& actions, absl::CivilDay reference,
                           const Visibility& visibility) {
  pb::Signals s;
  *s.mutable_statuses() = LivingConditionStatuses(site);
  s.set_access_to_water(HasAccessToWater(site));
  s.set_out_of_date(IsOutOfDate(site, reference));
  s.set_heatwave(site.heatwave());
  s.set_reinstallation(site.reinstallation().is_reinstallation() == pb::YES);
  s.set_completion_filled(CompletionFilled(site));
  s.set_completion_percent(s.completion_filled() * 100 / kCompletionCriteria);
  s.set_origin_class(OriginClassOf(site));
  s.set_has_action(actions.has_action);
  s.set_has_dedicated_financing(actions.has_dedicated_financing);
  if (site.status() != pb::SITE_STATUS_OPEN) return s;

  // The priority formula: docs/signals.md. Each term is a factor with its points.
  const pb::DomainStatuses& st = s.statuses();
  if (site.living_conditions_version() == 0) {
    AddFactor(s, "living_conditions_unassessed", "Conditions de vie jamais renseignées", 10);
  } else {
    const struct {
      pb::DomainStatus status;
      const char* bad_code;
      const char* label;
      int bad, to_improve, unknown;
    } domains[] = {
        {st.water(), "water", "Accès à l'eau", 30, 10, 5},
        {st.fire(), "fire", "Prévention incendie", 20, 0, 5},
        {st.sanitary(), "sanitary", "Accès aux toilettes", 15, 5, 0},
        {st.electricity(), "electricity", "Accès à l'électricité", 10, 0, 0},
        {st.trash(), "trash", "Évacuation des déchets", 10, 0, 0},
        {st.pests(), "pests", "Présence de nuisibles", 10, 0, 0},
    };
    for (const auto& d : domains) {
      if (d.status == pb::DOMAIN_STATUS_BAD) {
        AddFactor(s, (std::string(d.bad_code) + "_bad").c_str(),
                  absl::StrCat(d.label, " : mauvais"), d.bad);
      } else if (d.status == pb::DOMAIN_STATUS_TO_IMPROVE) {
        AddFactor(s, (std::string(d.bad_code) + "_to_improve").c_str(),
                  absl::StrCat(d.label, " : à améliorer"), d.to_improve);
      } else if (d.status == pb::DOMAIN_STATUS_UNKNOWN) {
        AddFactor(s, (std::string(d.bad_code) + "_unknown").c_str(),
                  absl::StrCat(d.label, " : inconnu"), d.unknown);
      }
    }
  }
  if (site.population().has_minors()) {
    const int minors = site.population().minors();
    AddFactor(s, "minors", absl::StrCat(minors, " mineurs sur le site"), std::min(25, minors / 5));
  }
  if (site.population().has_total()) {
    const int total = site.population().total();
    AddFactor(s, "population", absl::StrCat(total, " personnes sur le site"),
              std::min(15, total / 20));
  }
  if (site.heatwave()) AddFactor(s, "heatwave", "Alerte canicule en cours", 25);
  if (s.out_of_date()) {
    AddFactor(s, "out_of_date", "Données non mises à jour depuis plus de 6 mois", 15);
  }
  if (!actions.has_action) AddFactor(s, "no_action", "Aucune action sur le site", 10);
  const bool procedure = site.justice().justice_procedure() == pb::YES;
  if (site.police().status() == pb::POLICE_STATUS_GRANTED) {
    AddFactor(s, "police_granted",
              procedure ? "Procédure judiciaire avec concours de la force publique obtenu"
                        : "Concours de la force publique obtenu",
              20, pb::SENSITIVITY_JUSTICE);
  } else if (site.police().status() == pb::POLICE_STATUS_REQUESTED) {
    AddFactor(s, "police_requested", "Concours de la force publique demandé", 10,
              pb::SENSITIVITY_JUSTICE);
  } else if (procedure) {
    AddFactor(s, "justice_procedure", "Procédure judiciaire en cours", 5, pb::SENSITIVITY_JUSTICE);
  }
  if (site.administrative_order().evacuation_under_time_limit() == pb::YES) {
    AddFactor(s, "evacuation_order", "Arrêté d'évacuation sous délai en cours", 15,
              pb::SENSITIVITY_JUSTICE);
  }
  if (s.reinstallation()) AddFactor(s, "reinstallation", "Réinstallation", 5);

  auto* factors = s.mutable_priority_factors();
  factors->erase(std::remove_if(factors->begin(), factors->end(),
                                [&](const pb::PriorityFactor& f) {
                                  return !visibility.Sees(f.sensitivity());
                                }),
                 factors->end());
  std::sort(factors->begin(), factors->end(),
            [](const pb::PriorityFactor& a, const pb::PriorityFactor& b) {
              if (a.points() != b.points()) return a.points() > b.points();
              return a.code() < b.code();
            });
  int score = 0;
  for (const auto& f : *factors) score += f.points();
  s.set_priority_score(score);
  return s;
}

}  // namespace rb::views
