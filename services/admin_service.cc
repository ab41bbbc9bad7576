// Copyright: the Résorption-bidonvilles data service authors.
#include "services/admin_service.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/audit.h"
#include "services/access_context.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace fs = std::filesystem;

absl::Status AdminService::DoCreateBackup(const resorption::v1::CreateBackupRequest& req,
                                          resorption::v1::CreateBackupResponse* resp) {
  std::string path = req.path();
  if (path.empty()) {
    fs::path data = fs::absolute(fs::path(data_dir_)).lexically_normal();
    if (!data.has_filename()) data = data.parent_path();
    path = (data.parent_path() / "backups" /
            absl::StrCat("backup-",
                         absl::FormatTime("%Y%m%d-%H%M%E6S", absl::Now(), absl::UTCTimeZone())))
               .string();
  }
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("the backup target ", path, " already exists"));
  }
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", parent.string(), ": ", ec.message()));
  }
  absl::Status s = store_->Checkpoint(path);
  if (!s.ok()) return s;
  rb::es::Options ro;
  ro.read_only = true;
  ro.block_cache_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<rb::es::EventStore>> copy = rb::es::EventStore::Open(ro, path);
  if (!copy.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the backup at ", path, " cannot be opened: ", copy.status().message()));
  }
  rb::es::Head head = (*copy)->GetHead();
  resp->set_path(path);
  resp->set_head_position(head.position);
  resp->set_head_hash(rb::es::ToHex(head.log_hash));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminService::CreateBackup(grpc::CallbackServerContext* ctx,
                                                     const resorption::v1::CreateBackupRequest* req,
                                                     resorption::v1::CreateBackupResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status s = [&]() -> absl::Status {
    absl::StatusOr<CallAccess> access = AccessFor(*ctx, auth_, "/resorption.v1.Admin/CreateBackup");
    if (!access.ok()) return access.status();
    if (absl::Status s = access->RequireNationalAdmin("creating a backup"); !s.ok()) return s;
    if (absl::Status s = DoCreateBackup(*req, resp); !s.ok()) return s;
    return access->Audit(rb::access::kAuditExport, absl::StrCat("backup:", resp->path()));
  }();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RunErasureSweep(
    grpc::CallbackServerContext* ctx, const resorption::v1::RunErasureSweepRequest* req,
    resorption::v1::ErasureSweepReport* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status s = [&]() -> absl::Status {
    absl::StatusOr<CallAccess> access =
        AccessFor(*ctx, auth_, "/resorption.v1.Admin/RunErasureSweep");
    if (!access.ok()) return access.status();
    if (absl::Status s = access->RequireNationalAdmin("running the erasure sweep"); !s.ok()) {
      return s;
    }
    if (sweep_ == nullptr) return absl::UnimplementedError("this server has no erasure sweep");
    absl::StatusOr<resorption::v1::ErasureSweepReport> r = sweep_->RunOnce(req->dry_run());
    if (!r.ok()) return r.status();
    *resp = std::move(*r);
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::AnonymiseSiteOwner(
    grpc::CallbackServerContext* ctx, const resorption::v1::AnonymiseSiteOwnerRequest* req,
    resorption::v1::AnonymiseSiteOwnerResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status s = [&]() -> absl::Status {
    absl::StatusOr<CallAccess> access =
        AccessFor(*ctx, auth_, "/resorption.v1.Admin/AnonymiseSiteOwner");
    if (!access.ok()) return access.status();
    if (absl::Status s = access->RequireNationalAdmin("anonymising a site's owner"); !s.ok()) {
      return s;
    }
    if (sweep_ == nullptr) return absl::UnimplementedError("this server has no erasure sweep");
    if (req->site_id().empty()) return absl::InvalidArgumentError("site_id: required");
    absl::StatusOr<resorption::v1::AnonymiseSiteOwnerResponse> r =
        sweep_->AnonymiseSiteOwner(req->site_id(), req->reason(), access->actor());
    if (!r.ok()) return r.status();
    *resp = std::move(*r);
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace rb::services
