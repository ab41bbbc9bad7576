// Copyright: the Résorption-bidonvilles data service authors.
#include "services/rpc_observer.h"

#include <atomic>
#include <chrono>
#include <string>

#include "absl/strings/str_format.h"
#include "grpcpp/server_context.h"

namespace rb::services {
namespace {

using grpc::experimental::InterceptionHookPoints;

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t boot =
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return absl::StrFormat("%012x-%08x", boot & 0xffffffffffffULL, counter.fetch_add(1) + 1);
}

// "/resorption.v1.EventStream/Append" -> "resorption.v1.EventStream", "Append".
void SplitMethod(const char* full, std::string& service, std::string& method) {
  std::string s = full != nullptr ? full : "";
  size_t slash = s.rfind('/');
  if (slash == std::string::npos || slash == 0) {
    service = "";
    method = s;
    return;
  }
  service = s.substr(1, slash - 1);
  method = s.substr(slash + 1);
}

class RpcObserver : public grpc::experimental::Interceptor {
 public:
  RpcObserver(grpc::experimental::ServerRpcInfo* info, Logger* logger, MetricsRegistry* metrics)
      : info_(info), logger_(logger), metrics_(metrics), start_(std::chrono::steady_clock::now()) {
    SplitMethod(info->method(), service_, method_);
  }

  ~RpcObserver() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto it = md->find("x-request-id");
        if (it != md->end()) request_id_.assign(it->second.data(), it->second.size());
      }
      if (request_id_.empty()) request_id_ = NewRequestId();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      auto* md = methods->GetSendInitialMetadata();
      if (md != nullptr && !request_id_.empty()) md->emplace("x-request-id", request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      message_ = status.error_message();
      Record(status.error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const std::string code_name = CodeName(code);
    metrics_
        ->AddCounter("rb_rpc_requests_total", "RPCs finished, by method and status code.",
                     {{"service", service_}, {"method", method_}, {"code", code_name}})
        ->Increment();
    metrics_
        ->AddHistogram("rb_rpc_duration_seconds", "RPC duration from receipt to status, by method.",
                       {{"service", service_}, {"method", method_}}, LatencyBuckets())
        ->Observe(seconds);
    const bool failed = code != grpc::StatusCode::OK && code != grpc::StatusCode::CANCELLED;
    const bool server_fault = code == grpc::StatusCode::INTERNAL ||
                              code == grpc::StatusCode::DATA_LOSS ||
                              code == grpc::StatusCode::UNKNOWN;
    LogLevel level = server_fault ? LogLevel::kError
                     : failed     ? LogLevel::kWarning
                                  : LogLevel::kInfo;
    if (service_ == "grpc.health.v1.Health" && !failed) level = LogLevel::kDebug;
    if (!logger_->Enabled(level)) return;
    LogLine line(logger_, level, "rpc");
    line.Str("service", service_)
        .Str("method", method_)
        .Str("code", code_name)
        .Num("duration_ms", seconds * 1e3)
        .Str("request_id", request_id_);
    if (info_->server_context() != nullptr) line.Str("peer", info_->server_context()->peer());
    if (failed) line.Str("message", message_);
  }

  static std::string CodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED"};
    int i = static_cast<int>(code);
    return i >= 0 && i < 17 ? kNames[i] : std::to_string(i);
  }

  grpc::experimental::ServerRpcInfo* info_;
  Logger* logger_;
  MetricsRegistry* metrics_;
  std::chrono::steady_clock::time_point start_;
  std::string service_, method_, request_id_, message_;
  bool recorded_ = false;
};

}  // namespace

grpc::experimental::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcObserver(info, logger_, metrics_);
}

}  // namespace rb::services
