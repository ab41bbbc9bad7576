// Copyright: the Résorption-bidonvilles data service authors.
//
// DirectoryService: the resorption.v1.Directory gRPC service (callback API): organisations,
// users, bearer tokens, and the audit trail of privileged reads. Every call is authenticated
// (services/auth.h); what it may do follows access/policy.h:
//   * CreateOrganisation: national administrators;
//   * CreateUser, SetUserStatus, EraseUser, IssueToken, ListUsers: national administrators, and
//     local administrators for organisations whose main territory lies in their territories
//     (a local administrator cannot create a national administrator);
//   * RevokeToken: administrators as above, and anyone for their own current token;
//   * WhoAmI: anyone authenticated;
//   * ListAudit: national administrators (CanReadAudit).
// A user outside the caller's management scope is NOT_FOUND. Deactivating or erasing a user
// revokes all their tokens.
//
//   options.modules.push_back([] { return std::make_unique<rb::services::DirectoryModule>(); });
#ifndef RB_SERVICES_DIRECTORY_SERVICE_H_
#define RB_SERVICES_DIRECTORY_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "resorption/v1/directory_service.grpc.pb.h"
#include "services/auth.h"
#include "services/service_module.h"

namespace rb::services {

class DirectoryService final : public resorption::v1::Directory::CallbackService {
 public:
  explicit DirectoryService(Authenticator* auth) : auth_(auth) {}

  grpc::ServerUnaryReactor* CreateOrganisation(grpc::CallbackServerContext* ctx,
                                               const resorption::v1::CreateOrganisationRequest* req,
                                               resorption::v1::Organisation* resp) override;
  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* ctx,
                                       const resorption::v1::CreateUserRequest* req,
                                       resorption::v1::User* resp) override;
  grpc::ServerUnaryReactor* SetUserStatus(grpc::CallbackServerContext* ctx,
                                          const resorption::v1::SetUserStatusRequest* req,
                                          resorption::v1::User* resp) override;
  grpc::ServerUnaryReactor* EraseUser(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::EraseUserRequest* req,
                                      resorption::v1::User* resp) override;
  grpc::ServerUnaryReactor* IssueToken(grpc::CallbackServerContext* ctx,
                                       const resorption::v1::IssueTokenRequest* req,
                                       resorption::v1::IssueTokenResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeToken(grpc::CallbackServerContext* ctx,
                                        const resorption::v1::RevokeTokenRequest* req,
                                        resorption::v1::TokenRecord* resp) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::ListUsersRequest* req,
                                      resorption::v1::ListUsersResponse* resp) override;
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx,
                                   const resorption::v1::WhoAmIRequest* req,
                                   resorption::v1::WhoAmIResponse* resp) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* ctx,
                                      const resorption::v1::ListAuditRequest* req,
                                      resorption::v1::ListAuditResponse* resp) override;

 private:
  // OK when `who` may manage the users of `organisation_id`; NOT_FOUND otherwise (also when
  // the organisation is absent).
  absl::Status CheckManages(const rb::access::Principal& who, const std::string& organisation_id);
  // The user, when `who` may manage them; NOT_FOUND otherwise.
  absl::StatusOr<resorption::v1::User> ManagedUser(const rb::access::Principal& who,
                                                   const std::string& user_id);

  Authenticator* auth_;
};

class DirectoryModule : public ServiceModule {
 public:
  std::string name() const override { return "directory"; }
  absl::Status Init(const ServiceEnvironment& env) override;
  std::vector<grpc::Service*> services() override { return {service_.get()}; }

 private:
  std::unique_ptr<DirectoryService> service_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_DIRECTORY_SERVICE_H_
