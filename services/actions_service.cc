// Copyright: the Résorption-bidonvilles data service authors.
#include "services/actions_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/access_context.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

ActionsService::ActionsService(rb::domain::CommandHandler* handler, rb::es::EventStore* store,
                               SitesServiceOptions options)
    : handler_(handler), store_(store), options_(std::move(options)) {}

absl::StatusOr<CallAccess> ActionsService::Prepare(grpc::CallbackServerContext* ctx,
                                                   absl::string_view name,
                                                   const v1::WriteOptions& options,
                                                   v1::ActionCommand& command,
                                                   rb::domain::Context& context) const {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Actions/Command", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(name, "actions", "name", violations);
  api::CheckWriteOptions(options, violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);

  command.set_action_id(id);
  api::ApplyWriteOptions(options, &command);
  context.now_us = options_.now_us ? options_.now_us() : absl::ToUnixMicros(absl::Now());
  context.actor = access->actor();
  return access;
}

grpc::ServerUnaryReactor* ActionsService::Run(grpc::CallbackServerContext* ctx,
                                              absl::string_view name,
                                              const v1::WriteOptions& options,
                                              v1::ActionCommand cmd, v1::WriteResult* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  rb::domain::Context context;
  absl::StatusOr<CallAccess> access = Prepare(ctx, name, options, cmd, context);
  if (!access.ok()) {
    reactor->Finish(ToGrpcStatus(access.status()));
    return reactor;
  }
  std::string action_name = absl::StrCat("actions/", cmd.action_id());
  handler_->HandleActionAsync(
      std::move(cmd), std::move(context),
      [this, reactor, resp,
       action_name = std::move(action_name)](absl::StatusOr<rb::domain::CommandResult> r) mutable {
        if (r.ok()) api::FillWriteResult(*r, std::move(action_name), *store_, resp);
        reactor->Finish(ToGrpcStatus(r.status()));
      },
      [this, access = std::make_shared<const CallAccess>(*std::move(access))](
          const v1::Action& action, const v1::ActionCommand& command) {
        return Authorize(*access, command, action);
      });
  return reactor;
}

absl::Status ActionsService::Authorize(const CallAccess& access, const v1::ActionCommand& command,
                                       const v1::Action& action) const {
  if (command.has_create())
    return access.CheckCreateAction(command.create().details().departement_code());
  if (action.status() == v1::ACTION_STATUS_UNSPECIFIED) return absl::OkStatus();  // NOT_FOUND
  if (command.has_post_comment()) return access.CheckReadAction(action);
  if (absl::Status s = access.CheckWriteAction(action); !s.ok()) return s;
  if (command.has_record_finances() &&
      !rb::access::CanSeeFinances(access.principal(), action.details().departement_code(),
                                  action.id())) {
    return rb::access::Denied(
        absl::StrCat("recording the finances of actions/", command.action_id()));
  }
  if (command.has_update()) {
    for (const std::string& path : command.update().update_mask().paths()) {
      if (path == "departement_code") {
        return access.CheckCreateAction(command.update().details().departement_code());
      }
    }
  }
  return absl::OkStatus();
}

#define RB_ACTION_COMMAND(Method, setter)                                                        \
  grpc::ServerUnaryReactor* ActionsService::Method(                                              \
      grpc::CallbackServerContext* ctx, const v1::Method##Request* req, v1::WriteResult* resp) { \
    v1::ActionCommand cmd;                                                                       \
    *cmd.mutable_##setter() = req->command();                                                    \
    return Run(ctx, req->name(), req->options(), std::move(cmd), resp);                          \
  }
RB_ACTION_COMMAND(SetActionManagers, set_managers)
RB_ACTION_COMMAND(SetActionOperators, set_operators)
RB_ACTION_COMMAND(RecordActionIndicators, record_indicators)
RB_ACTION_COMMAND(RecordActionFinances, record_finances)
RB_ACTION_COMMAND(PostActionComment, post_comment)
RB_ACTION_COMMAND(CloseAction, close)
#undef RB_ACTION_COMMAND

grpc::ServerUnaryReactor* ActionsService::CreateAction(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateActionRequest* req,
                                                       v1::WriteResult* resp) {
  if (!req->action_id().empty() && !api::ValidId(req->action_id())) {
    return Reply(ctx,
                 BadRequestError("the request is invalid",
                                 {{"action_id", "must be 1 to 64 letters, digits, '-' or '_'"}}));
  }
  v1::ActionCommand cmd;
  *cmd.mutable_create() = req->command();
  const std::string name =
      absl::StrCat("actions/", api::NewId(req->action_id(), req->options().command_id()));
  return Run(ctx, name, req->options(), std::move(cmd), resp);
}

grpc::ServerUnaryReactor* ActionsService::UpdateAction(grpc::CallbackServerContext* ctx,
                                                       const v1::UpdateActionRequest* req,
                                                       v1::WriteResult* resp) {
  v1::ActionCommand cmd;
  *cmd.mutable_update()->mutable_details() = req->details();
  *cmd.mutable_update()->mutable_update_mask() = req->update_mask();
  return Run(ctx, req->name(), req->options(), std::move(cmd), resp);
}

absl::Status ActionsService::DoGetAction(grpc::CallbackServerContext* ctx,
                                         const v1::GetActionRequest& req, v1::Action* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Actions/GetAction", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) return access->CheckReadAction(v1::Action());
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(req.name(), "actions", "name", violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  if (absl::Status s = api::CheckMinPosition(*store_, req.min_position()); !s.ok()) return s;
  absl::StatusOr<v1::Action> action = handler_->LoadAction(id);
  if (!action.ok()) return action.status();
  if (action->status() == v1::ACTION_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("action ", req.name(), " does not exist"));
  }
  if (absl::Status s = access->CheckReadAction(*action); !s.ok()) return s;
  *resp = *std::move(action);
  return access->Redact(resp);
}

grpc::ServerUnaryReactor* ActionsService::GetAction(grpc::CallbackServerContext* ctx,
                                                    const v1::GetActionRequest* req,
                                                    v1::Action* resp) {
  return Reply(ctx, DoGetAction(ctx, *req, resp));
}

absl::Status ActionsModule::Init(const ServiceEnvironment& env) {
  handler_ = std::make_unique<rb::domain::CommandHandler>(env.store);
  if (options_.auth == nullptr) options_.auth = env.auth;
  service_ = std::make_unique<ActionsService>(handler_.get(), env.store, options_);
  service_->ServeViews(engine_.get());
  return absl::OkStatus();
}

}  // namespace rb::services
