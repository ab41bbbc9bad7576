#include "services/analytics_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "analytics/export.h"
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
  if (s.state == JobState::kDone) {
    *out->mutable_result() = s.result;
    if (!include_rows) out->mutable_result()->clear_rows();
  }
}

}  // namespace

grpc::ServerUnaryReactor* AnalyticsService::SubmitProjection(
    grpc::CallbackServerContext* ctx, const v1::SubmitProjectionRequest* req,
    v1::ProjectionJob* resp) {
  absl::StatusOr<std::string> id;
  switch (req->specification_case()) {
    case v1::SubmitProjectionRequest::kSpecText:
      id = jobs_->Submit(req->spec_text(), req->log_position());
      break;
    case v1::SubmitProjectionRequest::kSpec:
      id = jobs_->Submit(req->spec(), req->log_position());
      break;
    default:
      id = BadRequestError("the request is invalid",
                           {{"specification", "give spec_text or spec"}});
  }
  if (!id.ok()) return Reply(ctx, id.status());
  auto status = jobs_->Get(*id);
  if (status.ok()) ToProto(*status, false, resp);
  return Reply(ctx, status.status());
}

grpc::ServerUnaryReactor* AnalyticsService::GetProjectionJob(
    grpc::CallbackServerContext* ctx, const v1::GetProjectionJobRequest* req,
    v1::ProjectionJob* resp) {
  auto id = JobId(req->name());
  if (!id.ok()) return Reply(ctx, id.status());
  if (req->wait()) {
    // Leave a little of the deadline to answer; at most a minute per call.
    absl::Time deadline = std::min(absl::FromChrono(ctx->deadline()) - absl::Milliseconds(50),
                                   absl::Now() + absl::Minutes(1));
    jobs_->Wait(*id, deadline);
  }
  auto status = jobs_->Get(*id);
  if (status.ok()) ToProto(*status, req->include_rows(), resp);
  return Reply(ctx, status.status());
}

grpc::ServerUnaryReactor* AnalyticsService::ListProjectionJobs(
    grpc::CallbackServerContext* ctx, const v1::ListProjectionJobsRequest* req,
    v1::ListProjectionJobsResponse* resp) {
  for (const JobStatus& s : jobs_->List()) ToProto(s, false, resp->add_jobs());
  return Reply(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AnalyticsService::CancelProjectionJob(
    grpc::CallbackServerContext* ctx, const v1::CancelProjectionJobRequest* req,
    v1::ProjectionJob* resp) {
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
  auto id = JobId(req->name());
  if (!id.ok()) return Reply(ctx, id.status());
  auto status = jobs_->Get(*id);
  if (!status.ok()) return Reply(ctx, status.status());
  if (status->state != JobState::kDone) {
    return Reply(ctx, absl::FailedPreconditionError(absl::StrCat(
                          "job '", *id, "' is ", rb::analytics::JobStateName(status->state),
                          "; export once it is done")));
  }
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
      return Reply(ctx, BadRequestError("the request is invalid",
                                        {{"format", "EXPORT_FORMAT_CSV or EXPORT_FORMAT_JSON_LINES"}}));
  }
  return Reply(ctx, absl::OkStatus());
}

absl::Status AnalyticsModule::Init(const ServiceEnvironment& env) {
  jobs_ = std::make_unique<rb::analytics::JobManager>(env.store, rb::analytics::JobOptions{});
  service_ = std::make_unique<AnalyticsService>(jobs_.get());
  return absl::OkStatus();
}

}  // namespace rb::services
