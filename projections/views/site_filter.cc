// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/site_filter.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "domain/geo.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;

template <typename Repeated, typename T>
bool Contains(const Repeated& values, T v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool StartsAWord(std::string_view text, std::string_view prefix) {
  for (size_t i = text.find(prefix); i != std::string_view::npos; i = text.find(prefix, i + 1)) {
    if (i == 0 || text[i - 1] == ' ') return true;
  }
  return false;
}

bool MatchesTerritory(const pb::Site& site, const pb::SiteFilter& f) {
  if (f.region_codes().empty() && f.departement_codes().empty() && f.epci_codes().empty() &&
      f.city_codes().empty()) {
    return true;
  }
  const pb::Territory& t = site.location().territory();
  return Contains(f.region_codes(), t.region_code()) ||
         Contains(f.departement_codes(), t.departement_code()) ||
         (!t.epci_code().empty() && Contains(f.epci_codes(), t.epci_code())) ||
         Contains(f.city_codes(), t.city_code());
}

bool MatchesOrigins(const pb::Site& site, const pb::SiteFilter& f) {
  if (f.origins().empty()) return true;
  const pb::OriginClass cls = OriginClassOf(site);
  for (int o : f.origins()) {
    switch (o) {
      case pb::ORIGIN_FILTER_FRENCH:
        if (Contains(site.origins(), pb::SOCIAL_ORIGIN_FRENCH)) return true;
        break;
      case pb::ORIGIN_FILTER_EUROPEAN:
        if (Contains(site.origins(), pb::SOCIAL_ORIGIN_EUROPEAN)) return true;
        break;
      case pb::ORIGIN_FILTER_OTHER:
        if (Contains(site.origins(), pb::SOCIAL_ORIGIN_OTHER)) return true;
        break;
      case pb::ORIGIN_FILTER_EUROPEAN_ONLY:
        if (cls == pb::ORIGIN_CLASS_EUROPEAN) return true;
        break;
      case pb::ORIGIN_FILTER_UNKNOWN:
        if (cls == pb::ORIGIN_CLASS_UNKNOWN) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

bool MatchesTextPrefix(const pb::Site& site, std::string_view prefix) {
  using rb::domain::geo::NormalizeName;
  return StartsAWord(NormalizeName(site.name()), prefix) ||
         StartsAWord(NormalizeName(site.location().address().label()), prefix) ||
         StartsAWord(NormalizeName(site.location().territory().city_name()), prefix);
}

bool MatchesSiteFilter(const pb::Site& site, const pb::SiteFilter& f, absl::CivilDay as_of,
                       const ActionFacts& actions) {
  switch (f.state()) {
    case pb::SITE_STATE_FILTER_UNSPECIFIED:
    case pb::SITE_STATE_FILTER_OPEN:
      if (site.status() != pb::SITE_STATUS_OPEN) return false;
      break;
    case pb::SITE_STATE_FILTER_CLOSED:
      if (site.status() != pb::SITE_STATUS_CLOSED) return false;
      break;
    default:
      if (site.status() != pb::SITE_STATUS_OPEN && site.status() != pb::SITE_STATUS_CLOSED) {
        return false;
      }
  }
  if (!MatchesTerritory(site, f)) return false;
  if (!f.field_types().empty() && !Contains(f.field_types(), site.field_type())) return false;
  if (!MatchesOrigins(site, f)) return false;
  if (!f.population().empty() && !Contains(f.population(), PopulationBucketOf(site))) return false;
  for (const pb::DomainStatusFilter& d : f.living_conditions()) {
    if (d.domain() == pb::LIVING_CONDITIONS_DOMAIN_UNSPECIFIED || d.statuses().empty()) continue;
    if (!Contains(d.statuses(), DomainStatusOf(site, d.domain()))) return false;
  }
  if (!f.justice_procedure().empty() &&
      !Contains(f.justice_procedure(), site.justice().justice_procedure())) {
    return false;
  }
  if (!f.police_status().empty() && !Contains(f.police_status(), site.police().status())) {
    return false;
  }
  if (!f.administrative_order().empty() &&
      !Contains(f.administrative_order(),
                site.administrative_order().evacuation_under_time_limit())) {
    return false;
  }
  if (!f.insalubrity_order().empty() &&
      !Contains(f.insalubrity_order(), site.insalubrity_order().insalubrity_order())) {
    return false;
  }
  if (f.has_heatwave() && f.heatwave() != site.heatwave()) return false;
  if (f.has_out_of_date() && f.out_of_date() != IsOutOfDate(site, as_of)) return false;
  if (!f.resorption_target_years().empty() &&
      !Contains(f.resorption_target_years(), site.resorption_target())) {
    return false;
  }
  if (f.has_has_resorption_target() &&
      f.has_resorption_target() != (site.resorption_target() != 0)) {
    return false;
  }
  if (f.has_has_action() && f.has_action() != actions.has_action) return false;
  if (f.has_has_dedicated_financing() &&
      f.has_dedicated_financing() != actions.has_dedicated_financing) {
    return false;
  }
  if (!f.closing_causes().empty() && (site.status() != pb::SITE_STATUS_CLOSED ||
                                      !Contains(f.closing_causes(), site.closure().cause()))) {
    return false;
  }
  if (!f.closing_years().empty() &&
      (site.status() != pb::SITE_STATUS_CLOSED ||
       !Contains(f.closing_years(), site.closure().closed_at().year()))) {
    return false;
  }
  if (!f.text_prefix().empty()) {
    const std::string prefix = rb::domain::geo::NormalizeName(f.text_prefix());
    if (!prefix.empty() && !MatchesTextPrefix(site, prefix)) return false;
  }
  return true;
}

absl::Status ValidateSiteFilter(const pb::SiteFilter& f) {
  if (!pb::SiteStateFilter_IsValid(f.state()))
    return absl::InvalidArgumentError("filter.state: unknown value");
  for (int v : f.field_types()) {
    if (!pb::FieldType_IsValid(v))
      return absl::InvalidArgumentError("filter.field_types: unknown value");
  }
  for (int v : f.origins()) {
    if (!pb::OriginFilter_IsValid(v))
      return absl::InvalidArgumentError("filter.origins: unknown value");
  }
  for (int v : f.population()) {
    if (!pb::PopulationBucket_IsValid(v)) {
      return absl::InvalidArgumentError("filter.population: unknown value");
    }
  }
  for (int v : f.administrative_order()) {
    if (!pb::TriState_IsValid(v)) {
      return absl::InvalidArgumentError("filter.administrative_order: unknown value");
    }
  }
  for (int v : f.insalubrity_order()) {
    if (!pb::TriState_IsValid(v)) {
      return absl::InvalidArgumentError("filter.insalubrity_order: unknown value");
    }
  }
  if (f.text_prefix().size() > 100) {
    return absl::InvalidArgumentError("filter.text_prefix: at most 100 characters");
  }
  for (int y : f.closing_years()) {
    if (y < 1900 || y > 2200) return absl::InvalidArgumentError("filter.closing_years: 1900..2200");
  }
  for (int y : f.resorption_target_years()) {
    if (y < 1900 || y > 2200) {
      return absl::InvalidArgumentError("filter.resorption_target_years: 1900..2200");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckJusticeFilters(const pb::SiteFilter& f, bool justice_access) {
  if (justice_access) return absl::OkStatus();
  std::vector<std::string> set;
  if (!f.justice_procedure().empty()) set.push_back("filter.justice_procedure");
  if (!f.police_status().empty()) set.push_back("filter.police_status");
  if (!f.administrative_order().empty()) set.push_back("filter.administrative_order");
  if (!f.insalubrity_order().empty()) set.push_back("filter.insalubrity_order");
  if (set.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(absl::StrJoin(set, ", "), ": require access to justice data"));
}

}  // namespace rb::views
