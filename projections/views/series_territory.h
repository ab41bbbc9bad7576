// Copyright: the Résorption-bidonvilles data service authors.
//
// Territory keys of the series view: a site's location counts in its commune, EPCI,
// departement, region, the nation ("FR") and one zone: "outre_mer" for the overseas departements
// 971-989 (regions 01-04 and 06), "hexagone" otherwise.
//
//   for (const TerritoryKey& k : TerritoryKeysOf(site.location().territory())) ...;
#ifndef RB_PROJECTIONS_VIEWS_SERIES_TERRITORY_H_
#define RB_PROJECTIONS_VIEWS_SERIES_TERRITORY_H_

#include <string>
#include <string_view>
#include <vector>

#include "resorption/v1/common.pb.h"
#include "resorption/v1/territory_query.pb.h"

namespace rb::proj::views {

inline constexpr char kZoneMetro[] = "hexagone";
inline constexpr char kZoneOverseas[] = "outre_mer";
inline constexpr char kNationCode[] = "FR";

// "outre_mer" for 971..989, "hexagone" for any other code.
std::string_view ZoneCodeOfDepartement(std::string_view departement_code);

struct TerritoryKey {
  char level;  // 'c' commune, 'e' EPCI, 'd' departement, 'r' region, 'n' nation, 'z' zone
  std::string code;
};

// Every territory the location belongs to (commune first, nation and zone last); empty when the
// commune is unknown. EPCI is left out when empty.
std::vector<TerritoryKey> TerritoryKeysOf(const resorption::v1::Territory& territory);

// The key level letter of a request; 0 for TERRITORY_LEVEL_UNSPECIFIED (treated as the nation by
// callers). The returned code is normalised (nation: "FR").
char LevelLetter(resorption::v1::TerritoryLevel level);

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_SERIES_TERRITORY_H_
