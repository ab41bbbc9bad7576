// Copyright: the Résorption-bidonvilles data service authors.
//
// Sites.ListActivity (declared in sites_service.h; contract in resorption/v1/sites_service.proto
// and docs/api.md): the activity feed, read backward from the log itself, in chunks from the
// published head, a page at a time. The events are grouped into versions (one command on one
// stream) and each version goes to an ActivityBuilder (services/activity_feed.h), which decides
// what the reader sees of it.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/access_context.h"
#include "services/activity_feed.h"
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
// Events one read of the log covers.
constexpr size_t kChunk = 512;

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

}  // namespace rb::services
