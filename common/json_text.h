// Copyright: the Résorption-bidonvilles data service authors.
//
// JSON string literals, shared by the structured logs, the analysts' exports and the tools.
//
//   std::string line = "{\"event\":";
//   rb::common::AppendJsonString(&line, "site \"42\" closed");  // "site \"42\" closed"
//   std::string q = rb::common::JsonQuote("a\tb");               // "a\tb" with the tab escaped
//
// Escapes '"', '\\', control characters (\n, \r, \t, other ones as \u00XX); other bytes,
// UTF-8 included, are copied as they are. Pure functions.
#ifndef RB_COMMON_JSON_TEXT_H_
#define RB_COMMON_JSON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace rb::common {

void AppendJsonString(std::string* out, absl::string_view s);
std::string JsonQuote(absl::string_view s);

}  // namespace rb::common

#endif  // RB_COMMON_JSON_TEXT_H_
