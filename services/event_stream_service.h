// Copyright: the Résorption-bidonvilles data service authors.
//
// EventStreamService: the resorption.v1.EventStream gRPC service (callback API) over an
// rb::es::EventStore. Unary RPCs run on gRPC's callback threads through DefaultReactor();
// Subscribe has one reactor per call that never blocks a thread while waiting: caught-up
// subscribers park in a SubscriptionHub and are woken by the store's head listener.
//
//   rb::services::EventStreamModule module;   // a ServiceModule; see service_module.h
//   // or directly:
//   rb::services::SubscriptionHub hub(store, absl::Seconds(1));
//   hub.Start();
//   rb::services::EventStreamService service(store, &hub, &metrics, {});
//   builder.RegisterService(&service);
//
// Input errors are INVALID_ARGUMENT with a google.rpc.BadRequest listing every violation; store
// errors go through ToGrpcStatus (status_mapping.h). A call whose deadline has passed or that
// was cancelled does no work.
#ifndef RB_SERVICES_EVENT_STREAM_SERVICE_H_
#define RB_SERVICES_EVENT_STREAM_SERVICE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "services/metrics.h"
#include "services/service_module.h"
#include "services/subscription_hub.h"

namespace rb::services {

struct EventStreamOptions {
  // Largest serialized page of a read or batch of a subscription, in bytes (at least one event
  // is always sent). Below gRPC's default 4 MiB message limit of clients.
  size_t max_response_bytes = 3 << 20;
  // Events examined by one ReadAll page or one subscription read with a sparse filter.
  size_t max_examined = 100'000;
  // Period of the checkpoints sent to caught-up subscribers whose position moved. The server's
  // SubscriptionHub ticks at this period (services/server.h).
  absl::Duration checkpoint_interval = absl::Seconds(1);
};

class Authenticator;

class EventStreamService final : public resorption::v1::EventStream::CallbackService {
 public:
  // Nothing is owned; everything must outlive the service.
  EventStreamService(rb::es::EventStore* store, SubscriptionHub* hub, MetricsRegistry* metrics,
                     EventStreamOptions options);

  // Every call then needs the raw-log right (Authenticator::AuthorizeRawLog); reads of events
  // are recorded in the audit trail. Without one (nullptr), calls are not checked.
  void set_authenticator(Authenticator* auth) { auth_ = auth; }

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* ctx,
                                   const resorption::v1::AppendRequest* req,
                                   resorption::v1::AppendResponse* resp) override;
  grpc::ServerUnaryReactor* ReadStream(grpc::CallbackServerContext* ctx,
                                       const resorption::v1::ReadStreamRequest* req,
                                       resorption::v1::ReadStreamResponse* resp) override;
  grpc::ServerUnaryReactor* ReadAll(grpc::CallbackServerContext* ctx,
                                    const resorption::v1::ReadAllRequest* req,
                                    resorption::v1::ReadAllResponse* resp) override;
  grpc::ServerWriteReactor<resorption::v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* ctx, const resorption::v1::SubscribeRequest* req) override;
  grpc::ServerUnaryReactor* GetHead(grpc::CallbackServerContext* ctx,
                                    const resorption::v1::GetHeadRequest* req,
                                    resorption::v1::GetHeadResponse* resp) override;
  grpc::ServerUnaryReactor* GetStreamInfo(grpc::CallbackServerContext* ctx,
                                          const resorption::v1::GetStreamInfoRequest* req,
                                          resorption::v1::GetStreamInfoResponse* resp) override;
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx,
                                   const resorption::v1::VerifyRequest* req,
                                   resorption::v1::VerifyResponse* resp) override;

  // The work behind each unary RPC, without gRPC (also used by tests).
  // Checks a raw append and converts it (INVALID_ARGUMENT naming every bad field).
  absl::Status PrepareAppend(const resorption::v1::AppendRequest& req,
                             rb::es::AppendRequest& ar) const;
  absl::Status DoReadStream(const resorption::v1::ReadStreamRequest& req,
                            resorption::v1::ReadStreamResponse* resp);
  absl::Status DoReadAll(const resorption::v1::ReadAllRequest& req,
                         resorption::v1::ReadAllResponse* resp);

 private:
  friend class SubscribeReactor;
  rb::es::EventStore* const store_;
  Authenticator* auth_ = nullptr;
  SubscriptionHub* const hub_;
  const EventStreamOptions options_;
  Counter* appends_;
  Counter* appended_events_;
  Histogram* append_sizes_;
  Gauge* subscribers_;
  Counter* subscription_events_;
};

// The EventStream service as a ServiceModule: owns the service, whose subscriptions park in the
// server's hub (ServiceEnvironment::subscriptions; FAILED_PRECONDITION from Init without one), and
// records the group-commit batch sizes (events per durable batch) and the head position from the
// store's head listener.
class EventStreamModule final : public ServiceModule {
 public:
  explicit EventStreamModule(EventStreamOptions options = {}) : options_(options) {}
  ~EventStreamModule() override;
  std::string name() const override { return "event_stream"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }
  void Stop() override;

 private:
  EventStreamOptions options_;
  rb::es::EventStore* store_ = nullptr;
  std::unique_ptr<EventStreamService> service_;
  uint64_t listener_id_ = 0;
  bool listening_ = false;
};

}  // namespace rb::services

#endif  // RB_SERVICES_EVENT_STREAM_SERVICE_H_
