// Copyright: the Résorption-bidonvilles data service authors.
#include "services/sites_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/audit.h"
#include "domain/geo.h"
#include "google/protobuf/util/time_util.h"
#include "services/access_context.h"
#include "services/auth.h"
#include "services/projections_module.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;
using rb::domain::CommandResult;

namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The territory of commune `code` as the domain derives it; nullopt for an unknown commune (the
// domain refuses the command then).
std::optional<v1::Territory> TerritoryOf(const std::string& code) {
  const rb::domain::geo::Commune* c = rb::domain::geo::Geography::Get().FindCommune(code);
  if (c == nullptr) return std::nullopt;
  v1::Territory t;
  t.set_city_code(std::string(c->code));
  t.set_city_name(std::string(c->name));
  t.set_epci_code(std::string(c->epci));
  t.set_departement_code(std::string(c->departement));
  t.set_region_code(std::string(c->region));
  return t;
}

// The location a command moves a site to, when it does.
const v1::Site* MovedTo(const v1::SiteCommand& command) {
  const v1::UpdateSite* update = nullptr;
  if (command.has_update()) update = &command.update();
  if (command.has_correct_retroactively()) update = &command.correct_retroactively().update();
  if (update == nullptr) return nullptr;
  for (const std::string& path : update->update_mask().paths()) {
    if (path == "location" || absl::StartsWith(path, "location.")) return &update->site();
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<rb::domain::Actor> ActorFromContext(grpc::CallbackServerContext* ctx) {
  return ActorFromHeaders(*ctx);
}

namespace api {

absl::Status CheckCall(grpc::CallbackServerContext* ctx) {
  if (ctx->IsCancelled()) return absl::CancelledError("the call was cancelled");
  if (ctx->deadline() < std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed before it started");
  }
  return absl::OkStatus();
}

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string IdFromName(absl::string_view name, absl::string_view collection,
                       absl::string_view field, std::vector<FieldViolation>& violations) {
  const std::string prefix = absl::StrCat(collection, "/");
  if (!absl::StartsWith(name, prefix) || !ValidId(name.substr(prefix.size()))) {
    violations.push_back({std::string(field), absl::StrCat("must be ", prefix,
                                                           "{id} with an id of 1 to 64 letters, "
                                                           "digits, '-' or '_'; got '",
                                                           name, "'")});
    return "";
  }
  return std::string(name.substr(prefix.size()));
}

std::string NewId(absl::string_view requested, absl::string_view command_id) {
  if (!requested.empty()) return std::string(requested);
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64: stable across processes and versions
  if (!command_id.empty()) {
    for (unsigned char c : command_id) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  } else {
    static absl::Mutex mu(absl::kConstInit);
    static absl::BitGen* gen = new absl::BitGen();
    absl::MutexLock lock(&mu);
    h = absl::Uniform<uint64_t>(*gen);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) id[i] = kHex[h & 15];
  return id;
}

void FillWriteResult(const CommandResult& r, std::string name, const rb::es::EventStore& store,
                     v1::WriteResult* out) {
  out->set_name(std::move(name));
  switch (r.outcome) {
    case CommandResult::Outcome::kAppended:
      out->set_outcome(v1::WriteResult::OUTCOME_APPENDED);
      break;
    case CommandResult::Outcome::kNoChange:
      out->set_outcome(v1::WriteResult::OUTCOME_NO_CHANGE);
      break;
    case CommandResult::Outcome::kReplayed:
      out->set_outcome(v1::WriteResult::OUTCOME_REPLAYED);
      break;
  }
  out->set_revision(r.revision < 0 ? 0 : static_cast<uint64_t>(r.revision));
  out->set_first_position(r.first_position);
  out->set_position(r.last_position != 0 ? r.last_position : store.GetHead().position);
  for (const std::string& t : r.event_types) out->add_event_types(t);
}

int64_t ValidAtUs(const v1::WriteOptions& options) {
  if (!options.has_valid_time()) return 0;
  return google::protobuf::util::TimeUtil::TimestampToMicroseconds(options.valid_time());
}

void CheckWriteOptions(const v1::WriteOptions& options, std::vector<FieldViolation>& violations) {
  if (options.has_valid_time() && options.valid_time().seconds() < 0) {
    violations.push_back({"options.valid_time", "must not be before 1970"});
  }
  if (options.command_id().size() > 128) {
    violations.push_back({"options.command_id", "must be at most 128 characters"});
  }
}

void CheckTerritoryRef(const v1::TerritoryRef& territory, absl::string_view field,
                       std::vector<FieldViolation>& violations) {
  if (!v1::TerritoryLevel_IsValid(territory.level())) {
    violations.push_back({absl::StrCat(field, ".level"), "must be a known territory level"});
  } else if (territory.code().empty() && territory.level() != v1::TERRITORY_LEVEL_UNSPECIFIED &&
             territory.level() != v1::TERRITORY_LEVEL_NATION) {
    violations.push_back({absl::StrCat(field, ".code"), "is required for this territory level"});
  }
}

absl::Status CheckMinPosition(const rb::es::EventStore& store, uint64_t min_position) {
  if (min_position == 0) return absl::OkStatus();
  const uint64_t head = store.GetHead().position;
  if (min_position > head) {
    return absl::OutOfRangeError(
        absl::StrCat("min_position ", min_position, " is beyond the log head ", head));
  }
  return absl::OkStatus();
}

}  // namespace api

SitesService::SitesService(rb::domain::CommandHandler* handler, rb::es::EventStore* store,
                           const EngineRef* engine, const rb::views::SiteListQuery* list,
                           SitesServiceOptions options)
    : handler_(handler),
      store_(store),
      engine_(engine),
      list_(list),
      changelog_(store, options.auth != nullptr ? &options.auth->owner_keys() : nullptr),
      options_(std::move(options)) {}

int64_t SitesService::NowUs() const {
  return options_.now_us ? options_.now_us() : absl::ToUnixMicros(absl::Now());
}

absl::StatusOr<CallAccess> SitesService::Prepare(grpc::CallbackServerContext* ctx,
                                                 absl::string_view name,
                                                 const v1::WriteOptions& options,
                                                 v1::SiteCommand& command,
                                                 rb::domain::Context& context) const {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/Command", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(name, "sites", "name", violations);
  api::CheckWriteOptions(options, violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);

  command.set_site_id(id);
  api::ApplyWriteOptions(options, &command);
  context.now_us = NowUs();
  context.actor = access->actor();
  return access;
}

absl::Status SitesService::Authorize(const CallAccess& access, const v1::SiteCommand& command,
                                     const v1::Site& site) const {
  if (command.has_declare()) {
    std::optional<v1::Territory> t =
        TerritoryOf(command.declare().site().location().address().city_code());
    return t ? access.CheckCreateSite(*t) : absl::OkStatus();
  }
  if (site.status() == v1::SITE_STATUS_UNSPECIFIED) return absl::OkStatus();  // domain: NOT_FOUND
  if (absl::Status s = access.CheckSiteAct(site, SiteActOf(command)); !s.ok()) return s;
  if (const v1::Site* moved = MovedTo(command); moved != nullptr) {
    std::optional<v1::Territory> t = TerritoryOf(moved->location().address().city_code());
    if (t) return access.CheckCreateSite(*t);
  }
  return absl::OkStatus();
}

absl::Status SitesService::EraseOwnerData(v1::SiteCommand command,
                                          const rb::domain::Context& context, std::string site_name,
                                          v1::WriteResult* resp) {
  const std::string id = command.site_id();
  // Erasing the site erases its owner names too: every owner key goes once the event is durable.
  absl::StatusOr<v1::Site> before = handler_->LoadSite(id);
  if (!before.ok()) return before.status();
  const int owner_keys = before->owner_anonymisations() + 1;
  absl::StatusOr<CommandResult> r = handler_->HandleSite(command, context);
  if (!r.ok()) return r.status();
  if (options_.auth != nullptr &&
      (command.has_erase() || r->outcome != CommandResult::Outcome::kNoChange)) {
    if (absl::Status s = options_.auth->owner_keys().Destroy(id, owner_keys, context.now_us);
        !s.ok()) {
      return s;
    }
  }
  api::FillWriteResult(*r, std::move(site_name), *store_, resp);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* SitesService::Run(grpc::CallbackServerContext* ctx,
                                            const std::string& name,
                                            const v1::WriteOptions& options, v1::SiteCommand cmd,
                                            v1::WriteResult* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  rb::domain::Context context;
  absl::StatusOr<CallAccess> access = Prepare(ctx, name, options, cmd, context);
  if (!access.ok()) {
    reactor->Finish(ToGrpcStatus(access.status()));
    return reactor;
  }
  std::string site_name = absl::StrCat("sites/", cmd.site_id());
  if (cmd.has_erase() || cmd.has_anonymise_owner()) {
    // Rare and followed by a key destruction: handled on this thread, blocking.
    absl::Status s;
    absl::StatusOr<v1::Site> site = handler_->LoadSite(cmd.site_id());
    if (!site.ok()) {
      s = site.status();
    } else if (s = Authorize(*access, cmd, *site); s.ok()) {
      s = EraseOwnerData(std::move(cmd), context, site_name, resp);
    }
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  handler_->HandleSiteAsync(
      std::move(cmd), std::move(context),
      [this, reactor, resp,
       site_name = std::move(site_name)](absl::StatusOr<rb::domain::CommandResult> r) mutable {
        if (r.ok()) api::FillWriteResult(*r, std::move(site_name), *store_, resp);
        reactor->Finish(ToGrpcStatus(r.status()));
      },
      [this, access = std::make_shared<const CallAccess>(*std::move(access))](
          const v1::Site& site, const v1::SiteCommand& command) {
        return Authorize(*access, command, site);
      });
  return reactor;
}

// Every command RPC: fill the oneof from the request, then Run.
#define RB_SITE_COMMAND(Method, setter)                                                          \
  grpc::ServerUnaryReactor* SitesService::Method(                                                \
      grpc::CallbackServerContext* ctx, const v1::Method##Request* req, v1::WriteResult* resp) { \
    v1::SiteCommand cmd;                                                                         \
    *cmd.mutable_##setter() = req->command();                                                    \
    return Run(ctx, req->name(), req->options(), std::move(cmd), resp);                          \
  }
RB_SITE_COMMAND(RecordPopulation, record_population)
RB_SITE_COMMAND(RecordCensus, record_census)
RB_SITE_COMMAND(AssessLivingConditions, assess_living_conditions)
RB_SITE_COMMAND(UpgradeLivingConditions, upgrade_living_conditions)
RB_SITE_COMMAND(ImportLivingConditionsV1, import_living_conditions_v1)
RB_SITE_COMMAND(UpdateProcedures, update_procedures)
RB_SITE_COMMAND(SetHeatwave, set_heatwave)
RB_SITE_COMMAND(DeclareIntervener, declare_intervener)
RB_SITE_COMMAND(WithdrawIntervener, withdraw_intervener)
RB_SITE_COMMAND(PostComment, post_comment)
RB_SITE_COMMAND(ModerateComment, moderate_comment)
RB_SITE_COMMAND(StartResorptionPhase, start_resorption_phase)
RB_SITE_COMMAND(CompleteResorptionPhase, complete_resorption_phase)
RB_SITE_COMMAND(CloseSite, close)
RB_SITE_COMMAND(CorrectClosure, correct_closure)
#undef RB_SITE_COMMAND

grpc::ServerUnaryReactor* SitesService::DeclareSite(grpc::CallbackServerContext* ctx,
                                                    const v1::DeclareSiteRequest* req,
                                                    v1::WriteResult* resp) {
  if (!req->site_id().empty() && !api::ValidId(req->site_id())) {
    return Reply(ctx,
                 BadRequestError("the request is invalid",
                                 {{"site_id", "must be 1 to 64 letters, digits, '-' or '_'"}}));
  }
  v1::SiteCommand cmd;
  *cmd.mutable_declare() = req->command();
  const std::string name =
      absl::StrCat("sites/", api::NewId(req->site_id(), req->options().command_id()));
  return Run(ctx, name, req->options(), std::move(cmd), resp);
}

grpc::ServerUnaryReactor* SitesService::UpdateSite(grpc::CallbackServerContext* ctx,
                                                   const v1::UpdateSiteRequest* req,
                                                   v1::WriteResult* resp) {
  v1::SiteCommand cmd;
  *cmd.mutable_update()->mutable_site() = req->site();
  *cmd.mutable_update()->mutable_update_mask() = req->update_mask();
  return Run(ctx, req->name(), req->options(), std::move(cmd), resp);
}

grpc::ServerUnaryReactor* SitesService::ConfirmUpToDate(grpc::CallbackServerContext* ctx,
                                                        const v1::ConfirmUpToDateRequest* req,
                                                        v1::WriteResult* resp) {
  v1::SiteCommand cmd;
  cmd.mutable_confirm_up_to_date();
  return Run(ctx, req->name(), req->options(), std::move(cmd), resp);
}

grpc::ServerUnaryReactor* SitesService::EraseSite(grpc::CallbackServerContext* ctx,
                                                  const v1::EraseSiteRequest* req,
                                                  v1::WriteResult* resp) {
  v1::SiteCommand cmd;
  cmd.mutable_erase()->set_reason(req->options().reason());
  return Run(ctx, req->name(), req->options(), std::move(cmd), resp);
}

grpc::ServerUnaryReactor* SitesService::CorrectRetroactively(
    grpc::CallbackServerContext* ctx, const v1::CorrectRetroactivelyRequest* req,
    v1::WriteResult* resp) {
  v1::SiteCommand cmd;
  v1::UpdateSite* update = cmd.mutable_correct_retroactively()->mutable_update();
  *update->mutable_site() = req->site();
  *update->mutable_update_mask() = req->update_mask();
  return Run(ctx, req->name(), req->options(), std::move(cmd), resp);
}

absl::Status SitesService::DoGetSite(grpc::CallbackServerContext* ctx,
                                     const v1::GetSiteRequest& req, v1::Site* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/GetSite", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) return access->CheckReadSite(v1::Territory(), "");
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(req.name(), "sites", "name", violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  // The aggregate is folded from the log itself, so every acknowledged position is in it.
  if (absl::Status s = api::CheckMinPosition(*store_, req.min_position()); !s.ok()) return s;
  absl::StatusOr<v1::Site> site = handler_->LoadSite(id);
  if (!site.ok()) return site.status();
  if (site->status() == v1::SITE_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("site ", req.name(), " does not exist"));
  }
  if (absl::Status s = access->CheckReadSite(site->location().territory(), id); !s.ok()) return s;
  *resp = *std::move(site);
  return access->Redact(resp);
}

grpc::ServerUnaryReactor* SitesService::GetSite(grpc::CallbackServerContext* ctx,
                                                const v1::GetSiteRequest* req, v1::Site* resp) {
  return Reply(ctx, DoGetSite(ctx, *req, resp));
}

absl::Status SitesService::DoListSites(grpc::CallbackServerContext* ctx,
                                       const v1::ListSitesQuery& req, v1::ListSitesResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/ListSites", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  v1::ListSitesRequest request = req.request();
  bool filter_rows = false;
  if (absl::Status s = access->ScopeSiteList(&request, &filter_rows); !s.ok()) return s;
  if (engine_ == nullptr || list_ == nullptr) {
    return absl::UnavailableError("the site_list view is not served by this server");
  }
  if (absl::Status s = api::CheckMinPosition(*store_, req.min_position()); !s.ok()) return s;
  if (absl::Status s =
          engine_->WaitForPosition(rb::views::SiteListProjection::kName, req.min_position(),
                                   absl::FromChrono(ctx->deadline()));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<v1::ListSitesResponse> page = list_->List(request, access->ListVisibility());
  if (!page.ok()) return page.status();
  *resp = *std::move(page);
  return access->RedactList(resp, filter_rows);
}

absl::Status SitesService::DoGetSiteChangeLog(grpc::CallbackServerContext* ctx,
                                              const v1::GetSiteChangeLogRequest& req,
                                              v1::ChangeLog* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access = AccessFor(
      *ctx, options_.auth, "/resorption.v1.Sites/GetSiteChangeLog", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) return access->CheckReadSite(v1::Territory(), "");
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(req.name(), "sites", "name", violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  // The scope and the visibility follow the site's current location.
  absl::StatusOr<v1::Site> site = handler_->LoadSite(id);
  if (!site.ok()) return site.status();
  const v1::Territory& territory = site->location().territory();
  if (site->status() != v1::SITE_STATUS_UNSPECIFIED) {
    if (absl::Status s = access->CheckReadSite(territory, id); !s.ok()) return s;
  }
  const rb::views::Visibility visibility = access->SiteVisibility(territory, id);
  absl::StatusOr<v1::ChangeLog> log = changelog_.ForSite(id, visibility);
  if (!log.ok()) return log.status();
  if (log->entries().empty()) {
    return absl::NotFoundError(absl::StrCat("site ", req.name(), " does not exist"));
  }
  *resp = *std::move(log);
  std::vector<std::string> restricted;
  for (const v1::ChangeLogEntry& entry : resp->entries()) {
    for (const v1::FieldChange& c : entry.changes()) {
      const char* kind = c.sensitivity() == v1::SENSITIVITY_JUSTICE ? "justice"
                         : c.sensitivity() == v1::SENSITIVITY_OWNER ? "owner"
                                                                    : nullptr;
      if (kind != nullptr &&
          std::find(restricted.begin(), restricted.end(), kind) == restricted.end()) {
        restricted.push_back(kind);
      }
    }
  }
  if (restricted.empty()) return absl::OkStatus();
  return access->Audit(rb::access::kAuditRestrictedRead, absl::StrCat("site-", id), restricted);
}

grpc::ServerUnaryReactor* SitesService::ListSites(grpc::CallbackServerContext* ctx,
                                                  const v1::ListSitesQuery* req,
                                                  v1::ListSitesResponse* resp) {
  return Reply(ctx, DoListSites(ctx, *req, resp));
}

grpc::ServerUnaryReactor* SitesService::GetSiteChangeLog(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSiteChangeLogRequest* req,
                                                         v1::ChangeLog* resp) {
  return Reply(ctx, DoGetSiteChangeLog(ctx, *req, resp));
}

absl::Status SitesModule::Init(const ServiceEnvironment& env) {
  if (options_.auth == nullptr) options_.auth = env.auth;
  if (options_.subscriptions == nullptr) options_.subscriptions = env.subscriptions;
  rb::domain::CommandHandlerOptions handler_options;
  if (options_.auth != nullptr) handler_options.owner_cipher = &options_.auth->owner_keys();
  handler_ = std::make_unique<rb::domain::CommandHandler>(env.store, handler_options);
  if (engine_ != nullptr && engine_->get() != nullptr) {
    list_ = std::make_unique<rb::views::SiteListQuery>(engine_->get());
  }
  service_ = std::make_unique<SitesService>(handler_.get(), env.store, engine_.get(), list_.get(),
                                            options_);
  return absl::OkStatus();
}

}  // namespace rb::services
