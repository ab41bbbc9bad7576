// Copyright: the Résorption-bidonvilles data service authors.
//
// RpcObserver: a server interceptor that logs one JSON line per RPC (method, status code,
// duration, peer, request id) and records the count and latency of every RPC per method, for
// every service of the server (registered modules included) without code in the handlers.
//
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(std::make_unique<rb::services::RpcObserverFactory>(&logger, &metrics));
//   builder.experimental().SetInterceptorCreators(std::move(f));
//
// The request id is the client's `x-request-id` metadata when present, otherwise a generated
// one; it is sent back in the response's initial metadata under the same key.
#ifndef RB_SERVICES_RPC_OBSERVER_H_
#define RB_SERVICES_RPC_OBSERVER_H_

#include "grpcpp/support/server_interceptor.h"
#include "services/logging.h"
#include "services/metrics.h"

namespace rb::services {

class RpcObserverFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // Not owned; both must outlive the gRPC server.
  RpcObserverFactory(Logger* logger, MetricsRegistry* metrics)
      : logger_(logger), metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Logger* logger_;
  MetricsRegistry* metrics_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_RPC_OBSERVER_H_
