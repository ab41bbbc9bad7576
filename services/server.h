// Copyright: the Résorption-bidonvilles data service authors.
//
// Server: the resorptiond process minus its flag parsing. Opens the event store in the data
// directory, serves every registered ServiceModule (EventStream first) over gRPC with the
// callback API, plus grpc.health.v1.Health and server reflection, logs JSON lines and serves
// Prometheus metrics on a separate tiny HTTP endpoint.
//
//   rb::services::ServerOptions options;
//   options.listen_address = "127.0.0.1:0";        // tests: any free port
//   options.data_dir = temp_dir + "/data";
//   options.metrics_address = "";                  // no metrics endpoint
//   rb::services::Server server(std::move(options));
//   absl::Status s = server.Start();
//   if (!s.ok()) { std::cerr << s.message() << "\n"; return 1; }
//   auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
//                                      grpc::InsecureChannelCredentials());
//   ...
//   server.Shutdown();  // graceful; also run by the destructor
//
// Thread safety: Start and Shutdown must not race each other; Shutdown may be called from any
// thread (a signal-waiting thread, a test) and is idempotent; Wait blocks until Shutdown ends.
#ifndef RB_SERVICES_SERVER_H_
#define RB_SERVICES_SERVER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "services/auth.h"
#include "services/event_stream_service.h"
#include "services/logging.h"
#include "services/metrics.h"
#include "services/service_module.h"

namespace grpc {
class Server;
}

namespace rb::services {

struct ServerOptions {
  // gRPC listening address, HOST:PORT. Port 0 picks a free port (see Server::port()).
  std::string listen_address = "127.0.0.1:50051";
  // The event store's data directory; created when absent. Relative paths are relative to the
  // current directory.
  std::string data_dir = "var/data";
  // Sync every group-commit batch before acknowledging it (rb::es::Options::sync).
  bool sync = true;
  // PEM files for TLS. Both empty: plaintext. One without the other is an error.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Lowest level logged.
  LogLevel log_level = LogLevel::kInfo;
  // Where log lines go; nullptr means std::cerr. Not owned.
  std::ostream* log_sink = nullptr;
  // HOST:PORT of the Prometheus endpoint (GET /metrics); "" disables it; port 0 picks one.
  std::string metrics_address = "127.0.0.1:9464";
  // Upper bound on gRPC's threads (grpc::ResourceQuota::SetMaxThreads); 0: gRPC's default.
  int max_threads = 0;
  // Largest request accepted, in bytes (an Append of many large events).
  int max_receive_message_bytes = 64 << 20;
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Settings of the built-in EventStream service; its checkpoint_interval is also the tick of
  // every module's live streams (ServiceEnvironment::subscriptions).
  EventStreamOptions event_stream;
  // The modules served after the built-in EventStream service, in order. Defaults to
  // BuiltinModules() (services/modules.cc); tests and embedders may add their own.
  std::vector<ModuleFactory> modules = BuiltinModules();
  // Authentication of calls (services/auth.h). Default kDisabled: calls without a token act as
  // the built-in national administrator (embedded and test servers). resorptiond sets
  // kRequired, which also creates the bootstrap administrator token on the first start.
  AuthOptions auth;
  // The erasure sweep (services/erasure_sweep.h): retention periods, period, clock for tests.
  ErasureOptions erasure;
  // Event store settings other than `sync` (block cache, limits, clock for tests).
  rb::es::Options store;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the store, starts the modules, the gRPC server and the metrics endpoint. On error
  // nothing stays open and the message says what to fix:
  //   FAILED_PRECONDITION: the data directory is not a writable directory, its storage format is
  //     unknown to this build, or the options are inconsistent (TLS cert without key...);
  //   DATA_LOSS: the database is corrupted;
  //   UNAVAILABLE: the listen or metrics address cannot be bound (in use), or the data directory
  //     is locked by another process;
  //   INVALID_ARGUMENT: a malformed address or unreadable TLS file.
  // Calling Start twice is FAILED_PRECONDITION.
  absl::Status Start();

  // Graceful stop: health turns NOT_SERVING, new calls are refused, live streams (subscriptions,
  // activity watches) end with UNAVAILABLE (and their resume position), in-flight calls get
  // `shutdown_grace` to finish and are then cancelled, modules stop, the store completes pending
  // appends and flushes. Idempotent; a no-op before Start.
  void Shutdown();

  // Blocks until Shutdown has completed.
  void Wait();

  // The bound gRPC port (after a successful Start).
  int port() const { return port_; }
  // The bound metrics port; 0 when disabled.
  int metrics_port() const;
  // The open store (after Start, until Shutdown); for in-process writers and tests.
  rb::es::EventStore* store() const { return store_.get(); }
  // The authenticator (after Start, until Shutdown).
  Authenticator* auth() const { return auth_.get(); }
  MetricsRegistry& metrics() { return metrics_; }
  Logger& logger() { return *logger_; }

 private:
  absl::Status StartLocked();
  void StopModules();
  void StopSubscriptions();

  ServerOptions options_;
  std::unique_ptr<Logger> logger_;
  MetricsRegistry metrics_;
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<Authenticator> auth_;
  // Shared by every module's live streams (ServiceEnvironment::subscriptions).
  std::unique_ptr<SubscriptionHub> subscriptions_;
  std::vector<std::unique_ptr<ServiceModule>> modules_;
  size_t initialised_modules_ = 0;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace rb::services

#endif  // RB_SERVICES_SERVER_H_
