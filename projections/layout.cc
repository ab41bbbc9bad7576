// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/layout.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/strings.h"

namespace rb::proj {
namespace {

constexpr char kFormat = 1;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

absl::Status CheckValue(std::string_view what, std::string_view value, size_t size) {
  if (value.size() != size || value[0] != kFormat) {
    return absl::DataLossError(
        absl::StrFormat("projection %s record: expected %d bytes with format byte 1, got %d bytes",
                        Av(what), size, value.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": must be 1 to 64 characters long, got \"", Av(name), "\""));
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(what), ": only lower-case letters, digits and '_' are allowed, got \"",
                       Av(name), "\""));
    }
  }
  return absl::OkStatus();
}

std::string ViewSpacePrefix(std::string_view projection) {
  return absl::StrCat("view.", Av(projection), ".");
}

std::string GenerationSpacePrefix(std::string_view projection, GenerationId gen) {
  return absl::StrCat("view.", Av(projection), ".v", gen.version, ".g", gen.generation, ".");
}

std::string ViewSpaceName(std::string_view projection, GenerationId gen, std::string_view space) {
  return absl::StrCat(GenerationSpacePrefix(projection, gen), Av(space));
}

std::optional<GenerationId> ParseViewSpaceName(std::string_view projection,
                                               std::string_view space_name) {
  const std::string prefix = ViewSpacePrefix(projection);
  if (space_name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = space_name.substr(prefix.size());
  // rest: "v<version>.g<generation>.<space>"
  size_t dot1 = rest.find('.');
  if (dot1 == std::string_view::npos || rest.size() < 2 || rest[0] != 'v') return std::nullopt;
  size_t dot2 = rest.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || rest[dot1 + 1] != 'g') return std::nullopt;
  GenerationId gen;
  if (!absl::SimpleAtoi(Av(rest.substr(1, dot1 - 1)), &gen.version)) return std::nullopt;
  if (!absl::SimpleAtoi(Av(rest.substr(dot1 + 2, dot2 - dot1 - 2)), &gen.generation)) {
    return std::nullopt;
  }
  return gen;
}

std::string ActiveKey(std::string_view projection) {
  return absl::StrCat("active/", Av(projection));
}

std::string PendingKey(std::string_view projection) {
  return absl::StrCat("pending/", Av(projection));
}

std::string NextGenerationKey(std::string_view projection) {
  return absl::StrCat("next_generation/", Av(projection));
}

std::string CheckpointKey(std::string_view projection, uint64_t generation) {
  return absl::StrFormat("checkpoint/%s/%020d", Av(projection), generation);
}

std::string EncodeGeneration(GenerationId gen) {
  std::string out(1, kFormat);
  PutBigEndian(&out, gen.version, 4);
  PutBigEndian(&out, gen.generation, 8);
  return out;
}

absl::StatusOr<GenerationId> DecodeGeneration(std::string_view value) {
  if (absl::Status s = CheckValue("generation", value, 13); !s.ok()) return s;
  return GenerationId{.version = static_cast<uint32_t>(GetBigEndian(value.substr(1), 4)),
                      .generation = GetBigEndian(value.substr(5), 8)};
}

std::string EncodeCheckpoint(Checkpoint checkpoint) {
  std::string out(1, kFormat);
  PutBigEndian(&out, checkpoint.position, 8);
  PutBigEndian(&out, static_cast<uint64_t>(checkpoint.recorded_at_us), 8);
  return out;
}

absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view value) {
  if (absl::Status s = CheckValue("checkpoint", value, 17); !s.ok()) return s;
  return Checkpoint{.position = GetBigEndian(value.substr(1), 8),
                    .recorded_at_us = static_cast<int64_t>(GetBigEndian(value.substr(9), 8))};
}

std::string EncodeCounter(uint64_t value) {
  std::string out(1, kFormat);
  PutBigEndian(&out, value, 8);
  return out;
}

absl::StatusOr<uint64_t> DecodeCounter(std::string_view value) {
  if (absl::Status s = CheckValue("counter", value, 9); !s.ok()) return s;
  return GetBigEndian(value.substr(1), 8);
}

}  // namespace rb::proj
