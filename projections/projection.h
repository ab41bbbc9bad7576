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
//  * Deterministic: the writes depend only on the event and on what the writer's Get and
//    ReadEvent return (the log before the event never changes). No
//    wall-clock reads (use event.recorded_at_us / valid_at_us), no random numbers, no iteration
//    over unordered containers, no state kept in the object between calls.
//  * Thread-safe: Apply is const and may run concurrently on two threads (the serving generation
//    and a rebuild of the same version).
//  * A non-OK status stops the projection at that event, visibly (ProjectionState::kFailed); the
//    writes of the failing call are discarded, those of the events before it are kept. Events the
//    projection does not care about are simply ignored (return OK without writing).
//
// Deferred work (optional). Apply may keep typed, per-batch state in the writer
// (ViewWriter::batch_state / set_batch_state: decoded records, sums of repeated increments) and
// write it once in BatchState::Flush, which the engine calls before committing the batch. This is
// where a projection saves its per-event parse/serialize and its repeated writes of the same keys.
// The rule that keeps "rebuild == live" true: after Flush, the views must be exactly what applying
// the batch's events one at a time (each in its own batch) would have written, whatever the batch
// boundaries are; and Apply must read its deferred keys from the state, not from the writer. The
// state is the writer's (one per worker), never the Projection object's; it is dropped with the
// batch's writes when the batch is discarded.
#ifndef RB_PROJECTIONS_PROJECTION_H_
#define RB_PROJECTIONS_PROJECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventstore/event.h"

namespace rb::proj {

class BatchState;

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

  // The event of the log at `position`, for a projection that indexes events by position rather
  // than copying them into its views. Only the log up to the event being applied may be read
  // (during BatchState::Flush: up to the batch's last event): that part never changes, so Apply
  // stays deterministic. OUT_OF_RANGE beyond it, NOT_FOUND for position 0, storage errors as
  // returned by the store; FAILED_PRECONDITION for a writer without access to the log (this
  // default).
  virtual absl::StatusOr<rb::es::RecordedEvent> ReadEvent(uint64_t position) {
    (void)position;
    return absl::FailedPreconditionError("this view writer has no access to the log");
  }

  // The events of stream `stream_id` in that same part of the log (up to the event being applied;
  // during BatchState::Flush, up to the batch's last event), in stream order: for a projection
  // that re-folds an aggregate when an event changes its past (a retroactive correction). Empty
  // for an unknown stream; storage errors as returned by the store; FAILED_PRECONDITION for a
  // writer without access to the log (this default).
  virtual absl::StatusOr<std::vector<rb::es::RecordedEvent>> ReadStream(
      std::string_view stream_id) {
    (void)stream_id;
    return absl::FailedPreconditionError("this view writer has no access to the log");
  }

  // The projection's deferred work of the current batch (see BatchState), or nullptr when none
  // was set since the last commit. A writer that keeps no state (this default) ignores
  // set_batch_state; Apply then flushes its state itself before returning (see
  // WithBatchState below).
  virtual BatchState* batch_state() { return nullptr; }
  virtual void set_batch_state(std::unique_ptr<BatchState> state) { (void)state; }
};

// Typed state a projection keeps for the duration of one batch, owned by the ViewWriter.
// The engine calls Flush once before it commits the batch (then destroys the state); when the
// batch is discarded (a failed Apply, a failed commit) the state is destroyed without Flush.
class BatchState {
 public:
  virtual ~BatchState() = default;
  // Writes the deferred work through `writer` (Get/Put/Delete, same spaces as Apply). An error
  // fails the projection at the first event of the batch (nothing of the batch is committed).
  virtual absl::Status Flush(ViewWriter& writer) = 0;
  // Approximate memory held, in bytes; counted with the buffered writes against the batch limit.
  virtual size_t ApproximateBytes() const = 0;
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

// Runs `body(S&)` on the writer's batch state of type S (created on first use of the batch).
// When the writer keeps no state, `body` runs on a temporary S that is flushed at once.
// A projection uses one state type only.
template <typename S, typename Body>
absl::Status WithBatchState(ViewWriter& writer, Body body) {
  if (writer.batch_state() == nullptr) writer.set_batch_state(std::make_unique<S>());
  if (BatchState* kept = writer.batch_state(); kept != nullptr) {
    return body(*static_cast<S*>(kept));
  }
  S local;
  if (absl::Status s = body(local); !s.ok()) return s;
  return local.Flush(writer);
}

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_PROJECTION_H_
