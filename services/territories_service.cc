// Copyright: the Résorption-bidonvilles data service authors.
#include "services/territories_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "domain/geo.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;
namespace geo = rb::domain::geo;

namespace {

constexpr int kDefaultPageSize = 10;
constexpr int kMaxPageSize = 100;

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void ToProto(const geo::Commune& c, v1::Commune* out) {
  out->set_code(std::string(c.code));
  out->set_name(std::string(c.name));
  out->set_population(c.population);
  out->set_is_district(c.is_district);
  out->set_parent_code(std::string(c.parent));
  v1::Territory* t = out->mutable_territory();
  t->set_city_code(std::string(c.code));
  t->set_city_name(std::string(c.name));
  t->set_epci_code(std::string(c.epci));
  t->set_departement_code(std::string(c.departement));
  t->set_region_code(std::string(c.region));
}

absl::StatusOr<const geo::Commune*> Find(const std::string& code, const char* field) {
  if (code.size() != 5) {
    return BadRequestError("the request is invalid",
                           {{field, "must be an INSEE commune code of 5 characters"}});
  }
  const geo::Commune* c = geo::Geography::Get().FindCommune(code);
  if (c == nullptr) return absl::NotFoundError(absl::StrCat("unknown commune code ", code));
  return c;
}

}  // namespace

absl::Status TerritoriesService::DoGetCommune(const v1::GetCommuneRequest& req, v1::Commune* resp) {
  absl::StatusOr<const geo::Commune*> c = Find(req.code(), "code");
  if (!c.ok()) return c.status();
  ToProto(**c, resp);
  return absl::OkStatus();
}

absl::Status TerritoriesService::DoSearchCommunes(const v1::SearchCommunesRequest& req,
                                                  v1::SearchCommunesResponse* resp) {
  std::vector<FieldViolation> violations;
  if (req.prefix().empty()) violations.push_back({"prefix", "must not be empty"});
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    violations.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxPageSize)});
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  const size_t limit = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
  for (const geo::Commune* c : geo::Geography::Get().SearchCommunes(req.prefix(), limit)) {
    ToProto(*c, resp->add_communes());
  }
  return absl::OkStatus();
}

absl::Status TerritoriesService::DoGetTerritory(const v1::GetTerritoryRequest& req,
                                                v1::TerritoryInfo* resp) {
  absl::StatusOr<const geo::Commune*> c = Find(req.city_code(), "city_code");
  if (!c.ok()) return c.status();
  const geo::Geography& g = geo::Geography::Get();
  ToProto(**c, resp->mutable_commune());
  if (const geo::Epci* e = g.FindEpci((*c)->epci); e != nullptr) {
    resp->set_epci_name(std::string(e->name));
    resp->set_epci_type(std::string(e->type));
  }
  if (const geo::Departement* d = g.FindDepartement((*c)->departement); d != nullptr) {
    resp->set_departement_name(std::string(d->name));
  }
  if (const geo::Region* r = g.FindRegion((*c)->region); r != nullptr) {
    resp->set_region_name(std::string(r->name));
  }
  return absl::OkStatus();
}

absl::Status TerritoriesService::Check(grpc::CallbackServerContext* ctx, const char* method) const {
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, absl::StrCat("/resorption.v1.Territories/", method));
  if (!access.ok()) return access.status();
  return access->CheckAggregates();
}

grpc::ServerUnaryReactor* TerritoriesService::GetCommune(grpc::CallbackServerContext* ctx,
                                                         const v1::GetCommuneRequest* req,
                                                         v1::Commune* resp) {
  if (absl::Status s = Check(ctx, "GetCommune"); !s.ok()) return Reply(ctx, s);
  return Reply(ctx, DoGetCommune(*req, resp));
}
grpc::ServerUnaryReactor* TerritoriesService::SearchCommunes(grpc::CallbackServerContext* ctx,
                                                             const v1::SearchCommunesRequest* req,
                                                             v1::SearchCommunesResponse* resp) {
  if (absl::Status s = Check(ctx, "SearchCommunes"); !s.ok()) return Reply(ctx, s);
  return Reply(ctx, DoSearchCommunes(*req, resp));
}
grpc::ServerUnaryReactor* TerritoriesService::GetTerritory(grpc::CallbackServerContext* ctx,
                                                           const v1::GetTerritoryRequest* req,
                                                           v1::TerritoryInfo* resp) {
  if (absl::Status s = Check(ctx, "GetTerritory"); !s.ok()) return Reply(ctx, s);
  return Reply(ctx, DoGetTerritory(*req, resp));
}

absl::Status TerritoriesModule::Init(const ServiceEnvironment& env) {
  geo::Geography::Get();  // build the index now rather than on the first call
  service_ = std::make_unique<TerritoriesService>(env.auth, engine_.get());
  return absl::OkStatus();
}

}  // namespace rb::services
