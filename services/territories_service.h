// Copyright: the Résorption-bidonvilles data service authors.
//
// TerritoriesService: the resorption.v1.Territories gRPC service over the embedded geography
// (rb::domain::geo::Geography): commune look-up by INSEE code or by name prefix, and a commune's
// territory (EPCI, département, région with their names). No state, no storage.
//
//   rb::services::TerritoriesService territories;
//   builder.RegisterService(&territories);
//   // or as a module: TerritoriesModule, listed in services/modules.cc.
//
// Thread safety: every RPC may run concurrently.
#ifndef RB_SERVICES_TERRITORIES_SERVICE_H_
#define RB_SERVICES_TERRITORIES_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "services/access_context.h"
#include "services/service_module.h"

namespace rb::services {

class EngineRef;  // projections_module.h

class TerritoriesService final : public resorption::v1::Territories::CallbackService {
 public:
  // `auth` null: calls act as the built-in administrator. Every call needs an authenticated
  // principal that reads statistics (services/access_context.h). `engine` (not owned) serves the
  // series view (territory_series_rpcs.cc); null: those calls answer UNAVAILABLE.
  explicit TerritoriesService(Authenticator* auth = nullptr, const EngineRef* engine = nullptr)
      : auth_(auth), engine_(engine) {}

  grpc::ServerUnaryReactor* GetCommune(grpc::CallbackServerContext* ctx,
                                       const resorption::v1::GetCommuneRequest* req,
                                       resorption::v1::Commune* resp) override;
  grpc::ServerUnaryReactor* SearchCommunes(grpc::CallbackServerContext* ctx,
                                           const resorption::v1::SearchCommunesRequest* req,
                                           resorption::v1::SearchCommunesResponse* resp) override;
  grpc::ServerUnaryReactor* GetTerritory(grpc::CallbackServerContext* ctx,
                                         const resorption::v1::GetTerritoryRequest* req,
                                         resorption::v1::TerritoryInfo* resp) override;

  // Without gRPC. GetCommune / GetTerritory: INVALID_ARGUMENT for a code that is not 5
  // characters, NOT_FOUND for an unknown one. SearchCommunes: INVALID_ARGUMENT for an empty
  // prefix or a page_size outside 0..100.
  static absl::Status DoGetCommune(const resorption::v1::GetCommuneRequest& req,
                                   resorption::v1::Commune* resp);
  static absl::Status DoSearchCommunes(const resorption::v1::SearchCommunesRequest& req,
                                       resorption::v1::SearchCommunesResponse* resp);
  static absl::Status DoGetTerritory(const resorption::v1::GetTerritoryRequest& req,
                                     resorption::v1::TerritoryInfo* resp);

  grpc::ServerUnaryReactor* GetSeries(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::GetSeriesQuery* req,
                                      resorption::v1::SeriesResponse* resp) override;
  grpc::ServerUnaryReactor* GetPeriodFlows(grpc::CallbackServerContext* ctx,
                                           const resorption::v1::GetPeriodFlowsQuery* req,
                                           resorption::v1::SeriesPoint* resp) override;
  absl::Status DoGetSeries(grpc::CallbackServerContext* ctx,
                           const resorption::v1::GetSeriesQuery& req,
                           resorption::v1::SeriesResponse* resp);
  absl::Status DoGetPeriodFlows(grpc::CallbackServerContext* ctx,
                                const resorption::v1::GetPeriodFlowsQuery& req,
                                resorption::v1::SeriesPoint* resp);

 private:
  // UNAUTHENTICATED / PERMISSION_DENIED as AccessFor and CheckAggregates answer.
  absl::Status Check(grpc::CallbackServerContext* ctx, const char* method) const;

  Authenticator* const auth_;
  const EngineRef* const engine_;
};

class TerritoriesModule : public ServiceModule {
 public:
  // `engine`: the EngineRef of the server's ProjectionsModule; null: no series queries.
  explicit TerritoriesModule(std::shared_ptr<const EngineRef> engine = nullptr)
      : engine_(std::move(engine)) {}
  std::string name() const override { return "territories"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }

 private:
  std::shared_ptr<const EngineRef> engine_;
  std::unique_ptr<TerritoriesService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_TERRITORIES_SERVICE_H_
