// Copyright: the Résorption-bidonvilles data service authors.
//
// ActionsService: the resorption.v1.Actions gRPC service (callback API): each action command is a
// named RPC run through rb::domain::CommandHandler::HandleAction; GetAction serves the folded
// aggregate. Same contracts as SitesService (sites_service.h): ActorFromContext, WriteOptions,
// WriteResult, rich errors.
//
//   rb::domain::CommandHandler handler(store);
//   rb::services::ActionsService actions(&handler, store, {});
//   builder.RegisterService(&actions);
//
// GetAction leaves the finances out unless the actor holds the option access_action_finances.
// Thread safety: every RPC may run concurrently. Nothing is owned.
#ifndef RB_SERVICES_ACTIONS_SERVICE_H_
#define RB_SERVICES_ACTIONS_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "domain/command_handler.h"
#include "eventstore/event_store.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "services/service_module.h"
#include "services/sites_service.h"

namespace rb::services {

class ActionsService final : public resorption::v1::Actions::CallbackService {
 public:
  ActionsService(rb::domain::CommandHandler* handler, rb::es::EventStore* store,
                 SitesServiceOptions options);

#define RB_ACTIONS_RPC(Method)                                                 \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx,           \
                                   const resorption::v1::Method##Request* req, \
                                   resorption::v1::WriteResult* resp) override;
  RB_ACTIONS_RPC(CreateAction)
  RB_ACTIONS_RPC(UpdateAction)
  RB_ACTIONS_RPC(SetActionManagers)
  RB_ACTIONS_RPC(SetActionOperators)
  RB_ACTIONS_RPC(RecordActionIndicators)
  RB_ACTIONS_RPC(RecordActionFinances)
  RB_ACTIONS_RPC(PostActionComment)
  RB_ACTIONS_RPC(CloseAction)
#undef RB_ACTIONS_RPC

  grpc::ServerUnaryReactor* GetAction(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::GetActionRequest* req,
                                      resorption::v1::Action* resp) override;

  // The checks before every mutation, on the gRPC thread; the action id comes from `name`
  // ("actions/{id}"). Fills `command` and `context` as SitesService::Prepare does.
  absl::StatusOr<CallAccess> Prepare(grpc::CallbackServerContext* ctx, absl::string_view name,
                                     const resorption::v1::WriteOptions& options,
                                     resorption::v1::ActionCommand& command,
                                     rb::domain::Context& context) const;
  // Prepares, then hands the command to the handler without blocking and finishes the call from
  // the append's completion.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, absl::string_view name,
                                const resorption::v1::WriteOptions& options,
                                resorption::v1::ActionCommand cmd,
                                resorption::v1::WriteResult* resp);
  absl::Status DoGetAction(grpc::CallbackServerContext* ctx,
                           const resorption::v1::GetActionRequest& req,
                           resorption::v1::Action* resp);

  // The action_views view (action_query_rpcs.cc). UNAVAILABLE until ServeViews is called.
  grpc::ServerUnaryReactor* ListActions(grpc::CallbackServerContext* ctx,
                                        const resorption::v1::ListActionsQuery* req,
                                        resorption::v1::ListActionsResponse* resp) override;
  grpc::ServerUnaryReactor* GetActionAggregates(
      grpc::CallbackServerContext* ctx, const resorption::v1::GetActionAggregatesQuery* req,
      resorption::v1::ActionAggregatesResponse* resp) override;
  grpc::ServerUnaryReactor* GetSiteActions(grpc::CallbackServerContext* ctx,
                                           const resorption::v1::GetSiteActionsQuery* req,
                                           resorption::v1::SiteActions* resp) override;
  absl::Status DoListActions(grpc::CallbackServerContext* ctx,
                             const resorption::v1::ListActionsQuery& req,
                             resorption::v1::ListActionsResponse* resp);
  absl::Status DoGetActionAggregates(grpc::CallbackServerContext* ctx,
                                     const resorption::v1::GetActionAggregatesQuery& req,
                                     resorption::v1::ActionAggregatesResponse* resp);
  absl::Status DoGetSiteActions(grpc::CallbackServerContext* ctx,
                                const resorption::v1::GetSiteActionsQuery& req,
                                resorption::v1::SiteActions* resp);
  // The engine whose action_views the queries read (not owned). Call before serving.
  void ServeViews(const EngineRef* engine) { engine_ = engine; }

 private:
  rb::domain::CommandHandler* const handler_;
  rb::es::EventStore* const store_;
  // The scope checks of `command` on the action's current state `action`
  // (services/access_context.h), run by the command handler on the state it decides on.
  absl::Status Authorize(const CallAccess& access, const resorption::v1::ActionCommand& command,
                         const resorption::v1::Action& action) const;

  const SitesServiceOptions options_;
  const EngineRef* engine_ = nullptr;
};

class ActionsModule : public ServiceModule {
 public:
  // `engine`: the EngineRef of the server's ProjectionsModule; null: no view-backed queries.
  explicit ActionsModule(SitesServiceOptions options = {},
                         std::shared_ptr<const EngineRef> engine = nullptr)
      : options_(std::move(options)), engine_(std::move(engine)) {}
  std::string name() const override { return "actions"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }

 private:
  SitesServiceOptions options_;
  std::shared_ptr<const EngineRef> engine_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
  std::unique_ptr<ActionsService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ACTIONS_SERVICE_H_
