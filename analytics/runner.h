// Copyright: the Résorption-bidonvilles data service authors.
//
// Builds a compiled custom projection over the log, deterministically, up to a pinned position.
//
//   auto compiled = rb::analytics::Compile(spec);
//   rb::analytics::RunOptions options;
//   options.log_position = 0;  // the head when the run starts
//   absl::StatusOr<resorption::v1::ProjectionResult> result =
//       rb::analytics::RunProjection(*store, *compiled, options);
//   // result->rows_hash is the same for anyone who builds the same spec at the same position.
//
// Semantics (docs/analysts.md): events of the subject's category are folded in log order into
// each subject's state (rb::domain Evolve*); an event is "matching" when its type is selected
// and every condition holds on the event and on its subject's state right after the event;
// matching events feed the aggregates of the groups their keys select.
#ifndef RB_ANALYTICS_RUNNER_H_
#define RB_ANALYTICS_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "analytics/spec.h"
#include "eventstore/event_store.h"
#include "resorption/v1/analytics.pb.h"

namespace rb::analytics {

struct RunOptions {
  // Last log position taken into account; 0 means the head when the run starts.
  uint64_t log_position = 0;
  // When set and true, the run stops and returns CANCELLED. Not owned.
  const std::atomic<bool>* cancel = nullptr;
  // Called from the running thread every few thousand events with (position, target).
  std::function<void(uint64_t, uint64_t)> progress;
};

// Errors: FAILED_PRECONDITION when log_position is beyond the head; CANCELLED; DATA_LOSS or
// FAILED_PRECONDITION for events that cannot be decoded. Thread-safe (reads only).
absl::StatusOr<resorption::v1::ProjectionResult> RunProjection(const rb::es::EventStore& store,
                                                               const CompiledSpec& spec,
                                                               const RunOptions& options);

// Hex SHA-256 over the rows, as documented in docs/analysts.md.
std::string RowsHash(const resorption::v1::ProjectionResult& result);

}  // namespace rb::analytics

#endif  // RB_ANALYTICS_RUNNER_H_
