// Copyright: the Résorption-bidonvilles data service authors.
//
// The Analytics gRPC service and its module: custom projections submitted by analysts, built in
// the background against a pinned log position (rb::analytics::JobManager).
//
//   options.modules.push_back([] { return std::make_unique<rb::services::AnalyticsModule>(); });
//
// Job resource names are "projectionJobs/<id>". Thread-safe.
#ifndef RB_SERVICES_ANALYTICS_SERVICE_H_
#define RB_SERVICES_ANALYTICS_SERVICE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "analytics/jobs.h"
#include "resorption/v1/analytics_service.grpc.pb.h"
#include "services/access_context.h"
#include "services/service_module.h"

namespace rb::services {

class AnalyticsService final : public resorption::v1::Analytics::CallbackService {
 public:
  // Nothing owned. `auth` null: calls act as the built-in administrator (services/auth.h).
  // Access (services/access_context.h): every call needs an authenticated principal that reads
  // statistics; submitting and cancelling need a national reading scope on sites (and the
  // restricted fields a specification names, everywhere); aggregates-only principals receive
  // results grouped by territory and date only, with counts from 1 to 4 suppressed (NaN).
  // Exports are audited (audit.export). The rows and exports of a job whose specification names
  // restricted fields go only to readers who see those fields everywhere, as for submitting.
  explicit AnalyticsService(rb::analytics::JobManager* jobs, Authenticator* auth = nullptr)
      : jobs_(jobs), auth_(auth) {}

  grpc::ServerUnaryReactor* SubmitProjection(grpc::CallbackServerContext* ctx,
                                             const resorption::v1::SubmitProjectionRequest* req,
                                             resorption::v1::ProjectionJob* resp) override;
  grpc::ServerUnaryReactor* GetProjectionJob(grpc::CallbackServerContext* ctx,
                                             const resorption::v1::GetProjectionJobRequest* req,
                                             resorption::v1::ProjectionJob* resp) override;
  grpc::ServerUnaryReactor* ListProjectionJobs(
      grpc::CallbackServerContext* ctx, const resorption::v1::ListProjectionJobsRequest* req,
      resorption::v1::ListProjectionJobsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelProjectionJob(
      grpc::CallbackServerContext* ctx, const resorption::v1::CancelProjectionJobRequest* req,
      resorption::v1::ProjectionJob* resp) override;
  grpc::ServerUnaryReactor* ExportProjectionResult(
      grpc::CallbackServerContext* ctx, const resorption::v1::ExportProjectionResultRequest* req,
      resorption::v1::ExportProjectionResultResponse* resp) override;

 private:
  // Authenticates the call and requires statistics reading.
  absl::StatusOr<CallAccess> Access(grpc::CallbackServerContext* ctx, const char* method) const;

  // PERMISSION_DENIED when the rows of job `id` would show restricted data the principal does
  // not see everywhere (its specification, or a group column, names a restricted field).
  absl::Status CheckResultRestrictedData(const CallAccess& access, const std::string& id,
                                         const resorption::v1::ProjectionResult& result) const;

  rb::analytics::JobManager* const jobs_;
  Authenticator* const auth_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> specs_;  // job id -> specification text; guarded by mu_
};

class AnalyticsModule final : public ServiceModule {
 public:
  std::string name() const override { return "analytics"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }
  void Stop() override { jobs_.reset(); }

 private:
  std::unique_ptr<rb::analytics::JobManager> jobs_;
  std::unique_ptr<AnalyticsService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ANALYTICS_SERVICE_H_
