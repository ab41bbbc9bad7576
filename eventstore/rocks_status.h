// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: the one mapping from rocksdb::Status to absl::Status.
#ifndef RB_EVENTSTORE_ROCKS_STATUS_H_
#define RB_EVENTSTORE_ROCKS_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace rb::es::internal {

// Corruption -> DATA_LOSS; IOError, Busy, TimedOut, TryAgain -> UNAVAILABLE; NotFound ->
// NOT_FOUND; InvalidArgument -> INVALID_ARGUMENT; NotSupported -> UNIMPLEMENTED; others INTERNAL.
// `context` prefixes the message ("open /path", "append").
absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_ROCKS_STATUS_H_
