// Copyright: the Résorption-bidonvilles data service authors.
//
// Projection: a deterministic fold of the event log into key-value views. A projection declares
// its name, its code version and the key spaces it owns, and applies one event at a time through
// a ViewWriter. The engine (engine.h) runs it, stores its views and its checkpoint together, and
// serves the views to queries (view_reader.h).
//
//   // Counts events per stream category: view "counts", key = category, value = decimal count.
//   class CategoryCounts : public rb::proj::Projection {
//    public:
//     std::string name() const override { return "category_counts"; }
//     uint32_t version() const override { return 1; }
//     std::vector<std::string> spaces() const override { return {"counts"}; }
//     absl::Status Apply(const rb::es::RecordedEvent& e, rb::proj::ViewWriter& w) const override {
//       absl::StatusOr<std::optional<std::string>> old = w.Get("counts", e.Category());
//       if (!old.ok()) return old.status();
//       uint64_t n = 0;
//       if (*old && !absl::SimpleAtoi(**old, &n)) return absl::DataLossError("bad count");
//       w.Put("counts", e.Category(), absl::StrCat(n + 1));
//       return absl::OkStatus();
//     }
//   };
//
// The contract of Apply, on which crash recovery and "rebuild gives the same views" rest:
//  * Deterministic: the writes depend only on the event and on what the writer's Get returns. No
//    wall-clock reads (use event.recorded_at_us / valid_at_us), no random numbers, no iteration
//    over unordered containers, no state kept in the object between calls.
//  * Thread-safe: Apply is const and may run concurrently on two threads (the serving generation
//    and a rebuild of the same version).
//  * A non-OK status stops the projection at that event, visibly (ProjectionState::kFailed); the
//    writes of the failing call are discarded, those of the events before it are kept. Events the
//    projection does not care about are simply ignored (return OK without writing).
#ifndef RB_PROJECTIONS_PROJECTION_H_
#define RB_PROJECTIONS_PROJECTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventstore/event.h"

namespace rb::proj {

// The projection's access to its own key spaces while applying events. Writes are buffered in
// the current batch and committed by the engine together with the checkpoint; Get sees the
// batch's pending writes first (read-your-own-writes), then the committed views.
//
// `space` is one of the names the projection declared in spaces(); the engine maps it to the key
// space of the generation being built. Not thread-safe: used by one worker thread at a time; valid
// only during the Apply call it is passed to.
class ViewWriter {
 public:
  virtual ~ViewWriter() = default;

  // The value of `key`, or nullopt when absent (or deleted earlier in the batch).
  // Errors: INVALID_ARGUMENT for an undeclared space; storage errors as returned by the store.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view space,
                                                         std::string_view key) = 0;
  // Sets `key` to `value`. Writing an undeclared space fails the current Apply call with
  // INVALID_ARGUMENT once it returns.
  virtual void Put(std::string_view space, std::string_view key, std::string_view value) = 0;
  // Removes `key` (no effect when absent). Same error rule as Put.
  virtual void Delete(std::string_view space, std::string_view key) = 0;
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Stable identifier, 1 to 64 characters among [a-z0-9_].
  virtual std::string name() const = 0;
  // Version of the code. Changing what Apply writes for some event requires a new version: the
  // engine then rebuilds the views from position 0 beside the old ones and switches when done.
  virtual uint32_t version() const = 0;
  // The key spaces the projection owns, same character rules as name(); at least one. The order
  // is the order of the views hash (view_hash.h).
  virtual std::vector<std::string> spaces() const = 0;
  // Applies one event. See the contract in the file comment.
  virtual absl::Status Apply(const rb::es::RecordedEvent& event, ViewWriter& writer) const = 0;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_PROJECTION_H_
