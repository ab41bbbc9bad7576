// Copyright: the Résorption-bidonvilles data service authors.
//
// ProjectionsModule: owns the server's rb::proj::ProjectionEngine (over the server's store),
// registers the built-in projections, starts the engine in Init and stops it in Stop, and serves
// resorption.v1.Projections: ListProjections, RebuildProjection and WatchRebuild (a server stream
// of the rebuild's progress until it switches).
//
//   // services/modules.cc: the API modules share one engine through an EngineRef.
//   for (rb::services::ModuleFactory& f : rb::services::ApiModules()) modules.push_back(f);
//   // A test with its own projections:
//   rb::services::ProjectionsModuleOptions p;
//   p.register_projections = [](rb::proj::ProjectionEngine& e) {
//     return e.Register(std::make_unique<MyProjection>());
//   };
//   options.modules = rb::services::ApiModules(p);
//
// The module logs a projection's failure (event "projection.failed": projection, version,
// generation, rebuild, position, error) and exports per projection, read at each scrape:
//   rb_projection_position{projection="site_list"}          the serving views' checkpoint
//   rb_projection_lag_events{projection="site_list"}        head position - that checkpoint
//   rb_projection_failed{projection="site_list"}            1 once it stopped on an error
//   rb_projection_rebuild_position{projection="site_list"}  a pending rebuild's checkpoint, or 0
//
// Other modules reach the engine through the EngineRef they were built with (read-your-writes:
// EngineRef::WaitForPosition). WatchRebuild costs no thread while waiting: its reactor is woken
// by the engine's commit callback.
#ifndef RB_SERVICES_PROJECTIONS_MODULE_H_
#define RB_SERVICES_PROJECTIONS_MODULE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "projections/engine.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "services/service_module.h"
#include "services/sites_service.h"

namespace rb::services {

// The projections every production server builds. Defined in projections_module.cc: the one
// place to list a new view. Errors: those of ProjectionEngine::Register.
absl::Status RegisterBuiltinProjections(rb::proj::ProjectionEngine& engine);

// How the modules of one server reach the engine owned by its ProjectionsModule.
class EngineRef {
 public:
  // nullptr before ProjectionsModule::Init and after its Stop.
  rb::proj::ProjectionEngine* get() const { return engine_.load(std::memory_order_acquire); }
  // Read-your-writes for a query served by projection `name`: waits until its views include
  // `position`, bounded by `deadline` (the call's). OK at once for position 0. DEADLINE_EXCEEDED
  // when the deadline passes first; UNAVAILABLE when the engine is not running; the engine's
  // errors otherwise (NOT_FOUND, FAILED_PRECONDITION for a failed projection).
  absl::Status WaitForPosition(std::string_view name, uint64_t position, absl::Time deadline) const;

 private:
  friend class ProjectionsModule;
  std::atomic<rb::proj::ProjectionEngine*> engine_{nullptr};
};

struct ProjectionsModuleOptions {
  // Registers the projections to run; RegisterBuiltinProjections by default.
  std::function<absl::Status(rb::proj::ProjectionEngine&)> register_projections =
      RegisterBuiltinProjections;
  // Engine settings. Its on_commit, if set, is called after the module's own. The server
  // catches up with batches 512 times larger than live ones (262,144 events, or 256 MiB of view
  // writes: fewer, larger commits at start-up and during rebuilds), and the workers catching up
  // together decode each event once (rb::domain::AttachDecodedEnvelopes). Under a stream of
  // commands (16 or more new events within 100 ms), live workers wait up to 400 ms for 16,384
  // events before applying a smaller batch; they stop waiting when the stream pauses for 10 ms
  // or a query waits for them (EngineOptions::live_linger). Views then lag a busy log by at most
  // that much more, and `min_position` reads never wait for it. Its on_failure, if set, is also
  // called after the module's own (which logs the failure).
  rb::proj::EngineOptions engine = [] {
    rb::proj::EngineOptions o;
    o.catch_up_factor = 512;
    o.catch_up_decode = rb::domain::AttachDecodedEnvelopes;
    o.live_linger = absl::Milliseconds(400);
    o.live_min_batch_events = 16384;
    return o;
  }();
};

class RebuildWatchers;  // projections_module.cc
class Authenticator;    // auth.h

class ProjectionsService final : public resorption::v1::Projections::CallbackService {
 public:
  // Nothing owned; both must outlive the service. `auth` null: calls act as the built-in
  // administrator. Every call needs an authenticated principal (UNAUTHENTICATED otherwise);
  // RebuildProjection needs a national administrator (PERMISSION_DENIED).
  ProjectionsService(rb::proj::ProjectionEngine* engine, RebuildWatchers* watchers,
                     rb::es::EventStore* store, Authenticator* auth = nullptr);

  grpc::ServerUnaryReactor* ListProjections(grpc::CallbackServerContext* ctx,
                                            const resorption::v1::ListProjectionsRequest* req,
                                            resorption::v1::ListProjectionsResponse* resp) override;
  grpc::ServerUnaryReactor* RebuildProjection(
      grpc::CallbackServerContext* ctx, const resorption::v1::RebuildProjectionRequest* req,
      resorption::v1::RebuildProjectionResponse* resp) override;
  grpc::ServerWriteReactor<resorption::v1::RebuildProgress>* WatchRebuild(
      grpc::CallbackServerContext* ctx, const resorption::v1::WatchRebuildRequest* req) override;

 private:
  rb::proj::ProjectionEngine* const engine_;
  RebuildWatchers* const watchers_;
  rb::es::EventStore* const store_;
  Authenticator* const auth_;
};

class ProjectionsModule : public ServiceModule {
 public:
  ProjectionsModule(std::shared_ptr<EngineRef> ref, ProjectionsModuleOptions options);
  ~ProjectionsModule() override;
  std::string name() const override { return "projections"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }
  // Ends WatchRebuild streams with UNAVAILABLE.
  void BeginShutdown() override;
  // Stops the engine.
  void Stop() override;

 private:
  // The projection gauges of /metrics (rb_projection_*), read from the engine at each scrape.
  void AddMetrics(MetricsRegistry* metrics);

  std::shared_ptr<EngineRef> ref_;
  ProjectionsModuleOptions options_;
  std::unique_ptr<RebuildWatchers> watchers_;  // outlives the engine (commit callbacks)
  std::unique_ptr<rb::proj::ProjectionEngine> engine_;
  std::unique_ptr<ProjectionsService> service_;
  MetricsRegistry* metrics_ = nullptr;  // while collector_ is registered
  uint64_t collector_ = 0;
};

// The API modules, in order: projections, sites, actions, territories; the first three share one
// EngineRef. services/modules.cc lists them; tests build their own with other options.
struct ApiModulesOptions {
  ProjectionsModuleOptions projections;
  SitesServiceOptions commands;  // clock of the Sites and Actions services
};
std::vector<ModuleFactory> ApiModules(ApiModulesOptions options = {});

}  // namespace rb::services

#endif  // RB_SERVICES_PROJECTIONS_MODULE_H_
