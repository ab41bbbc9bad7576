// Copyright: the Résorption-bidonvilles data service authors.
//
// The Territories RPCs served by the `series` view: GetSeries and GetPeriodFlows (declared in
// territories_service.h; contracts in resorption/v1/territories_service.proto and docs/api.md).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "access/policy.h"
#include "domain/dates.h"
#include "projections/views/series.h"
#include "services/access_context.h"
#include "services/projections_module.h"
#include "services/sites_service.h"
#include "services/status_mapping.h"
#include "services/territories_service.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

constexpr int kMaxPoints = 10'000;

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void CheckDate(const v1::Date& date, bool required, const std::string& field,
               std::vector<FieldViolation>& violations) {
  if (rb::domain::IsEmptyDate(date)) {
    if (required) violations.push_back({field, "is required"});
    return;
  }
  if (!rb::domain::ToCivilDay(date) || date.year() < 1900 || date.year() > 2200) {
    violations.push_back({field, "must be a valid date between 1900 and 2200"});
  }
}

void CheckTerritory(const v1::TerritoryRef& t, std::vector<FieldViolation>& violations) {
  if (!v1::TerritoryLevel_IsValid(t.level())) {
    violations.push_back({"request.territory.level", "must be a known territory level"});
  } else if (t.code().empty() && t.level() != v1::TERRITORY_LEVEL_UNSPECIFIED &&
             t.level() != v1::TERRITORY_LEVEL_NATION) {
    violations.push_back({"request.territory.code", "is required for this territory level"});
  }
}

// from <= to when both are valid.
void CheckRange(const v1::Date& from, const v1::Date& to, std::vector<FieldViolation>& violations) {
  auto f = rb::domain::ToCivilDay(from);
  auto t = rb::domain::ToCivilDay(to);
  if (f && t && *f > *t) violations.push_back({"request.to", "must not be before request.from"});
}

// The engine, once the series view includes `min_position` (bounded by the call's deadline).
absl::StatusOr<const rb::proj::ProjectionEngine*> SeriesEngine(grpc::CallbackServerContext* ctx,
                                                               const EngineRef* engine,
                                                               uint64_t min_position) {
  if (engine == nullptr || engine->get() == nullptr) {
    return absl::UnavailableError("the series view is not served by this server");
  }
  if (absl::Status s = engine->WaitForPosition(rb::proj::views::kSeriesProjection, min_position,
                                               absl::FromChrono(ctx->deadline()));
      !s.ok()) {
    return s;
  }
  const rb::proj::ProjectionEngine* e = engine->get();
  if (e == nullptr) return absl::UnavailableError("the projections are not running");
  return e;
}

// Replaces every count from 1 to 4 by -1 ("suppressed") for aggregates-only readers, so that
// nobody can be singled out (docs/access.md); other readers get the counts unchanged.
void SuppressCounts(const CallAccess& access, google::protobuf::Message* m) {
  if (!access.AggregatesOnly()) return;
  const google::protobuf::Reflection* r = m->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const auto* f : fields) {
    using FD = google::protobuf::FieldDescriptor;
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*m, f); ++i) {
          SuppressCounts(access, r->MutableRepeatedMessage(m, f, i));
        }
      } else {
        SuppressCounts(access, r->MutableMessage(m, f));
      }
    } else if (f->cpp_type() == FD::CPPTYPE_INT64 && !f->is_repeated()) {
      if (!access.Count(r->GetInt64(*m, f)).has_value()) r->SetInt64(m, f, -1);
    } else if (f->cpp_type() == FD::CPPTYPE_INT32 && !f->is_repeated()) {
      if (!access.Count(r->GetInt32(*m, f)).has_value()) r->SetInt32(m, f, -1);
    }
  }
}

// Clears the counts of sites with an owner complaint, a justice procedure or police assistance
// unless the reader sees the procedures of every site of territory `t`, at every level: a
// commune's count, or the difference between two dates, names the sites (docs/access.md).
void WithholdJusticeCounts(const CallAccess& access, const v1::TerritoryRef& t,
                           v1::TerritoryStock* stock) {
  if (rb::access::CanSeeJustice(access.principal(), t)) return;
  stock->clear_sites_with_owner_complaint();
  stock->clear_sites_with_justice_procedure();
  stock->clear_sites_with_police_assistance();
}

}  // namespace

absl::Status TerritoriesService::DoGetSeries(grpc::CallbackServerContext* ctx,
                                             const v1::GetSeriesQuery& req,
                                             v1::SeriesResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, "/resorption.v1.Territories/GetSeries", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (absl::Status s = access->CheckAggregates(); !s.ok()) return s;
  const v1::SeriesRequest& r = req.request();
  std::vector<FieldViolation> violations;
  CheckTerritory(r.territory(), violations);
  if (r.dates().empty()) {
    CheckDate(r.from(), true, "request.from", violations);
    CheckDate(r.to(), true, "request.to", violations);
    CheckRange(r.from(), r.to(), violations);
  } else {
    if (r.dates_size() > kMaxPoints) {
      violations.push_back({"request.dates", "must list at most 10000 dates"});
    }
    for (int i = 0; i < r.dates_size() && i < kMaxPoints; ++i) {
      CheckDate(r.dates(i), true, absl::StrCat("request.dates[", i, "]"), violations);
    }
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  absl::StatusOr<const rb::proj::ProjectionEngine*> engine =
      SeriesEngine(ctx, engine_, req.min_position());
  if (!engine.ok()) return engine.status();
  absl::StatusOr<v1::SeriesResponse> series = rb::proj::views::SeriesQuery(*engine).Series(r);
  if (!series.ok()) {
    // The query's remaining checks (more than 10,000 monthly points) are the caller's to fix.
    if (absl::IsInvalidArgument(series.status())) {
      return BadRequestError("the request is invalid",
                             {{"request", std::string(series.status().message())}});
    }
    return series.status();
  }
  *resp = *std::move(series);
  for (v1::SeriesPoint& p : *resp->mutable_points()) {
    WithholdJusticeCounts(*access, r.territory(), p.mutable_stock());
  }
  SuppressCounts(*access, resp);
  return absl::OkStatus();
}

absl::Status TerritoriesService::DoGetPeriodFlows(grpc::CallbackServerContext* ctx,
                                                  const v1::GetPeriodFlowsQuery& req,
                                                  v1::SeriesPoint* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, auth_, "/resorption.v1.Territories/GetPeriodFlows", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (absl::Status s = access->CheckAggregates(); !s.ok()) return s;
  const v1::PeriodRequest& r = req.request();
  std::vector<FieldViolation> violations;
  CheckTerritory(r.territory(), violations);
  CheckDate(r.from(), true, "request.from", violations);
  CheckDate(r.to(), true, "request.to", violations);
  CheckRange(r.from(), r.to(), violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  absl::StatusOr<const rb::proj::ProjectionEngine*> engine =
      SeriesEngine(ctx, engine_, req.min_position());
  if (!engine.ok()) return engine.status();
  absl::StatusOr<v1::SeriesPoint> point = rb::proj::views::SeriesQuery(*engine).Period(r);
  if (!point.ok()) {
    if (absl::IsInvalidArgument(point.status())) {
      return BadRequestError("the request is invalid",
                             {{"request", std::string(point.status().message())}});
    }
    return point.status();
  }
  *resp = *std::move(point);
  WithholdJusticeCounts(*access, r.territory(), resp->mutable_stock());
  SuppressCounts(*access, resp);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* TerritoriesService::GetSeries(grpc::CallbackServerContext* ctx,
                                                        const v1::GetSeriesQuery* req,
                                                        v1::SeriesResponse* resp) {
  return Reply(ctx, DoGetSeries(ctx, *req, resp));
}

grpc::ServerUnaryReactor* TerritoriesService::GetPeriodFlows(grpc::CallbackServerContext* ctx,
                                                             const v1::GetPeriodFlowsQuery* req,
                                                             v1::SeriesPoint* resp) {
  return Reply(ctx, DoGetPeriodFlows(ctx, *req, resp));
}

}  // namespace rb::services
