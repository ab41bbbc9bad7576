// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: Debian's Abseil has its own absl::string_view, distinct from std::string_view, and
// absl::StrCat accepts only the former. Sv() converts.
//
//   absl::StrCat("user ", Sv(id), " not found");
#ifndef RB_ACCESS_STRINGS_H_
#define RB_ACCESS_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace rb::access {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace rb::access

#endif  // RB_ACCESS_STRINGS_H_
