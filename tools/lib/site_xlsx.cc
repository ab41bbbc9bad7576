// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/site_xlsx.h"

#include <xlsxwriter.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rb::tools {
namespace {

bool NumericColumn(const SiteColumn& c) {
  return c.section == "Habitants" || c.header == "Latitude" || c.header == "Longitude" ||
         c.header == "Objectif de résorption";
}

}  // namespace

absl::Status WriteSitesXlsx(const std::vector<const SiteColumn*>& columns,
                            const std::vector<SiteRow>& rows, const std::string& path) {
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  lxw_worksheet* ws = workbook_add_worksheet(wb, "Sites");
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* section = workbook_add_format(wb);
  format_set_bold(section);
  format_set_align(section, LXW_ALIGN_CENTER);
  format_set_bg_color(section, 0xDDE5F0);
  // Row 0: sections merged over their columns; row 1: headers.
  size_t start = 0;
  for (size_t i = 0; i <= columns.size(); ++i) {
    if (i < columns.size() && columns[i]->section == columns[start]->section) continue;
    const auto first = static_cast<lxw_col_t>(start), last = static_cast<lxw_col_t>(i - 1);
    if (first == last) {
      worksheet_write_string(ws, 0, first, columns[start]->section.c_str(), section);
    } else {
      worksheet_merge_range(ws, 0, first, 0, last, columns[start]->section.c_str(), section);
    }
    start = i;
  }
  for (size_t j = 0; j < columns.size(); ++j) {
    worksheet_write_string(ws, 1, static_cast<lxw_col_t>(j), columns[j]->header.c_str(), bold);
    worksheet_set_column(ws, static_cast<lxw_col_t>(j), static_cast<lxw_col_t>(j), 18, nullptr);
  }
  worksheet_freeze_panes(ws, 2, 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto row = static_cast<lxw_row_t>(i + 2);
    for (size_t j = 0; j < columns.size(); ++j) {
      const std::string cell = columns[j]->get(rows[i]);
      if (cell.empty()) continue;
      const auto col = static_cast<lxw_col_t>(j);
      double v = 0;
      if (NumericColumn(*columns[j]) && absl::SimpleAtod(cell, &v)) {
        worksheet_write_number(ws, row, col, v, nullptr);
      } else {
        worksheet_write_string(ws, row, col, cell.c_str(), nullptr);
      }
    }
  }
  lxw_error e = workbook_close(wb);
  if (e != LXW_NO_ERROR) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", lxw_strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace rb::tools
