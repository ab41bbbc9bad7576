// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/series_territory.h"

namespace rb::proj::views {

std::string_view ZoneCodeOfDepartement(std::string_view code) {
  if (code.size() == 3 && code >= "971" && code <= "989") return kZoneOverseas;
  return kZoneMetro;
}

std::vector<TerritoryKey> TerritoryKeysOf(const resorption::v1::Territory& t) {
  std::vector<TerritoryKey> keys;
  if (t.city_code().empty()) return keys;
  keys.push_back({'c', t.city_code()});
  if (!t.epci_code().empty()) keys.push_back({'e', t.epci_code()});
  keys.push_back({'d', t.departement_code()});
  keys.push_back({'r', t.region_code()});
  keys.push_back({'n', kNationCode});
  keys.push_back({'z', std::string(ZoneCodeOfDepartement(t.departement_code()))});
  return keys;
}

char LevelLetter(resorption::v1::TerritoryLevel level) {
  switch (level) {
    case resorption::v1::TERRITORY_LEVEL_COMMUNE:
      return 'c';
    case resorption::v1::TERRITORY_LEVEL_EPCI:
      return 'e';
    case resorption::v1::TERRITORY_LEVEL_DEPARTEMENT:
      return 'd';
    case resorption::v1::TERRITORY_LEVEL_REGION:
      return 'r';
    case resorption::v1::TERRITORY_LEVEL_NATION:
      return 'n';
    case resorption::v1::TERRITORY_LEVEL_ZONE:
      return 'z';
    default:
      return 0;
  }
}

}  // namespace rb::proj::views
