// Copyright: the Résorption-bidonvilles data service authors.
//
// SitesService: the resorption.v1.Sites gRPC service (callback API). Each domain command is a
// named RPC that fills a resorption.v1.SiteCommand and runs it through rb::domain::CommandHandler;
// GetSite serves the folded aggregate (the handler's LRU cache: only new events are read).
//
//   rb::domain::CommandHandler handler(store);
//   rb::services::SitesService sites(&handler, store, {});
//   builder.RegisterService(&sites);
//   // or, as a module of the server: SitesModule (below), listed in services/modules.cc.
//
// Contracts of every mutation (docs/api.md, "Sites"):
//  * the actor comes from AccessFor (services/access_context.h; UNAUTHENTICATED without one);
//    the site's writing scope is checked (PERMISSION_DENIED inside the reading scope, NOT_FOUND
//    outside it);
//  * WriteOptions.expected_revision stale -> ABORTED with a google.rpc.PreconditionFailure whose
//    subject is the current revision; a retry of the same command with the same command_id
//    returns the first result (outcome REPLAYED) and appends nothing, the command_id reused for a
//    different command is refused with ALREADY_EXISTS (ErrorInfo COMMAND_ID_REUSED) and appends
//    nothing (rb::domain::CommandHandler);
//  * domain violations -> INVALID_ARGUMENT with every field violation in a google.rpc.BadRequest
//    (field paths relative to the domain command, e.g. "site.name"); lifecycle violations ->
//    FAILED_PRECONDITION; a site never declared -> NOT_FOUND;
//  * WriteResult.position is the last appended position (the log head when nothing was
//    appended), to pass as min_position to a later query.
// Thread safety: every RPC may run concurrently. Nothing is owned.
#ifndef RB_SERVICES_SITES_SERVICE_H_
#define RB_SERVICES_SITES_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "domain/command_handler.h"
#include "domain/context.h"
#include "eventstore/event_store.h"
#include "grpcpp/support/server_callback.h"
#include "projections/views/changelog.h"
#include "projections/views/site_list.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "services/service_module.h"
#include "services/status_mapping.h"

namespace rb::services {

class EngineRef;        // projections_module.h
class Authenticator;    // auth.h
class CallAccess;       // access_context.h
class SubscriptionHub;  // subscription_hub.h

// The acting user of a call, from the metadata headers `x-actor-user` (required),
// `x-actor-organisation`, `x-actor-role` (a platform role id such as "local_admin"; required)
// and `x-actor-options` (comma-separated, e.g. "access_justice"). Honoured only where
// authentication is disabled: the services attribute calls through AccessFor
// (services/access_context.h), which authenticates bearer tokens.
// Errors: UNAUTHENTICATED when the user or role is missing or the role is unknown.
absl::StatusOr<rb::domain::Actor> ActorFromContext(grpc::CallbackServerContext* ctx);

// Shared by the Sites and Actions services.
namespace api {

// DEADLINE_EXCEEDED / CANCELLED when a call should not start its work.
absl::Status CheckCall(grpc::CallbackServerContext* ctx);

// "sites/abc" -> "abc" for collection "sites". Adds a violation on `field` and returns "" when
// `name` is malformed.
std::string IdFromName(absl::string_view name, absl::string_view collection,
                       absl::string_view field, std::vector<FieldViolation>& violations);

// Checks a client-chosen id ([A-Za-z0-9_-], 1 to 64 characters).
bool ValidId(absl::string_view id);

// The id of a new resource: `requested` when set; otherwise derived from `command_id` (stable, so
// that a retry names the same resource) or random.
std::string NewId(absl::string_view requested, absl::string_view command_id);

// Fills the WriteResult of a handled command.
void FillWriteResult(const rb::domain::CommandResult& r, std::string name,
                     const rb::es::EventStore& store, resorption::v1::WriteResult* out);

// Valid time in microseconds from WriteOptions (0 = now).
int64_t ValidAtUs(const resorption::v1::WriteOptions& options);

// Adds the violations of the WriteOptions every mutation carries (valid time, command id).
void CheckWriteOptions(const resorption::v1::WriteOptions& options,
                       std::vector<FieldViolation>& violations);

// Copies the WriteOptions onto a domain command (SiteCommand or ActionCommand).
template <typename Command>
void ApplyWriteOptions(const resorption::v1::WriteOptions& options, Command* command) {
  command->set_command_id(options.command_id());
  if (options.has_expected_revision()) command->set_expected_revision(options.expected_revision());
  command->set_valid_at_us(ValidAtUs(options));
  command->set_reason(options.reason());
}

// Adds the violations of a territory named by a query (a known level; a code unless the level is
// NATION or unset), on `field`.level and `field`.code.
void CheckTerritoryRef(const resorption::v1::TerritoryRef& territory, absl::string_view field,
                       std::vector<FieldViolation>& violations);

// OUT_OF_RANGE when `min_position` is beyond the log head (no acknowledged write has it).
absl::Status CheckMinPosition(const rb::es::EventStore& store, uint64_t min_position);

}  // namespace api

struct SitesServiceOptions {
  // The valid time "now" of a command, in microseconds since the epoch. Tests inject a clock.
  std::function<int64_t()> now_us;  // empty: absl::Now()
  // Authentication and policy of every call (services/access_context.h); the modules set the
  // server's. Null: calls are attributed by the x-actor-* headers (AuthMode::kDisabled).
  Authenticator* auth = nullptr;
  // Where live streams (WatchActivity) wait for the log to grow; the modules set the server's.
  // Null: WatchActivity answers UNAVAILABLE.
  SubscriptionHub* subscriptions = nullptr;
};

class SitesService final : public resorption::v1::Sites::CallbackService {
 public:
  // `engine` and `list` may be null: ListSites then answers UNAVAILABLE.
  SitesService(rb::domain::CommandHandler* handler, rb::es::EventStore* store,
               const EngineRef* engine, const rb::views::SiteListQuery* list,
               SitesServiceOptions options);

#define RB_SITES_RPC(Method)                                                   \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx,           \
                                   const resorption::v1::Method##Request* req, \
                                   resorption::v1::WriteResult* resp) override;
  RB_SITES_RPC(DeclareSite)
  RB_SITES_RPC(UpdateSite)
  RB_SITES_RPC(RecordPopulation)
  RB_SITES_RPC(RecordCensus)
  RB_SITES_RPC(AssessLivingConditions)
  RB_SITES_RPC(UpgradeLivingConditions)
  RB_SITES_RPC(ImportLivingConditionsV1)
  RB_SITES_RPC(UpdateProcedures)
  RB_SITES_RPC(SetHeatwave)
  RB_SITES_RPC(ConfirmUpToDate)
  RB_SITES_RPC(DeclareIntervener)
  RB_SITES_RPC(WithdrawIntervener)
  RB_SITES_RPC(PostComment)
  RB_SITES_RPC(ModerateComment)
  RB_SITES_RPC(StartResorptionPhase)
  RB_SITES_RPC(CompleteResorptionPhase)
  RB_SITES_RPC(CloseSite)
  RB_SITES_RPC(CorrectClosure)
  RB_SITES_RPC(EraseSite)
  RB_SITES_RPC(CorrectRetroactively)
#undef RB_SITES_RPC

  grpc::ServerUnaryReactor* GetSite(grpc::CallbackServerContext* ctx,
                                    const resorption::v1::GetSiteRequest* req,
                                    resorption::v1::Site* resp) override;
  grpc::ServerUnaryReactor* ListSites(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::ListSitesQuery* req,
                                      resorption::v1::ListSitesResponse* resp) override;
  grpc::ServerUnaryReactor* GetSiteChangeLog(grpc::CallbackServerContext* ctx,
                                             const resorption::v1::GetSiteChangeLogRequest* req,
                                             resorption::v1::ChangeLog* resp) override;

  // The checks before every mutation (call, caller, request), on the gRPC thread: fills
  // `command` (its oneof is set by the caller) with the site id from `name` ("sites/{id}") and the
  // write options, and `context` with the actor and the valid time "now". Returns the caller's
  // access, for the scope checks on the site's state (Authorize).
  absl::StatusOr<CallAccess> Prepare(grpc::CallbackServerContext* ctx, absl::string_view name,
                                     const resorption::v1::WriteOptions& options,
                                     resorption::v1::SiteCommand& command,
                                     rb::domain::Context& context) const;
  absl::Status DoGetSite(grpc::CallbackServerContext* ctx,
                         const resorption::v1::GetSiteRequest& req, resorption::v1::Site* resp);
  absl::Status DoListSites(grpc::CallbackServerContext* ctx,
                           const resorption::v1::ListSitesQuery& req,
                           resorption::v1::ListSitesResponse* resp);
  absl::Status DoGetSiteChangeLog(grpc::CallbackServerContext* ctx,
                                  const resorption::v1::GetSiteChangeLogRequest& req,
                                  resorption::v1::ChangeLog* resp);

  // The history view (site_history_rpcs.cc): a site, and the sites of a territory, on a valid
  // date as known at a recording time. UNAVAILABLE when the server runs no projections.
  grpc::ServerUnaryReactor* GetSiteAsOf(grpc::CallbackServerContext* ctx,
                                        const resorption::v1::GetSiteAsOfQuery* req,
                                        resorption::v1::SiteAsOf* resp) override;
  grpc::ServerUnaryReactor* ListSitesAsOf(grpc::CallbackServerContext* ctx,
                                          const resorption::v1::ListSitesAsOfQuery* req,
                                          resorption::v1::ListSitesAsOfResponse* resp) override;
  absl::Status DoGetSiteAsOf(grpc::CallbackServerContext* ctx,
                             const resorption::v1::GetSiteAsOfQuery& req,
                             resorption::v1::SiteAsOf* resp);
  absl::Status DoListSitesAsOf(grpc::CallbackServerContext* ctx,
                               const resorption::v1::ListSitesAsOfQuery& req,
                               resorption::v1::ListSitesAsOfResponse* resp);

  // The activity feed (site_activity_rpcs.cc), read backward from the log.
  grpc::ServerUnaryReactor* ListActivity(grpc::CallbackServerContext* ctx,
                                         const resorption::v1::ListActivityQuery* req,
                                         resorption::v1::ListActivityResponse* resp) override;
  absl::Status DoListActivity(grpc::CallbackServerContext* ctx,
                              const resorption::v1::ListActivityQuery& req,
                              resorption::v1::ListActivityResponse* resp);
  // The same feed as a live stream, read forward from a position, then parked in
  // options.subscriptions until the log grows.
  grpc::ServerWriteReactor<resorption::v1::WatchActivityResponse>* WatchActivity(
      grpc::CallbackServerContext* ctx, const resorption::v1::WatchActivityRequest* req) override;

 private:
  int64_t NowUs() const;
  // The first log position a WatchActivity call reads (the first event of the first version it
  // holds), once its request is checked: INVALID_ARGUMENT naming the fields, OUT_OF_RANGE for an
  // after_position beyond the log head.
  absl::StatusOr<uint64_t> WatchStart(const resorption::v1::WatchActivityRequest& req) const;
  // The scope checks of `command` on the site's current state `site` (services/access_context.h),
  // run by the command handler on the state it decides on (CommandHandler::SiteCheck).
  absl::Status Authorize(const CallAccess& access, const resorption::v1::SiteCommand& command,
                         const resorption::v1::Site& site) const;
  // Erase and AnonymiseOwner: runs the command, then destroys the site's owner keys.
  absl::Status EraseOwnerData(resorption::v1::SiteCommand command,
                              const rb::domain::Context& context, std::string site_name,
                              resorption::v1::WriteResult* resp);
  // Prepares the command, hands it to the command handler without blocking (the decision is taken
  // on this thread, the append joins the next group commit) and finishes the call from the
  // append's completion: no thread waits for the disk.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const std::string& name,
                                const resorption::v1::WriteOptions& options,
                                resorption::v1::SiteCommand cmd, resorption::v1::WriteResult* resp);

  rb::domain::CommandHandler* const handler_;
  rb::es::EventStore* const store_;
  const EngineRef* const engine_;
  const rb::views::SiteListQuery* const list_;
  const rb::views::ChangeLogQuery changelog_;
  const SitesServiceOptions options_;
};

// The module: one CommandHandler over the server's store and the service.
class SitesModule : public ServiceModule {
 public:
  // `engine`: the EngineRef of the server's ProjectionsModule (initialised before this one);
  // null: no view-backed queries.
  explicit SitesModule(std::shared_ptr<const EngineRef> engine = nullptr,
                       SitesServiceOptions options = {})
      : engine_(std::move(engine)), options_(std::move(options)) {}
  std::string name() const override { return "sites"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }

 private:
  std::shared_ptr<const EngineRef> engine_;
  SitesServiceOptions options_;
  std::unique_ptr<rb::domain::CommandHandler> handler_;
  std::unique_ptr<rb::views::SiteListQuery> list_;
  std::unique_ptr<SitesService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_SITES_SERVICE_H_
