// Copyright: the Résorption-bidonvilles data service authors.
//
// JobManager: runs submitted custom projections in the background, one at a time, on a thread
// of lowered scheduling priority, so that analysts' work cannot slow the writers or the built-in
// views beyond the share of the machine documented in docs/analysts.md. Jobs can be followed
// and cancelled; finished results are kept in the store's key-value space "analytics.results"
// and survive restarts.
//
//   rb::analytics::JobManager jobs(store, {});
//   absl::StatusOr<std::string> id = jobs.Submit(spec_text, /*log_position=*/0);
//   jobs.Wait(*id, absl::Now() + absl::Minutes(1));
//   absl::StatusOr<rb::analytics::JobStatus> s = jobs.Get(*id);
//   // s->state == JobState::kDone, s->result.rows_hash() ...
//
// Thread-safe. The store must outlive the manager.
#ifndef RB_ANALYTICS_JOBS_H_
#define RB_ANALYTICS_JOBS_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "resorption/v1/analytics.pb.h"

namespace rb::analytics {

enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };
const char* JobStateName(JobState s);

struct JobStatus {
  std::string id;
  std::string name;
  JobState state = JobState::kQueued;
  uint64_t target_position = 0;
  uint64_t position = 0;                    // progress
  std::string error;                        // when failed
  resorption::v1::ProjectionResult result;  // when done (a live job: its latest build)
  bool live = false;                        // rebuilt at the new head whenever the log grows
};

struct JobOptions {
  // Nice value added to the worker thread (Linux per-thread priority); 0 leaves it unchanged.
  int nice = 10;
  // Queued jobs beyond this are refused with RESOURCE_EXHAUSTED.
  size_t max_queued = 16;
};

class JobManager {
 public:
  JobManager(rb::es::EventStore* store, JobOptions options);
  ~JobManager();  // cancels the running job and joins the worker

  // Parses, validates and queues a specification pinned at `log_position` (0 = the head now).
  // A `live` job is built at the head and kept live: whenever the log has grown since its last
  // build, the worker builds it again at the new head (a full deterministic build each time, so
  // the provenance always names the position the rows come from); `log_position` must then be 0.
  // Errors: INVALID_ARGUMENT (parse errors with line and column, or every violation as a
  // BadRequest; a pinned live job), FAILED_PRECONDITION (position beyond the head),
  // RESOURCE_EXHAUSTED.
  absl::StatusOr<std::string> Submit(const std::string& spec_text, uint64_t log_position,
                                     bool live = false);
  absl::StatusOr<std::string> Submit(const resorption::v1::ProjectionSpec& spec,
                                     uint64_t log_position, bool live = false);

  // NOT_FOUND for an unknown id.
  absl::StatusOr<JobStatus> Get(const std::string& id) const;
  std::vector<JobStatus> List() const;
  // Cancels a queued or running job. NOT_FOUND; FAILED_PRECONDITION when already finished.
  absl::Status Cancel(const std::string& id);
  // Blocks until the job has finished or `deadline` passes; returns whether it finished.
  bool Wait(const std::string& id, absl::Time deadline) const;
  // Blocks until the job's result covers `position` (live jobs) or it failed or was cancelled,
  // or `deadline` passes; returns whether the result covers the position.
  bool WaitForPosition(const std::string& id, uint64_t position, absl::Time deadline) const;

 private:
  struct Job {
    JobStatus status;
    resorption::v1::ProjectionSpec spec;
    std::atomic<bool> cancel{false};
  };
  void WorkerLoop();
  void LoadStoredResults();
  void RunJob(Job* job);
  // A live job whose last build is behind the head, or nullptr.
  Job* StaleLiveJob() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  rb::es::EventStore* const store_;
  const JobOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::deque<Job*> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;  // as last heard from the store
  uint64_t listener_id_ = 0;
  std::thread worker_;
};

}  // namespace rb::analytics

#endif  // RB_ANALYTICS_JOBS_H_
