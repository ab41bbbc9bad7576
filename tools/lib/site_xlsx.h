// Copyright: the Résorption-bidonvilles data service authors.
//
// The site export as an Excel workbook (libxlsxwriter): one sheet "Sites", a first row with the
// section names (merged over their columns), a bold header row, one row per site; counts,
// coordinates and years as numbers, everything else as text. Panes frozen below the headers.
//
//   absl::Status s = rb::tools::WriteSitesXlsx(ExportColumns(rows), rows, "sites.xlsx");
//
// Thread-compatible.
#ifndef RB_TOOLS_LIB_SITE_XLSX_H_
#define RB_TOOLS_LIB_SITE_XLSX_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/lib/site_table.h"

namespace rb::tools {

// INTERNAL when the workbook cannot be written to `path`.
absl::Status WriteSitesXlsx(const std::vector<const SiteColumn*>& columns,
                            const std::vector<SiteRow>& rows, const std::string& path);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_SITE_XLSX_H_
