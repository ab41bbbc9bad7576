// Copyright: the Résorption-bidonvilles data service authors.
//
// The Actions RPCs served by the `action_views` view: ListActions, GetActionAggregates and
// GetSiteActions (declared in actions_service.h; contracts in
// resorption/v1/actions_service.proto and docs/api.md).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "access/policy.h"
#include "projections/views/action_views.h"
#include "services/access_context.h"
#include "services/actions_service.h"
#include "services/projections_module.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The engine, once the action_views view includes `min_position` (bounded by the deadline).
absl::StatusOr<const rb::proj::ProjectionEngine*> ActionViewsEngine(
    grpc::CallbackServerContext* ctx, const EngineRef* engine, const rb::es::EventStore& store,
    uint64_t min_position) {
  if (engine == nullptr || engine->get() == nullptr) {
    return absl::UnavailableError("the action_views view is not served by this server");
  }
  if (absl::Status s = api::CheckMinPosition(store, min_position); !s.ok()) return s;
  if (absl::Status s = engine->WaitForPosition(rb::proj::views::kActionViewsProjection,
                                               min_position, absl::FromChrono(ctx->deadline()));
      !s.ok()) {
    return s;
  }
  const rb::proj::ProjectionEngine* e = engine->get();
  if (e == nullptr) return absl::UnavailableError("the projections are not running");
  return e;
}

// The action runs during `year`: started on or before its end, not ended before its start.
bool RunsDuring(const v1::Action& action, int32_t year) {
  const v1::ActionDetails& d = action.details();
  if (d.started_at().year() > year) return false;
  if (d.ended_at().year() != 0 && d.ended_at().year() < year) return false;
  return true;
}

bool HasTopic(const v1::Action& action, v1::ActionTopic topic) {
  const auto& topics = action.details().topics();
  return std::find(topics.begin(), topics.end(), topic) != topics.end();
}

void CheckYear(int32_t year, const std::string& field, std::vector<FieldViolation>& violations) {
  if (year != 0 && (year < 1900 || year > 2200)) {
    violations.push_back({field, "must be 0 (every year) or between 1900 and 2200"});
  }
}

}  // namespace

absl::Status ActionsService::DoListActions(grpc::CallbackServerContext* ctx,
                                           const v1::ListActionsQuery& req,
                                           v1::ListActionsResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Actions/ListActions",
                /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) {  // docs/access.md §9: no action-level read for observers
    return rb::access::Denied("reading actions (this account reads aggregates only)");
  }
  std::vector<FieldViolation> violations;
  if (!v1::ActionTopic_IsValid(req.topic())) {
    violations.push_back({"topic", "must be a known action topic"});
  }
  CheckYear(req.year(), "year", violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  absl::StatusOr<const rb::proj::ProjectionEngine*> engine =
      ActionViewsEngine(ctx, engine_, *store_, req.min_position());
  if (!engine.ok()) return engine.status();
  absl::StatusOr<v1::ListActionsResponse> all =
      rb::proj::views::ActionQuery(*engine).ListActions(req.request());
  if (!all.ok()) return all.status();
  for (v1::Action& action : *all->mutable_actions()) {
    if (req.topic() != v1::ACTION_TOPIC_UNSPECIFIED && !HasTopic(action, req.topic())) continue;
    if (req.year() != 0 && !RunsDuring(action, req.year())) continue;
    if (!access->CheckReadAction(action).ok()) continue;              // outside the reading scope
    if (absl::Status s = access->Redact(&action); !s.ok()) return s;  // finances, audited
    *resp->add_actions() = std::move(action);
  }
  return absl::OkStatus();
}

absl::Status ActionsService::DoGetActionAggregates(grpc::CallbackServerContext* ctx,
                                                   const v1::GetActionAggregatesQuery& req,
                                                   v1::ActionAggregatesResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Actions/GetActionAggregates",
                /*require_actor=*/true);
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  CheckYear(req.request().year(), "request.year", violations);
  if (!v1::ActionGrouping_IsValid(req.request().grouping())) {
    violations.push_back({"request.grouping", "must be DEPARTEMENT or TOPIC"});
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  absl::StatusOr<const rb::proj::ProjectionEngine*> engine =
      ActionViewsEngine(ctx, engine_, *store_, req.min_position());
  if (!engine.ok()) return engine.status();
  absl::StatusOr<v1::ActionAggregatesResponse> aggregates =
      rb::proj::views::ActionQuery(*engine).Aggregates(req.request());
  if (!aggregates.ok()) return aggregates.status();
  *resp = *std::move(aggregates);
  // Finances per departement are shown where the reader sees that departement's finances; sums
  // over every departement (grouping by topic) only to readers who see them nationally.
  const bool national_finances =
      rb::access::Resolve(access->principal(), rb::access::perm::kActionFinances,
                          rb::access::perm::kAccess)
          .national;
  for (v1::ActionAggregate& a : *resp->mutable_aggregates()) {
    const bool visible =
        !access->AggregatesOnly() &&
        (national_finances ||
         (!a.departement_code().empty() &&
          rb::access::CanSeeFinances(access->principal(), a.departement_code(), "")));
    if (!visible) a.clear_finances();
  }
  return absl::OkStatus();
}

absl::Status ActionsService::DoGetSiteActions(grpc::CallbackServerContext* ctx,
                                              const v1::GetSiteActionsQuery& req,
                                              v1::SiteActions* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Actions/GetSiteActions",
                /*require_actor=*/true);
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(req.name(), "sites", "name", violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  absl::StatusOr<const rb::proj::ProjectionEngine*> engine =
      ActionViewsEngine(ctx, engine_, *store_, req.min_position());
  if (!engine.ok()) return engine.status();
  // The site itself is read from its stream (always up to date).
  absl::StatusOr<v1::Site> site = handler_->LoadSite(id);
  if (!site.ok()) return site.status();
  if (site->status() == v1::SITE_STATUS_UNSPECIFIED || site->status() == v1::SITE_STATUS_ERASED) {
    return absl::NotFoundError(absl::StrCat("site ", req.name(), " does not exist"));
  }
  if (absl::Status s = access->CheckReadSite(*site); !s.ok()) return s;
  absl::StatusOr<v1::SiteActions> actions = rb::proj::views::ActionQuery(*engine).ForSite(id);
  if (!actions.ok()) return actions.status();
  *resp = *std::move(actions);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ActionsService::ListActions(grpc::CallbackServerContext* ctx,
                                                      const v1::ListActionsQuery* req,
                                                      v1::ListActionsResponse* resp) {
  return Reply(ctx, DoListActions(ctx, *req, resp));
}

grpc::ServerUnaryReactor* ActionsService::GetActionAggregates(
    grpc::CallbackServerContext* ctx, const v1::GetActionAggregatesQuery* req,
    v1::ActionAggregatesResponse* resp) {
  return Reply(ctx, DoGetActionAggregates(ctx, *req, resp));
}

grpc::ServerUnaryReactor* ActionsService::GetSiteActions(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSiteActionsQuery* req,
                                                         v1::SiteActions* resp) {
  return Reply(ctx, DoGetSiteActions(ctx, *req, resp));
}

}  // namespace rb::services
