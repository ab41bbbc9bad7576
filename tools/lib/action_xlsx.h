// Copyright: the Résorption-bidonvilles data service authors.
//
// The yearly export of the actions (action_export.h) as an Excel workbook (libxlsxwriter): one
// worksheet per sheet of the export, in its order; the title lines in bold at the top, the section
// names on row 6 (merged over their columns), the headings on row 7, one row per action from row
// 8; counts as numbers, amounts as numbers in euros; panes frozen below the headings.
//
//   absl::Status s = rb::tools::WriteActionsXlsx(*export, "actions-2025.xlsx");
//
// Thread-compatible.
#ifndef RB_TOOLS_LIB_ACTION_XLSX_H_
#define RB_TOOLS_LIB_ACTION_XLSX_H_

#include <string>

#include "absl/status/status.h"
#include "tools/lib/action_export.h"

namespace rb::tools {

// INTERNAL when the workbook cannot be written to `path`.
absl::Status WriteActionsXlsx(const ActionExport& e, const std::string& path);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_ACTION_XLSX_H_
