// Copyright: the Résorption-bidonvilles data service authors.
//
// Upcasters turn the payload of an old schema version into the current one, one version at a
// time. Events are never rewritten in the log: old bytes are read through these functions.
//
//   absl::StatusOr<std::string> now = rb::domain::UpcastPayload("site.closed", 1, old_bytes);
//   // *now parses as resorption.v1.SiteClosed (schema v2).
//
// Rule (docs/events.md): a change that is not wire-compatible bumps the type's schema version and
// adds an upcaster from the previous version; upcasters are pure and deterministic.
#ifndef RB_DOMAIN_UPCASTERS_H_
#define RB_DOMAIN_UPCASTERS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::domain {

// Upcasts `payload` of `type` at `version` to `target_version`. Errors: FAILED_PRECONDITION when
// a step is missing (unknown type, version newer than target); DATA_LOSS when bytes do not parse.
absl::StatusOr<std::string> UpcastPayload(absl::string_view type, uint32_t version,
                                          std::string payload, uint32_t target_version);

// The 2022 consolidation of the six 2019 closing solutions into the five current ones
// (counts are summed, messages joined).
resorption::v1::ClosingSolution RemapClosingSolutionV1(resorption::v1::ClosingSolutionV1 old);

// site.closed v1 -> v2.
resorption::v1::SiteClosed UpcastSiteClosedV1(const resorption::v1::SiteClosedV1& old);

}  // namespace rb::domain

#endif  // RB_DOMAIN_UPCASTERS_H_
