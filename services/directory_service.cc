// Copyright: the Résorption-bidonvilles data service authors.
#include "services/directory_service.h"

#include "absl/strings/str_cat.h"
#include "services/status_mapping.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using rb::access::Principal;

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Runs `body` with the authenticated principal and replies with its status.
template <typename Body>
grpc::ServerUnaryReactor* Serve(Authenticator* auth, grpc::CallbackServerContext* ctx, Body body) {
  absl::StatusOr<Principal> who = auth->Authenticate(*ctx);
  if (!who.ok()) return Reply(ctx, who.status());
  return Reply(ctx, body(*who));
}

}  // namespace

absl::Status DirectoryService::CheckManages(const Principal& who,
                                            const std::string& organisation_id) {
  auto org = auth_->directory().LoadOrganisation(organisation_id);
  if (!org.ok()) return org.status();
  if (!org->exists() || !rb::access::CanManageUsers(who, org->main_territory())) {
    return rb::access::NotFound("organisation", organisation_id);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::User> DirectoryService::ManagedUser(const Principal& who,
                                                       const std::string& user_id) {
  auto user = auth_->directory().LoadUser(user_id);
  if (!user.ok()) return user.status();
  if (user->status() == v1::USER_STATUS_UNSPECIFIED) return rb::access::NotFound("user", user_id);
  if (absl::Status s = CheckManages(who, user->organisation_id()); !s.ok()) {
    return rb::access::NotFound("user", user_id);
  }
  return user;
}

grpc::ServerUnaryReactor* DirectoryService::CreateOrganisation(
    grpc::CallbackServerContext* ctx, const v1::CreateOrganisationRequest* req,
    v1::Organisation* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (!rb::access::Resolve(who, rb::access::perm::kUser, rb::access::perm::kManage).national) {
      return rb::access::Denied("creating organisations (national administrators only)");
    }
    auto org = auth_->directory().CreateOrganisation(*req, who);
    if (!org.ok()) return org.status();
    *resp = std::move(*org);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::CreateUser(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateUserRequest* req,
                                                       v1::User* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (absl::Status s = CheckManages(who, req->organisation_id()); !s.ok()) return s;
    if (req->role() == v1::USER_ROLE_NATIONAL_ADMIN &&
        who.role != rb::access::Role::kNationalAdmin) {
      return rb::access::Denied("creating a national administrator");
    }
    auto user = auth_->directory().CreateUser(*req, who);
    if (!user.ok()) return user.status();
    user->clear_sealed_personal_data();  // sealed personal data never leave the service
    *resp = std::move(*user);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::SetUserStatus(grpc::CallbackServerContext* ctx,
                                                          const v1::SetUserStatusRequest* req,
                                                          v1::User* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (auto u = ManagedUser(who, req->user_id()); !u.ok()) return u.status();
    auto user = auth_->directory().SetUserStatus(req->user_id(), req->active(), req->reason(), who);
    if (!user.ok()) return user.status();
    if (!req->active()) {
      if (auto n = auth_->tokens().RevokeAllOf(req->user_id(), auth_->NowUs()); !n.ok()) {
        return n.status();
      }
    }
    user->clear_sealed_personal_data();  // sealed personal data never leave the service
    *resp = std::move(*user);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::EraseUser(grpc::CallbackServerContext* ctx,
                                                      const v1::EraseUserRequest* req,
                                                      v1::User* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (auto u = ManagedUser(who, req->user_id()); !u.ok()) return u.status();
    if (auto n = auth_->tokens().RevokeAllOf(req->user_id(), auth_->NowUs()); !n.ok()) {
      return n.status();
    }
    auto user = auth_->directory().EraseUser(req->user_id(), who);
    if (!user.ok()) return user.status();
    user->clear_sealed_personal_data();  // sealed personal data never leave the service
    *resp = std::move(*user);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::IssueToken(grpc::CallbackServerContext* ctx,
                                                       const v1::IssueTokenRequest* req,
                                                       v1::IssueTokenResponse* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    auto user = ManagedUser(who, req->user_id());
    if (!user.ok()) return user.status();
    if (user->status() != v1::USER_STATUS_ACTIVE) {
      return absl::FailedPreconditionError(
          absl::StrCat("user ", req->user_id(), " is not active: activate them first"));
    }
    if (req->ttl_seconds() < 0) {
      return BadRequestError("the token request is invalid",
                             {{"ttl_seconds", "must not be negative"}});
    }
    const absl::Duration ttl = req->ttl_seconds() == 0 ? auth_->options().default_token_ttl
                                                       : absl::Seconds(req->ttl_seconds());
    auto issued =
        auth_->tokens().Issue(req->user_id(), auth_->NowUs(), ttl, who.user_id, req->label());
    if (!issued.ok()) return issued.status();
    resp->set_token(std::move(issued->token));
    *resp->mutable_record() = std::move(issued->record);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::RevokeToken(grpc::CallbackServerContext* ctx,
                                                        const v1::RevokeTokenRequest* req,
                                                        v1::TokenRecord* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (req->token_id() != who.token_id) {
      auto record = auth_->tokens().Find(req->token_id());
      if (!record.ok()) return record.status();
      if (auto u = ManagedUser(who, record->user_id()); !u.ok()) {
        return absl::NotFoundError(absl::StrCat("token ", req->token_id(), " not found"));
      }
    }
    auto r = auth_->tokens().Revoke(req->token_id(), auth_->NowUs());
    if (!r.ok()) return r.status();
    *resp = std::move(*r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::ListUsers(grpc::CallbackServerContext* ctx,
                                                      const v1::ListUsersRequest* req,
                                                      v1::ListUsersResponse* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (rb::access::Resolve(who, rb::access::perm::kUser, rb::access::perm::kManage).none()) {
      return rb::access::Denied("listing users (administrators only)");
    }
    auto users = auth_->directory().ListUsers(req->organisation_id());
    if (!users.ok()) return users.status();
    for (v1::User& u : *users) {
      if (!CheckManages(who, u.organisation_id()).ok()) continue;
      u.clear_sealed_personal_data();  // personal data is never listed
      *resp->add_users() = std::move(u);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::WhoAmI(grpc::CallbackServerContext* ctx,
                                                   const v1::WhoAmIRequest* req,
                                                   v1::WhoAmIResponse* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    auto user = auth_->directory().LoadUser(who.user_id);
    if (!user.ok()) return user.status();
    auto org = auth_->directory().LoadOrganisation(who.organisation_id);
    if (!org.ok()) return org.status();
    user->clear_sealed_personal_data();
    if (user->status() == v1::USER_STATUS_UNSPECIFIED) {  // the built-in "system" principal
      user->set_role(rb::access::RoleToProto(who.role));
      user->set_organisation_id(who.organisation_id);
    }
    *resp->mutable_user() = std::move(*user);
    *resp->mutable_organisation() = std::move(*org);
    resp->set_token_id(who.token_id);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryService::ListAudit(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAuditRequest* req,
                                                      v1::ListAuditResponse* resp) {
  return Serve(auth_, ctx, [&](const Principal& who) -> absl::Status {
    if (!rb::access::CanReadAudit(who)) return rb::access::Denied("reading the audit trail");
    auto records = auth_->audit().List(req->date());
    if (!records.ok()) return records.status();
    for (auto& r : *records) *resp->add_records() = std::move(r);
    return absl::OkStatus();
  });
}

absl::Status DirectoryModule::Init(const ServiceEnvironment& env) {
  if (env.auth == nullptr) return absl::FailedPreconditionError("no authenticator");
  service_ = std::make_unique<DirectoryService>(env.auth);
  return absl::OkStatus();
}

}  // namespace rb::services
