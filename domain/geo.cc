// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/geo.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>

extern "C" {
extern const char rb_geo_communes_begin[];
extern const char rb_geo_communes_end[];
extern const char rb_geo_epci_begin[];
extern const char rb_geo_epci_end[];
extern const char rb_geo_departements_begin[];
extern const char rb_geo_departements_end[];
extern const char rb_geo_regions_begin[];
extern const char rb_geo_regions_end[];
}

namespace rb::domain::geo {
namespace {

// Splits one CSV line (RFC 4180 quoting) into fields; quoted fields with doubled quotes are
// unescaped into `owned`.
std::vector<std::string_view> SplitCsvLine(std::string_view line, std::deque<std::string>* owned) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      std::string value;
      size_t j = i + 1;
      bool escaped = false;
      while (j < line.size()) {
        if (line[j] == '"') {
          if (j + 1 < line.size() && line[j + 1] == '"') {
            value.push_back('"');
            escaped = true;
            j += 2;
            continue;
          }
          break;
        }
        value.push_back(line[j]);
        ++j;
      }
      if (escaped) {
        owned->push_back(std::move(value));
        out.emplace_back(owned->back());
      } else {
        out.push_back(line.substr(i + 1, j - i - 1));
      }
      i = j + 1;  // past the closing quote
    } else {
      size_t comma = line.find(',', i);
      size_t end = comma == std::string_view::npos ? line.size() : comma;
      out.push_back(line.substr(i, end - i));
      i = end;
    }
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      out.emplace_back();
      break;
    }
  }
  return out;
}

// Calls fn(fields) for each data line (the header line is skipped).
template <typename Fn>
void ForEachRow(std::string_view csv, std::deque<std::string>* owned, Fn fn) {
  bool header = true;
  while (!csv.empty()) {
    size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv = nl == std::string_view::npos ? std::string_view() : csv.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    fn(SplitCsvLine(line, owned));
  }
}

Zone ParseZone(std::string_view z) {
  if (z == "drom") return Zone::kDrom;
  if (z == "com") return Zone::kCom;
  return Zone::kMetro;
}

template <typename T>
const T* FindByCode(const std::vector<T>& v, std::string_view code) {
  auto it = std::lower_bound(v.begin(), v.end(), code,
                             [](const T& a, std::string_view c) { return a.code < c; });
  if (it == v.end() || it->code != code) return nullptr;
  return &*it;
}

template <typename T>
void SortByCode(std::vector<T>* v) {
  std::sort(v->begin(), v->end(), [](const T& a, const T& b) { return a.code < b.code; });
}

// Folds a Latin-1 supplement code point (U+00C0..U+00FF) to lower-case ASCII ("" if none).
std::string_view FoldLatin1(uint32_t cp) {
  static constexpr std::string_view kFold[64] = {
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "",  "ss",
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "",  "y"};
  if (cp >= 0xC0 && cp <= 0xFF) return kFold[cp - 0xC0];
  return "";
}

struct Box {
  double lat_min, lat_max, lon_min, lon_max;
  bool Contains(double lat, double lon) const {
    return lat >= lat_min && lat <= lat_max && lon >= lon_min && lon <= lon_max;
  }
};

constexpr Box kMetro{41.2, 51.2, -5.3, 9.7};

struct TerritoryBox {
  std::string_view departement;
  Box box;
};

// Generous boxes around each overseas territory.
constexpr TerritoryBox kOverseas[] = {
    {"971", {15.8, 16.6, -61.9, -60.9}},      // Guadeloupe
    {"972", {14.3, 14.95, -61.3, -60.75}},    // Martinique
    {"973", {2.0, 5.9, -54.7, -51.5}},        // Guyane
    {"974", {-21.45, -20.8, 55.15, 55.9}},    // La Réunion
    {"975", {46.7, 47.2, -56.5, -56.1}},      // Saint-Pierre-et-Miquelon
    {"976", {-13.1, -12.55, 44.95, 45.35}},   // Mayotte
    {"977", {17.85, 17.98, -62.95, -62.75}},  // Saint-Barthélemy
    {"978", {18.0, 18.15, -63.2, -62.95}},    // Saint-Martin
    {"984", {-50.5, -10.0, 39.0, 78.0}},      // Terres australes et antarctiques
    {"986", {-14.5, -13.1, -178.3, -176.0}},  // Wallis et Futuna
    {"987", {-28.0, -7.5, -155.0, -134.0}},   // Polynésie française
    {"988", {-23.0, -19.0, 162.5, 169.0}},    // Nouvelle-Calédonie
    {"989", {10.2, 10.4, -109.3, -109.1}},    // Clipperton
};

}  // namespace

std::string_view EmbeddedCommunesCsv() {
  return {rb_geo_communes_begin, static_cast<size_t>(rb_geo_communes_end - rb_geo_communes_begin)};
}
std::string_view EmbeddedEpciCsv() {
  return {rb_geo_epci_begin, static_cast<size_t>(rb_geo_epci_end - rb_geo_epci_begin)};
}
std::string_view EmbeddedDepartementsCsv() {
  return {rb_geo_departements_begin,
          static_cast<size_t>(rb_geo_departements_end - rb_geo_departements_begin)};
}
std::string_view EmbeddedRegionsCsv() {
  return {rb_geo_regions_begin, static_cast<size_t>(rb_geo_regions_end - rb_geo_regions_begin)};
}

std::string NormalizeName(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto push_space = [&out] {
    if (!out.empty() && out.back() != ' ') out.push_back(' ');
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '-' || c == '\'' || c == ' ' || c == '_' || c == '.') {
        push_space();
      } else if (c >= 'A' && c <= 'Z') {
        out.push_back(static_cast<char>(c - 'A' + 'a'));
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence.
    uint32_t cp = 0;
    size_t len = 1;
    if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    }
    if (i + len > s.size()) break;
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp == 0x2019 || cp == 0x2018 || cp == 0x2013 || cp == 0x2014) {
      push_space();
    } else if (cp == 0x152 || cp == 0x153) {
      out += "oe";
    } else {
      out += FoldLatin1(cp);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Geography::Geography() {
  ForEachRow(EmbeddedRegionsCsv(), &owned_, [this](const std::vector<std::string_view>& f) {
    if (f.size() < 3) return;
    regions_.push_back({f[0], f[1], ParseZone(f[2])});
  });
  ForEachRow(EmbeddedDepartementsCsv(), &owned_, [this](const std::vector<std::string_view>& f) {
    if (f.size() < 4) return;
    departements_.push_back({f[0], f[1], f[2], ParseZone(f[3])});
  });
  ForEachRow(EmbeddedEpciCsv(), &owned_, [this](const std::vector<std::string_view>& f) {
    if (f.size() < 3) return;
    epcis_.push_back({f[0], f[1], f[2]});
  });
  ForEachRow(EmbeddedCommunesCsv(), &owned_, [this](const std::vector<std::string_view>& f) {
    if (f.size() < 9) return;
    Commune c;
    c.code = f[0];
    c.name = f[1];
    c.is_district = f[2] == "arrondissement-municipal";
    c.departement = f[3];
    c.region = f[4];
    c.epci = f[5];
    c.population = std::atoi(std::string(f[6]).c_str());
    c.parent = f[8];
    communes_.push_back(c);
  });
  SortByCode(&regions_);
  SortByCode(&departements_);
  SortByCode(&epcis_);
  SortByCode(&communes_);
  // Each EPCI's département and region, when all its communes share them.
  std::vector<bool> spans_departements(epcis_.size(), false), spans_regions(epcis_.size(), false);
  for (const Commune& c : communes_) {
    if (c.epci.empty()) continue;
    const Epci* found = FindByCode(epcis_, c.epci);
    if (found == nullptr) continue;
    const size_t i = static_cast<size_t>(found - epcis_.data());
    Epci& e = epcis_[i];
    if (!spans_departements[i] && e.departement.empty()) {
      e.departement = c.departement;
    } else if (e.departement != c.departement) {
      spans_departements[i] = true;
    }
    if (!spans_regions[i] && e.region.empty()) {
      e.region = c.region;
    } else if (e.region != c.region) {
      spans_regions[i] = true;
    }
  }
  for (size_t i = 0; i < epcis_.size(); ++i) {
    if (spans_departements[i]) epcis_[i].departement = {};
    if (spans_regions[i]) epcis_[i].region = {};
  }
  by_name_.reserve(communes_.size());
  for (const Commune& c : communes_) by_name_.emplace_back(NormalizeName(c.name), &c);
  std::sort(by_name_.begin(), by_name_.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second->code < b.second->code;
  });
}

const Geography& Geography::Get() {
  static const Geography* const instance = new Geography();
  return *instance;
}

const Commune* Geography::FindCommune(std::string_view code) const {
  return FindByCode(communes_, code);
}
const Epci* Geography::FindEpci(std::string_view code) const { return FindByCode(epcis_, code); }
const Departement* Geography::FindDepartement(std::string_view code) const {
  return FindByCode(departements_, code);
}
const Region* Geography::FindRegion(std::string_view code) const {
  return FindByCode(regions_, code);
}

std::vector<const Commune*> Geography::SearchCommunes(std::string_view prefix, size_t limit) const {
  std::vector<const Commune*> hits;
  const std::string key = NormalizeName(prefix);
  if (key.empty() || limit == 0) return hits;
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), key,
                             [](const auto& a, const std::string& k) { return a.first < k; });
  for (; it != by_name_.end() && it->first.compare(0, key.size(), key) == 0; ++it) {
    hits.push_back(it->second);
  }
  std::stable_sort(hits.begin(), hits.end(), [](const Commune* a, const Commune* b) {
    if (a->population != b->population) return a->population > b->population;
    return a->code < b->code;
  });
  if (hits.size() > limit) hits.resize(limit);
  return hits;
}

bool PlausibleCoordinates(double latitude, double longitude) {
  if (kMetro.Contains(latitude, longitude)) return true;
  for (const TerritoryBox& t : kOverseas) {
    if (t.box.Contains(latitude, longitude)) return true;
  }
  return false;
}

bool CoordinatesPlausibleFor(std::string_view departement_code, double latitude, double longitude) {
  for (const TerritoryBox& t : kOverseas) {
    if (t.departement == departement_code) return t.box.Contains(latitude, longitude);
  }
  if (Geography::Get().FindDepartement(departement_code) == nullptr) return false;
  return kMetro.Contains(latitude, longitude);
}

}  // namespace rb::domain::geo
