// Copyright: the Résorption-bidonvilles data service authors.
//
// The on-disk layout of the projection engine: names of the key spaces holding views, keys of the
// engine's bookkeeping space and the encodings of their values. docs/projections.md describes the
// same layout in prose; every stored byte here is a promise, so change it only with a new format
// byte and a migration.
//
//   rb::proj::GenerationId gen{.version = 2, .generation = 7};
//   std::string space = rb::proj::ViewSpaceName("site_counts", gen, "by_category");
//   // space == "view.site_counts.v2.g7.by_category"
//
// Thread safety: pure functions.
#ifndef RB_PROJECTIONS_LAYOUT_H_
#define RB_PROJECTIONS_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rb::proj {

// The key space holding checkpoints and generation pointers of every projection (default of
// EngineOptions::meta_space).
inline constexpr std::string_view kDefaultMetaSpace = "projections.meta";

// One build of a projection: the code version it was built with and a number unique among the
// builds of that projection (a rebuild of the same version gets a fresh generation number).
struct GenerationId {
  uint32_t version = 0;
  uint64_t generation = 0;
  bool operator==(const GenerationId&) const = default;
};

// A projection's checkpoint: the last log position whose effects are in the views, and the
// recorded time of that event (for the lag in seconds). {0, 0}: nothing applied yet.
struct Checkpoint {
  uint64_t position = 0;
  int64_t recorded_at_us = 0;
  bool operator==(const Checkpoint&) const = default;
};

// Projection and space names: 1 to 64 characters among [a-z0-9_]. The dot separates the parts
// of a key space name, so names never contain one. INVALID_ARGUMENT otherwise; `what` names the
// offending field in the message.
absl::Status ValidateName(std::string_view what, std::string_view name);

// "view.<projection>." : the prefix of every key space of every generation of a projection.
std::string ViewSpacePrefix(std::string_view projection);
// "view.<projection>.v<version>.g<generation>." : the prefix of one generation's key spaces.
std::string GenerationSpacePrefix(std::string_view projection, GenerationId gen);
// "view.<projection>.v<version>.g<generation>.<space>".
std::string ViewSpaceName(std::string_view projection, GenerationId gen, std::string_view space);
// The generation a key space name belongs to, when it is a view space of `projection`.
std::optional<GenerationId> ParseViewSpaceName(std::string_view projection,
                                               std::string_view space_name);

// Keys of the meta space.
std::string ActiveKey(std::string_view projection);          // "active/<projection>"
std::string PendingKey(std::string_view projection);         // "pending/<projection>"
std::string NextGenerationKey(std::string_view projection);  // "next_generation/<projection>"
// "checkpoint/<projection>/<generation as 20 decimal digits>"
std::string CheckpointKey(std::string_view projection, uint64_t generation);

// Value encodings. Each starts with a format byte (1). Integers are big-endian, fixed width.
//   generation: 0x01 | version u32 | generation u64           (13 bytes)
//   checkpoint: 0x01 | position u64 | recorded_at_us i64      (17 bytes)
//   counter:    0x01 | value u64                              (9 bytes)
// Decoders return DATA_LOSS for a value of the wrong size or format byte.
std::string EncodeGeneration(GenerationId gen);
absl::StatusOr<GenerationId> DecodeGeneration(std::string_view value);
std::string EncodeCheckpoint(Checkpoint checkpoint);
absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view value);
std::string EncodeCounter(uint64_t value);
absl::StatusOr<uint64_t> DecodeCounter(std::string_view value);

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_LAYOUT_H_
