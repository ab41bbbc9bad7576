// Copyright: the Résorption-bidonvilles data service authors.
//
// Abseil 20220623 (Debian 12) is built with its own absl::string_view, distinct from
// std::string_view; Av converts for absl::StrCat, absl::StrFormat and absl::SimpleAtoi.
#ifndef RB_PROJECTIONS_STRINGS_H_
#define RB_PROJECTIONS_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace rb::proj {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_STRINGS_H_
