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

  // The work behind every mutation; the action id comes from `name` ("actions/{id}").
  absl::Status Execute(grpc::CallbackServerContext* ctx, absl::string_view name,
                       const resorption::v1::WriteOptions& options,
                       resorption::v1::ActionCommand command, resorption::v1::WriteResult* resp);
  absl::Status DoGetAction(grpc::CallbackServerContext* ctx,
                           const resorption::v1::GetActionRequest& req,
                           resorption::v1::Action* resp);

 private:
  rb::domain::CommandHandler* const handler_;
  rb::es::EventStore* const store_;
  // The scope checks of a command on action `id` (services/access_context.h).
  absl::Status Authorize(const CallAccess& access, const std::string& id,
                         const resorption::v1::ActionCommand& command) const;

  const SitesServiceOptions options_;
};

class ActionsModule : public ServiceModule {
 public:
  explicit ActionsModule(SitesServiceOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "actions"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }

 private:
  SitesServiceOptions options_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
  std::unique_ptr<ActionsService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ACTIONS_SERVICE_H_
