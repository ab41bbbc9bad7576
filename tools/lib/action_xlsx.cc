// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/action_xlsx.h"

#include <xlsxwriter.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rb::tools {
namespace {

constexpr lxw_row_t kSectionRow = 5;
constexpr lxw_row_t kHeaderRow = 6;

struct Formats {
  lxw_format* title;
  lxw_format* section;
  lxw_format* header;
  lxw_format* text;
  lxw_format* euros;
};

Formats MakeFormats(lxw_workbook* wb) {
  Formats f{};
  f.title = workbook_add_format(wb);
  format_set_bold(f.title);
  f.section = workbook_add_format(wb);
  format_set_bold(f.section);
  format_set_font_color(f.section, LXW_COLOR_WHITE);
  format_set_bg_color(f.section, LXW_COLOR_BLACK);
  f.header = workbook_add_format(wb);
  format_set_bold(f.header);
  format_set_text_wrap(f.header);
  format_set_bg_color(f.header, 0xBDBDBD);
  f.text = workbook_add_format(wb);
  format_set_text_wrap(f.text);
  f.euros = workbook_add_format(wb);
  // Thousands separated as the reader's Excel shows them ("1 234,50 €" in French).
  format_set_num_format(f.euros, "#,##0.00 \"€\";[Red]-#,##0.00 \"€\"");
  return f;
}

void WriteSheet(lxw_workbook* wb, const Formats& fmt, const ActionExport& e,
                const ActionSheet& sheet) {
  lxw_worksheet* ws = workbook_add_worksheet(wb, sheet.name.c_str());
  for (size_t i = 0; i < sheet.titles.size() && i < kSectionRow; ++i) {
    worksheet_write_string(ws, static_cast<lxw_row_t>(i), 0, sheet.titles[i].c_str(), fmt.title);
  }
  const std::vector<ActionColumn>& columns = e.columns;
  size_t start = 0;
  for (size_t i = 0; i <= columns.size(); ++i) {
    if (i < columns.size() && columns[i].section == columns[start].section) continue;
    const auto first = static_cast<lxw_col_t>(start), last = static_cast<lxw_col_t>(i - 1);
    if (first == last) {
      worksheet_write_string(ws, kSectionRow, first, columns[start].section.c_str(), fmt.section);
    } else {
      worksheet_merge_range(ws, kSectionRow, first, kSectionRow, last,
                            columns[start].section.c_str(), fmt.section);
    }
    start = i;
  }
  for (size_t j = 0; j < columns.size(); ++j) {
    const auto col = static_cast<lxw_col_t>(j);
    worksheet_write_string(ws, kHeaderRow, col, columns[j].header.c_str(), fmt.header);
    worksheet_set_column(ws, col, col, columns[j].kind == CellKind::kText ? 22 : 16, nullptr);
  }
  worksheet_freeze_panes(ws, kHeaderRow + 1, 0);
  for (size_t i = 0; i < sheet.rows.size(); ++i) {
    const auto row = static_cast<lxw_row_t>(kHeaderRow + 1 + i);
    for (size_t j = 0; j < columns.size() && j < sheet.rows[i].size(); ++j) {
      const std::string& cell = sheet.rows[i][j];
      if (cell.empty()) continue;
      const auto col = static_cast<lxw_col_t>(j);
      double v = 0;
      if (columns[j].kind != CellKind::kText && absl::SimpleAtod(cell, &v)) {
        worksheet_write_number(ws, row, col, v,
                               columns[j].kind == CellKind::kEuros ? fmt.euros : nullptr);
      } else {
        worksheet_write_string(ws, row, col, cell.c_str(), fmt.text);
      }
    }
  }
}

}  // namespace

absl::Status WriteActionsXlsx(const ActionExport& e, const std::string& path) {
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  const Formats fmt = MakeFormats(wb);
  for (const ActionSheet& s : e.sheets) WriteSheet(wb, fmt, e, s);
  lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", lxw_strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace rb::tools
