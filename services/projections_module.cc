// Copyright: the Résorption-bidonvilles data service authors.
#include "services/projections_module.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "projections/views/action_views.h"
#include "projections/views/history.h"
#include "projections/views/series.h"
#include "projections/views/site_list.h"
#include "services/access_context.h"
#include "services/actions_service.h"
#include "services/status_mapping.h"
#include "services/territories_service.h"

namespace rb::services {

namespace v1 = resorption::v1;
using rb::proj::ProjectionState;

absl::Status RegisterBuiltinProjections(rb::proj::ProjectionEngine& engine) {
  if (absl::Status s = engine.Register(std::make_unique<rb::views::SiteListProjection>());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = engine.Register(std::make_unique<rb::proj::views::HistoryProjection>());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = engine.Register(std::make_unique<rb::proj::views::SeriesProjection>());
      !s.ok()) {
    return s;
  }
  return engine.Register(std::make_unique<rb::proj::views::ActionViewsProjection>());
}

absl::Status EngineRef::WaitForPosition(std::string_view name, uint64_t position,
                                        absl::Time deadline) const {
  if (position == 0) return absl::OkStatus();
  rb::proj::ProjectionEngine* engine = get();
  if (engine == nullptr) return absl::UnavailableError("the projections are not running");
  absl::Status s = engine->WaitForPosition(name, position, deadline);
  if (absl::IsDeadlineExceeded(s)) {
    return absl::DeadlineExceededError(
        absl::StrCat("the view ", absl::string_view(name.data(), name.size()),
                     " did not reach position ", position, " before the call's deadline"));
  }
  return s;
}

namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

v1::ProjectionState ToProto(ProjectionState s) {
  switch (s) {
    case ProjectionState::kCatchingUp:
      return v1::PROJECTION_STATE_CATCHING_UP;
    case ProjectionState::kLive:
      return v1::PROJECTION_STATE_LIVE;
    case ProjectionState::kRebuilding:
      return v1::PROJECTION_STATE_REBUILDING;
    case ProjectionState::kFailed:
      return v1::PROJECTION_STATE_FAILED;
    case ProjectionState::kStopped:
      return v1::PROJECTION_STATE_STOPPED;
  }
  return v1::PROJECTION_STATE_UNSPECIFIED;
}

void ToProto(const rb::proj::GenerationStatus& g, v1::GenerationStatus* out) {
  out->set_generation(g.id.generation);
  out->set_version(g.id.version);
  out->set_state(ToProto(g.state));
  out->set_position(g.position);
  out->set_lag_events(g.lag_events);
  out->set_lag_seconds(absl::ToDoubleSeconds(g.lag));
  out->set_failed_position(g.failed_position);
  out->set_error(g.error);
}

void ToProto(const rb::proj::ProjectionStatus& s, v1::ProjectionInfo* out) {
  out->set_name(s.name);
  out->set_head_position(s.head_position);
  ToProto(s.active, out->mutable_active());
  out->set_rebuilding(s.rebuild.has_value());
  if (s.rebuild) ToProto(*s.rebuild, out->mutable_rebuild());
}

}  // namespace

// One WatchRebuild call. It registers with RebuildWatchers, which forwards the engine's commits
// of the projection; at most one write is in flight, and a commit that arrives meanwhile replaces
// the pending progress (only the newest matters). The message with `switched` is the last.
class WatchRebuildReactor final : public grpc::ServerWriteReactor<v1::RebuildProgress> {
 public:
  WatchRebuildReactor(RebuildWatchers* watchers, std::string name)
      : watchers_(watchers), name_(std::move(name)) {}

  // Called once by the service after registration: reads the current status and writes the
  // first message (or finishes).
  void Begin(rb::proj::ProjectionEngine* engine, rb::es::EventStore* store);
  // A commit of this projection (engine worker thread).
  void OnCommit(const rb::proj::CommitInfo& info, uint64_t head);
  // The call may not watch (authentication, access): ends it before Begin.
  void Refuse(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }
  // The server is shutting down.
  void EndForShutdown() {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  const std::string& name() const { return name_; }

  void OnWriteDone(bool ok) override;
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }
  void OnDone() override;

 private:
  void WriteLocked(v1::RebuildProgress msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(msg);
    writing_ = true;
    StartWrite(&current_);
  }
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  RebuildWatchers* const watchers_;
  const std::string name_;
  absl::Mutex mu_;
  bool begun_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool last_written_ ABSL_GUARDED_BY(mu_) = false;  // the `switched` message was written
  rb::proj::GenerationId pending_id_ ABSL_GUARDED_BY(mu_);
  v1::RebuildProgress current_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::RebuildProgress> next_ ABSL_GUARDED_BY(mu_);
};

// The open WatchRebuild calls; the engine's commit callback goes through here.
class RebuildWatchers {
 public:
  void Add(WatchRebuildReactor* r) {
    absl::MutexLock lock(&mu_);
    reactors_.insert(r);
  }
  void Remove(WatchRebuildReactor* r) {
    absl::MutexLock lock(&mu_);
    reactors_.erase(r);
  }
  void OnCommit(const rb::proj::CommitInfo& info, uint64_t head) {
    absl::MutexLock lock(&mu_);
    for (WatchRebuildReactor* r : reactors_) {
      if (r->name() == info.projection) r->OnCommit(info, head);
    }
  }
  void EndAll() {
    absl::MutexLock lock(&mu_);
    for (WatchRebuildReactor* r : reactors_) r->EndForShutdown();
  }

 private:
  absl::Mutex mu_;
  std::set<WatchRebuildReactor*> reactors_ ABSL_GUARDED_BY(mu_);
};

void WatchRebuildReactor::Begin(rb::proj::ProjectionEngine* engine, rb::es::EventStore* store) {
  absl::StatusOr<rb::proj::ProjectionStatus> status = engine->GetStatus(name_);
  absl::MutexLock lock(&mu_);
  begun_ = true;
  if (!status.ok()) return FinishLocked(ToGrpcStatus(status.status()));
  v1::RebuildProgress msg;
  msg.set_name(name_);
  msg.set_head_position(status->head_position);
  if (!status->rebuild) {
    // Nothing pending (never started, or already switched): the active generation serves.
    msg.set_generation(status->active.id.generation);
    msg.set_position(status->active.position);
    msg.set_switched(true);
    last_written_ = true;
    return WriteLocked(std::move(msg));
  }
  if (status->rebuild->state == ProjectionState::kFailed) {
    return FinishLocked(ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("the rebuild of ", name_, " failed at position ",
                     status->rebuild->failed_position, ": ", status->rebuild->error))));
  }
  pending_id_ = status->rebuild->id;
  msg.set_generation(pending_id_.generation);
  msg.set_position(status->rebuild->position);
  if (next_ && next_->generation() == pending_id_.generation) {
    msg = *std::move(next_);  // a commit arrived between registration and the status read
    last_written_ = msg.switched();
  }
  next_.reset();
  WriteLocked(std::move(msg));
}

void WatchRebuildReactor::OnCommit(const rb::proj::CommitInfo& info, uint64_t head) {
  absl::MutexLock lock(&mu_);
  if (finished_ || last_written_) return;
  if (begun_ && !(info.generation == pending_id_)) return;  // the serving generation
  v1::RebuildProgress msg;
  msg.set_name(name_);
  msg.set_generation(info.generation.generation);
  msg.set_position(info.position);
  msg.set_head_position(head);
  msg.set_switched(info.switched);
  if (!begun_ || writing_) {
    if (!next_ || !next_->switched()) next_ = std::move(msg);
    return;
  }
  last_written_ = msg.switched();
  WriteLocked(std::move(msg));
}

void WatchRebuildReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
  if (current_.switched()) return FinishLocked(grpc::Status::OK);
  if (next_) {
    v1::RebuildProgress msg = *std::move(next_);
    next_.reset();
    last_written_ = msg.switched();
    WriteLocked(std::move(msg));
  }
}

void WatchRebuildReactor::OnDone() {
  watchers_->Remove(this);
  delete this;
}

ProjectionsService::ProjectionsService(rb::proj::ProjectionEngine* engine,
                                       RebuildWatchers* watchers, rb::es::EventStore* store,
                                       Authenticator* auth)
    : engine_(engine), watchers_(watchers), store_(store), auth_(auth) {}

grpc::ServerUnaryReactor* ProjectionsService::ListProjections(grpc::CallbackServerContext* ctx,
                                                              const v1::ListProjectionsRequest* req,
                                                              v1::ListProjectionsResponse* resp) {
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, "/resorption.v1.Projections/ListProjections");
  if (!access.ok()) return Reply(ctx, access.status());
  for (const rb::proj::ProjectionStatus& s : engine_->GetAllStatus()) {
    ToProto(s, resp->add_projections());
  }
  return Reply(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProjectionsService::RebuildProjection(
    grpc::CallbackServerContext* ctx, const v1::RebuildProjectionRequest* req,
    v1::RebuildProjectionResponse* resp) {
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, "/resorption.v1.Projections/RebuildProjection");
  if (!access.ok()) return Reply(ctx, access.status());
  if (absl::Status s = access->RequireNationalAdmin("rebuilding a projection"); !s.ok()) {
    return Reply(ctx, s);
  }
  if (req->name().empty()) {
    return Reply(ctx, BadRequestError("the request is invalid", {{"name", "must not be empty"}}));
  }
  absl::Status s = engine_->Rebuild(req->name());
  if (s.ok()) {
    absl::StatusOr<rb::proj::ProjectionStatus> status = engine_->GetStatus(req->name());
    if (status.ok()) ToProto(*status, resp->mutable_projection());
    s = status.status();
  }
  return Reply(ctx, s);
}

grpc::ServerWriteReactor<v1::RebuildProgress>* ProjectionsService::WatchRebuild(
    grpc::CallbackServerContext* ctx, const v1::WatchRebuildRequest* req) {
  auto* reactor = new WatchRebuildReactor(watchers_, req->name());
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, "/resorption.v1.Projections/WatchRebuild");
  if (!access.ok()) {
    reactor->Refuse(ToGrpcStatus(access.status()));
    return reactor;
  }
  watchers_->Add(reactor);  // before reading the status, so that no commit is missed
  reactor->Begin(engine_, store_);
  return reactor;
}

ProjectionsModule::ProjectionsModule(std::shared_ptr<EngineRef> ref,
                                     ProjectionsModuleOptions options)
    : ref_(std::move(ref)), options_(std::move(options)) {}

ProjectionsModule::~ProjectionsModule() { Stop(); }

absl::Status ProjectionsModule::Init(const ServiceEnvironment& env) {
  watchers_ = std::make_unique<RebuildWatchers>();
  rb::proj::EngineOptions engine_options = options_.engine;
  RebuildWatchers* watchers = watchers_.get();
  rb::es::EventStore* store = env.store;
  auto user_callback = engine_options.on_commit;
  engine_options.on_commit = [watchers, store, user_callback](const rb::proj::CommitInfo& info) {
    watchers->OnCommit(info, store->GetHead().position);
    if (user_callback) user_callback(info);
  };
  // A failed projection stops following the log: one error line says which, where and why.
  auto user_failure = engine_options.on_failure;
  engine_options.on_failure = [logger = env.logger,
                               user_failure](const rb::proj::FailureInfo& info) {
    if (logger != nullptr) {
      logger->Error("projection.failed")
          .Str("projection", info.projection)
          .Int("version", info.generation.version)
          .Int("generation", static_cast<int64_t>(info.generation.generation))
          .Bool("rebuild", info.rebuild)
          .Int("position", static_cast<int64_t>(info.position))
          .Str("error", info.error);
    }
    if (user_failure) user_failure(info);
  };
  engine_ = std::make_unique<rb::proj::ProjectionEngine>(env.store, std::move(engine_options));
  if (options_.register_projections) {
    if (absl::Status s = options_.register_projections(*engine_); !s.ok()) return s;
  }
  if (absl::Status s = engine_->Start(); !s.ok()) return s;
  if (env.metrics != nullptr) AddMetrics(env.metrics);
  service_ =
      std::make_unique<ProjectionsService>(engine_.get(), watchers_.get(), env.store, env.auth);
  ref_->engine_.store(engine_.get(), std::memory_order_release);
  return absl::OkStatus();
}

void ProjectionsModule::BeginShutdown() {
  if (watchers_) watchers_->EndAll();
}

void ProjectionsModule::AddMetrics(MetricsRegistry* metrics) {
  struct Series {
    std::string name;
    Gauge* position;
    Gauge* lag_events;
    Gauge* failed;
    Gauge* rebuild_position;
  };
  std::vector<Series> series;
  for (const rb::proj::ProjectionStatus& st : engine_->GetAllStatus()) {
    const Labels labels = {{"projection", st.name}};
    series.push_back(Series{
        .name = st.name,
        .position = metrics->AddGauge(
            "rb_projection_position",
            "Last log position whose effects are in the views the projection serves.", labels),
        .lag_events = metrics->AddGauge(
            "rb_projection_lag_events",
            "Events of the log not yet in the views the projection serves.", labels),
        .failed = metrics->AddGauge("rb_projection_failed",
                                    "1 when the projection (its serving generation or a pending "
                                    "rebuild) stopped on an error, else 0.",
                                    labels),
        .rebuild_position = metrics->AddGauge(
            "rb_projection_rebuild_position",
            "Checkpoint of the projection's pending rebuild; 0 when no rebuild is pending.",
            labels),
    });
  }
  // Read at each scrape: the values are the engine's status then, like ListProjections.
  rb::proj::ProjectionEngine* engine = engine_.get();
  metrics_ = metrics;
  collector_ = metrics->AddCollector([engine, series = std::move(series)] {
    for (const Series& s : series) {
      absl::StatusOr<rb::proj::ProjectionStatus> st = engine->GetStatus(s.name);
      if (!st.ok()) continue;
      const bool failed = st->active.state == ProjectionState::kFailed ||
                          (st->rebuild && st->rebuild->state == ProjectionState::kFailed);
      s.position->Set(static_cast<int64_t>(st->active.position));
      s.lag_events->Set(static_cast<int64_t>(st->active.lag_events));
      s.failed->Set(failed ? 1 : 0);
      s.rebuild_position->Set(st->rebuild ? static_cast<int64_t>(st->rebuild->position) : 0);
    }
  });
}

void ProjectionsModule::Stop() {
  if (metrics_ != nullptr) {
    metrics_->RemoveCollector(collector_);
    metrics_ = nullptr;
  }
  if (ref_) ref_->engine_.store(nullptr, std::memory_order_release);
  if (engine_) engine_->Stop();
}

std::vector<ModuleFactory> ApiModules(ApiModulesOptions options) {
  auto ref = std::make_shared<EngineRef>();
  std::vector<ModuleFactory> modules;
  modules.push_back(
      [ref, o = options.projections] { return std::make_unique<ProjectionsModule>(ref, o); });
  modules.push_back([ref, o = options.commands] { return std::make_unique<SitesModule>(ref, o); });
  modules.push_back(
      [ref, o = options.commands] { return std::make_unique<ActionsModule>(o, ref); });
  modules.push_back([ref] { return std::make_unique<TerritoriesModule>(ref); });
  return modules;
}

}  // namespace rb::services
