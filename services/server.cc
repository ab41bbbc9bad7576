// Copyright: the Résorption-bidonvilles data service authors.
#include "services/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "services/rpc_observer.h"

namespace rb::services {
namespace {

// Creates the data directory when absent and checks that files can be created in it.
absl::Status PrepareDataDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory \"", dir,
                     "\" cannot be created: ", ec ? ec.message() : "a file with that name exists"));
  }
  std::string probe = (fs::path(dir) / ".write-probe").string();
  int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory \"", dir, "\" is not writable: ", std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the TLS ", what, " file \"", path, "\": ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return absl::FailedPreconditionError(
        "TLS needs both a certificate (--tls-cert) and a private key (--tls-key)");
  }
  absl::StatusOr<std::string> cert = ReadFile(o.tls_cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(o.tls_key_file, "private key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

absl::Status WithContext(const absl::Status& s, absl::string_view context) {
  absl::Status out(s.code(), absl::StrCat(context, ": ", s.message()));
  s.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {
  logger_ = std::make_unique<Logger>(options_.log_level, options_.log_sink);
}

Server::~Server() { Shutdown(); }

int Server::metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }

absl::Status Server::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return absl::FailedPreconditionError("the server was already started");
  started_ = true;
  absl::Status s = StartLocked();
  if (!s.ok()) {
    logger_->Error("server.start_failed")
        .Str("code", absl::StatusCodeToString(s.code()))
        .Str("message", s.message());
    if (grpc_server_) grpc_server_->Shutdown();
    grpc_server_.reset();
    StopModules();
    StopSubscriptions();
    if (metrics_http_) metrics_http_->Stop();
    metrics_http_.reset();
    auth_.reset();
    if (store_) store_->Close();
    store_.reset();
    stopped_ = true;
    stopped_cv_.notify_all();
  }
  return s;
}

absl::Status Server::StartLocked() {
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(options_);
  if (!creds.ok()) return creds.status();

  if (absl::Status s = PrepareDataDir(options_.data_dir); !s.ok()) return s;
  rb::es::Options store_options = options_.store;
  store_options.sync = options_.sync;
  absl::StatusOr<std::unique_ptr<rb::es::EventStore>> store =
      rb::es::EventStore::Open(store_options, options_.data_dir);
  if (!store.ok()) {
    return WithContext(store.status(),
                       absl::StrCat("cannot open the data directory \"", options_.data_dir, "\""));
  }
  store_ = std::move(*store);
  auth_ = std::make_unique<Authenticator>(store_.get(), options_.auth);
  if (absl::Status s = auth_->Init(options_.data_dir); !s.ok()) {
    return WithContext(s, "cannot initialise authentication");
  }

  subscriptions_ =
      std::make_unique<SubscriptionHub>(store_.get(), options_.event_stream.checkpoint_interval);
  subscriptions_->Start();

  ServiceEnvironment env;
  env.store = store_.get();
  env.logger = logger_.get();
  env.metrics = &metrics_;
  env.sync = options_.sync;
  env.data_dir = options_.data_dir;
  env.auth = auth_.get();
  env.erasure = options_.erasure;
  env.subscriptions = subscriptions_.get();
  modules_.push_back(std::make_unique<EventStreamModule>(options_.event_stream));
  for (const ModuleFactory& factory : options_.modules) modules_.push_back(factory());
  for (auto& module : modules_) {
    absl::Status s = module->Init(env);
    if (!s.ok()) return WithContext(s, absl::StrCat("module ", module->name()));
    ++initialised_modules_;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, *creds, &port_);
  // Refuse to share a port with another process (gRPC enables SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  if (options_.max_threads > 0) {
    grpc::ResourceQuota quota("resorptiond");
    quota.SetMaxThreads(options_.max_threads);
    builder.SetResourceQuota(quota);
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<RpcObserverFactory>(logger_.get(), &metrics_));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  std::vector<std::string> service_names;
  for (auto& module : modules_) {
    for (grpc::Service* service : module->services()) builder.RegisterService(service);
    module->ConfigureBuilder(builder);
  }
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on \"", options_.listen_address,
                     "\": the address is in use, malformed, or not permitted (use HOST:PORT)"));
  }

  if (!options_.metrics_address.empty()) {
    metrics_http_ = std::make_unique<MetricsHttpServer>(&metrics_);
    if (absl::Status s = metrics_http_->Start(options_.metrics_address); !s.ok()) return s;
  }

  rb::es::Head head = store_->GetHead();
  logger_->Info("server.started")
      .Str("listen", options_.listen_address)
      .Int("port", port_)
      .Str("data_dir", options_.data_dir)
      .Bool("sync", options_.sync)
      .Bool("tls", !options_.tls_cert_file.empty())
      .Int("metrics_port", metrics_port())
      .Int("head_position", static_cast<int64_t>(head.position))
      .Int("modules", static_cast<int64_t>(modules_.size()))
      .Num(
          "startup_ms",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return absl::OkStatus();
}

void Server::StopModules() {
  for (size_t i = initialised_modules_; i-- > 0;) modules_[i]->Stop();
  initialised_modules_ = 0;
  modules_.clear();
}

void Server::StopSubscriptions() {
  if (subscriptions_) subscriptions_->Stop();
  subscriptions_.reset();
}

void Server::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_ || stopped_) return;
  const auto t0 = std::chrono::steady_clock::now();
  logger_->Info("server.stopping");
  if (grpc_server_) {
    if (auto* health = grpc_server_->GetHealthCheckService()) health->Shutdown();
    // Live streams end now (their parked calls are woken), so that the drain does not wait.
    if (subscriptions_) subscriptions_->Close();
    for (auto& module : modules_) module->BeginShutdown();
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(options_.shutdown_grace));
    grpc_server_->Wait();
    grpc_server_.reset();
  }
  StopModules();
  StopSubscriptions();
  if (metrics_http_) metrics_http_->Stop();
  uint64_t head = 0;
  if (store_) {
    store_->Close();
    head = store_->GetHead().position;
    store_.reset();
  }
  stopped_ = true;
  logger_->Info("server.stopped")
      .Int("head_position", static_cast<int64_t>(head))
      .Num(
          "shutdown_ms",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  stopped_cv_.notify_all();
}

void Server::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  stopped_cv_.wait(lock, [&] { return stopped_; });
}

}  // namespace rb::services
