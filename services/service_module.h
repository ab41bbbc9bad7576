// Copyright: the Résorption-bidonvilles data service authors.
//
// ServiceModule: how a gRPC service joins the server without editing it. A module receives the
// open event store, the logger and the metrics registry, hands its grpc::Service objects to the
// server, and takes part in the graceful shutdown.
//
//   class SitesModule : public rb::services::ServiceModule {
//    public:
//     std::string name() const override { return "sites"; }
//     absl::Status Init(const rb::services::ServiceEnvironment& env) override {
//       service_ = std::make_unique<SitesService>(env.store);
//       return absl::OkStatus();
//     }
//     std::vector<grpc::Service*> services() override { return {service_.get()}; }
//    private:
//     std::unique_ptr<SitesService> service_;
//   };
//   // services/modules.cc, BuiltinModules(): add
//   //   modules.push_back([] { return std::make_unique<SitesModule>(); });
//   // or, for one server only: options.modules.push_back(...).
//
// Life cycle, all on the thread that calls Server::Start / Server::Shutdown:
//   Init -> services() -> ConfigureBuilder -> (serving) -> BeginShutdown -> (calls drain) -> Stop
// A module whose Init fails aborts Server::Start with that status (prefixed by its name);
// modules initialised before it are stopped in reverse order.
#ifndef RB_SERVICES_SERVICE_MODULE_H_
#define RB_SERVICES_SERVICE_MODULE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eventstore/event_store.h"
#include "grpcpp/server_builder.h"
#include "services/erasure_options.h"
#include "services/logging.h"
#include "services/metrics.h"

namespace rb::services {

class Authenticator;    // services/auth.h
class SubscriptionHub;  // services/subscription_hub.h

// What the server lends to its modules. Every pointer stays valid until after Stop().
struct ServiceEnvironment {
  rb::es::EventStore* store = nullptr;
  Logger* logger = nullptr;
  MetricsRegistry* metrics = nullptr;
  bool sync = true;               // the server's durability setting
  std::string data_dir;           // the event store's data directory, as configured
  Authenticator* auth = nullptr;  // bearer-token authentication (services/auth.h)
  ErasureOptions erasure;         // retention rules of personal data (services/erasure_sweep.h)
  // Where the live streams of every module park until the log grows, and the tick of their
  // checkpoints (services/subscription_hub.h). Started before Init; closed when shutdown begins
  // (parked streams are woken and must finish), stopped after every module's Stop.
  SubscriptionHub* subscriptions = nullptr;
};

class ServiceModule {
 public:
  virtual ~ServiceModule() = default;
  // Short lower-case name for logs and errors, e.g. "event_stream".
  virtual std::string name() const = 0;
  // Builds the module's services and workers. The store is open.
  virtual absl::Status Init(const ServiceEnvironment& env) = 0;
  // The services to register. Owned by the module; must live until Stop() returns.
  virtual std::vector<grpc::Service*> services() = 0;
  // Optional builder settings (channel arguments and the like).
  virtual void ConfigureBuilder(grpc::ServerBuilder& builder) {}
  // Shutdown has begun and new calls are being refused: end long-lived calls (streams) now, so
  // the drain does not wait for them. Must not block.
  virtual void BeginShutdown() {}
  // Every call has finished: stop workers and flush. The store is still open.
  virtual void Stop() {}
};

using ModuleFactory = std::function<std::unique_ptr<ServiceModule>()>;

// The modules a production server runs besides the EventStream service (which the server always
// serves first), in registration order. Defined in services/modules.cc: the one place to list a
// new service.
std::vector<ModuleFactory> BuiltinModules();

}  // namespace rb::services

#endif  // RB_SERVICES_SERVICE_MODULE_H_
