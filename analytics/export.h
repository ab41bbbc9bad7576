// Copyright: the Résorption-bidonvilles data service authors.
//
// Renders a custom projection's result for spreadsheets and scripts.
//
//   std::string csv = rb::analytics::ToCsv(result);         // header + one line per row
//   std::string jsonl = rb::analytics::ToJsonLines(result); // provenance line, then rows
//
// CSV: RFC 4180 quoting, comma separator, UTF-8, numbers in shortest decimal form. JSON Lines:
// the first line is {"provenance": {...}} (name, spec_hash, log_position, log_hash, rows_hash),
// each following line one row as {"<column>": value, ...}. A suppressed value (NaN: a small
// count hidden from an external observer) is an empty CSV cell and a JSON null. Pure functions.
#ifndef RB_ANALYTICS_EXPORT_H_
#define RB_ANALYTICS_EXPORT_H_

#include <string>

#include "resorption/v1/analytics.pb.h"

namespace rb::analytics {

std::string ToCsv(const resorption::v1::ProjectionResult& result);
std::string ToJsonLines(const resorption::v1::ProjectionResult& result);

}  // namespace rb::analytics

#endif  // RB_ANALYTICS_EXPORT_H_
