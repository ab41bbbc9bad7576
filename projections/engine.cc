// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/engine.h"

#include <algorithm>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/batch_writer.h"
#include "projections/strings.h"

namespace rb::proj {

// One generation of a projection and the worker thread building it.
struct ProjectionEngine::Worker {
  const Projection* code = nullptr;  // nullptr: a version this process does not know (no thread)
  GenerationId id;
  std::thread thread;
  // Guarded by the engine's mu_:
  std::shared_ptr<internal::GenerationHandle> handle;  // reset when retired
  ProjectionState state = ProjectionState::kCatchingUp;
  Checkpoint checkpoint;  // last committed
  uint64_t failed_position = 0;
  std::string error;
  bool stop = false;     // the thread must exit
  bool retired = false;  // replaced by a rebuild: never commit again
  // The commit's write batch, reused from one commit to the next (worker thread only).
  rb::es::KvWriteBatch batch;
  // The stream detector of live batching (EngineOptions::live_linger), worker thread only: when
  // the current window started and the checkpoint then.
  absl::Time window_start = absl::InfinitePast();
  uint64_t window_base = 0;
  // When the current live batch started to linger (WaitForEvents, KeepLingering); InfinitePast
  // when it does not. A batch lingers at most EngineOptions::live_linger in all. Worker thread
  // only.
  absl::Time linger_start = absl::InfinitePast();
  // Built from position 0 and not yet at the head: its first commit at the head flushes the store
  // before writing its checkpoint (worker thread only).
  bool flush_at_head = false;
  // Commits of this generation may sit in the write buffers (a commit of this worker through
  // them since its last flush, or of an earlier worker of the generation, or the checkpoint
  // written when the generation was made: assumed at the start): its next commit written as
  // files flushes first (worker thread only).
  bool unflushed = true;
};

struct ProjectionEngine::Slot {
  std::string name;
  std::map<uint32_t, std::unique_ptr<Projection>> versions;  // fixed after Start
  const Projection* target() const { return versions.rbegin()->second.get(); }
  // Serialises the commits of this projection's generations, so that a switch and a commit of
  // the generation it replaces never interleave. Taken before mu_.
  absl::Mutex commit_mu;
  // Guarded by the engine's mu_:
  std::unique_ptr<Worker> active;
  std::unique_ptr<Worker> pending;
  std::vector<std::unique_ptr<Worker>> retired;  // threads joined by Stop
  int queries_waiting = 0;                       // in WaitForPosition: live workers do not linger
};

std::string_view ToString(ProjectionState state) {
  switch (state) {
    case ProjectionState::kCatchingUp:
      return "catching_up";
    case ProjectionState::kLive:
      return "live";
    case ProjectionState::kRebuilding:
      return "rebuilding";
    case ProjectionState::kFailed:
      return "failed";
    case ProjectionState::kStopped:
      return "stopped";
  }
  return "unknown";
}

namespace {

// Ceiling of the buffered writes of a catch-up batch.
constexpr size_t kMaxCatchUpBytes = size_t{256} << 20;
// A worker keeps the buffer of its commit batch for the next commit, unless it is at the head
// and the batch was larger than this (the last batch of a catch-up).
constexpr size_t kKeepBatchBytes = size_t{1} << 20;

// Reads an optional record of the meta space and decodes it.
template <typename T, typename Decode>
absl::StatusOr<std::optional<T>> ReadRecord(const rb::es::KvStore& kv, const std::string& space,
                                            const std::string& key, Decode decode) {
  absl::StatusOr<std::optional<std::string>> raw = kv.Get(space, key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<T>();
  absl::StatusOr<T> value = decode(**raw);
  if (!value.ok()) {
    return absl::Status(value.status().code(),
                        absl::StrCat(value.status().message(), " (key \"", key, "\")"));
  }
  return std::optional<T>(*value);
}

}  // namespace

ProjectionEngine::ProjectionEngine(rb::es::EventStore* store, EngineOptions options)
    : store_(store),
      options_(std::move(options)),
      catch_up_cache_(store, CatchUpCacheOptions{.max_bytes = options_.catch_up_cache_bytes,
                                                 .decode = options_.catch_up_decode}) {}

ProjectionEngine::~ProjectionEngine() { Stop(); }

absl::Status ProjectionEngine::Register(std::unique_ptr<Projection> projection) {
  {
    absl::MutexLock lock(&mu_);
    if (started_) {
      return absl::FailedPreconditionError("projections must be registered before Start");
    }
  }
  const std::string name = projection->name();
  if (absl::Status s = ValidateName("projection name", name); !s.ok()) return s;
  if (projection->version() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("projection \"", Av(name), "\": version must be >= 1"));
  }
  std::vector<std::string> spaces = projection->spaces();
  if (spaces.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("projection \"", Av(name), "\": declares no view space"));
  }
  std::set<std::string> seen;
  for (const std::string& space : spaces) {
    if (absl::Status s =
            ValidateName(absl::StrCat("projection \"", Av(name), "\" space name"), space);
        !s.ok()) {
      return s;
    }
    if (!seen.insert(space).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("projection \"", Av(name), "\": space \"", Av(space), "\" declared twice"));
    }
  }
  std::unique_ptr<Slot>& slot = slots_[name];
  if (slot == nullptr) {
    slot = std::make_unique<Slot>();
    slot->name = name;
  }
  const uint32_t version = projection->version();
  if (!slot->versions.emplace(version, std::move(projection)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("projection \"", Av(name), "\" version ", version, " is already registered"));
  }
  return absl::OkStatus();
}

ProjectionEngine::Slot* ProjectionEngine::FindSlot(std::string_view name) const {
  auto it = slots_.find(name);
  return it == slots_.end() ? nullptr : it->second.get();
}

std::unique_ptr<ProjectionEngine::Worker> ProjectionEngine::NewWorker(Slot* slot,
                                                                      const Projection* code,
                                                                      GenerationId id,
                                                                      Checkpoint checkpoint) {
  auto worker = std::make_unique<Worker>();
  worker->code = code;
  worker->id = id;
  std::vector<std::string> spaces;
  if (code != nullptr) {
    spaces = code->spaces();
  } else {
    // An unknown version: its spaces are whatever exists under its prefix.
    const std::string prefix = GenerationSpacePrefix(slot->name, id);
    for (const std::string& space : store_->kv().ListSpaces()) {
      if (space.starts_with(prefix)) spaces.push_back(space.substr(prefix.size()));
    }
    std::sort(spaces.begin(), spaces.end());
  }
  absl::MutexLock lock(&mu_);
  worker->handle = std::make_shared<internal::GenerationHandle>(&store_->kv(), slot->name, id,
                                                                std::move(spaces));
  worker->checkpoint = checkpoint;
  return worker;
}

absl::StatusOr<std::unique_ptr<ProjectionEngine::Worker>> ProjectionEngine::CreateGeneration(
    Slot* slot, const Projection* code, bool pending) {
  rb::es::KvStore& kv = store_->kv();
  const std::string& meta = options_.meta_space;
  absl::StatusOr<std::optional<uint64_t>> next =
      ReadRecord<uint64_t>(kv, meta, NextGenerationKey(slot->name), DecodeCounter);
  if (!next.ok()) return next.status();
  const GenerationId id{.version = code->version(), .generation = next->value_or(1)};
  std::unique_ptr<Worker> worker = NewWorker(slot, code, id, Checkpoint{});
  // The spaces are empty: views are only written to generations whose record exists, and the
  // record is written together with a counter that moves past this generation number.
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = worker->handle->CreateSpaces();
  }
  if (!s.ok()) return s;
  rb::es::KvWriteBatch batch;
  batch.Put(meta, NextGenerationKey(slot->name), EncodeCounter(id.generation + 1));
  batch.Put(meta, pending ? PendingKey(slot->name) : ActiveKey(slot->name), EncodeGeneration(id));
  batch.Put(meta, CheckpointKey(slot->name, id.generation), EncodeCheckpoint(Checkpoint{}));
  if (s = kv.Write(batch, /*sync=*/true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  worker->state = pending ? ProjectionState::kRebuilding : ProjectionState::kCatchingUp;
  return worker;
}

absl::Status ProjectionEngine::DiscardGeneration(Slot* slot, std::unique_ptr<Worker> worker) {
  if (worker->thread.joinable()) worker->thread.join();
  rb::es::KvWriteBatch batch;
  batch.Delete(options_.meta_space, PendingKey(slot->name));
  batch.Delete(options_.meta_space, CheckpointKey(slot->name, worker->id.generation));
  absl::Status s = store_->kv().Write(batch, /*sync=*/true);
  absl::MutexLock lock(&mu_);
  if (s.ok()) worker->handle->MarkForDrop();
  worker->handle.reset();
  return s;
}

absl::Status ProjectionEngine::Recover(Slot* slot) {
  rb::es::KvStore& kv = store_->kv();
  const std::string& meta = options_.meta_space;
  const Projection* target = slot->target();
  auto read_checkpoint = [&](GenerationId id) -> absl::StatusOr<Checkpoint> {
    absl::StatusOr<std::optional<Checkpoint>> cp = ReadRecord<Checkpoint>(
        kv, meta, CheckpointKey(slot->name, id.generation), DecodeCheckpoint);
    if (!cp.ok()) return cp.status();
    if (!cp->has_value()) {
      return absl::DataLossError(absl::StrCat("projection \"", slot->name, "\" generation ",
                                              id.generation, " has no checkpoint"));
    }
    return **cp;
  };

  absl::StatusOr<std::optional<GenerationId>> active =
      ReadRecord<GenerationId>(kv, meta, ActiveKey(slot->name), DecodeGeneration);
  if (!active.ok()) return active.status();
  absl::StatusOr<std::optional<GenerationId>> pending =
      ReadRecord<GenerationId>(kv, meta, PendingKey(slot->name), DecodeGeneration);
  if (!pending.ok()) return pending.status();

  std::unique_ptr<Worker> pending_worker;
  if (pending->has_value()) {
    absl::StatusOr<Checkpoint> cp = read_checkpoint(**pending);
    if (!cp.ok()) return cp.status();
    auto it = slot->versions.find((*pending)->version);
    pending_worker =
        NewWorker(slot, it == slot->versions.end() ? nullptr : it->second.get(), **pending, *cp);
    if ((*pending)->version != target->version()) {
      // A rebuild towards a version that is no longer the target: abandon it.
      if (absl::Status s = DiscardGeneration(slot, std::move(pending_worker)); !s.ok()) return s;
      pending_worker.reset();
    } else {
      absl::MutexLock lock(&mu_);
      pending_worker->state = ProjectionState::kRebuilding;
    }
  }

  std::unique_ptr<Worker> active_worker;
  if (!active->has_value()) {
    absl::StatusOr<std::unique_ptr<Worker>> created = CreateGeneration(slot, target, false);
    if (!created.ok()) return created.status();
    active_worker = std::move(*created);
  } else {
    absl::StatusOr<Checkpoint> cp = read_checkpoint(**active);
    if (!cp.ok()) return cp.status();
    auto it = slot->versions.find((*active)->version);
    active_worker =
        NewWorker(slot, it == slot->versions.end() ? nullptr : it->second.get(), **active, *cp);
    absl::MutexLock lock(&mu_);
    active_worker->state = active_worker->code == nullptr ? ProjectionState::kRebuilding
                                                          : ProjectionState::kCatchingUp;
  }
  if (active_worker->code != nullptr) {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = active_worker->handle->CreateSpaces(); !s.ok()) return s;
  }
  if (pending_worker != nullptr) {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = pending_worker->handle->CreateSpaces(); !s.ok()) return s;
  }
  if (active_worker->id.version != target->version() && pending_worker == nullptr) {
    absl::StatusOr<std::unique_ptr<Worker>> created = CreateGeneration(slot, target, true);
    if (!created.ok()) return created.status();
    pending_worker = std::move(*created);
  }

  // Drop the key spaces of generations that are neither active nor pending: left by a crash
  // between a switch (or a discard) and the drop of the replaced spaces.
  for (const std::string& space : kv.ListSpaces()) {
    std::optional<GenerationId> gen = ParseViewSpaceName(slot->name, space);
    if (!gen.has_value() || *gen == active_worker->id ||
        (pending_worker != nullptr && *gen == pending_worker->id)) {
      continue;
    }
    if (absl::Status s = kv.DropSpace(space); !s.ok()) return s;
  }

  absl::MutexLock lock(&mu_);
  slot->active = std::move(active_worker);
  slot->pending = std::move(pending_worker);
  return absl::OkStatus();
}

void ProjectionEngine::OnHead(uint64_t position) {
  absl::MutexLock lock(&mu_);
  head_ = std::max(head_, position);
}

absl::Status ProjectionEngine::Start() {
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("the projection engine was already started");
    started_ = true;
  }
  if (absl::Status s = store_->kv().CreateSpace(options_.meta_space); !s.ok()) {
    StopLocked();
    return s;
  }
  listener_id_ = store_->AddHeadListener([this](uint64_t position) { OnHead(position); });
  OnHead(store_->GetHead().position);
  for (auto& [name, slot] : slots_) {
    if (absl::Status s = Recover(slot.get()); !s.ok()) {
      StopLocked();
      return s;
    }
  }
  for (auto& [name, slot] : slots_) {
    Worker* active;
    Worker* pending;
    {
      absl::MutexLock lock(&mu_);
      active = slot->active.get();
      pending = slot->pending.get();
    }
    if (active->code != nullptr) StartThread(slot.get(), active);
    if (pending != nullptr) StartThread(slot.get(), pending);
  }
  return absl::OkStatus();
}

void ProjectionEngine::StartThread(Slot* slot, Worker* worker) {
  worker->thread = std::thread([this, slot, worker] { Run(slot, worker); });
}

void ProjectionEngine::Stop() {
  absl::MutexLock admin(&admin_mu_);
  StopLocked();
}

void ProjectionEngine::StopLocked() {
  std::vector<Worker*> workers;
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    for (auto& [name, slot] : slots_) {
      if (slot->active != nullptr) workers.push_back(slot->active.get());
      if (slot->pending != nullptr) workers.push_back(slot->pending.get());
      for (auto& w : slot->retired) workers.push_back(w.get());
    }
    for (Worker* w : workers) w->stop = true;
  }
  // No commit starts once stop is set, so no switch moves workers after this point; the Worker
  // objects themselves never move.
  for (Worker* w : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (listener_id_.has_value()) {
    store_->RemoveHeadListener(*listener_id_);
    listener_id_.reset();
  }
  absl::MutexLock lock(&mu_);
  for (Worker* w : workers) {
    if (w->state != ProjectionState::kFailed) w->state = ProjectionState::kStopped;
  }
}

absl::Status ProjectionEngine::Rebuild(std::string_view name) {
  absl::MutexLock admin(&admin_mu_);
  Slot* slot = FindSlot(name);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection named \"", Av(name), "\""));
  }
  std::unique_ptr<Worker> failed;
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopped_) {
      return absl::FailedPreconditionError("the projection engine is not running");
    }
    if (slot->pending != nullptr) {
      if (slot->pending->state != ProjectionState::kFailed) {
        return absl::FailedPreconditionError(
            absl::StrCat("a rebuild of projection \"", Av(name), "\" is already running"));
      }
      failed = std::move(slot->pending);
    }
  }
  if (failed != nullptr) {
    if (absl::Status s = DiscardGeneration(slot, std::move(failed)); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<Worker>> created = CreateGeneration(slot, slot->target(), true);
  if (!created.ok()) return created.status();
  Worker* worker = created->get();
  {
    absl::MutexLock lock(&mu_);
    slot->pending = std::move(*created);
  }
  StartThread(slot, worker);
  return absl::OkStatus();
}

bool ProjectionEngine::WaitForEvents(Slot* slot, Worker* worker, uint64_t position) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return worker->stop || head_ > position; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), options_.idle_recheck)) {
    // Safety net only: the head listener normally wakes the worker.
    mu_.Unlock();
    const uint64_t head = store_->GetHead().position;
    mu_.Lock();
    head_ = std::max(head_, head);
  }
  if (options_.live_linger <= absl::ZeroDuration() || worker->stop) return !worker->stop;
  const absl::Time now = absl::Now();
  if (!InStream(worker, position, now)) return true;
  // Live batching: wait for a larger batch, in slices of live_linger_quiet, until enough events,
  // a waiting query, the end of the linger, or a slice in which the head did not move (the stream
  // paused: apply what came).
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return worker->stop || slot->queries_waiting > 0 ||
           head_ - position >= options_.live_min_batch_events;
  };
  worker->linger_start = now;
  const absl::Time deadline = now + options_.live_linger;
  const absl::Duration slice = std::max(options_.live_linger_quiet, absl::Milliseconds(1));
  uint64_t seen = head_;
  while (
      !mu_.AwaitWithDeadline(absl::Condition(&enough), std::min(deadline, absl::Now() + slice))) {
    if (head_ == seen || absl::Now() >= deadline) break;
    seen = head_;
  }
  return !worker->stop;
}

bool ProjectionEngine::InStream(Worker* worker, uint64_t position, absl::Time now) {
  // A stream of commands: many events since the window started (a person's commands, even in
  // quick succession, stay below the threshold and are applied at once).
  if (now - worker->window_start >= options_.live_linger_window) {
    worker->window_start = now;
    worker->window_base = position;
  }
  return head_ >= worker->window_base + std::max<size_t>(1, options_.live_linger_from_events);
}

bool ProjectionEngine::KeepLingering(Slot* slot, Worker* worker, uint64_t applied,
                                     uint64_t committed, bool room) {
  if (options_.live_linger <= absl::ZeroDuration() || !room) return false;
  if (applied - committed >= options_.live_min_batch_events) return false;
  absl::MutexLock lock(&mu_);
  if (worker->stop || slot->queries_waiting > 0) return false;
  const absl::Time now = absl::Now();
  if (!InStream(worker, committed, now)) return false;
  if (worker->linger_start == absl::InfinitePast()) worker->linger_start = now;
  const absl::Time deadline = worker->linger_start + options_.live_linger;
  if (now >= deadline) return false;
  // Wakes for a chunk of new events, not at each durable batch: each read costs an iterator.
  const uint64_t chunk = std::max<uint64_t>(1, options_.live_min_batch_events / 64);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return worker->stop || slot->queries_waiting > 0 || head_ >= applied + chunk;
  };
  const absl::Duration slice = std::max(options_.live_linger_quiet, absl::Milliseconds(1));
  mu_.AwaitWithDeadline(absl::Condition(&enough), std::min(deadline, now + slice));
  return !worker->stop && slot->queries_waiting == 0 && head_ > applied;
}

void ProjectionEngine::Fail(Slot* slot, Worker* worker, uint64_t position,
                            const absl::Status& status) {
  FailureInfo info{.projection = slot->name, .generation = worker->id, .position = position};
  {
    absl::MutexLock lock(&mu_);
    worker->state = ProjectionState::kFailed;
    worker->failed_position = position;
    worker->error = status.ToString();
    info.rebuild = slot->pending.get() == worker;
    info.error = worker->error;
  }
  if (options_.on_failure) options_.on_failure(info);
}

bool ProjectionEngine::Commit(Slot* slot, Worker* worker, BatchViewWriter& writer, Checkpoint cp,
                              bool caught_up, bool catching_up) {
  const std::string& meta = options_.meta_space;
  absl::MutexLock commit_lock(&slot->commit_mu);
  bool is_pending;
  bool switched = false;
  GenerationId replaced;
  {
    absl::MutexLock lock(&mu_);
    if (worker->stop || worker->retired) return false;
    is_pending = slot->pending.get() == worker;
    // Switch only forward in log time: a reader that waited for the active generation to reach
    // some position must still see that position after the switch.
    if (is_pending && caught_up && cp.position >= slot->active->checkpoint.position) {
      switched = true;
      replaced = slot->active->id;
    }
    // A build that reached the head with nothing applied (an empty log) has nothing to flush:
    // its first commit with events does it.
    const bool flush_build = caught_up && worker->flush_at_head && cp.position > 0;
    if (!switched && !flush_build && writer.empty() && cp == worker->checkpoint) {
      // Nothing to commit; an active generation at the head is live all the same (a first build
      // over an empty log).
      if (caught_up && !is_pending && worker->state == ProjectionState::kCatchingUp) {
        worker->state = ProjectionState::kLive;
      }
      return true;
    }
  }
  rb::es::KvWriteBatch& batch = worker->batch;
  batch.Clear();
  writer.AppendTo(&batch);
  batch.Put(meta, CheckpointKey(slot->name, worker->id.generation), EncodeCheckpoint(cp));
  // A large batch (catching up) goes to new table files with its checkpoint, the switch, if
  // any, after them; a small one through the write buffers, switch included.
  const bool as_files = catching_up && options_.files_min_bytes > 0 &&
                        batch.ApproximateBytes() >= options_.files_min_bytes;
  rb::es::KvWriteBatch after_files;
  if (switched) {
    rb::es::KvWriteBatch& to = as_files ? after_files : batch;
    to.Put(meta, ActiveKey(slot->name), EncodeGeneration(worker->id));
    to.Delete(meta, PendingKey(slot->name));
    to.Delete(meta, CheckpointKey(slot->name, replaced.generation));
  }
  absl::Status s;
  bool durable = true;
  // A generation built from position 0 reaching the head for the first time: its views go to
  // disk before its checkpoint says so, so a crash afterwards never redoes the build, and they
  // are read from files rather than from the write buffers a build fills (slow to read
  // backwards).
  const bool built = caught_up && worker->flush_at_head && cp.position > 0;
  bool files_written = false;
  if (as_files) {
    // Durable once written. This generation's commits still in the write buffers reach the disk
    // first: a crash must not keep these files (and their checkpoint) without the unlogged ones,
    // and a flush of our own does not hold up the store's writers, as one the files' ingestion
    // would have to make (its checkpoint key being in the buffers) does.
    if (worker->unflushed) s = store_->kv().Flush();
    if (s.ok()) {
      worker->unflushed = false;
      s = store_->kv().WriteFiles(batch);
      files_written = s.ok();
    }
    // The switch is logged and synced after the files (which hold every write of the
    // generation): a crash in between leaves the generation pending, caught up.
    if (s.ok() && switched) s = store_->kv().FlushThenWrite(after_files);
    if (s.ok() && built) worker->flush_at_head = false;
  } else if (switched || built) {
    // The switch is logged and synced. The generation's unlogged batches before it must reach
    // the disk first: a crash must not keep the switch without them.
    s = store_->kv().FlushThenWrite(batch);
    if (s.ok()) {
      worker->flush_at_head = false;
      worker->unflushed = false;
    }
  } else if (options_.sync_commits) {
    s = store_->kv().Write(batch, /*sync=*/true);
    worker->unflushed = true;  // durable, but in the write buffers
  } else {
    s = store_->kv().WriteUnlogged(batch);
    worker->unflushed = true;
    durable = false;
  }
  if (caught_up && batch.ApproximateBytes() > kKeepBatchBytes) {
    batch = rb::es::KvWriteBatch();
  } else {
    batch.Clear();
  }
  if (s.ok()) {
    writer.Committed();
  } else {
    writer.Clear();
  }
  if (!s.ok()) {
    uint64_t first;
    {
      absl::MutexLock lock(&mu_);
      // Files written before a failed switch are on disk with their checkpoint.
      if (files_written) worker->checkpoint = cp;
      first = worker->checkpoint.position + 1;
    }
    Fail(slot, worker, first, s);
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    worker->checkpoint = cp;
    if (switched) {
      Worker* old = slot->active.get();
      old->retired = true;
      old->stop = true;
      old->handle->MarkForDrop();
      old->handle.reset();  // the spaces go when the last reader and the old thread let go
      slot->retired.push_back(std::move(slot->active));
      slot->active = std::move(slot->pending);
      worker->state = ProjectionState::kLive;
    } else if (caught_up && !is_pending && worker->state == ProjectionState::kCatchingUp) {
      worker->state = ProjectionState::kLive;
    }
  }
  if (options_.on_commit) {
    options_.on_commit(CommitInfo{.projection = slot->name,
                                  .generation = worker->id,
                                  .position = cp.position,
                                  .switched = switched,
                                  .durable = durable});
  }
  return true;
}

void ProjectionEngine::Run(Slot* slot, Worker* worker) {
  const Projection* code = worker->code;
  std::shared_ptr<internal::GenerationHandle> handle;
  Checkpoint cp;
  {
    absl::MutexLock lock(&mu_);
    // Replaced (or stopped) before this thread even ran: nothing to do.
    if (worker->stop || worker->retired) return;
    handle = worker->handle;  // keeps the spaces alive while this thread may touch them
    cp = worker->checkpoint;
  }
  BatchViewWriter writer(&store_->kv(), slot->name, worker->id, handle->spaces());
  writer.set_log(store_);
  // A generation at position 0 has committed nothing (its checkpoint travels with its views): its
  // spaces are empty, and only this thread writes them.
  if (cp.position == 0) {
    writer.set_spaces_start_empty();
    worker->flush_at_head = true;
  }
  auto apply = [&](const rb::es::RecordedEvent& e) {
    writer.set_log_limit(e.position);
    absl::Status s = code->Apply(e, writer);
    absl::Status w = writer.TakeError();
    return s.ok() ? w : s;
  };

  CatchUpCache::Reader shared_reads(&catch_up_cache_);
  // Catching up (the last read was not at the end of the log), batches grow to
  // catch_up_factor times the live limits: fewer, larger commits, and the writer's buffer
  // absorbs more repeated writes of the same keys. Live, they stay small for latency.
  const size_t factor = std::max<size_t>(1, options_.catch_up_factor);
  bool catching_up = true;
  // `cp` is the committed checkpoint; `applied` the last event applied into `writer`, ahead of
  // `cp` while a live batch lingers (KeepLingering) across reads.
  Checkpoint applied = cp;
  while (true) {
    uint64_t head_before;
    {
      absl::MutexLock lock(&mu_);
      if (worker->stop) return;
      head_before = head_;
    }
    const bool catch_up_batch = catching_up;  // read with the catch-up limits
    const size_t batch_events = options_.batch_events * (catching_up ? factor : 1);
    const size_t max_batch_bytes =
        catching_up ? std::max(options_.max_batch_bytes,
                               std::min(options_.max_batch_bytes * factor, kMaxCatchUpBytes))
                    : options_.max_batch_bytes;
    // The events are applied as the log is scanned (no copy of them); the scan stops at the
    // batch's byte limit or at the first failing event.
    const uint64_t first = cp.position + 1;  // the first event of the uncommitted batch
    Checkpoint last = applied;
    absl::Status failure;
    uint64_t failed_at = 0;
    auto on_event = [&](const rb::es::RecordedEvent& e) {
      if (absl::Status s = apply(e); !s.ok()) {
        failure = std::move(s);
        failed_at = e.position;
        return false;
      }
      last = Checkpoint{e.position, e.recorded_at_us};
      return writer.ApproximateBytes() < max_batch_bytes;
    };
    // Behind the head, the log is read through the cache shared with the other workers catching
    // up; live, straight from the store.
    absl::StatusOr<rb::es::ReadAllResult> read =
        catching_up
            ? shared_reads.Scan(applied.position + 1, batch_events, on_event)
            : store_->ScanAll(applied.position + 1, rb::es::LogFilter{}, batch_events, on_event);
    if (!read.ok()) {
      writer.Clear();
      Fail(slot, worker, first, read.status());
      return;
    }
    if (!failure.ok()) {
      // Keep the effects of the events before the failing one: re-apply them on a clean buffer
      // (Apply is deterministic) and commit them.
      writer.Clear();
      Checkpoint partial = cp;
      if (failed_at > first) {
        absl::StatusOr<rb::es::ReadAllResult> again = store_->ScanAll(
            first, rb::es::LogFilter{}, failed_at - first, [&](const rb::es::RecordedEvent& e) {
              if (absl::Status s = apply(e); !s.ok()) {
                failure = std::move(s);
                failed_at = e.position;
                return false;
              }
              partial = Checkpoint{e.position, e.recorded_at_us};
              return true;
            });
        if (!again.ok()) {
          failure = again.status();
          failed_at = partial.position + 1;
        }
      }
      if (partial.position > cp.position) {
        if (absl::Status f = writer.FlushState(); !f.ok()) {
          writer.Clear();
          Fail(slot, worker, first, f);
          return;
        }
        if (!Commit(slot, worker, writer, partial, /*caught_up=*/false, catch_up_batch)) return;
      } else {
        writer.Clear();
      }
      Fail(slot, worker, failed_at, failure);
      return;
    }
    catching_up = !read->end_of_log;
    if (!catching_up) {
      shared_reads.Leave();
      writer.ForgetWrittenKeys();
    }
    if (last.position == applied.position) {
      if (applied.position == cp.position) {
        // At the head: a pending generation tries to switch; an active one is live.
        if (!Commit(slot, worker, writer, cp, /*caught_up=*/true)) return;
        if (!WaitForEvents(slot, worker, std::max(cp.position, head_before))) return;
        continue;
      }
      // A lingering batch found nothing more: commit it.
    } else {
      applied = last;
      // Under a stream of commands, the events that came while the last batch was applied are
      // few: read the next ones into the same batch rather than commit each few.
      if (read->end_of_log && KeepLingering(slot, worker, applied.position, cp.position,
                                            writer.ApproximateBytes() < max_batch_bytes)) {
        continue;
      }
    }
    cp = applied;
    // The projection's deferred work goes into the same batch as the checkpoint.
    if (absl::Status f = writer.FlushState(); !f.ok()) {
      writer.Clear();
      Fail(slot, worker, first, f);
      return;
    }
    if (!Commit(slot, worker, writer, cp, /*caught_up=*/read->end_of_log, catch_up_batch)) return;
    worker->linger_start = absl::InfinitePast();
  }
}

absl::Status ProjectionEngine::WaitForPosition(std::string_view name, uint64_t position,
                                               absl::Time deadline) const {
  Slot* slot = FindSlot(name);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection named \"", Av(name), "\""));
  }
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!started_ || stopped_ || slot->active == nullptr) return true;
    return slot->active->checkpoint.position >= position ||
           slot->active->state == ProjectionState::kFailed;
  };
  if (!done()) {
    ++slot->queries_waiting;  // wakes a lingering worker (Await re-checks on unlock)
    mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
    --slot->queries_waiting;
  }
  if (slot->active != nullptr && slot->active->checkpoint.position >= position) {
    return absl::OkStatus();
  }
  if (slot->active != nullptr && slot->active->state == ProjectionState::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrFormat("projection \"%s\" failed at position %d before reaching %d: %s", Av(name),
                        slot->active->failed_position, position, slot->active->error));
  }
  if (!started_ || stopped_) {
    return absl::FailedPreconditionError("the projection engine is not running");
  }
  return absl::DeadlineExceededError(
      absl::StrFormat("projection \"%s\" is at position %d, waited for %d", Av(name),
                      slot->active->checkpoint.position, position));
}

absl::Status ProjectionEngine::WaitForRebuild(std::string_view name, absl::Time deadline) const {
  Slot* slot = FindSlot(name);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection named \"", Av(name), "\""));
  }
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !started_ || stopped_ || slot->pending == nullptr ||
           slot->pending->state == ProjectionState::kFailed;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (started_ && slot->pending == nullptr) return absl::OkStatus();
  if (slot->pending != nullptr && slot->pending->state == ProjectionState::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrFormat("rebuild of projection \"%s\" failed at position %d: %s", Av(name),
                        slot->pending->failed_position, slot->pending->error));
  }
  if (!started_ || stopped_) {
    return absl::FailedPreconditionError("the projection engine is not running");
  }
  return absl::DeadlineExceededError(
      absl::StrFormat("rebuild of projection \"%s\" is at position %d", Av(name),
                      slot->pending->checkpoint.position));
}

absl::StatusOr<ViewReader> ProjectionEngine::Reader(std::string_view name) const {
  Slot* slot = FindSlot(name);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection named \"", Av(name), "\""));
  }
  absl::MutexLock lock(&mu_);
  if (slot->active == nullptr) {
    return absl::FailedPreconditionError("the projection engine was not started");
  }
  return ViewReader(slot->active->handle);
}

GenerationStatus ProjectionEngine::StatusOf(const Worker& worker, const rb::es::Head& head) const {
  GenerationStatus st;
  st.id = worker.id;
  st.state = worker.state;
  st.position = worker.checkpoint.position;
  st.failed_position = worker.failed_position;
  st.error = worker.error;
  if (head.position > st.position) {
    st.lag_events = head.position - st.position;
    const int64_t since =
        st.position == 0 ? first_recorded_at_us_ : worker.checkpoint.recorded_at_us;
    st.lag = absl::Microseconds(std::max<int64_t>(0, head.recorded_at_us - since));
  }
  return st;
}

absl::StatusOr<ProjectionStatus> ProjectionEngine::GetStatus(std::string_view name) const {
  Slot* slot = FindSlot(name);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection named \"", Av(name), "\""));
  }
  const rb::es::Head head = store_->GetHead();
  bool need_first;
  {
    absl::MutexLock lock(&mu_);
    need_first = first_recorded_at_us_ == 0 && head.position > 0;
  }
  if (need_first) {
    absl::StatusOr<rb::es::ReadAllResult> first = store_->ReadAll(1, 1, rb::es::LogFilter{});
    if (!first.ok()) return first.status();
    if (!first->events.empty()) {
      absl::MutexLock lock(&mu_);
      first_recorded_at_us_ = first->events[0].recorded_at_us;
    }
  }
  absl::MutexLock lock(&mu_);
  ProjectionStatus out;
  out.name = slot->name;
  out.head_position = head.position;
  if (slot->active != nullptr) {
    out.active = StatusOf(*slot->active, head);
  } else {
    out.active.id.version = slot->target()->version();
  }
  if (slot->pending != nullptr) out.rebuild = StatusOf(*slot->pending, head);
  return out;
}

std::vector<ProjectionStatus> ProjectionEngine::GetAllStatus() const {
  std::vector<ProjectionStatus> out;
  for (const auto& [name, slot] : slots_) {
    absl::StatusOr<ProjectionStatus> st = GetStatus(name);
    if (st.ok()) out.push_back(*std::move(st));
  }
  return out;
}

}  // namespace rb::proj
