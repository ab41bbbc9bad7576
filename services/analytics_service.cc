#include "services/analytics_service.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "access/audit.h"
#include "analytics/export.h"
#include "google/protobuf/text_format.h"
#include "services/access_context.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;
using rb::analytics::JobState;
using rb::analytics::JobStatus;

namespace {

constexpr char kPrefix[] = "projectionJobs/";

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::StatusOr<std::string> JobId(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0 || name.size() == sizeof(kPrefix) - 1) {
    return BadRequestError("the request is invalid",
                           {{"name", absl::StrCat("must be \"", kPrefix, "<id>\"")}});
  }
  return name.substr(sizeof(kPrefix) - 1);
}

void ToProto(const JobStatus& s, bool include_rows, v1::ProjectionJob* out) {
  out->set_name(kPrefix + s.id);
  out->set_spec_name(s.name);
  out->set_state(rb::analytics::JobStateName(s.state));
  out->set_target_position(s.target_position);
  out->set_position(s.position);
  out->set_error(s.error);
  out->set_live(s.live);
  if (s.state == JobState::kDone) {
    *out->mutable_result() = s.result;
    if (!include_rows) out->mutable_result()->clear_rows();
  }
}

constexpr char kRpc[] = "/resorption.v1.Analytics/";

// A specification may name restricted fields only when its author sees them everywhere: a custom
// projection runs over the whole log.
absl::Status CheckRestrictedPaths(const CallAccess& access, const std::string& spec_text) {
  namespace acc = rb::access;
  struct Restricted {
    const char* path;
    std::string_view entity;
  };
  static constexpr Restricted kRestricted[] = {
      {"justice", acc::perm::kShantytownJustice},
      {"police", acc::perm::kShantytownJustice},
      {"administrative_order", acc::perm::kShantytownJustice},
      {"insalubrity_order", acc::perm::kShantytownJustice},
      {"ownership", acc::perm::kShantytownOwner},
      {"finances", acc::perm::kActionFinances},
  };
  for (const Restricted& r : kRestricted) {
    if (spec_text.find(r.path) == std::string::npos) continue;
    if (!acc::Resolve(access.principal(), r.entity, acc::perm::kAccess).national) {
      return acc::Denied(
          absl::StrCat("a projection naming '", r.path,
                       "' (restricted data not visible to this account everywhere)"));
    }
  }
  return absl::OkStatus();
}

// What an aggregates-only principal may receive of a result: groups by territory and date only
// (a field group could single out one site), counts from 1 to 4 suppressed (NaN, an empty cell),
// no rows hash (the rows differ from the pinned result).
absl::Status ForAggregatesOnly(const CallAccess& access, v1::ProjectionResult* result) {
  if (!access.AggregatesOnly()) return absl::OkStatus();
  for (const std::string& column : result->group_columns()) {
    if (column.find('.') != std::string::npos) {
      return rb::access::Denied(absl::StrCat("a result grouped by '", column,
                                             "' (this account reads aggregates by "
                                             "territory and date only)"));
    }
  }
  for (v1::ResultRow& row : *result->mutable_rows()) {
    for (int i = 0; i < row.values_size(); ++i) {
      const double v = row.values(i);
      if (v != std::floor(v) || std::isnan(v)) continue;
      if (!access.Count(static_cast<int64_t>(v)).has_value()) {
        row.set_values(i, std::numeric_limits<double>::quiet_NaN());
      }
    }
  }
  result->clear_rows_hash();
  return absl::OkStatus();
}

}  // namespace

absl::Status AnalyticsService::CheckResultRestrictedData(const CallAccess& access,
                                                         const std::string& id,
                                                         const v1::ProjectionResult& result) const {
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = specs_.find(id);
    if (it != specs_.end()) text = it->second;
  }
  for (const std::string& column : result.group_columns()) absl::StrAppend(&text, "\n", column);
  return CheckRestrictedPaths(access, text);
}

absl::StatusOr<CallAccess> AnalyticsService::Access(grpc::CallbackServerContext* ctx,
                                                    const char* method) const {
  absl::StatusOr<CallAccess> access = AccessFor(*ctx, auth_, absl::StrCat(kRpc, method));
  if (!access.ok()) return access.status();
  if (absl::Status s = access->CheckAggregates(); !s.ok()) return s;
  return access;
}

grpc::ServerUnaryReactor* AnalyticsService::SubmitProjection(grpc::CallbackServerContext* ctx,
                                                             const v1::SubmitProjectionRequest* req,
                                                             v1::ProjectionJob* resp) {
  absl::StatusOr<CallAccess> access = Access(ctx, "SubmitProjection");
  if (!access.ok()) return Reply(ctx, access.status());
  if (absl::Status s = access->RequireNationalSiteReading("running a custom projection"); !s.ok()) {
    return Reply(ctx, s);
  }
  std::string spec_text = req->spec_text();
  if (req->has_spec()) google::protobuf::TextFormat::PrintToString(req->spec(), &spec_text);
  if (absl::Status s = CheckRestrictedPaths(*access, spec_text); !s.ok()) return Reply(ctx, s);
  absl::StatusOr<std::string> id;
  switch (req->specification_case()) {
    case v1::SubmitProjectionRequest::kSpecText:
      id = jobs_->Submit(req->spec_text(), req->log_position(), req->live());
      break;
    case v1::SubmitProjectionRequest::kSpec:
      id = jobs_->Submit(req->spec(), req->log_position(), req->live());
      break;
    default:
      id = BadRequestError("the request is invalid", {{"specification", "give spec_text or spec"}});
  }
  if (!id.ok()) return Reply(ctx, id.status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    specs_[*id] = spec_text;
  }
  auto status = jobs_->Get(*id);
  if (status.ok()) ToProto(*status, false, resp);
  return Reply(ctx, status.status());
}

grpc::ServerUnaryReactor* AnalyticsService::GetProjectionJob(grpc::CallbackServerContext* ctx,
                                                             const v1::GetProjectionJobRequest* req,
                                                             v1::ProjectionJob* resp) {
  absl::StatusOr<CallAccess> access = Access(ctx, "GetProjectionJob");
  if (!access.ok()) return Reply(ctx, access.status());
  auto id = JobId(req->name());
  if (!id.ok()) return Reply(ctx, id.status());
  if (req->wait()) {
    // Leave a little of the deadline to answer; at most a minute per call.
    absl::Time deadline = std::min(absl::FromChrono(ctx->deadline()) - absl::Milliseconds(50),
                                   absl::Now() + absl::Minutes(1));
    jobs_->Wait(*id, deadline);
  }
  auto status = jobs_->Get(*id);
  if (!status.ok()) return Reply(ctx, status.status());
  if (req->include_rows() && status->state == JobState::kDone) {
    if (absl::Status s = CheckResultRestrictedData(*access, *id, status->result); !s.ok()) {
      return Reply(ctx, s);
    }
  }
  ToProto(*status, req->include_rows(), resp);
  if (resp->has_result()) return Reply(ctx, ForAggregatesOnly(*access, resp->mutable_result()));
  return Reply(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AnalyticsService::ListProjectionJobs(
    grpc::CallbackServerContext* ctx, const v1::ListProjectionJobsRequest* req,
    v1::ListProjectionJobsResponse* resp) {
  absl::StatusOr<CallAccess> access = Access(ctx, "ListProjectionJobs");
  if (!access.ok()) return Reply(ctx, access.status());
  for (const JobStatus& s : jobs_->List()) ToProto(s, false, resp->add_jobs());
  return Reply(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AnalyticsService::CancelProjectionJob(
    grpc::CallbackServerContext* ctx, const v1::CancelProjectionJobRequest* req,
    v1::ProjectionJob* resp) {
  absl::StatusOr<CallAccess> access = Access(ctx, "CancelProjectionJob");
  if (!access.ok()) return Reply(ctx, access.status());
  if (absl::Status s = access->RequireNationalSiteReading("cancelling a custom projection");
      !s.ok()) {
    return Reply(ctx, s);
  }
  auto id = JobId(req->name());
  if (!id.ok()) return Reply(ctx, id.status());
  absl::Status s = jobs_->Cancel(*id);
  if (!s.ok()) return Reply(ctx, s);
  auto status = jobs_->Get(*id);
  if (status.ok()) ToProto(*status, false, resp);
  return Reply(ctx, status.status());
}

grpc::ServerUnaryReactor* AnalyticsService::ExportProjectionResult(
    grpc::CallbackServerContext* ctx, const v1::ExportProjectionResultRequest* req,
    v1::ExportProjectionResultResponse* resp) {
  absl::StatusOr<CallAccess> access = Access(ctx, "ExportProjectionResult");
  if (!access.ok()) return Reply(ctx, access.status());
  auto id = JobId(req->name());
  if (!id.ok()) return Reply(ctx, id.status());
  auto status = jobs_->Get(*id);
  if (!status.ok()) return Reply(ctx, status.status());
  if (status->state != JobState::kDone) {
    return Reply(ctx, absl::FailedPreconditionError(absl::StrCat(
                          "job '", *id, "' is ", rb::analytics::JobStateName(status->state),
                          "; export once it is done")));
  }
  if (absl::Status s = CheckResultRestrictedData(*access, *id, status->result); !s.ok()) {
    return Reply(ctx, s);
  }
  if (absl::Status s = ForAggregatesOnly(*access, &status->result); !s.ok()) return Reply(ctx, s);
  switch (req->format()) {
    case v1::EXPORT_FORMAT_CSV:
      resp->set_content(rb::analytics::ToCsv(status->result));
      resp->set_media_type("text/csv");
      resp->set_file_name(absl::StrCat(status->name, "-", status->target_position, ".csv"));
      break;
    case v1::EXPORT_FORMAT_JSON_LINES:
      resp->set_content(rb::analytics::ToJsonLines(status->result));
      resp->set_media_type("application/jsonl");
      resp->set_file_name(absl::StrCat(status->name, "-", status->target_position, ".jsonl"));
      break;
    default:
      return Reply(ctx,
                   BadRequestError("the request is invalid",
                                   {{"format", "EXPORT_FORMAT_CSV or EXPORT_FORMAT_JSON_LINES"}}));
  }
  return Reply(ctx,
               access->Audit(rb::access::kAuditExport, absl::StrCat("export:", resp->file_name())));
}

absl::Status AnalyticsModule::Init(const ServiceEnvironment& env) {
  jobs_ = std::make_unique<rb::analytics::JobManager>(env.store, rb::analytics::JobOptions{});
  service_ = std::make_unique<AnalyticsService>(jobs_.get(), env.auth);
  return absl::OkStatus();
}

}  // namespace rb::services
