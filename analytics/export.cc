#include "analytics/export.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analytics/field_path.h"
#include "common/json_text.h"

namespace rb::analytics {

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string JsonString(const std::string& s) { return rb::common::JsonQuote(s); }

}  // namespace

std::string ToCsv(const resorption::v1::ProjectionResult& r) {
  std::string out;
  bool first = true;
  auto cell = [&](const std::string& s) {
    if (!first) out += ',';
    out += CsvField(s);
    first = false;
  };
  for (const auto& c : r.group_columns()) cell(c);
  for (const auto& c : r.aggregate_columns()) cell(c);
  out += "\r\n";
  for (const auto& row : r.rows()) {
    first = true;
    for (const auto& g : row.group()) cell(g);
    // A suppressed count (NaN, see docs/access.md) is an empty cell.
    for (double v : row.values()) cell(std::isnan(v) ? std::string() : FormatNumber(v));
    out += "\r\n";
  }
  return out;
}

std::string ToJsonLines(const resorption::v1::ProjectionResult& r) {
  std::string out = absl::StrCat("{\"provenance\":{\"name\":", JsonString(r.name()),
                                 ",\"spec_hash\":", JsonString(r.spec_hash()),
                                 ",\"log_position\":", r.log_position(),
                                 ",\"log_hash\":", JsonString(r.log_hash()),
                                 ",\"rows_hash\":", JsonString(r.rows_hash()), "}}\n");
  for (const auto& row : r.rows()) {
    out += "{";
    bool first = true;
    for (int i = 0; i < row.group_size() && i < r.group_columns_size(); ++i) {
      absl::StrAppend(&out, first ? "" : ",", JsonString(r.group_columns(i)), ":",
                      JsonString(row.group(i)));
      first = false;
    }
    for (int i = 0; i < row.values_size() && i < r.aggregate_columns_size(); ++i) {
      const double v = row.values(i);
      absl::StrAppend(&out, first ? "" : ",", JsonString(r.aggregate_columns(i)), ":",
                      std::isnan(v) ? std::string("null") : FormatNumber(v));
      first = false;
    }
    out += "}\n";
  }
  return out;
}

}  // namespace rb::analytics
