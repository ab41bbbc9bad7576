// Copyright: the Résorption-bidonvilles data service authors.
//
// The yearly export of the actions, in the platform's layout: one sheet per département (in the
// platform's order: 01 … 19, 2A, 2B, 21 … 95, then overseas) and a sheet "Tous"; above each table,
// the title lines (year, département, date of the extraction and, for the current and the previous
// year, how many actions financed by the dedicated credits ("DIHAL") had their indicators updated
// less than three months ago); then the sections ACTION, OPÉRATEURS, INDICATEURS GÉNÉRAUX, SANTÉ,
// EMPLOI, HÉBERGEMENT/LOGEMENT, SCOLARISATION, FINANCEMENT (only when the reader may see the
// finances of at least one exported action), COMMENTAIRES and MISE À JOUR.
//
//   ActionExportOptions o{.year = 2025, .today = absl::CivilDay(2026, 1, 15)};
//   absl::StatusOr<ActionExport> e = BuildActionExport(actions, o);
//   std::string csv = ActionExportCsv(*e);                 // the "Tous" sheet
//   absl::Status s = WriteActionsXlsx(*e, "actions.xlsx");  // action_xlsx.h
//
// The actions are taken as the service returned them (ListActions with the year): those running
// during the year, with the finances the reader may not see removed and marked `finances_hidden`.
// Thread-safe (pure functions).
#ifndef RB_TOOLS_LIB_ACTION_EXPORT_H_
#define RB_TOOLS_LIB_ACTION_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "resorption/v1/action.pb.h"

namespace rb::tools {

struct ActionExportOptions {
  int year = 0;  // the year of the indicators and finances shown
  // The date of the extraction: printed in the titles; the indicators updated on or after
  // today - 90 days count as updated less than three months ago.
  absl::CivilDay today;
  // Only the actions financed by the dedicated credits that year (planned amount > 0).
  bool dedicated_only = false;
};

enum class CellKind { kText, kCount, kEuros };

struct ActionColumn {
  std::string section;  // "ACTION", "FINANCEMENT"...
  std::string header;   // the platform's heading
  CellKind kind = CellKind::kText;
};

struct ActionSheet {
  std::string name;                            // "Dépt 93" or "Tous"
  std::vector<std::string> titles;             // the lines above the table
  std::vector<std::vector<std::string>> rows;  // one cell per column; "" when empty
};

struct ActionExport {
  std::vector<ActionColumn> columns;
  std::vector<ActionSheet> sheets;  // the départements, then "Tous" (always last)
};

// The export of `actions` for `options.year`. Counts are decimal integers, amounts euros with two
// decimals ("1234.50"), dates DD/MM/YYYY. Errors: INVALID_ARGUMENT for a year outside 2000..2100;
// PERMISSION_DENIED for `dedicated_only` when the finances of every action are hidden;
// NOT_FOUND "no action to export" when no action remains (the platform's refusal of an empty
// export).
absl::StatusOr<ActionExport> BuildActionExport(const std::vector<resorption::v1::Action>& actions,
                                               const ActionExportOptions& options);

// The "Tous" sheet as CSV (UTF-8, comma separated, CRLF): the headings, then one line per
// action; the section names and the titles are left out.
std::string ActionExportCsv(const ActionExport& e);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_ACTION_EXPORT_H_
