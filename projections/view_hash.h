// Copyright: the Résorption-bidonvilles data service authors.
//
// A stable digest of a projection's views, to prove that two builds of the same version hold the
// same bytes (e.g. a rebuild from position 0 against live processing, or the views after a crash
// and restart against a clean rebuild).
//
//   absl::StatusOr<std::string> a = rb::proj::HashViews(reader_a);
//   absl::StatusOr<std::string> b = rb::proj::HashViews(reader_b);
//   EXPECT_EQ(*a, *b);
//
// The digest is SHA-256, in lower-case hex, over, for each declared space in declaration order:
// a 0x00 byte and the space's declared name, then for each key/value pair in key order a 0x01
// byte, the key and the value; every string framed as its length (8 bytes big-endian) followed
// by its bytes. Generation numbers and full key space names
// are not hashed, so two generations of the same projection compare equal when their contents
// do. Each space is read from one snapshot; hash while no events are being applied for a
// meaningful result. Thread-safe.
#ifndef RB_PROJECTIONS_VIEW_HASH_H_
#define RB_PROJECTIONS_VIEW_HASH_H_

#include <string>

#include "absl/status/statusor.h"
#include "projections/view_reader.h"

namespace rb::proj {

// Errors: storage errors from reading the spaces.
absl::StatusOr<std::string> HashViews(const ViewReader& reader);

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_VIEW_HASH_H_
