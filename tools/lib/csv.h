// Copyright: the Résorption-bidonvilles data service authors.
//
// CSV as spreadsheets write it (RFC 4180): comma separated, fields quoted when they hold a comma,
// a quote or a line break, quotes doubled inside quotes, CRLF or LF line ends, optional UTF-8 BOM.
//
//   std::string line = rb::tools::CsvLine({"Commune", "Saint-Denis, 93"});
//       // "Commune,\"Saint-Denis, 93\"\r\n"
//   absl::StatusOr<std::vector<rb::tools::CsvRecord>> rows = rb::tools::ParseCsv(text);
//   // rows->at(0).line == 1 (the header), each record keeps the line number it starts on
//
// Thread-safe (pure functions).
#ifndef RB_TOOLS_LIB_CSV_H_
#define RB_TOOLS_LIB_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rb::tools {

// `field` quoted when needed.
std::string CsvField(std::string_view field);
// The fields joined by commas, ended by CRLF.
std::string CsvLine(const std::vector<std::string>& fields);

struct CsvRecord {
  int line = 0;  // 1-based line of the file where the record starts
  std::vector<std::string> fields;
};

// Every record of `text` (the first is the header when the file has one); blank lines are
// skipped. INVALID_ARGUMENT with the line number for an unterminated quoted field or a quote
// inside an unquoted field.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_CSV_H_
