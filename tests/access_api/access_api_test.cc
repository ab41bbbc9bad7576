// Copyright: the Résorption-bidonvilles data service authors.
//
// Enforcement of the access model (docs/access.md, "Enforcement") on every service of a real
// server with authentication required: users and tokens are created through the Directory
// service with the bootstrap administrator's token, and every check goes through real stubs.
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "resorption/v1/analytics_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "services/auth.h"
#include "tests/api/api_test_util.h"
#include "tests/domain/test_util.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::Ctx;

// The server's clock: every audit record of the tests falls on this UTC day.
constexpr char kToday[] = "2024-06-01";
int64_t Now() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2024, 6, 1, 12, 0, 0), absl::UTCTimeZone()));
}

std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

v1::ScopeTerritory Departement(const std::string& code) {
  v1::ScopeTerritory t;
  t.set_level(v1::SCOPE_LEVEL_DEPARTEMENT);
  t.set_code(code);
  return t;
}

v1::DeclareSiteRequest DeclareIn(const std::string& id, const std::string& city_code) {
  v1::DeclareSiteRequest req;
  req.set_site_id(id);
  *req.mutable_command() = rb::domain::testing::Declare(id).declare();
  req.mutable_command()->mutable_site()->mutable_location()->mutable_address()->set_city_code(
      city_code);
  return req;
}

v1::RecordPopulationRequest Population(const std::string& site, int total) {
  v1::RecordPopulationRequest req;
  req.set_name("sites/" + site);
  req.mutable_command()->mutable_population()->set_total(total);
  return req;
}

bool HasJusticeChange(const v1::ChangeLog& log) {
  for (const auto& entry : log.entries()) {
    for (const auto& c : entry.changes()) {
      if (c.sensitivity() == v1::SENSITIVITY_JUSTICE) return true;
    }
  }
  return false;
}

class AccessApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o = testing::TestOptions(server_.data_dir());
    o.auth.mode = AuthMode::kRequired;
    o.auth.now_us = Now;
    server_.Restart(std::move(o));
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    auto channel = server_.channel();
    directory_ = v1::Directory::NewStub(channel);
    sites_ = v1::Sites::NewStub(channel);
    actions_ = v1::Actions::NewStub(channel);
    territories_ = v1::Territories::NewStub(channel);
    projections_ = v1::Projections::NewStub(channel);
    analytics_ = v1::Analytics::NewStub(channel);
    admin_stub_ = v1::Admin::NewStub(channel);
    std::ifstream in(server_.data_dir() + "/" + kBootstrapTokenFile);
    std::getline(in, admin_);
    ASSERT_EQ(admin_.size(), 64u);

    // A prefecture and an association of Seine-Saint-Denis, an observatory with a national view.
    CreateOrganisation("pref-93", {Departement("93")});
    CreateOrganisation("asso-93", {Departement("93")});
    v1::ScopeTerritory nation;
    nation.set_level(v1::SCOPE_LEVEL_NATION);
    CreateOrganisation("observatoire", {nation});
    correspondent_ = NewUser("corres", "pref-93", v1::USER_ROLE_DIRECT_COLLABORATOR);
    partner_ = NewUser("partner", "asso-93", v1::USER_ROLE_COLLABORATOR);
    partner_justice_ =
        NewUser("partner-j", "asso-93", v1::USER_ROLE_COLLABORATOR, {"access_justice"});
    intervener_ = NewUser("interv", "asso-93", v1::USER_ROLE_INTERVENER);
    observer_ = NewUser("obs", "observatoire", v1::USER_ROLE_EXTERNAL_OBSERVER);

    // One site in Saint-Denis (93) with a justice procedure, one in Aix-en-Provence (13).
    v1::WriteResult w;
    grpc::Status s = sites_->DeclareSite(As(admin_).get(), DeclareIn("s93", "93066"), &w);
    ASSERT_TRUE(s.ok()) << s.error_message();
    s = sites_->DeclareSite(As(admin_).get(), DeclareIn("s13", "13001"), &w);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::UpdateProceduresRequest procedures;
    procedures.set_name("sites/s93");
    procedures.mutable_command()->mutable_justice()->set_owner_complaint(v1::YES);
    procedures.mutable_command()->mutable_justice()->set_justice_procedure(v1::YES);
    s = sites_->UpdateProcedures(As(admin_).get(), procedures, &w);
    ASSERT_TRUE(s.ok()) << s.error_message();
    head_ = w.position();
  }

  void CreateOrganisation(const std::string& id, std::vector<v1::ScopeTerritory> territories) {
    v1::CreateOrganisationRequest r;
    r.set_organisation_id(id);
    r.set_name("Organisation " + id);
    r.set_category(v1::ORGANISATION_CATEGORY_ADMINISTRATION);
    for (auto& t : territories) *r.add_territories() = t;
    v1::Organisation org;
    grpc::Status s = directory_->CreateOrganisation(As(admin_).get(), r, &org);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Creates an active user and returns a bearer token for them.
  std::string NewUser(const std::string& id, const std::string& org, v1::UserRole role,
                      std::vector<std::string> options = {}) {
    v1::CreateUserRequest r;
    r.set_user_id(id);
    r.set_organisation_id(org);
    r.set_role(role);
    for (const auto& o : options) r.add_options(o);
    r.mutable_personal_data()->set_email(id + "@example.org");
    r.set_activate(true);
    v1::User user;
    grpc::Status s = directory_->CreateUser(As(admin_).get(), r, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::IssueTokenRequest req;
    req.set_user_id(id);
    v1::IssueTokenResponse resp;
    s = directory_->IssueToken(As(admin_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token();
  }

  grpc::StatusCode GetSite(const std::string& token, const std::string& id, v1::Site* out) {
    v1::GetSiteRequest req;
    req.set_name("sites/" + id);
    return sites_->GetSite(As(token).get(), req, out).error_code();
  }

  v1::ListSitesResponse ListSites(const std::string& token, grpc::StatusCode expected) {
    v1::ListSitesQuery q;
    q.set_min_position(head_);
    q.mutable_request()->set_include_site(true);
    v1::ListSitesResponse page;
    grpc::Status s = sites_->ListSites(As(token).get(), q, &page);
    EXPECT_EQ(s.error_code(), expected) << s.error_message();
    return page;
  }

  std::vector<v1::AuditRecord> Audit() {
    v1::ListAuditRequest req;
    req.set_date(kToday);
    v1::ListAuditResponse resp;
    grpc::Status s = directory_->ListAudit(As(admin_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.records().begin(), resp.records().end()};
  }

  // Runs a count of sites per departement as the administrator; returns the job's name.
  std::string CountSitesPerDepartement() {
    v1::SubmitProjectionRequest submit;
    submit.set_spec_text(R"pb(name: "sites_par_departement"
                              subject: SUBJECT_SITE
                              group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
                              aggregates { name: "sites" kind: COUNT_DISTINCT })pb");
    submit.set_log_position(head_);
    v1::ProjectionJob job;
    grpc::Status s = analytics_->SubmitProjection(As(admin_).get(), submit, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::GetProjectionJobRequest get;
    get.set_name(job.name());
    get.set_wait(true);
    s = analytics_->GetProjectionJob(As(admin_).get(), get, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(job.state(), "done");
    return job.name();
  }

  static constexpr char kBootstrapTokenFile[] = "bootstrap-admin.token";

  testing::TestServer server_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::unique_ptr<v1::Sites::Stub> sites_;
  std::unique_ptr<v1::Actions::Stub> actions_;
  std::unique_ptr<v1::Territories::Stub> territories_;
  std::unique_ptr<v1::Projections::Stub> projections_;
  std::unique_ptr<v1::Analytics::Stub> analytics_;
  std::unique_ptr<v1::Admin::Stub> admin_stub_;
  std::string admin_, correspondent_, partner_, partner_justice_, intervener_, observer_;
  uint64_t head_ = 0;
};

TEST_F(AccessApiTest, EveryServiceAnswersUnauthenticatedWithoutAValidToken) {
  // The x-actor-* headers name a national administrator: ignored when tokens are required.
  auto anonymous = [] {
    auto ctx = Ctx();
    ctx->AddMetadata("x-actor-user", "u-1");
    ctx->AddMetadata("x-actor-role", "national_admin");
    return ctx;
  };
  constexpr auto kUnauthenticated = grpc::StatusCode::UNAUTHENTICATED;
  v1::Site site;
  v1::GetSiteRequest get;
  get.set_name("sites/s93");
  EXPECT_EQ(sites_->GetSite(anonymous().get(), get, &site).error_code(), kUnauthenticated);
  EXPECT_EQ(sites_->GetSite(As(std::string(64, 'a')).get(), get, &site).error_code(),
            kUnauthenticated);
  v1::ListSitesResponse page;
  EXPECT_EQ(sites_->ListSites(anonymous().get(), {}, &page).error_code(), kUnauthenticated);
  v1::WriteResult w;
  EXPECT_EQ(sites_->RecordPopulation(anonymous().get(), Population("s93", 12), &w).error_code(),
            kUnauthenticated);
  v1::Action action;
  v1::GetActionRequest get_action;
  get_action.set_name("actions/a1");
  EXPECT_EQ(actions_->GetAction(anonymous().get(), get_action, &action).error_code(),
            kUnauthenticated);
  v1::Commune commune;
  v1::GetCommuneRequest get_commune;
  get_commune.set_code("93066");
  EXPECT_EQ(territories_->GetCommune(anonymous().get(), get_commune, &commune).error_code(),
            kUnauthenticated);
  v1::ListProjectionsResponse projections;
  EXPECT_EQ(projections_->ListProjections(anonymous().get(), {}, &projections).error_code(),
            kUnauthenticated);
  v1::ListProjectionJobsResponse jobs;
  EXPECT_EQ(analytics_->ListProjectionJobs(anonymous().get(), {}, &jobs).error_code(),
            kUnauthenticated);
  v1::CreateBackupResponse backup;
  EXPECT_EQ(admin_stub_->CreateBackup(anonymous().get(), {}, &backup).error_code(),
            kUnauthenticated);
  // The same calls with a token succeed.
  EXPECT_EQ(GetSite(partner_, "s93", &site), grpc::StatusCode::OK);
  EXPECT_TRUE(territories_->GetCommune(As(observer_).get(), get_commune, &commune).ok());
}

TEST_F(AccessApiTest, SiteOutsideTheReadingScopeIsNotFoundForReadsAndCommands) {
  v1::Site site;
  EXPECT_EQ(GetSite(partner_, "s13", &site), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetSite(partner_, "s93", &site), grpc::StatusCode::OK);
  v1::GetSiteChangeLogRequest log_req;
  log_req.set_name("sites/s13");
  v1::ChangeLog log;
  EXPECT_EQ(sites_->GetSiteChangeLog(As(partner_).get(), log_req, &log).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::WriteResult w;
  EXPECT_EQ(sites_->RecordPopulation(As(partner_).get(), Population("s13", 12), &w).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Lists hold only the sites of the reading scope; the national correspondent sees both.
  v1::ListSitesResponse page = ListSites(partner_, grpc::StatusCode::OK);
  ASSERT_EQ(page.sites_size(), 1);
  EXPECT_EQ(page.sites(0).id(), "s93");
  EXPECT_EQ(ListSites(correspondent_, grpc::StatusCode::OK).sites_size(), 2);
}

TEST_F(AccessApiTest, CommandInsideTheReadingScopeButOutsideTheWritingScopeIsPermissionDenied) {
  v1::WriteResult w;
  // The intervener reads Seine-Saint-Denis but writes nothing.
  EXPECT_EQ(sites_->RecordPopulation(As(intervener_).get(), Population("s93", 12), &w).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The correspondent reads nationally but writes in Seine-Saint-Denis only.
  EXPECT_EQ(
      sites_->RecordPopulation(As(correspondent_).get(), Population("s13", 12), &w).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      sites_->DeclareSite(As(correspondent_).get(), DeclareIn("n13", "13001"), &w).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // A partner updates but does not close.
  v1::CloseSiteRequest close;
  close.set_name("sites/s93");
  *close.mutable_command()->mutable_closure() = rb::domain::testing::ValidClosure();
  EXPECT_EQ(sites_->CloseSite(As(partner_).get(), close, &w).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Inside the writing scope the command runs, attributed to the authenticated user.
  grpc::Status s = sites_->RecordPopulation(As(correspondent_).get(), Population("s93", 12), &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(w.first_position(), head_ + 1);  // the refused commands appended nothing
  v1::GetSiteChangeLogRequest log_req;
  log_req.set_name("sites/s93");
  v1::ChangeLog log;
  ASSERT_TRUE(sites_->GetSiteChangeLog(As(admin_).get(), log_req, &log).ok());
  ASSERT_FALSE(log.entries().empty());
  EXPECT_EQ(log.entries(log.entries_size() - 1).author_user_id(), "corres");
}

TEST_F(AccessApiTest, JusticeFieldsAreReturnedOnlyWithTheAccessJusticeOption) {
  v1::Site without, with;
  ASSERT_EQ(GetSite(partner_, "s93", &without), grpc::StatusCode::OK);
  EXPECT_FALSE(without.has_justice());
  ASSERT_EQ(GetSite(partner_justice_, "s93", &with), grpc::StatusCode::OK);
  EXPECT_EQ(with.justice().justice_procedure(), v1::YES);
  // Lists too.
  v1::ListSitesResponse page = ListSites(partner_, grpc::StatusCode::OK);
  ASSERT_EQ(page.sites_size(), 1);
  EXPECT_FALSE(page.sites(0).site().has_justice());
  page = ListSites(partner_justice_, grpc::StatusCode::OK);
  ASSERT_EQ(page.sites_size(), 1);
  EXPECT_TRUE(page.sites(0).site().has_justice());
}

TEST_F(AccessApiTest, ChangeLogHidesJusticeChangesFromReadersWithoutJusticeAccess) {
  v1::GetSiteChangeLogRequest req;
  req.set_name("sites/s93");
  v1::ChangeLog without, with;
  ASSERT_TRUE(sites_->GetSiteChangeLog(As(partner_).get(), req, &without).ok());
  ASSERT_TRUE(sites_->GetSiteChangeLog(As(partner_justice_).get(), req, &with).ok());
  EXPECT_FALSE(HasJusticeChange(without));
  EXPECT_TRUE(HasJusticeChange(with));
}

TEST_F(AccessApiTest, ObserverGetsNoSiteDataAndSuppressedSmallCounts) {
  v1::Site site;
  EXPECT_EQ(GetSite(observer_, "s93", &site), grpc::StatusCode::PERMISSION_DENIED);
  ListSites(observer_, grpc::StatusCode::PERMISSION_DENIED);
  v1::GetSiteChangeLogRequest log_req;
  log_req.set_name("sites/s93");
  v1::ChangeLog log;
  EXPECT_EQ(sites_->GetSiteChangeLog(As(observer_).get(), log_req, &log).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const std::string job = CountSitesPerDepartement();
  v1::GetProjectionJobRequest get;
  get.set_name(job);
  get.set_include_rows(true);
  v1::ProjectionJob full, suppressed;
  ASSERT_TRUE(analytics_->GetProjectionJob(As(admin_).get(), get, &full).ok());
  grpc::Status s = analytics_->GetProjectionJob(As(observer_).get(), get, &suppressed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(full.result().rows_size(), 2);
  ASSERT_EQ(suppressed.result().rows_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(full.result().rows(i).values(0), 1.0);
    EXPECT_TRUE(std::isnan(suppressed.result().rows(i).values(0)));
  }
  EXPECT_TRUE(suppressed.result().rows_hash().empty());
  // Observers do not run custom projections over the log.
  v1::SubmitProjectionRequest submit;
  submit.set_spec_text(R"pb(name: "x"
                            subject: SUBJECT_SITE
                            aggregates { name: "n" kind: COUNT })pb");
  v1::ProjectionJob other;
  EXPECT_EQ(analytics_->SubmitProjection(As(observer_).get(), submit, &other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AccessApiTest, RestrictedReadsAndExportsAreAudited) {
  v1::Site site;
  ASSERT_EQ(GetSite(partner_, "s93", &site), grpc::StatusCode::OK);  // nothing restricted
  ASSERT_EQ(GetSite(partner_justice_, "s93", &site), grpc::StatusCode::OK);
  v1::ExportProjectionResultRequest export_req;
  export_req.set_name(CountSitesPerDepartement());
  export_req.set_format(v1::EXPORT_FORMAT_CSV);
  v1::ExportProjectionResultResponse exported;
  grpc::Status s =
      analytics_->ExportProjectionResult(As(correspondent_).get(), export_req, &exported);
  ASSERT_TRUE(s.ok()) << s.error_message();

  bool restricted = false, exported_audit = false;
  for (const v1::AuditRecord& r : Audit()) {
    EXPECT_NE(r.user_id(), "partner");  // a read without restricted data leaves no trace
    if (r.what() == "restricted_read" && r.user_id() == "partner-j") {
      restricted = true;
      EXPECT_EQ(r.target(), "site-s93");
      ASSERT_EQ(r.fields_size(), 1);
      EXPECT_EQ(r.fields(0), "justice");
      EXPECT_EQ(r.rpc(), "/resorption.v1.Sites/GetSite");
    }
    if (r.what() == "export" && r.user_id() == "corres") {
      exported_audit = true;
      EXPECT_EQ(r.target(), "export:" + exported.file_name());
    }
  }
  EXPECT_TRUE(restricted);
  EXPECT_TRUE(exported_audit);
}

TEST_F(AccessApiTest, BackupsAndRebuildsNeedANationalAdministratorAndBackupsAreAudited) {
  v1::CreateBackupRequest req;
  req.set_path(server_.data_dir() + "-backup");
  v1::CreateBackupResponse resp;
  EXPECT_EQ(admin_stub_->CreateBackup(As(correspondent_).get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RebuildProjectionRequest rebuild;
  rebuild.set_name("site_list");
  v1::RebuildProjectionResponse rebuilt;
  EXPECT_EQ(
      projections_->RebuildProjection(As(correspondent_).get(), rebuild, &rebuilt).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  grpc::Status s = admin_stub_->CreateBackup(As(admin_).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  bool audited = false;
  for (const v1::AuditRecord& r : Audit()) {
    audited = audited || (r.what() == "export" && r.target() == "backup:" + resp.path() &&
                          r.user_id() == kBootstrapAdminId);
  }
  EXPECT_TRUE(audited);
}

TEST_F(AccessApiTest, TheLiveActivityFeedShowsOnlyTheReadingScope) {
  // An association of the 93: the site of the 93, never the one of the 13.
  testing::Watch watch(*sites_, As(partner_), {});
  std::set<std::string> sites;
  for (const v1::Activity& a : watch.UntilCaughtUp()) {
    if (!a.site().empty()) sites.insert(a.site());
    EXPECT_EQ(a.territory().departement_code(), "93") << a.ShortDebugString();
  }
  EXPECT_EQ(sites, std::set<std::string>{"sites/s93"});
  // Live: the update in the 13 is not sent; the one in the 93 recorded after it is.
  v1::WriteResult w;
  ASSERT_TRUE(sites_->RecordPopulation(As(admin_).get(), Population("s13", 30), &w).ok());
  ASSERT_TRUE(sites_->RecordPopulation(As(admin_).get(), Population("s93", 20), &w).ok());
  std::optional<v1::Activity> live = watch.NextActivity();
  ASSERT_TRUE(live.has_value()) << watch.Finish().error_message();
  EXPECT_EQ(live->site(), "sites/s93");
  EXPECT_EQ(live->position(), w.position());
}

TEST_F(AccessApiTest, TheLiveActivityFeedEndsWhenItsReaderIsDeactivated) {
  testing::Watch watch(*sites_, As(partner_), {});
  EXPECT_FALSE(watch.UntilCaughtUp().empty());
  // Deactivated while the stream waits: the next event is not sent, and the stream ends
  // UNAUTHENTICATED, as a new call does.
  v1::SetUserStatusRequest off;
  off.set_user_id("partner");
  off.set_active(false);
  off.set_reason("left the association");
  v1::User user;
  ASSERT_TRUE(directory_->SetUserStatus(As(admin_).get(), off, &user).ok());
  v1::WriteResult w;
  ASSERT_TRUE(sites_->RecordPopulation(As(admin_).get(), Population("s93", 20), &w).ok());
  std::optional<v1::Activity> live = watch.NextActivity();
  EXPECT_FALSE(live.has_value()) << live->ShortDebugString();
  const grpc::Status ended = watch.Finish();
  testing::Watch again(*sites_, As(partner_), {});
  EXPECT_FALSE(again.Next().has_value());
  const grpc::Status refused = again.Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  // Deactivating a user also revokes their tokens, just after: the stream ends on whichever of
  // the two its next check of the caller meets first.
  EXPECT_THAT(ended.error_message(), ::testing::AnyOf(::testing::HasSubstr("not active"),
                                                      ::testing::HasSubstr("revoked token")));
}

TEST_F(AccessApiTest, TheLiveActivityFeedRefusesObserversAsTheListDoesAndAuditsJustice) {
  v1::ListActivityResponse listed;
  const grpc::Status list = sites_->ListActivity(As(observer_).get(), {}, &listed);
  EXPECT_EQ(list.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  testing::Watch refused(*sites_, As(observer_), {});
  EXPECT_FALSE(refused.Next().has_value());
  const grpc::Status s = refused.Finish();
  EXPECT_EQ(s.error_code(), list.error_code());
  EXPECT_EQ(s.error_message(), list.error_message());

  // A reader of the justice data receives the procedure: the read is audited.
  testing::Watch watch(*sites_, As(partner_justice_), {});
  bool procedure = false;
  for (const v1::Activity& a : watch.UntilCaughtUp()) {
    for (const v1::FieldChange& c : a.changes()) {
      procedure = procedure || c.sensitivity() == v1::SENSITIVITY_JUSTICE;
    }
  }
  EXPECT_TRUE(procedure);
  bool audited = false;
  for (const v1::AuditRecord& r : Audit()) {
    if (r.what() == "restricted_read" && r.rpc() == "/resorption.v1.Sites/WatchActivity") {
      audited = true;
      EXPECT_EQ(r.user_id(), "partner-j");
      EXPECT_EQ(r.target(), "site-s93");
      EXPECT_THAT(r.fields(), ::testing::ElementsAre("justice"));
    }
  }
  EXPECT_TRUE(audited);
}

}  // namespace
}  // namespace rb::services
