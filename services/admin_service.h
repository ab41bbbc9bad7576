// Copyright: the Résorption-bidonvilles data service authors.
//
// The Admin gRPC service: backups of the running server's data directory, and the erasure sweep
// (services/erasure_sweep.h): run it now, or anonymise one site's owners.
//
//   rb::services::AdminService admin(store, "var/data");
//   builder.RegisterService(&admin);
//   // client: Admin.CreateBackup({path: ""}) -> {path: "var/backups/backup-20260115-101500", ...}
//
// A backup is rb::es::EventStore::Checkpoint (hard links where possible, consistent while
// appends go on); its head is read back from the copy, so the response describes exactly what
// the backup holds. The handler runs on a gRPC callback thread for the duration of the
// checkpoint (short: hard links). Thread-safe.
#ifndef RB_SERVICES_ADMIN_SERVICE_H_
#define RB_SERVICES_ADMIN_SERVICE_H_

#include <memory>
#include <string>

#include "eventstore/event_store.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "services/erasure_sweep.h"
#include "services/service_module.h"

namespace rb::services {

class AdminService final : public resorption::v1::Admin::CallbackService {
 public:
  // Nothing is owned; the store must outlive the service.
  // `auth` null: calls act as the built-in administrator (services/auth.h). CreateBackup needs
  // a national administrator (PERMISSION_DENIED otherwise; UNAUTHENTICATED without a valid
  // token where one is required) and is audited as an export (audit.export).
  // `sweep` null: the erasure RPCs answer UNIMPLEMENTED. RunErasureSweep and AnonymiseSiteOwner
  // need a national administrator.
  AdminService(rb::es::EventStore* store, std::string data_dir, Authenticator* auth = nullptr,
               ErasureSweep* sweep = nullptr)
      : store_(store), data_dir_(std::move(data_dir)), auth_(auth), sweep_(sweep) {}

  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* ctx,
                                         const resorption::v1::CreateBackupRequest* req,
                                         resorption::v1::CreateBackupResponse* resp) override;

  grpc::ServerUnaryReactor* RunErasureSweep(grpc::CallbackServerContext* ctx,
                                            const resorption::v1::RunErasureSweepRequest* req,
                                            resorption::v1::ErasureSweepReport* resp) override;
  grpc::ServerUnaryReactor* AnonymiseSiteOwner(
      grpc::CallbackServerContext* ctx, const resorption::v1::AnonymiseSiteOwnerRequest* req,
      resorption::v1::AnonymiseSiteOwnerResponse* resp) override;

  // The library call behind CreateBackup. Errors: ALREADY_EXISTS (target exists),
  // UNAVAILABLE (checkpoint or reopening failed).
  absl::Status DoCreateBackup(const resorption::v1::CreateBackupRequest& req,
                              resorption::v1::CreateBackupResponse* resp);

 private:
  rb::es::EventStore* store_;
  std::string data_dir_;
  Authenticator* auth_;
  ErasureSweep* sweep_;
};

// Serves AdminService (listed in BuiltinModules()).
class AdminModule : public ServiceModule {
 public:
  std::string name() const override { return "admin"; }
  // Starts the background erasure sweep (when the server has an authenticator).
  absl::Status Init(const ServiceEnvironment& env) override {
    if (env.auth != nullptr) {
      sweep_ = std::make_unique<ErasureSweep>(env.store, env.auth, env.erasure, env.logger);
      sweep_->Start();
    }
    service_ = std::make_unique<AdminService>(env.store, env.data_dir, env.auth, sweep_.get());
    return absl::OkStatus();
  }
  std::vector<grpc::Service*> services() override { return {service_.get()}; }
  void Stop() override {
    if (sweep_) sweep_->Stop();
  }

 private:
  std::unique_ptr<ErasureSweep> sweep_;
  std::unique_ptr<AdminService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ADMIN_SERVICE_H_
