// Copyright: the Résorption-bidonvilles data service authors.
//
// The site export's table: the platform's sections and French column headers (Localisation,
// Site, Habitants, Conditions de vie, Diagnostic, Procédure judiciaire, Intervenants,
// Orientation, Commentaires, Mise à jour), the value of each cell for one site, and, for the
// columns a declaration can carry, the way back from a cell to the site (the import of spreadsheets
// in the export's CSV layout).
//
//   std::vector<rb::tools::SiteRow> rows = ...;            // from ListSites(include_site)
//   auto columns = rb::tools::ExportColumns(rows);          // no justice section if none visible
//   out << rb::tools::SitesCsv(columns, rows);
//
//   const rb::tools::SiteColumn* c = rb::tools::FindSiteColumn("Nombre de personnes");
//   absl::Status s = c->set("12", &site);                   // site.population.total = 12
//
// Cell formats: dates DD/MM/YYYY (the import also reads YYYY-MM-DD), numbers in decimal with a
// dot (the import also reads a decimal comma), tri-states and enumerations by their French label
// (domain/labels.h), several origins joined by "; ", an absent value as an empty cell.
// Thread-safe (immutable tables).
#ifndef RB_TOOLS_LIB_SITE_TABLE_H_
#define RB_TOOLS_LIB_SITE_TABLE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::tools {

struct SiteRow {
  resorption::v1::Site site;
  resorption::v1::Signals signals;  // the per-domain statuses of "Conditions de vie"
  // The exporting actor's organisation, for "Intervenant de ma structure"; empty: not known.
  std::string viewer_organisation_id;
  // Whether `signals` carries the site's action facts (has_action, has_dedicated_financing):
  // false for the list at a past date, whose rows know no action; the two action columns are
  // then left empty.
  bool actions_known = true;
  // An open action "sur site" listing the site is financed by the dedicated credits in the year of
  // the extraction (the exporter reads the years of each site whose signals say it has such an
  // action, GetSiteActions).
  bool financed_in_extraction_year = false;
};

struct SiteColumn {
  std::string section;  // "Localisation", "Site", "Habitants", ...
  std::string header;   // the French column header, unique
  std::function<std::string(const SiteRow&)> get;
  // Writes a non-empty cell into a declaration form; INVALID_ARGUMENT with the reason when the
  // cell cannot be read. Null for computed columns (territory names, statuses, closure...).
  std::function<absl::Status(const std::string&, resorption::v1::Site*)> set;
  bool required = false;  // the import refuses a line whose cell is empty
  // The Site field the column reads and writes (e.g. "living_conditions_v2.water.access_type"),
  // for the columns that map one field; empty for the others.
  std::string field;
};

// Every column, in export order.
const std::vector<SiteColumn>& SiteColumns();
// nullptr when no column has this header.
const SiteColumn* FindSiteColumn(std::string_view header);
// The columns to export for `rows`: all of them, except the "Procédure judiciaire" section when
// no row carries a procedure (the server hides them from readers without the justice option),
// and the "Commentaires" section when no row carries a readable message (list rows never do:
// the export adds each site's journal from GetSite when asked).
std::vector<const SiteColumn*> ExportColumns(const std::vector<SiteRow>& rows);

// The header row then one line per site (CRLF, UTF-8).
std::string SitesCsv(const std::vector<const SiteColumn*>& columns,
                     const std::vector<SiteRow>& rows);
// A GeoJSON FeatureCollection: one Point (longitude, latitude) per site; properties keyed by
// column header, plus "id".
std::string SitesGeoJson(const std::vector<const SiteColumn*>& columns,
                         const std::vector<SiteRow>& rows);

// "DD/MM/YYYY" or "YYYY-MM-DD" to a valid date; INVALID_ARGUMENT otherwise.
absl::Status ParseDay(const std::string& text, resorption::v1::Date* date);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_SITE_TABLE_H_
