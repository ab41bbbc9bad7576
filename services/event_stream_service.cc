// Copyright: the Résorption-bidonvilles data service authors.
#include "services/event_stream_service.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/auth.h"
#include "services/live_stream.h"
#include "services/proto_convert.h"
#include "services/status_mapping.h"

namespace rb::services {
namespace v1 = resorption::v1;

namespace {

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;
constexpr uint32_t kDefaultBatch = 256;
constexpr size_t kMaxStreamIdBytes = 256;
constexpr size_t kMaxTypeBytes = 128;
constexpr size_t kMaxEventsPerAppend = 1000;

// DEADLINE_EXCEEDED / CANCELLED when the call should not start its work.
absl::Status CheckCall(grpc::CallbackServerContext* ctx) {
  if (ctx->IsCancelled()) return absl::CancelledError("the call was cancelled");
  if (ctx->deadline() < std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed before it started");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void CheckStreamId(const std::string& id, const std::string& field,
                   std::vector<FieldViolation>& violations) {
  if (id.empty()) {
    violations.push_back({field, "must not be empty"});
    return;
  }
  if (id.size() > kMaxStreamIdBytes) {
    violations.push_back({field, absl::StrCat("must be at most ", kMaxStreamIdBytes, " bytes")});
  }
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) {
      violations.push_back({field, "must be printable ASCII without spaces"});
      break;
    }
  }
}

bool IsValidDirection(v1::Direction d) {
  return d == v1::DIRECTION_UNSPECIFIED || d == v1::DIRECTION_FORWARD ||
         d == v1::DIRECTION_BACKWARD;
}

uint32_t PageSize(uint32_t requested, uint32_t def) {
  if (requested == 0) return def;
  return std::min(requested, kMaxPage);
}

// Appends events to `out` until the serialized size passes `max_bytes` (at least one event).
// Returns how many were added.
template <typename AddFn>
size_t AddBounded(const std::vector<rb::es::RecordedEvent>& events, size_t max_bytes, AddFn add) {
  size_t bytes = 0, n = 0;
  for (const rb::es::RecordedEvent& e : events) {
    size_t approx = e.payload.size() + e.type.size() + e.stream_id.size() + 256;
    if (n > 0 && bytes + approx > max_bytes) break;
    EventToProto(e, add());
    bytes += approx;
    ++n;
  }
  return n;
}

}  // namespace

EventStreamService::EventStreamService(rb::es::EventStore* store, SubscriptionHub* hub,
                                       MetricsRegistry* metrics, EventStreamOptions options)
    : store_(store), hub_(hub), options_(options) {
  appends_ = metrics->AddCounter("rb_appends_total", "Append calls acknowledged as durable.");
  appended_events_ = metrics->AddCounter("rb_appended_events_total", "Events appended.");
  append_sizes_ = metrics->AddHistogram("rb_append_events", "Events per acknowledged Append call.",
                                        {}, SizeBuckets());
  subscribers_ = metrics->AddGauge("rb_subscriptions_active", "Open Subscribe calls.");
  subscription_events_ =
      metrics->AddCounter("rb_subscription_events_sent_total", "Events sent to subscribers.");
}

// ---- Append ---------------------------------------------------------------------------------

absl::Status EventStreamService::PrepareAppend(const v1::AppendRequest& req,
                                               rb::es::AppendRequest& ar) const {
  std::vector<FieldViolation> violations;
  CheckStreamId(req.stream_id(), "stream_id", violations);
  if (req.events().empty()) violations.push_back({"events", "must hold at least one event"});
  if (static_cast<size_t>(req.events_size()) > kMaxEventsPerAppend) {
    violations.push_back(
        {"events", absl::StrCat("must hold at most ", kMaxEventsPerAppend, " events per append")});
  }
  const v1::ExpectedRevision& expected = req.expected();
  if (!v1::ExpectedRevision::Kind_IsValid(expected.kind())) {
    violations.push_back({"expected.kind", "unknown kind"});
  }
  if (expected.kind() != v1::ExpectedRevision::KIND_EXACT && expected.revision() != 0) {
    violations.push_back({"expected.revision", "only meaningful with kind KIND_EXACT"});
  }
  ar.stream_id = req.stream_id();
  ar.command_id = req.command_id();
  ar.metadata = MetadataFromProto(req.metadata());
  ar.metadata.command_id = req.command_id();
  for (int i = 0; i < req.events_size(); ++i) {
    const v1::EventData& e = req.events(i);
    std::string field = absl::StrCat("events[", i, "]");
    if (e.type().empty()) violations.push_back({field + ".type", "must not be empty"});
    if (e.type().size() > kMaxTypeBytes) {
      violations.push_back(
          {field + ".type", absl::StrCat("must be at most ", kMaxTypeBytes, " bytes")});
    }
    if (e.has_valid_at() && !IsValidTimestamp(e.valid_at())) {
      violations.push_back({field + ".valid_at", "must be a valid timestamp (years 1 to 9999)"});
    }
    rb::es::EventData d;
    d.event_id = e.event_id();
    d.type = e.type();
    d.schema_version = e.schema_version() == 0 ? 1 : e.schema_version();
    d.valid_at_us = e.has_valid_at() ? TimestampToMicros(e.valid_at()) : 0;
    d.payload = e.payload();
    ar.events.push_back(std::move(d));
  }
  if (!violations.empty()) return BadRequestError("the append request is invalid", violations);
  switch (expected.kind()) {
    case v1::ExpectedRevision::KIND_NO_STREAM:
      ar.expected = rb::es::ExpectedRevision::NoStream();
      break;
    case v1::ExpectedRevision::KIND_STREAM_EXISTS:
      ar.expected = rb::es::ExpectedRevision::StreamExists();
      break;
    case v1::ExpectedRevision::KIND_EXACT:
      ar.expected = rb::es::ExpectedRevision::Exactly(expected.revision());
      break;
    default:
      ar.expected = rb::es::ExpectedRevision::Any();
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventStreamService::Append(grpc::CallbackServerContext* ctx,
                                                     const v1::AppendRequest* req,
                                                     v1::AppendResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "Append", std::string());
  rb::es::AppendRequest ar;
  if (s.ok()) s = PrepareAppend(*req, ar);
  if (!s.ok()) return Reply(ctx, s);
  // Answered from the durable completion: no thread waits for the group commit.
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const size_t events = ar.events.size();
  store_->AppendAsync(std::move(ar),
                      [this, reactor, resp, events](absl::StatusOr<rb::es::AppendResult> r) {
                        if (!r.ok()) return reactor->Finish(ToGrpcStatus(r.status()));
                        resp->set_first_position(r->first_position);
                        resp->set_last_position(r->last_position);
                        resp->set_stream_revision(r->stream_revision);
                        resp->set_replayed(r->replayed);
                        if (!r->replayed) {
                          appends_->Increment();
                          appended_events_->Increment(events);
                          append_sizes_->Observe(static_cast<double>(events));
                        }
                        reactor->Finish(grpc::Status::OK);
                      });
  return reactor;
}

// ---- ReadStream -----------------------------------------------------------------------------

absl::Status EventStreamService::DoReadStream(const v1::ReadStreamRequest& req,
                                              v1::ReadStreamResponse* resp) {
  std::vector<FieldViolation> violations;
  CheckStreamId(req.stream_id(), "stream_id", violations);
  if (!IsValidDirection(req.direction())) {
    violations.push_back({"direction", "unknown direction"});
  }
  if (!violations.empty()) return BadRequestError("the read request is invalid", violations);
  const bool backward = req.direction() == v1::DIRECTION_BACKWARD;
  const uint32_t limit = PageSize(req.limit(), kDefaultPage);
  uint64_t from = req.has_from_revision() ? req.from_revision() : (backward ? UINT64_MAX : 0);
  absl::StatusOr<std::vector<rb::es::RecordedEvent>> events = store_->ReadStream(
      req.stream_id(), from, backward ? rb::es::Direction::kBackward : rb::es::Direction::kForward,
      limit);
  if (!events.ok()) return events.status();
  size_t n = AddBounded(*events, options_.max_response_bytes, [&] { return resp->add_events(); });
  if (n == 0) {
    resp->set_end_of_stream(true);
    resp->set_next_revision(req.has_from_revision() ? req.from_revision() : 0);
    return absl::OkStatus();
  }
  const uint64_t last = (*events)[n - 1].revision;
  if (backward) {
    resp->set_end_of_stream(last == 0 || (n == events->size() && events->size() < limit));
    resp->set_next_revision(last == 0 ? 0 : last - 1);
  } else {
    resp->set_end_of_stream(n == events->size() && events->size() < limit);
    resp->set_next_revision(last + 1);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventStreamService::ReadStream(grpc::CallbackServerContext* ctx,
                                                         const v1::ReadStreamRequest* req,
                                                         v1::ReadStreamResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "ReadStream", req->stream_id());
  if (s.ok()) s = DoReadStream(*req, resp);
  return Reply(ctx, s);
}

// ---- ReadAll --------------------------------------------------------------------------------

absl::Status EventStreamService::DoReadAll(const v1::ReadAllRequest& req,
                                           v1::ReadAllResponse* resp) {
  if (!IsValidDirection(req.direction())) {
    return BadRequestError("the read request is invalid", {{"direction", "unknown direction"}});
  }
  const bool backward = req.direction() == v1::DIRECTION_BACKWARD;
  const uint32_t limit = PageSize(req.limit(), kDefaultPage);
  const rb::es::LogFilter filter = FilterFromProto(req.filter());
  absl::StatusOr<rb::es::ReadAllResult> r;
  if (backward) {
    uint64_t from = req.from_position() == 0 ? UINT64_MAX : req.from_position();
    r = store_->ReadAllBackward(from, limit, filter);
  } else {
    uint64_t from = std::max<uint64_t>(req.from_position(), 1);
    r = store_->ReadAll(from, limit, filter, options_.max_examined);
  }
  if (!r.ok()) return r.status();
  size_t n = AddBounded(r->events, options_.max_response_bytes, [&] { return resp->add_events(); });
  if (n < r->events.size()) {
    const uint64_t last = r->events[n - 1].position;
    resp->set_last_examined(last);
    resp->set_next_position(backward ? last - 1 : last + 1);
    resp->set_end_of_log(false);
  } else {
    resp->set_last_examined(r->last_examined);
    resp->set_next_position(r->next_position);
    resp->set_end_of_log(r->end_of_log);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventStreamService::ReadAll(grpc::CallbackServerContext* ctx,
                                                      const v1::ReadAllRequest* req,
                                                      v1::ReadAllResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "ReadAll", "log");
  if (s.ok()) s = DoReadAll(*req, resp);
  return Reply(ctx, s);
}

// ---- GetHead, GetStreamInfo, Verify -----------------------------------------------------------

grpc::ServerUnaryReactor* EventStreamService::GetHead(grpc::CallbackServerContext* ctx,
                                                      const v1::GetHeadRequest* req,
                                                      v1::GetHeadResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "GetHead", std::string());
  if (s.ok()) {
    rb::es::Head head = store_->GetHead();
    resp->set_position(head.position);
    resp->set_log_hash(rb::es::ToHex(head.log_hash));
    MicrosToTimestamp(head.recorded_at_us, resp->mutable_recorded_at());
  }
  return Reply(ctx, s);
}

grpc::ServerUnaryReactor* EventStreamService::GetStreamInfo(grpc::CallbackServerContext* ctx,
                                                            const v1::GetStreamInfoRequest* req,
                                                            v1::GetStreamInfoResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "GetStreamInfo", std::string());
  if (s.ok()) {
    std::vector<FieldViolation> violations;
    CheckStreamId(req->stream_id(), "stream_id", violations);
    if (!violations.empty()) s = BadRequestError("the request is invalid", violations);
  }
  if (s.ok()) {
    absl::StatusOr<rb::es::StreamInfo> info = store_->GetStreamInfo(req->stream_id());
    if (info.ok()) {
      resp->set_exists(info->exists);
      resp->set_last_revision(info->last_revision);
      resp->set_last_hash(info->exists ? rb::es::ToHex(info->last_hash) : "");
    } else {
      s = info.status();
    }
  }
  return Reply(ctx, s);
}

grpc::ServerUnaryReactor* EventStreamService::Verify(grpc::CallbackServerContext* ctx,
                                                     const v1::VerifyRequest* req,
                                                     v1::VerifyResponse* resp) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "Verify", std::string());
  if (s.ok()) {
    absl::StatusOr<rb::es::VerifyReport> report = store_->Verify();
    if (report.ok()) {
      resp->set_events_checked(report->events_checked);
      resp->set_streams_checked(report->streams_checked);
      resp->set_head_hash(rb::es::ToHex(report->head_hash));
    } else {
      s = report.status();
    }
  }
  return Reply(ctx, s);
}

// ---- Subscribe ------------------------------------------------------------------------------

// One Subscribe call: reads what follows next_ and sends it, or a checkpoint, or waits for the
// log to grow (LiveStream).
class SubscribeReactor final : public LiveStream<v1::SubscribeResponse> {
 public:
  SubscribeReactor(EventStreamService* service, const v1::SubscribeRequest& req)
      : LiveStream(service->hub_),
        service_(service),
        filter_(FilterFromProto(req.filter())),
        batch_(PageSize(req.max_batch_events(), kDefaultBatch)) {
    service_->subscribers_->Add(1);
    if (req.from_head()) {
      next_ = service_->store_->GetHead().position + 1;
    } else {
      next_ = std::max<uint64_t>(req.from_position(), 1);
    }
    Start();
  }

  // Finishes immediately with `status` (invalid request).
  SubscribeReactor(EventStreamService* service, const grpc::Status& status)
      : LiveStream(service->hub_), service_(service) {
    service_->subscribers_->Add(1);
    Refuse(status);
  }

 private:
  Step Advance(bool tick) override {
    // The events go straight from the store's scan into the reused response (no copy of the
    // batch as RecordedEvents, no new message per event).
    v1::EventBatch* batch = batch_response_.mutable_batch();
    auto* events = batch->mutable_events();
    const size_t max_bytes = service_->options_.max_response_bytes;
    size_t n = 0, bytes = 0;
    uint64_t refused = 0;  // position of an event left for the next batch (size bound)
    absl::StatusOr<rb::es::ReadAllResult> r = service_->store_->ScanAll(
        next_, filter_, service_->options_.max_examined, [&](const rb::es::RecordedEvent& e) {
          const size_t approx = e.payload.size() + e.type.size() + e.stream_id.size() + 256;
          if (n > 0 && bytes + approx > max_bytes) {
            refused = e.position;
            return false;
          }
          EventToProto(
              e, n < static_cast<size_t>(events->size()) ? events->Mutable(n) : events->Add());
          bytes += approx;
          return ++n < batch_;
        });
    if (!r.ok()) return Step::End(ToGrpcStatus(r.status()));
    if (n > 0) {
      // Only a shorter batch (the end of a catch-up) frees messages.
      if (static_cast<size_t>(events->size()) > n) {
        events->DeleteSubrange(static_cast<int>(n), events->size() - static_cast<int>(n));
      }
      next_ = refused != 0 ? refused : r->next_position;
      batch->set_next_position(next_);
      reported_ = next_;
      service_->subscription_events_->Increment(n);
      return Step::Write(&batch_response_);
    }
    if (r->next_position > next_) next_ = r->next_position;
    const uint64_t head = service_->hub_->head();
    if (!r->end_of_log) {
      // A sparse filter examined a full window without a match: tell the client how far.
      return Checkpoint(head, false);
    }
    if (!caught_up_sent_ || (tick && next_ != reported_)) {
      caught_up_sent_ = true;
      return Checkpoint(std::max(head, next_ - 1), true);
    }
    return Step::WaitFor(next_);
  }

  grpc::Status Closing() override {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the server is shutting down; resume from position ", next_));
  }

  void Ended() override { service_->subscribers_->Add(-1); }

  Step Checkpoint(uint64_t head, bool caught_up) {
    v1::Checkpoint* cp = checkpoint_response_.mutable_checkpoint();
    cp->set_next_position(next_);
    cp->set_head_position(head);
    cp->set_caught_up(caught_up);
    reported_ = next_;
    return Step::Write(&checkpoint_response_);
  }

  EventStreamService* const service_;
  const rb::es::LogFilter filter_;
  const size_t batch_ = kDefaultBatch;
  uint64_t next_ = 1;      // next position to examine
  uint64_t reported_ = 0;  // last next_position told to the client
  bool caught_up_sent_ = false;
  // Two messages, so that a checkpoint never frees the batch's events: they are overwritten in
  // place by the next batch, keeping their strings' capacity (one message in flight at a time).
  v1::SubscribeResponse batch_response_;
  v1::SubscribeResponse checkpoint_response_;
};

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventStreamService::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) {
  absl::Status s = CheckCall(ctx);
  if (s.ok() && auth_ != nullptr) s = auth_->AuthorizeRawLog(*ctx, "Subscribe", "log");
  if (s.ok() && req->from_head() && req->from_position() != 0) {
    s = BadRequestError("the subscribe request is invalid",
                        {{"from_position", "must be 0 when from_head is set"}});
  }
  if (!s.ok()) return new SubscribeReactor(this, ToGrpcStatus(s));
  return new SubscribeReactor(this, *req);
}

// ---- Module ---------------------------------------------------------------------------------

EventStreamModule::~EventStreamModule() { Stop(); }

absl::Status EventStreamModule::Init(const ServiceEnvironment& env) {
  if (env.subscriptions == nullptr) {
    return absl::FailedPreconditionError("subscriptions need the server's SubscriptionHub");
  }
  store_ = env.store;
  service_ = std::make_unique<EventStreamService>(store_, env.subscriptions, env.metrics, options_);
  service_->set_authenticator(env.auth);
  Histogram* batches = env.metrics->AddHistogram(
      "rb_group_commit_batch_events",
      "Events made durable per group-commit batch (one WriteBatch, one sync).", {}, SizeBuckets());
  Gauge* head = env.metrics->AddGauge("rb_log_head_position", "Last position of the log.");
  head->Set(static_cast<int64_t>(store_->GetHead().position));
  auto last = std::make_shared<std::atomic<uint64_t>>(store_->GetHead().position);
  listener_id_ = store_->AddHeadListener([batches, head, last](uint64_t position) {
    uint64_t before = last->exchange(position);
    if (position > before) batches->Observe(static_cast<double>(position - before));
    head->Set(static_cast<int64_t>(position));
  });
  listening_ = true;
  return absl::OkStatus();
}

void EventStreamModule::Stop() {
  if (listening_) {
    store_->RemoveHeadListener(listener_id_);
    listening_ = false;
  }
}

}  // namespace rb::services
