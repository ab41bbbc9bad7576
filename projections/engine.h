// Copyright: the Résorption-bidonvilles data service authors.
//
// ProjectionEngine: runs projections (projection.h) over an EventStore's log, each on its own
// worker thread, and keeps their views in the store's key spaces.
//
//   rb::proj::ProjectionEngine engine(store.get(), rb::proj::EngineOptions{});
//   RB_RETURN_IF_ERROR(engine.Register(std::make_unique<CategoryCounts>()));
//   RB_RETURN_IF_ERROR(engine.Start());
//   // ... after an append returned `result`:
//   RB_RETURN_IF_ERROR(engine.WaitForPosition("category_counts", result.last_position,
//                                             absl::Now() + absl::Seconds(2)));
//   absl::StatusOr<rb::proj::ViewReader> reader = engine.Reader("category_counts");
//   // A new build beside the serving one, switched to when caught up:
//   RB_RETURN_IF_ERROR(engine.Rebuild("category_counts"));
//
// Model. Each projection has an *active generation*, whose views queries read, and at most one
// *pending generation* being rebuilt beside it. A worker reads the log from its generation's
// checkpoint in batches (EventStore::ReadAll), applies each event, and commits the batch's view
// writes and the new checkpoint in ONE KvWriteBatch: after a crash at any instant, the worker
// resumes exactly after the last committed event (none applied twice, none skipped). Once caught
// up it follows the log live, woken by the store's head listener (no polling).
//
// Versions. Register every version of a projection the process knows (usually one). The highest
// registered version is the target. At Start, when the active generation was built by another
// version, the engine rebuilds the target version from position 0 in a pending generation; the
// old generation keeps serving (and keeps following the log if its version is registered, else it
// serves its last state). When the pending generation has caught up with the log and with the
// active one, the commit of its last batch also moves the active pointer to it (one batch again);
// the old spaces are dropped once no ViewReader uses them.
//
// Errors are per projection: a projection whose Apply fails stops at that event with
// state kFailed; its views and checkpoint keep the effect of every event before it; the others go
// on. Restarting the process (or rebuilding) retries. The failure is reported once to
// EngineOptions::on_failure (the server logs it and exports it as a metric).
//
// Thread safety: all methods are thread-safe, except that Register must precede Start. The store
// is not owned and must outlive the engine; the engine must be stopped (or destroyed) before the
// store is closed, and ViewReaders released before the store is closed.
#ifndef RB_PROJECTIONS_ENGINE_H_
#define RB_PROJECTIONS_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/catch_up_cache.h"
#include "projections/layout.h"
#include "projections/projection.h"
#include "projections/view_reader.h"

namespace rb::proj {

// Reported after each durable commit of a projection batch, on the worker thread. Keep the
// callback short; it must not call back into the engine's Stop.
struct CommitInfo {
  std::string projection;
  GenerationId generation;
  uint64_t position = 0;  // the new checkpoint
  bool switched = false;  // this commit made `generation` the active one
  // On disk when reported: synced (EngineOptions::sync_commits, a switch, the end of a first
  // build) or written as table files (EngineOptions::files_min_bytes). Otherwise it reaches the
  // disk with the store's next flush.
  bool durable = false;
};

// Reported once when a generation stops on an error (state kFailed), on the worker thread, after
// the failure shows in GetStatus and WaitForPosition. Keep the callback short; it must not call
// back into the engine's Stop.
struct FailureInfo {
  std::string projection;
  GenerationId generation;
  bool rebuild = false;   // the pending generation of a rebuild failed; the active one serves on
  uint64_t position = 0;  // the event that failed (for a storage error: the first uncommitted one)
  std::string error;      // as in GenerationStatus::error
};

struct EngineOptions {
  // Largest number of events read from the log and applied per batch. Larger batches amortise the
  // commit; smaller ones bound the memory and the time before a live event becomes visible.
  size_t batch_events = 512;
  // A batch is committed early once its buffered view writes reach this many bytes.
  size_t max_batch_bytes = 4 << 20;
  // While catching up (a rebuild, a restart behind the head: the previous read did not reach the
  // end of the log), both limits above are multiplied by this factor, the bytes to at most
  // 256 MiB. 1 (the default): no change, every batch obeys the limits above exactly. A service
  // that rebuilds large logs sets e.g. 32: latency does not matter while catching up, and larger
  // batches mean fewer commits and more repeated writes of the same keys absorbed in memory.
  size_t catch_up_factor = 1;
  // The events read once for all the workers catching up together (catch_up_cache.h): at most
  // this many bytes of them are kept in memory; 0 disables the sharing (each worker reads the
  // log itself). A dozen chunks of 8,192 events: enough for the workers ahead to find the next
  // chunks loaded, small enough for their memory to be reused rather than taken afresh (a
  // larger budget lets the loader run further ahead, and each chunk ahead is new memory).
  size_t catch_up_cache_bytes = 96 << 20;
  // Decodes the events shared by the workers catching up together once for all of them
  // (CatchUpCacheOptions::decode; the server passes rb::domain::AttachDecodedEnvelopes, which the
  // views read through rb::domain::ViewSiteEvent). Empty: each worker decodes what it reads.
  ChunkDecoder catch_up_decode;
  // Sync each commit to disk (through the write-ahead log). Off by default: commits skip the
  // write-ahead log (KvStore::WriteUnlogged) and reach the disk with the store's next flush.
  // Views are derived data and the checkpoint travels with them, so a crash (of the process or
  // of the machine) only loses the last commits, whose events are applied again at restart. A
  // rebuild's switch is always flushed and synced.
  bool sync_commits = false;
  // A batch read while catching up (with the catch-up limits) whose writes reach this many bytes
  // is written as new table files of the store, with its checkpoint (KvStore::WriteFiles),
  // rather than through its write buffers: durable at once, and cheaper for a large sorted batch
  // than the buffers and their flush. Live batches always go through the write buffers. 0: every
  // commit does.
  size_t files_min_bytes = size_t{4} << 20;
  // The key space of checkpoints and generation pointers.
  std::string meta_space = std::string(kDefaultMetaSpace);
  // A live worker waits for the head listener; it re-reads the head after this long without a
  // notification, as a safety net only.
  absl::Duration idle_recheck = absl::Seconds(5);
  // Live batching under load. A live worker that sees a stream of commands (at least
  // `live_linger_from_events` new events since the start of its current `live_linger_window`,
  // which commands sent one at a time by people do not reach) waits up to `live_linger` for
  // `live_min_batch_events` of them to accumulate before applying them. It stops waiting as soon
  // as the stream pauses for `live_linger_quiet`, a query waits for this projection
  // (WaitForPosition) or the engine stops. Views are then built in larger batches (their
  // per-batch work, such as rewriting the records of a changed site, is shared by more events);
  // a read-your-writes query never waits for the linger, a lone command's events are applied at
  // once (unless they come within the window of a stream, or number `live_linger_from_events` or
  // more: then they wait one quiet slice), and the last events of a stream wait at most about
  // twice `live_linger_quiet`. The events appended while a live batch is applied join it under
  // the same rules (one commit, not one per few events that came meanwhile); the linger counts
  // from the batch's first wait. Zero (the default): every change of the head is applied at once.
  absl::Duration live_linger = absl::ZeroDuration();
  absl::Duration live_linger_quiet = absl::Milliseconds(10);
  absl::Duration live_linger_window = absl::Milliseconds(100);
  size_t live_linger_from_events = 16;
  size_t live_min_batch_events = 256;
  // Called after each commit (metrics, tests), with whether it is on disk yet
  // (CommitInfo::durable). Empty: nothing.
  std::function<void(const CommitInfo&)> on_commit;
  // Called when a generation fails (logs, metrics, tests). Empty: nothing; the failure then shows
  // only in GetStatus.
  std::function<void(const FailureInfo&)> on_failure;
};

enum class ProjectionState {
  kCatchingUp,  // reading stored events, not yet at the head of the log
  kLive,        // at the head, following appends
  kRebuilding,  // a pending generation being built; or an active one of an unregistered
                // version, serving its last state until the rebuild replaces it
  kFailed,      // stopped at failed_position because Apply (or storage) returned an error
  kStopped,     // the engine was stopped
};
std::string_view ToString(ProjectionState state);

struct GenerationStatus {
  GenerationId id;
  ProjectionState state = ProjectionState::kStopped;
  uint64_t position = 0;    // checkpoint: last position whose effects are in the views
  uint64_t lag_events = 0;  // head position - position
  absl::Duration lag = absl::ZeroDuration();  // head recorded_at - recorded_at at position
  uint64_t failed_position = 0;               // kFailed: the event that failed
  std::string error;                          // kFailed: the error message
};

struct ProjectionStatus {
  std::string name;
  uint64_t head_position = 0;               // the log's head when the status was taken
  GenerationStatus active;                  // what readers see
  std::optional<GenerationStatus> rebuild;  // a pending generation, when one exists
};

class ProjectionEngine {
 public:
  ProjectionEngine(rb::es::EventStore* store, EngineOptions options);
  ~ProjectionEngine();  // Stops.
  ProjectionEngine(const ProjectionEngine&) = delete;
  ProjectionEngine& operator=(const ProjectionEngine&) = delete;

  // Adds a projection (one version of it). Errors: INVALID_ARGUMENT for a bad name, version 0, or
  // bad or duplicate space names; ALREADY_EXISTS when this name and version are registered;
  // FAILED_PRECONDITION after Start.
  absl::Status Register(std::unique_ptr<Projection> projection);

  // Recovers each projection's generations from the meta space (dropping leftover key spaces of
  // generations that are neither active nor pending), starts the rebuilds that version changes
  // require, and starts the workers. Errors: FAILED_PRECONDITION when already started; storage
  // errors (DATA_LOSS for an undecodable record); the engine is then stopped.
  absl::Status Start();

  // Stops the workers, waiting for the batches in flight to be committed or abandoned (an
  // abandoned batch is re-applied at the next Start). Idempotent.
  void Stop();

  // Starts building a fresh generation of the target version from position 0 beside the active
  // one. A failed pending generation is discarded first. Errors: NOT_FOUND for an unknown name;
  // FAILED_PRECONDITION when not started or a rebuild is already running; storage errors.
  absl::Status Rebuild(std::string_view name);

  // Waits until the active generation's checkpoint is at least `position` (read-your-writes).
  // Returns OK then; DEADLINE_EXCEEDED when `deadline` passes first; FAILED_PRECONDITION at once
  // when the projection failed before `position` or the engine is stopped; NOT_FOUND for an
  // unknown name.
  absl::Status WaitForPosition(std::string_view name, uint64_t position, absl::Time deadline) const;

  // Waits until no rebuild of `name` is pending (it switched). OK then; FAILED_PRECONDITION at
  // once when the pending generation failed or the engine is stopped; DEADLINE_EXCEEDED; NOT_FOUND.
  absl::Status WaitForRebuild(std::string_view name, absl::Time deadline) const;

  // A reader of the active generation. NOT_FOUND for an unknown name; FAILED_PRECONDITION before
  // Start.
  absl::StatusOr<ViewReader> Reader(std::string_view name) const;

  // Status of one projection (NOT_FOUND for an unknown name), or of all in name order.
  absl::StatusOr<ProjectionStatus> GetStatus(std::string_view name) const;
  std::vector<ProjectionStatus> GetAllStatus() const;

 private:
  struct Worker;
  struct Slot;

  Slot* FindSlot(std::string_view name) const;
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(admin_mu_);
  absl::Status Recover(Slot* slot);
  absl::StatusOr<std::unique_ptr<Worker>> CreateGeneration(Slot* slot, const Projection* code,
                                                           bool pending);
  absl::Status DiscardGeneration(Slot* slot, std::unique_ptr<Worker> worker);
  std::unique_ptr<Worker> NewWorker(Slot* slot, const Projection* code, GenerationId id,
                                    Checkpoint checkpoint);
  void StartThread(Slot* slot, Worker* worker);
  void Run(Slot* slot, Worker* worker);
  // Returns false when the worker must exit.
  bool WaitForEvents(Slot* slot, Worker* worker, uint64_t position);
  // Live batching, after a read that reached the end of the log: whether to keep the events
  // applied through `applied` (those after the checkpoint `committed`) uncommitted and read the
  // next ones into the same batch. Waits one quiet slice at most, or until a chunk of events
  // (1/64 of live_min_batch_events) follows `applied`; true when the head moved past `applied`,
  // within the linger, while a stream of commands goes on and nobody waits for this projection.
  // `room`: the batch is below its limits.
  bool KeepLingering(Slot* slot, Worker* worker, uint64_t applied, uint64_t committed, bool room);
  // The stream detector (EngineOptions::live_linger_window): whether the events since the start
  // of the worker's current window make a stream. Requires mu_.
  bool InStream(Worker* worker, uint64_t position, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits the writer's writes with checkpoint `cp`; switches generations when `caught_up` and
  // the worker is pending. `catching_up`: the batch was read behind the head, with the catch-up
  // limits (it may be written as table files). Returns false when the worker must exit (retired
  // or failed).
  bool Commit(Slot* slot, Worker* worker, class BatchViewWriter& writer, Checkpoint cp,
              bool caught_up, bool catching_up = false);
  void Fail(Slot* slot, Worker* worker, uint64_t position, const absl::Status& status);
  void OnHead(uint64_t position);
  GenerationStatus StatusOf(const Worker& worker, const rb::es::Head& head) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  rb::es::EventStore* const store_;
  const EngineOptions options_;
  CatchUpCache catch_up_cache_;

  std::map<std::string, std::unique_ptr<Slot>, std::less<>> slots_;  // fixed after Start

  // Serialises Start, Stop and Rebuild (lifecycle changes); taken before mu_.
  absl::Mutex admin_mu_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;  // highest position the head listener reported
  std::optional<uint64_t> listener_id_ ABSL_GUARDED_BY(admin_mu_);
  mutable int64_t first_recorded_at_us_ ABSL_GUARDED_BY(mu_) = 0;  // of position 1; 0: not read yet
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_ENGINE_H_
