// Copyright: the Résorption-bidonvilles data service authors.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "services/auth.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::Ctx;

ServerOptions AuthOptionsFor(const std::string& data_dir) {
  ServerOptions o = testing::TestOptions(data_dir);
  o.auth.mode = AuthMode::kRequired;
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

v1::CreateOrganisationRequest Org(const std::string& id, const std::string& departement) {
  v1::CreateOrganisationRequest r;
  r.set_organisation_id(id);
  r.set_name("Organisation " + id);
  r.set_category(v1::ORGANISATION_CATEGORY_ADMINISTRATION);
  auto* t = r.add_territories();
  t->set_level(v1::SCOPE_LEVEL_DEPARTEMENT);
  t->set_code(departement);
  return r;
}

v1::CreateUserRequest UserReq(const std::string& id, const std::string& org, v1::UserRole role) {
  v1::CreateUserRequest r;
  r.set_user_id(id);
  r.set_organisation_id(org);
  r.set_role(role);
  r.mutable_personal_data()->set_email(id + "@example.org");
  r.set_activate(true);
  return r;
}

class DirectoryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Restart(AuthOptionsFor(server_.data_dir()));
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    stub_ = v1::Directory::NewStub(server_.channel());
    admin_ = ReadFile(token_path());
  }
  std::string token_path() const { return server_.data_dir() + "/bootstrap-admin.token"; }

  // Creates an active user and returns a token for them.
  std::string NewUser(const std::string& as, const std::string& id, const std::string& org,
                      v1::UserRole role) {
    v1::User user;
    grpc::Status s = stub_->CreateUser(As(as).get(), UserReq(id, org, role), &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(user.sealed_personal_data().empty());  // never returned, even sealed
    v1::IssueTokenRequest req;
    req.set_user_id(id);
    v1::IssueTokenResponse resp;
    s = stub_->IssueToken(As(as).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token();
  }

  testing::TestServer server_;
  std::unique_ptr<v1::Directory::Stub> stub_;
  std::string admin_;
};

TEST_F(DirectoryServiceTest, FirstStartWritesTheBootstrapTokenOnceReadableByItsOwnerOnly) {
  ASSERT_EQ(admin_.size(), 64u);
  struct stat st;
  ASSERT_EQ(::stat(token_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  v1::WhoAmIResponse me;
  grpc::Status s = stub_->WhoAmI(As(admin_).get(), {}, &me);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(me.user().id(), kBootstrapAdminId);
  EXPECT_EQ(me.user().role(), v1::USER_ROLE_NATIONAL_ADMIN);
  EXPECT_EQ(me.token_id().size(), 16u);
  EXPECT_TRUE(me.user().sealed_personal_data().empty());
  EXPECT_EQ(server_.logs().find(admin_), std::string::npos);  // never logged

  // A restart neither rewrites the file nor invalidates the token.
  server_.Restart(AuthOptionsFor(server_.data_dir()));
  ASSERT_TRUE(server_.status().ok());
  stub_ = v1::Directory::NewStub(server_.channel());
  EXPECT_EQ(ReadFile(token_path()), admin_);
  EXPECT_TRUE(stub_->WhoAmI(As(admin_).get(), {}, &me).ok());
}

TEST_F(DirectoryServiceTest, CallsWithoutAValidTokenAreUnauthenticated) {
  v1::WhoAmIResponse me;
  EXPECT_EQ(stub_->WhoAmI(Ctx().get(), {}, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->WhoAmI(As(std::string(64, 'a')).get(), {}, &me).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto basic = Ctx();
  basic->AddMetadata("authorization", "Basic " + admin_);
  EXPECT_EQ(stub_->WhoAmI(basic.get(), {}, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(DirectoryServiceTest, AdminCreatesUsersIssuesAndRevokesTheirTokens) {
  v1::Organisation org;
  ASSERT_TRUE(stub_->CreateOrganisation(As(admin_).get(), Org("asso-93", "93"), &org).ok());
  const std::string token = NewUser(admin_, "lea", "asso-93", v1::USER_ROLE_ASSOCIATION);
  ASSERT_EQ(token.size(), 64u);

  v1::WhoAmIResponse me;
  ASSERT_TRUE(stub_->WhoAmI(As(token).get(), {}, &me).ok());
  EXPECT_EQ(me.user().id(), "lea");
  EXPECT_EQ(me.organisation().territories(0).code(), "93");

  // An operator manages nothing and reads no audit trail.
  v1::Organisation other;
  EXPECT_EQ(stub_->CreateOrganisation(As(token).get(), Org("x", "13"), &other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListAuditResponse audit;
  v1::ListAuditRequest day;
  day.set_date("2024-06-01");
  EXPECT_EQ(stub_->ListAudit(As(token).get(), day, &audit).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(stub_->ListAudit(As(admin_).get(), day, &audit).ok());

  v1::ListUsersResponse users;
  ASSERT_TRUE(stub_->ListUsers(As(admin_).get(), {}, &users).ok());
  ASSERT_EQ(users.users_size(), 2);  // bootstrap-admin, lea
  EXPECT_TRUE(users.users(1).sealed_personal_data().empty());

  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(me.token_id());
  v1::TokenRecord record;
  ASSERT_TRUE(stub_->RevokeToken(As(admin_).get(), revoke, &record).ok());
  EXPECT_NE(record.revoked_at_us(), 0);
  EXPECT_EQ(stub_->WhoAmI(As(token).get(), {}, &me).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(DirectoryServiceTest, DeactivatingOrErasingAUserEndsTheirSessions) {
  v1::Organisation org;
  ASSERT_TRUE(stub_->CreateOrganisation(As(admin_).get(), Org("pref-93", "93"), &org).ok());
  const std::string a = NewUser(admin_, "noe", "pref-93", v1::USER_ROLE_DIRECT_COLLABORATOR);
  const std::string b = NewUser(admin_, "ines", "pref-93", v1::USER_ROLE_DIRECT_COLLABORATOR);
  v1::SetUserStatusRequest off;
  off.set_user_id("noe");
  v1::User user;
  ASSERT_TRUE(stub_->SetUserStatus(As(admin_).get(), off, &user).ok());
  EXPECT_TRUE(user.sealed_personal_data().empty());
  EXPECT_EQ(user.status(), v1::USER_STATUS_INACTIVE);
  v1::EraseUserRequest erase;
  erase.set_user_id("ines");
  ASSERT_TRUE(stub_->EraseUser(As(admin_).get(), erase, &user).ok());
  EXPECT_TRUE(user.erased());
  v1::WhoAmIResponse me;
  EXPECT_EQ(stub_->WhoAmI(As(a).get(), {}, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->WhoAmI(As(b).get(), {}, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(DirectoryServiceTest, LocalAdminsManageTheirTerritoryAndSeeNothingElse) {
  v1::Organisation org;
  ASSERT_TRUE(stub_->CreateOrganisation(As(admin_).get(), Org("pref-93", "93"), &org).ok());
  ASSERT_TRUE(stub_->CreateOrganisation(As(admin_).get(), Org("asso-93", "93"), &org).ok());
  ASSERT_TRUE(stub_->CreateOrganisation(As(admin_).get(), Org("pref-13", "13"), &org).ok());
  const std::string local = NewUser(admin_, "sam", "pref-93", v1::USER_ROLE_LOCAL_ADMIN);

  const std::string op = NewUser(local, "tom", "asso-93", v1::USER_ROLE_ASSOCIATION);
  EXPECT_EQ(op.size(), 64u);
  v1::User user;
  EXPECT_EQ(stub_
                ->CreateUser(As(local).get(), UserReq("ugo", "pref-13", v1::USER_ROLE_COLLABORATOR),
                             &user)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(stub_
                ->CreateUser(As(local).get(),
                             UserReq("max", "asso-93", v1::USER_ROLE_NATIONAL_ADMIN), &user)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::IssueTokenRequest issue;
  issue.set_user_id(kBootstrapAdminId);
  v1::IssueTokenResponse issued;
  EXPECT_EQ(stub_->IssueToken(As(local).get(), issue, &issued).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::ListUsersResponse users;
  ASSERT_TRUE(stub_->ListUsers(As(local).get(), {}, &users).ok());
  std::vector<std::string> ids;
  for (const auto& u : users.users()) ids.push_back(u.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"sam", "tom"}));
}

TEST(DirectoryServiceDisabledAuth, CallsWithoutATokenActAsTheBuiltInAdministrator) {
  testing::TestServer server;  // ServerOptions default: auth disabled
  ASSERT_TRUE(server.status().ok());
  auto stub = v1::Directory::NewStub(server.channel());
  v1::WhoAmIResponse me;
  ASSERT_TRUE(stub->WhoAmI(Ctx().get(), {}, &me).ok());
  EXPECT_EQ(me.user().role(), v1::USER_ROLE_NATIONAL_ADMIN);
  struct stat st;
  EXPECT_NE(::stat((server.data_dir() + "/bootstrap-admin.token").c_str(), &st), 0);
  // A presented token is still checked.
  EXPECT_EQ(stub->WhoAmI(As(std::string(64, 'b')).get(), {}, &me).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace rb::services

namespace rb::services {
namespace {

TEST(RawLogAccess, NeedsANationalAdministratorAndEveryReadIsAudited) {
  testing::TestServer server;
  ServerOptions o = AuthOptionsFor(server.data_dir());
  o.auth.now_us = [] { return int64_t{1'717'243'200'000'000}; };  // 2024-06-01T12:00:00Z
  server.Restart(std::move(o));
  ASSERT_TRUE(server.status().ok()) << server.status();
  const std::string admin = ReadFile(server.data_dir() + "/bootstrap-admin.token");
  auto dir = v1::Directory::NewStub(server.channel());
  auto log = server.EventStreamStub();

  v1::ReadAllResponse page;
  EXPECT_EQ(log->ReadAll(Ctx().get(), {}, &page).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  v1::Organisation org;
  ASSERT_TRUE(dir->CreateOrganisation(As(admin).get(), Org("pref-93", "93"), &org).ok());
  v1::User user;
  ASSERT_TRUE(
      dir->CreateUser(As(admin).get(), UserReq("eve", "pref-93", v1::USER_ROLE_LOCAL_ADMIN), &user)
          .ok());
  v1::IssueTokenRequest issue;
  issue.set_user_id("eve");
  v1::IssueTokenResponse eve;
  ASSERT_TRUE(dir->IssueToken(As(admin).get(), issue, &eve).ok());
  EXPECT_EQ(log->ReadAll(As(eve.token()).get(), {}, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  ASSERT_TRUE(log->ReadAll(As(admin).get(), {}, &page).ok());
  EXPECT_GT(page.events_size(), 0);
  v1::ReadStreamRequest one;
  one.set_stream_id("user-eve");
  v1::ReadStreamResponse stream;
  ASSERT_TRUE(log->ReadStream(As(admin).get(), one, &stream).ok());

  v1::ListAuditRequest day;
  day.set_date("2024-06-01");
  v1::ListAuditResponse audit;
  ASSERT_TRUE(dir->ListAudit(As(admin).get(), day, &audit).ok());
  ASSERT_EQ(audit.records_size(), 2);
  EXPECT_EQ(audit.records(0).what(), "raw_log_read");
  EXPECT_EQ(audit.records(0).user_id(), kBootstrapAdminId);
  EXPECT_EQ(audit.records(0).rpc(), "ReadAll");
  EXPECT_EQ(audit.records(1).target(), "user-eve");
}

}  // namespace
}  // namespace rb::services
