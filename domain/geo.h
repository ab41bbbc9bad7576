// Copyright: the Résorption-bidonvilles data service authors.
//
// French administrative geography (communes, EPCI, départements, régions) from the official
// Etalab CSV files in data/geo/, embedded in the binary at build time and indexed once in memory.
//
//   const rb::domain::geo::Geography& geo = rb::domain::geo::Geography::Get();
//   const rb::domain::geo::Commune* c = geo.FindCommune("93066");
//   if (c == nullptr) return Refuse("commune inconnue");
//   // c->name == "Saint-Denis", c->departement == "93", c->region == "11"
//   for (const auto* hit : geo.SearchCommunes("st denis", 10)) { ... }
//
// Thread safety: Get() builds the index on first use (thread-safe); the index is immutable and
// every const method may be called concurrently. Returned pointers and string_views live as long
// as the process.
#ifndef RB_DOMAIN_GEO_H_
#define RB_DOMAIN_GEO_H_

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace rb::domain::geo {

// Metropolitan France, overseas départements-régions, overseas collectivities.
enum class Zone { kMetro, kDrom, kCom };

struct Region {
  std::string_view code;  // "11", "04", "975"
  std::string_view name;
  Zone zone = Zone::kMetro;
};

struct Departement {
  std::string_view code;  // "01", "2A", "974"
  std::string_view name;
  std::string_view region;  // region code
  Zone zone = Zone::kMetro;
};

struct Epci {
  std::string_view code;  // SIREN
  std::string_view name;
  std::string_view type;  // CC, CA, CU, METRO, MET69
  // The département and region of all its communes; empty when they lie in several.
  std::string_view departement;
  std::string_view region;
};

struct Commune {
  std::string_view code;  // INSEE code, 5 characters
  std::string_view name;
  std::string_view departement;
  std::string_view region;
  std::string_view epci;    // empty when outside any EPCI (and for districts)
  std::string_view parent;  // for a Paris/Lyon/Marseille district: its city's code
  bool is_district = false;
  int population = 0;
};

class Geography {
 public:
  // The index of the embedded data, built on first call.
  static const Geography& Get();

  // nullptr when the code is unknown.
  const Commune* FindCommune(std::string_view code) const;
  const Epci* FindEpci(std::string_view code) const;
  const Departement* FindDepartement(std::string_view code) const;
  const Region* FindRegion(std::string_view code) const;

  // Communes whose name starts with `prefix`, ignoring case, accents, hyphens and apostrophes
  // ("st" does not expand to "saint"). Ordered by decreasing population, then code; at most
  // `limit`. An empty prefix yields nothing.
  std::vector<const Commune*> SearchCommunes(std::string_view prefix, size_t limit) const;

  size_t commune_count() const { return communes_.size(); }
  size_t epci_count() const { return epcis_.size(); }
  size_t departement_count() const { return departements_.size(); }
  size_t region_count() const { return regions_.size(); }

  Geography(const Geography&) = delete;
  Geography& operator=(const Geography&) = delete;

 private:
  Geography();
  std::vector<Commune> communes_;  // sorted by code
  std::vector<Epci> epcis_;
  std::vector<Departement> departements_;
  std::vector<Region> regions_;
  std::vector<std::pair<std::string, const Commune*>> by_name_;  // normalized name, sorted
  std::deque<std::string> owned_;                                // unescaped quoted CSV fields
};

// Lower-case ASCII without accents; '-', '\'', '’' and runs of spaces become one space.
std::string NormalizeName(std::string_view utf8);

// True when (latitude, longitude) lies in metropolitan France or in one of the overseas
// territories' bounding boxes.
bool PlausibleCoordinates(double latitude, double longitude);

// True when the point lies in the bounding box of the territory of `departement_code`
// (metropolitan France for metropolitan départements). Unknown codes: false.
bool CoordinatesPlausibleFor(std::string_view departement_code, double latitude, double longitude);

// The raw embedded CSV files (for tools and tests).
std::string_view EmbeddedCommunesCsv();
std::string_view EmbeddedEpciCsv();
std::string_view EmbeddedDepartementsCsv();
std::string_view EmbeddedRegionsCsv();

}  // namespace rb::domain::geo

#endif  // RB_DOMAIN_GEO_H_
