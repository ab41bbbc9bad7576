// Copyright: the Résorption-bidonvilles data service authors.
#include "tests/testing/checkpoint.h"

#include <string>

namespace rb::testing {

absl::StatusOr<std::optional<rb::proj::Checkpoint>> StoredCheckpoint(const rb::es::KvStore& kv,
                                                                     std::string_view name,
                                                                     uint64_t generation,
                                                                     std::string_view meta_space) {
  absl::StatusOr<std::optional<std::string>> raw =
      kv.Get(std::string(meta_space), rb::proj::CheckpointKey(name, generation));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  absl::StatusOr<rb::proj::Checkpoint> cp = rb::proj::DecodeCheckpoint(**raw);
  if (!cp.ok()) return cp.status();
  return *cp;
}

}  // namespace rb::testing
