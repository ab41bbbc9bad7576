// Copyright: the Résorption-bidonvilles data service authors.
//
// Settings of the erasure sweep (services/erasure_sweep.h), part of ServerOptions.
#ifndef RB_SERVICES_ERASURE_OPTIONS_H_
#define RB_SERVICES_ERASURE_OPTIONS_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace rb::services {

struct ErasureOptions {
  // Time source (microseconds since the epoch); empty: the system clock. Tests inject theirs.
  std::function<int64_t()> now_us;
  // Period of the background sweep; zero or negative: no background sweep (Admin.RunErasureSweep
  // still runs it). The first sweep runs one period after the start.
  absl::Duration interval = absl::Hours(24);
  // A private owner's identity is anonymised this many days after the site's closure date
  // (reference: one year).
  int owner_retention_days = 365;
  // A user's personal data is erased this many days after their deactivation (reference: six
  // months, RGPD 2025-06); 0: users are never erased by the sweep.
  int user_retention_days = 183;
  // An active account is deactivated when neither a sign-in (a call authenticated by one of its
  // tokens) nor a change of the account happened for this many days (reference: six months after
  // the last login, RGPD 2025-06); 0: never. The built-in administrators are exempt.
  int user_inactivity_days = 183;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ERASURE_OPTIONS_H_
