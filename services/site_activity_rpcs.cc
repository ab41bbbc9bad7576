// Copyright: the Résorption-bidonvilles data service authors.
//
// Sites.ListActivity and Sites.WatchActivity (declared in sites_service.h; contract in
// resorption/v1/sites_service.proto and docs/api.md): the activity feed, read from the log itself.
// Both group the log's events into versions (one command on one stream) and hand each version to
// an ActivityBuilder (services/activity_feed.h), which decides what the reader sees of it.
//
// ListActivity reads the log backward in chunks from the published head, a page at a time.
// WatchActivity reads it forward from a position up to the published head (a version is complete
// there: one append is published whole), writes the activities one message each, then parks in
// the SubscriptionHub until the log grows, with a checkpoint on the hub's tick when the examined
// position moved.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/access_context.h"
#include "services/activity_feed.h"
#include "services/live_stream.h"
#include "services/sites_service.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
// Events one ListActivity call examines at most; past it the page ends early and its token goes
// on.
constexpr uint64_t kMaxExamined = 50'000;
// Events one read of the log covers (ListActivity) or examines (WatchActivity).
constexpr size_t kChunk = 512;
// Events one WatchActivity read examines at most before it writes a checkpoint, when none of them
// is an activity the reader sees.
constexpr uint64_t kMaxExaminedPerWrite = 50'000;
// The method named in audit records and in the access checks of WatchActivity.
constexpr char kWatchActivityRpc[] = "/resorption.v1.Sites/WatchActivity";

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Hands the activity of `version` (its events, oldest first) to `add` when the reader sees it.
template <typename Add>
absl::Status BuildInto(ActivityBuilder& builder, const std::vector<rb::es::RecordedEvent>& version,
                       Add add) {
  absl::StatusOr<std::optional<v1::Activity>> activity = builder.Build(version);
  if (!activity.ok()) return activity.status();
  if (activity->has_value()) add(**std::move(activity));
  return absl::OkStatus();
}

// The first position to read so that the stream holds every version ending after `after`: the
// first event of the version holding position after + 1 (a version may start at or before
// `after` when `after` is not a version's end), or after + 1. `after` is at most the head.
absl::StatusOr<uint64_t> FirstPositionAfter(const rb::es::EventStore& store, uint64_t after) {
  if (after == 0 || after >= store.GetHead().position) return after + 1;
  absl::StatusOr<rb::es::RecordedEvent> later = store.ReadEvent(after + 1);
  if (!later.ok()) return later.status();
  uint64_t first = after + 1;
  while (first > 1) {
    absl::StatusOr<rb::es::ReadAllResult> chunk =
        store.ReadAllBackward(first - 1, kChunk, rb::es::LogFilter());
    if (!chunk.ok()) return chunk.status();
    for (rb::es::RecordedEvent& e : chunk->events) {  // newest first
      if (!SameActivityVersion(e, *later)) return first;
      first = e.position;
      *later = std::move(e);
    }
    if (chunk->events.empty()) break;
  }
  return first;
}

// A WatchActivity call refused before it started.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::WatchActivityResponse> {
 public:
  explicit RefusedWatch(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// One WatchActivity call: reads the log forward up to its published head, writes the activities
// one message each, checkpoints, and waits for the log to grow (LiveStream).
class WatchActivityReactor final : public LiveStream<v1::WatchActivityResponse> {
 public:
  // Streams the activities of the versions starting at `first` or later (`first` starts a
  // version, or is past the head).
  // `ctx` and `auth` (nullptr when authentication is off) outlive the call; `access` is the
  // caller's as the call starts.
  WatchActivityReactor(SubscriptionHub* hub, const grpc::CallbackServerContext* ctx,
                       Authenticator* auth, CallAccess access, ActivityBuilder::Sources sources,
                       const v1::WatchActivityRequest& req, uint64_t first)
      : LiveStream(hub),
        ctx_(ctx),
        auth_(auth),
        store_(sources.store),
        access_(std::move(access)),
        builder_(access_, sources, req.territory(), req.kinds()),
        next_(first),
        reported_(first - 1) {
    Start();
  }

 private:
  Step Advance(bool tick) override {
    // Up to the published head only: the events of an append being written may not all be
    // there yet, nor in the aggregates.
    const uint64_t head = store_->GetHead().position;
    if (outbox_.empty() && next_ <= head) {
      if (absl::Status s = ReadUpTo(head); !s.ok()) return Step::End(ToGrpcStatus(s));
      // A share of the log examined without an activity for this reader: tell how far.
      if (outbox_.empty() && next_ <= head) return Checkpoint(head, false);
    }
    if (!outbox_.empty()) {
      *in_flight_.mutable_activity() = std::move(outbox_.front());
      outbox_.pop_front();
      reported_ = in_flight_.activity().position();
      return Step::Write(&in_flight_);
    }
    if (!caught_up_sent_ || (tick && Examined() != reported_)) {
      caught_up_sent_ = true;
      return Checkpoint(head, true);
    }
    return Step::WaitFor(next_);
  }

  grpc::Status Closing() override {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("the server is shutting down; resume after position ", reported_));
  }

  // Every version ending at or before this position was examined.
  uint64_t Examined() const { return pending_.empty() ? next_ - 1 : pending_.front().position - 1; }

  // Reads the log from next_ up to `head`, until it meets activities the reader sees (into
  // outbox_) or has examined kMaxExaminedPerWrite events. The head ends the last version.
  absl::Status ReadUpTo(uint64_t head) {
    // The caller's rights as they are now: a stream outlives the token it was opened with, so a
    // revoked token or a deactivated user ends it (with the error a new call would get), and a
    // changed role or scope applies from the next events read.
    absl::StatusOr<CallAccess> now = ActivityAccess(*ctx_, auth_, kWatchActivityRpc);
    if (!now.ok()) return now.status();
    access_ = *std::move(now);  // the builder reads it by reference; it keeps no state of it
    const rb::es::LogFilter filter = ActivityEvents();
    uint64_t examined = 0;
    std::vector<std::vector<rb::es::RecordedEvent>> complete;
    while (next_ <= head && outbox_.empty() && examined < kMaxExaminedPerWrite) {
      const size_t window = static_cast<size_t>(std::min<uint64_t>(head - next_ + 1, kChunk));
      absl::StatusOr<rb::es::ReadAllResult> r =
          store_->ScanAll(next_, filter, window, [&](const rb::es::RecordedEvent& e) {
            if (!pending_.empty() && !SameActivityVersion(pending_.back(), e)) {
              complete.push_back(std::move(pending_));
              pending_.clear();
            }
            pending_.push_back(e);
            return true;
          });
      if (!r.ok()) return r.status();
      if (r->next_position <= next_) {
        return absl::DataLossError(
            absl::StrCat("the log holds no event at position ", next_, " below its head ", head));
      }
      examined += r->next_position - next_;
      next_ = r->next_position;
      if (next_ > head && !pending_.empty()) {
        complete.push_back(std::move(pending_));
        pending_.clear();
      }
      for (const std::vector<rb::es::RecordedEvent>& version : complete) {
        absl::Status s =
            BuildInto(builder_, version, [&](v1::Activity a) { outbox_.push_back(std::move(a)); });
        if (!s.ok()) return s;
      }
      complete.clear();
    }
    // The next read sees the sites as they are then.
    return builder_.EndBatch();
  }

  Step Checkpoint(uint64_t head, bool caught_up) {
    v1::ActivityCheckpoint* cp = checkpoint_.mutable_checkpoint();
    cp->set_position(Examined());
    cp->set_head_position(head);
    cp->set_caught_up(caught_up);
    reported_ = Examined();
    return Step::Write(&checkpoint_);
  }

  const grpc::CallbackServerContext* const ctx_;
  Authenticator* const auth_;
  rb::es::EventStore* const store_;
  CallAccess access_;  // the caller's, as of the last read
  ActivityBuilder builder_;
  uint64_t next_;                               // next position to examine
  std::vector<rb::es::RecordedEvent> pending_;  // the version being gathered, oldest first
  std::deque<v1::Activity> outbox_;             // built, not written yet
  uint64_t reported_;  // the last position sent (an activity's or a checkpoint's)
  bool caught_up_sent_ = false;
  // One message in flight at a time: an activity, or a checkpoint.
  v1::WatchActivityResponse in_flight_;
  v1::WatchActivityResponse checkpoint_;
};

}  // namespace

absl::Status SitesService::DoListActivity(grpc::CallbackServerContext* ctx,
                                          const v1::ListActivityQuery& req,
                                          v1::ListActivityResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      ActivityAccess(*ctx, options_.auth, "/resorption.v1.Sites/ListActivity");
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  CheckActivityFilter(req.territory(), req.kinds(), violations);
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    violations.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxPageSize)});
  }
  int64_t since_us = 0;
  if (req.has_since()) {
    // google.protobuf.Timestamp's range, from 1970 on.
    if (req.since().seconds() < 0 || req.since().seconds() > 253'402'300'799 ||
        req.since().nanos() < 0 || req.since().nanos() > 999'999'999) {
      violations.push_back({"since", "must be a valid instant after 1970-01-01"});
    } else {
      since_us = req.since().seconds() * 1'000'000 + req.since().nanos() / 1000;
    }
  }
  // The first page starts at the published head: an event being appended is not in the
  // aggregates and change logs yet.
  const uint64_t head = store_->GetHead().position;
  uint64_t from = head;
  if (!req.page_token().empty()) {
    if (!absl::SimpleAtoi(req.page_token(), &from) || from == 0) {
      violations.push_back({"page_token", "is not a token returned by ListActivity"});
    }
    from = std::min(from, head);
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  const int page_size = req.page_size() == 0 ? kDefaultPageSize : req.page_size();

  ActivityBuilder builder(*access, {handler_, store_, &changelog_}, req.territory(), req.kinds());
  // The version being gathered (it may go on in the next chunk), newest first as read: the
  // builder takes it oldest first.
  std::vector<rb::es::RecordedEvent> pending;
  auto add_pending = [&]() -> absl::Status {
    std::reverse(pending.begin(), pending.end());
    absl::Status s = BuildInto(builder, pending,
                               [&](v1::Activity a) { *resp->add_activities() = std::move(a); });
    pending.clear();
    return s;
  };

  // The log is read unfiltered, so that one call examines at most kMaxExamined events whatever
  // else the log holds.
  const rb::es::LogFilter relevant = ActivityEvents();
  uint64_t examined = 0;
  uint64_t resume = 0;  // where the next page starts (0: the beginning was reached)
  bool done = false;
  while (!done && from > 0) {
    absl::StatusOr<rb::es::ReadAllResult> chunk =
        store_->ReadAllBackward(from, kChunk, rb::es::LogFilter());
    if (!chunk.ok()) return chunk.status();
    if (chunk->events.empty()) break;
    for (rb::es::RecordedEvent& e : chunk->events) {
      const bool matches = relevant.Matches(e);
      // Read backward: `e` comes just before the version's lowest event.
      if (!pending.empty() && matches && SameActivityVersion(e, pending.back())) {
        ++examined;
        pending.push_back(std::move(e));
        continue;
      }
      if (!pending.empty()) {
        // The version is complete: its first event is the lowest position read so far.
        const uint64_t below = pending.back().position - 1;
        if (absl::Status s = add_pending(); !s.ok()) return s;
        if (resp->activities_size() == page_size || examined >= kMaxExamined) {
          resume = below;
          done = true;
          break;
        }
      }
      if (e.recorded_at_us < since_us) {
        done = true;  // older than asked for (recording times never decrease along the log)
        break;
      }
      ++examined;
      if (!matches) {
        if (examined >= kMaxExamined) {
          resume = e.position - 1;
          done = true;
          break;
        }
        continue;
      }
      pending.push_back(std::move(e));
    }
    if (done) break;
    from = chunk->events.back().position - 1;
  }
  if (!done && !pending.empty()) {
    // The beginning of the log ends the last version.
    if (absl::Status s = add_pending(); !s.ok()) return s;
  }
  if (resume != 0) resp->set_next_page_token(absl::StrCat(resume));
  return builder.EndBatch();
}

grpc::ServerUnaryReactor* SitesService::ListActivity(grpc::CallbackServerContext* ctx,
                                                     const v1::ListActivityQuery* req,
                                                     v1::ListActivityResponse* resp) {
  return Reply(ctx, DoListActivity(ctx, *req, resp));
}

absl::StatusOr<uint64_t> SitesService::WatchStart(const v1::WatchActivityRequest& req) const {
  std::vector<FieldViolation> violations;
  CheckActivityFilter(req.territory(), req.kinds(), violations);
  if (req.from_head() && req.after_position() != 0) {
    violations.push_back({"after_position", "must be 0 when from_head is set"});
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  const uint64_t head = store_->GetHead().position;
  if (req.from_head()) return head + 1;
  if (req.after_position() > head) {
    return absl::OutOfRangeError(
        absl::StrCat("after_position ", req.after_position(), " is beyond the log head ", head));
  }
  return FirstPositionAfter(*store_, req.after_position());
}

grpc::ServerWriteReactor<v1::WatchActivityResponse>* SitesService::WatchActivity(
    grpc::CallbackServerContext* ctx, const v1::WatchActivityRequest* req) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return new RefusedWatch(s);
  absl::StatusOr<CallAccess> access = ActivityAccess(*ctx, options_.auth, kWatchActivityRpc);
  if (!access.ok()) return new RefusedWatch(access.status());
  absl::StatusOr<uint64_t> first = WatchStart(*req);
  if (!first.ok()) return new RefusedWatch(first.status());
  if (options_.subscriptions == nullptr) {
    return new RefusedWatch(absl::UnavailableError("this server does not serve live streams"));
  }
  return new WatchActivityReactor(options_.subscriptions, ctx, options_.auth, *std::move(access),
                                  {handler_, store_, &changelog_}, *req, *first);
}

}  // namespace rb::services
