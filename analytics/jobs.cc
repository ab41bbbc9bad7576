#include "analytics/jobs.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analytics/runner.h"
#include "analytics/spec.h"

namespace rb::analytics {

namespace v1 = resorption::v1;

namespace {
constexpr char kResultsSpace[] = "analytics.results";
}

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "?";
}

JobManager::JobManager(rb::es::EventStore* store, JobOptions options)
    : store_(store), options_(options) {
  LoadStoredResults();
  {
    absl::MutexLock lock(&mu_);
    head_ = store_->GetHead().position;
  }
  listener_id_ = store_->AddHeadListener([this](uint64_t position) {
    absl::MutexLock lock(&mu_);
    head_ = position;
  });
  worker_ = std::thread([this] { WorkerLoop(); });
}

JobManager::~JobManager() {
  store_->RemoveHeadListener(listener_id_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  worker_.join();
}

void JobManager::LoadStoredResults() {
  if (!store_->kv().HasSpace(kResultsSpace)) return;
  auto it = store_->kv().NewIterator(kResultsSpace);
  if (!it.ok()) return;
  absl::MutexLock lock(&mu_);
  for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
    auto job = std::make_unique<Job>();
    if (!job->status.result.ParseFromString(std::string((*it)->value()))) continue;
    job->status.id = std::string((*it)->key());
    job->status.name = job->status.result.name();
    job->status.state = JobState::kDone;
    job->status.target_position = job->status.result.log_position();
    job->status.position = job->status.target_position;
    uint64_t n = 0;
    if (std::sscanf(job->status.id.c_str(), "job-%lu", &n) == 1 && n >= next_id_) {
      next_id_ = n + 1;
    }
    jobs_[job->status.id] = std::move(job);
  }
}

absl::StatusOr<std::string> JobManager::Submit(const std::string& spec_text, uint64_t log_position,
                                               bool live) {
  auto spec = ParseSpec(spec_text);
  if (!spec.ok()) return spec.status();
  return Submit(*spec, log_position, live);
}

absl::StatusOr<std::string> JobManager::Submit(const v1::ProjectionSpec& spec,
                                               uint64_t log_position, bool live) {
  if (live && log_position != 0) {
    return absl::InvalidArgumentError(
        "log_position: a live custom projection follows the head; leave the position at 0");
  }
  auto compiled = Compile(spec);
  if (!compiled.ok()) return compiled.status();
  const uint64_t head = store_->GetHead().position;
  if (log_position > head) {
    return absl::FailedPreconditionError(
        absl::StrCat("log_position ", log_position, " is beyond the head of the log (", head, ")"));
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the service is stopping");
  if (queue_.size() >= options_.max_queued) {
    return absl::ResourceExhaustedError(
        absl::StrCat(queue_.size(), " custom projections are already queued; retry later"));
  }
  auto job = std::make_unique<Job>();
  job->spec = spec;
  job->status.id = absl::StrFormat("job-%06d", next_id_++);
  job->status.name = spec.name();
  job->status.target_position = log_position == 0 ? head : log_position;
  job->status.live = live;
  Job* raw = job.get();
  std::string id = job->status.id;
  jobs_[id] = std::move(job);
  queue_.push_back(raw);
  return id;
}

JobManager::Job* JobManager::StaleLiveJob() const {
  for (const auto& [id, job] : jobs_) {
    if (job->status.live && job->status.state == JobState::kDone && !job->cancel &&
        job->status.result.log_position() < head_) {
      return job.get();
    }
  }
  return nullptr;
}

void JobManager::WorkerLoop() {
  if (options_.nice != 0) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  while (true) {
    Job* job = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty() || StaleLiveJob() != nullptr;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      if (!queue_.empty()) {
        job = queue_.front();
        queue_.pop_front();
        if (job->cancel) {
          job->status.state = JobState::kCancelled;
          continue;
        }
      } else {
        job = StaleLiveJob();  // a live job: build it again at the new head
        job->status.target_position = head_;
      }
      job->status.state = JobState::kRunning;
    }
    RunJob(job);
  }
}

void JobManager::RunJob(Job* job) {
  absl::StatusOr<v1::ProjectionResult> result = absl::InternalError("not run");
  auto compiled = Compile(job->spec);
  if (!compiled.ok()) {
    result = compiled.status();
  } else {
    RunOptions ro;
    {
      absl::MutexLock lock(&mu_);
      ro.log_position = job->status.target_position;
    }
    ro.cancel = &job->cancel;
    ro.progress = [this, job](uint64_t position, uint64_t) {
      absl::MutexLock lock(&mu_);
      job->status.position = position;
    };
    result = RunProjection(*store_, *compiled, ro);
  }
  if (result.ok()) {
    absl::Status stored = store_->kv().CreateSpace(kResultsSpace);
    if (stored.ok()) {
      rb::es::KvWriteBatch batch;
      batch.Put(kResultsSpace, job->status.id, result->SerializeAsString());
      stored = store_->kv().Write(batch, true);
    }
    if (!stored.ok()) result = stored;
  }
  absl::MutexLock lock(&mu_);
  if (result.ok()) {
    job->status.state = JobState::kDone;
    job->status.position = job->status.target_position;
    job->status.result = std::move(*result);
  } else if (absl::IsCancelled(result.status())) {
    job->status.state = JobState::kCancelled;
  } else {
    job->status.state = JobState::kFailed;
    job->status.error = std::string(result.status().message());
  }
}

absl::StatusOr<JobStatus> JobManager::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end())
    return absl::NotFoundError(absl::StrCat("no custom projection job '", id, "'"));
  return it->second->status;
}

std::vector<JobStatus> JobManager::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<JobStatus> out;
  for (const auto& [id, job] : jobs_) {
    JobStatus s = job->status;
    s.result.clear_rows();  // listing stays small
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status JobManager::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no custom projection job '", id, "'"));
  }
  JobState s = it->second->status.state;
  if (it->second->status.live && s == JobState::kDone) {
    // A live job between two builds: it stops following the head and keeps its last result.
    it->second->cancel = true;
    it->second->status.live = false;
    return absl::OkStatus();
  }
  if (s != JobState::kQueued && s != JobState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("job '", id, "' has already finished (", JobStateName(s), ")"));
  }
  it->second->cancel = true;
  return absl::OkStatus();
}

bool JobManager::WaitForPosition(const std::string& id, uint64_t position,
                                 absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto settled = [this, &id, position]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return true;
    const JobStatus& s = it->second->status;
    if (s.state == JobState::kFailed || s.state == JobState::kCancelled) return true;
    return s.state == JobState::kDone && s.result.log_position() >= position;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&settled), deadline)) return false;
  auto it = jobs_.find(id);
  return it != jobs_.end() && it->second->status.state == JobState::kDone &&
         it->second->status.result.log_position() >= position;
}

bool JobManager::Wait(const std::string& id, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto finished = [this, &id]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return true;
    JobState s = it->second->status.state;
    return s == JobState::kDone || s == JobState::kFailed || s == JobState::kCancelled;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&finished), deadline);
}

}  // namespace rb::analytics
