// Copyright: the Résorption-bidonvilles data service authors.
//
// The crash tests of the projection engine and of the service's views read what a killed engine
// left on disk: a projection's checkpoint, straight from the store's meta key space (the keys
// and encoding of projections/layout.h), without starting an engine.
//
//   absl::StatusOr<std::optional<rb::proj::Checkpoint>> cp =
//       rb::testing::StoredCheckpoint(store->kv(), "site_list", /*generation=*/1);
//   ASSERT_TRUE(cp.ok()) << cp.status();
//   EXPECT_GE(cp->has_value() ? (*cp)->position : 0, reported);
#ifndef RB_TESTS_TESTING_CHECKPOINT_H_
#define RB_TESTS_TESTING_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "eventstore/kv_store.h"
#include "projections/layout.h"

namespace rb::testing {

// The checkpoint of generation `generation` of the projection `name` as stored in the meta key
// space `meta_space`; nullopt when none is stored. The error of the read (NOT_FOUND when the
// space is absent) or of the decoding (DATA_LOSS) otherwise.
absl::StatusOr<std::optional<rb::proj::Checkpoint>> StoredCheckpoint(
    const rb::es::KvStore& kv, std::string_view name, uint64_t generation,
    std::string_view meta_space = rb::proj::kDefaultMetaSpace);

}  // namespace rb::testing

#endif  // RB_TESTS_TESTING_CHECKPOINT_H_
