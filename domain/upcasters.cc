// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/upcasters.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/events.h"

namespace rb::domain {

using resorption::v1::ClosingSolution;
using resorption::v1::ClosingSolutionV1;

ClosingSolution RemapClosingSolutionV1(ClosingSolutionV1 old) {
  switch (old) {
    case resorption::v1::CLOSING_SOLUTION_V1_EMERGENCY_SHELTER:
      return resorption::v1::CLOSING_SOLUTION_TEMPORARY_SHELTER;
    case resorption::v1::CLOSING_SOLUTION_V1_INTEGRATION_SHELTER:
    case resorption::v1::CLOSING_SOLUTION_V1_DEDICATED_SCHEME:
    case resorption::v1::CLOSING_SOLUTION_V1_TERRITORIAL_INTEGRATION:
      return resorption::v1::CLOSING_SOLUTION_LONG_TERM_ADAPTED;
    case resorption::v1::CLOSING_SOLUTION_V1_ORDINARY_OR_ADAPTED_HOUSING:
      return resorption::v1::CLOSING_SOLUTION_HOUSING;
    case resorption::v1::CLOSING_SOLUTION_V1_SOCIAL_WATCH_OR_NONE:
      return resorption::v1::CLOSING_SOLUTION_NONE;
    default:
      return resorption::v1::CLOSING_SOLUTION_OTHER;
  }
}

resorption::v1::SiteClosed UpcastSiteClosedV1(const resorption::v1::SiteClosedV1& old) {
  resorption::v1::SiteClosed out;
  resorption::v1::Closure* c = out.mutable_closure();
  c->set_cause(old.cause());
  if (old.has_closed_at()) *c->mutable_closed_at() = old.closed_at();
  c->set_closed_with_solutions(old.closed_with_solutions());
  // Sum per new value, in the order of the new enumeration (deterministic).
  std::map<int, resorption::v1::ClosingSolutionOutcome> merged;
  for (const auto& s : old.solutions()) {
    ClosingSolution target = RemapClosingSolutionV1(s.solution());
    auto& m = merged[target];
    m.set_solution(target);
    if (s.has_people()) m.set_people(m.people() + s.people());
    if (s.has_households()) m.set_households(m.households() + s.households());
  }
  for (auto& [number, outcome] : merged) *c->add_solutions() = std::move(outcome);
  return out;
}

namespace {

using Step = absl::StatusOr<std::string> (*)(std::string);

absl::StatusOr<std::string> SiteClosed1To2(std::string payload) {
  resorption::v1::SiteClosedV1 old;
  if (!old.ParseFromString(payload)) {
    return absl::DataLossError("site.closed v1: payload does not parse");
  }
  return DeterministicBytes(UpcastSiteClosedV1(old));
}

struct StepKey {
  absl::string_view type;
  uint32_t from;
  Step step;
};

constexpr StepKey kSteps[] = {
    {"site.closed", 1, &SiteClosed1To2},
};

}  // namespace

absl::StatusOr<std::string> UpcastPayload(absl::string_view type, uint32_t version,
                                          std::string payload, uint32_t target_version) {
  if (version > target_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        type, " v", version, " is newer than this build (v", target_version, "); upgrade"));
  }
  while (version < target_version) {
    Step step = nullptr;
    for (const StepKey& s : kSteps) {
      if (s.type == type && s.from == version) step = s.step;
    }
    if (step == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("no upcaster for ", type, " v", version));
    }
    absl::StatusOr<std::string> next = step(std::move(payload));
    if (!next.ok()) return next.status();
    payload = *std::move(next);
    ++version;
  }
  return payload;
}

}  // namespace rb::domain
