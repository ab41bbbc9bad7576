// Copyright: the Résorption-bidonvilles data service authors.
//
// No restricted data leaks (docs/access.md §4, §9): a matrix over the read RPCs that return site
// or action data, every role of an organisation of Seine-Saint-Denis (93), and two sites (93 and
// 13). The national administrator writes distinctive sentinel strings in the restricted fields
// (justice and police procedures, owner identity, parcel owners, a comment targeted to another
// organisation, action finance comments); each reader's serialized responses are scanned for
// every sentinel, and a sentinel may appear only where docs/access.md lets that reader see it.
// Positive checks (a reader with the right does see the sentinel) keep the scan from passing
// vacuously. A second part checks that expired, revoked, malformed and missing tokens are
// UNAUTHENTICATED on every service.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "resorption/v1/analytics_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "services/auth.h"
#include "tests/domain/test_util.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using grpc::StatusCode;
using testing::Ctx;

// The server's clock (tokens' issue and expiry); the token tests move it forward.
std::atomic<int64_t> g_now_us{absl::ToUnixMicros(
    absl::FromCivil(absl::CivilSecond(2024, 6, 1, 12, 0, 0), absl::UTCTimeZone()))};
int64_t Now() { return g_now_us.load(); }

// Departements of the two sites; the readers' organisation is in 93.
const std::vector<std::string> kDepartements = {"93", "13"};

// Sentinels by category and departement. Public markers (site and action names) tell whether a
// site or action of a departement was returned at all.
enum class Kind {
  kPublicSite,
  kJustice,
  kPolice,
  kOwner,
  kParcelOwner,
  kComment,
  kPublicAction,
  kFinance
};
std::string Sentinel(Kind kind, const std::string& dep) {
  switch (kind) {
    case Kind::kPublicSite:
      return "PUBLIC_SITE_" + dep;
    case Kind::kJustice:
      return "SENTINEL_JUSTICE_" + dep;
    case Kind::kPolice:
      return "SENTINEL_POLICE_" + dep;
    case Kind::kOwner:
      return "SENTINEL_OWNER_" + dep;
    case Kind::kParcelOwner:
      return "SENTINEL_PARCEL_" + dep;
    case Kind::kComment:
      return "SENTINEL_COMMENT_" + dep;
    case Kind::kPublicAction:
      return "PUBLIC_ACTION_" + dep;
    case Kind::kFinance:
      return "SENTINEL_FINANCE_" + dep;
  }
  return "";
}
constexpr Kind kAllKinds[] = {Kind::kPublicSite,   Kind::kJustice,     Kind::kPolice,
                              Kind::kOwner,        Kind::kParcelOwner, Kind::kComment,
                              Kind::kPublicAction, Kind::kFinance};
// Planned amounts of the finance lines: finance data without a string.
int64_t FinanceAmount(const std::string& dep) { return dep == "93" ? 939393 : 131313; }

// Levels of docs/access.md §4 for one reader: N (national), L (local = departement 93), none.
enum class Lvl { kNone, kLocal, kNational };
bool Covers(Lvl l, const std::string& dep) {
  return l == Lvl::kNational || (l == Lvl::kLocal && dep == "93");
}

// One row of the role table (docs/access.md §4, options of §2).
struct Reader {
  std::string id;
  v1::UserRole role;
  std::vector<std::string> options;
  Lvl sites, justice, owner, actions, finances;
  bool observer = false;        // AggregatesOnly: PERMISSION_DENIED on site and action reads
  bool national_admin = false;  // raw log, every comment
};

std::vector<Reader> Readers() {
  const Lvl N = Lvl::kNational, L = Lvl::kLocal, X = Lvl::kNone;
  return {
      {"nat-admin", v1::USER_ROLE_NATIONAL_ADMIN, {}, N, N, N, N, N, false, true},
      {"loc-admin", v1::USER_ROLE_LOCAL_ADMIN, {}, N, N, L, N, L},
      {"corres", v1::USER_ROLE_DIRECT_COLLABORATOR, {}, N, N, X, N, L},
      {"partner", v1::USER_ROLE_COLLABORATOR, {}, L, X, X, L, X},
      {"operator", v1::USER_ROLE_ASSOCIATION, {}, L, X, X, L, X},
      {"nat-actor", v1::USER_ROLE_NATIONAL_ESTABLISHMENT, {}, N, X, X, N, N},
      {"interv", v1::USER_ROLE_INTERVENER, {}, L, X, X, L, X},
      {"observer", v1::USER_ROLE_EXTERNAL_OBSERVER, {}, X, X, X, X, X, true},
      {"partner-justice", v1::USER_ROLE_COLLABORATOR, {"access_justice"}, L, L, X, L, X},
      {"partner-owner-fin",
       v1::USER_ROLE_COLLABORATOR,
       {"access_owner", "access_action_finances"},
       L,
       X,
       L,
       L,
       L},
      // Options open restricted data where the user reads: nationally for a national actor.
      {"nat-actor-justice-owner",
       v1::USER_ROLE_NATIONAL_ESTABLISHMENT,
       {"access_justice", "access_owner"},
       N,
       N,
       N,
       N,
       N},
  };
}

// May `r` see sentinel `kind` of departement `dep` at all (in any response)?
bool MaySee(const Reader& r, Kind kind, const std::string& dep) {
  if (r.observer) return false;
  const bool site = Covers(r.sites, dep);
  const bool action = Covers(r.actions, dep);
  switch (kind) {
    case Kind::kPublicSite:
      return site;
    case Kind::kJustice:
    case Kind::kPolice:
      return site && Covers(r.justice, dep);
    case Kind::kOwner:
    case Kind::kParcelOwner:
      return site && Covers(r.owner, dep);
    case Kind::kComment:
      return r.national_admin;  // targeted to another organisation
    case Kind::kPublicAction:
      return action;
    case Kind::kFinance:
      return action && Covers(r.finances, dep);
  }
  return false;
}

// The sentinels found in `bytes` that `r` may not see.
std::vector<std::string> Leaks(const Reader& r, const std::string& bytes) {
  std::vector<std::string> out;
  for (const std::string& dep : kDepartements) {
    for (Kind k : kAllKinds) {
      const std::string s = Sentinel(k, dep);
      if (bytes.find(s) != std::string::npos && !MaySee(r, k, dep)) out.push_back(s);
    }
  }
  return out;
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

v1::Date Day(int y, int m, int d) { return rb::domain::testing::D(y, m, d); }

// Shared by every test of the suite: one server, one set of sites, actions and users.
struct World {
  testing::TestServer server;
  std::shared_ptr<grpc::Channel> channel;
  std::string admin;                          // the bootstrap administrator's token
  std::map<std::string, std::string> tokens;  // reader id -> token
  uint64_t head = 0;
  std::string minors_job, owner_job, justice_job;
};

class AccessLeakTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world_ = new World;
    ServerOptions o = testing::TestOptions(world_->server.data_dir());
    o.auth.mode = AuthMode::kRequired;
    o.auth.now_us = Now;
    world_->server.Restart(std::move(o));
    ASSERT_TRUE(world_->server.status().ok()) << world_->server.status();
    world_->channel = world_->server.channel();
    std::ifstream in(world_->server.data_dir() + "/bootstrap-admin.token");
    std::getline(in, world_->admin);
    ASSERT_EQ(world_->admin.size(), 64u);
    Populate();
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(world_, nullptr);
    ASSERT_FALSE(world_->admin.empty());
    auto ch = world_->channel;
    directory_ = v1::Directory::NewStub(ch);
    sites_ = v1::Sites::NewStub(ch);
    actions_ = v1::Actions::NewStub(ch);
    territories_ = v1::Territories::NewStub(ch);
    analytics_ = v1::Analytics::NewStub(ch);
    admin_stub_ = v1::Admin::NewStub(ch);
    projections_ = v1::Projections::NewStub(ch);
    events_ = v1::EventStream::NewStub(ch);
  }

  static void Check(const grpc::Status& s, const std::string& what) {
    ASSERT_TRUE(s.ok()) << what << ": " << s.error_message();
  }

  static void CreateOrganisation(v1::Directory::Stub* dir, const std::string& id) {
    v1::CreateOrganisationRequest r;
    r.set_organisation_id(id);
    r.set_name("Organisation " + id);
    r.set_category(v1::ORGANISATION_CATEGORY_ADMINISTRATION);
    *r.add_territories() = Departement("93");
    v1::Organisation org;
    Check(dir->CreateOrganisation(As(world_->admin).get(), r, &org), "CreateOrganisation " + id);
  }

  static std::string NewUser(v1::Directory::Stub* dir, const Reader& reader,
                             const std::string& org) {
    v1::CreateUserRequest r;
    r.set_user_id(reader.id);
    r.set_organisation_id(org);
    r.set_role(reader.role);
    for (const auto& o : reader.options) r.add_options(o);
    r.mutable_personal_data()->set_email(reader.id + "@example.org");
    r.set_activate(true);
    v1::User user;
    grpc::Status s = dir->CreateUser(As(world_->admin).get(), r, &user);
    EXPECT_TRUE(s.ok()) << reader.id << ": " << s.error_message();
    v1::IssueTokenRequest req;
    req.set_user_id(reader.id);
    v1::IssueTokenResponse resp;
    s = dir->IssueToken(As(world_->admin).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << reader.id << ": " << s.error_message();
    return resp.token();
  }

  // Writes the sites, actions, users and analytics jobs of the suite.
  static void Populate() {
    auto ch = world_->channel;
    auto dir = v1::Directory::NewStub(ch);
    auto sites = v1::Sites::NewStub(ch);
    auto actions = v1::Actions::NewStub(ch);
    CreateOrganisation(dir.get(), "org-93");
    CreateOrganisation(dir.get(), "other-93");  // the target of the restricted comments
    for (const Reader& r : Readers()) world_->tokens[r.id] = NewUser(dir.get(), r, "org-93");

    const std::string& admin = world_->admin;
    v1::WriteResult w;
    for (const std::string& dep : kDepartements) {
      const std::string id = "s" + dep;
      v1::DeclareSiteRequest declare;
      declare.set_site_id(id);
      *declare.mutable_command() = rb::domain::testing::Declare(id).declare();
      v1::Site* site = declare.mutable_command()->mutable_site();
      site->set_name(Sentinel(Kind::kPublicSite, dep));
      site->mutable_location()->mutable_address()->set_city_code(dep == "93" ? "93066" : "13001");
      site->mutable_location()->mutable_address()->set_label("1 rue de la Paix");
      site->mutable_ownership()->set_owner_type(v1::OWNER_TYPE_PRIVATE);
      site->mutable_ownership()->set_owner(Sentinel(Kind::kOwner, dep));
      v1::ParcelOwner* parcel = site->mutable_ownership()->add_parcel_owners();
      parcel->set_name(Sentinel(Kind::kParcelOwner, dep));
      parcel->set_owner_type(v1::OWNER_TYPE_PRIVATE);
      parcel->set_active(true);
      site->mutable_population()->set_total(20);
      site->mutable_population()->set_minors(7);
      Check(sites->DeclareSite(As(admin).get(), declare, &w), "DeclareSite " + id);

      v1::UpdateProceduresRequest procedures;
      procedures.set_name("sites/" + id);
      v1::JusticeProcedure* j = procedures.mutable_command()->mutable_justice();
      j->set_owner_complaint(v1::YES);
      j->set_justice_procedure(v1::YES);
      j->set_justice_rendered(v1::YES);
      *j->mutable_justice_rendered_at() = Day(2023, 5, 1);
      j->set_justice_rendered_by(Sentinel(Kind::kJustice, dep));
      v1::PoliceAssistance* p = procedures.mutable_command()->mutable_police();
      p->set_status(v1::POLICE_STATUS_REQUESTED);
      *p->mutable_requested_at() = Day(2023, 6, 1);
      p->set_bailiff(Sentinel(Kind::kPolice, dep));
      Check(sites->UpdateProcedures(As(admin).get(), procedures, &w), "UpdateProcedures " + id);

      v1::PostCommentRequest comment;
      comment.set_name("sites/" + id);
      comment.mutable_command()->set_text(Sentinel(Kind::kComment, dep));
      comment.mutable_command()->add_target_organisation_ids("other-93");
      Check(sites->PostComment(As(admin).get(), comment, &w), "PostComment " + id);

      v1::CreateActionRequest create;
      create.set_action_id("a" + dep);
      *create.mutable_command() = rb::domain::testing::CreateAction("a" + dep).create();
      create.mutable_command()->mutable_details()->set_name(Sentinel(Kind::kPublicAction, dep));
      create.mutable_command()->mutable_details()->set_departement_code(dep);
      create.mutable_command()->mutable_details()->mutable_location()->set_site_ids(0, id);
      Check(actions->CreateAction(As(admin).get(), create, &w), "CreateAction a" + dep);

      v1::RecordActionFinancesRequest finances;
      finances.set_name("actions/a" + dep);
      v1::ActionFinances* f = finances.mutable_command()->mutable_finances();
      f->set_year(2023);
      v1::FinanceLine* line = f->add_lines();
      line->set_type(v1::FINANCE_TYPE_DEDICATED);
      line->set_amount_cents(FinanceAmount(dep));
      line->set_real_amount_cents(FinanceAmount(dep));
      line->set_comments(Sentinel(Kind::kFinance, dep));
      Check(actions->RecordActionFinances(As(admin).get(), finances, &w), "Finances a" + dep);
    }
    world_->head = w.position();

    auto analytics = v1::Analytics::NewStub(ch);
    world_->minors_job =
        RunJob(analytics.get(), R"pb(name: "mineurs_par_departement"
                                     subject: SUBJECT_SITE
                                     group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
                                     aggregates {
                                       name: "mineurs"
                                       kind: LAST_PER_SUBJECT_SUM
                                       field: "site.population.minors"
                                     })pb");
    world_->owner_job =
        RunJob(analytics.get(), R"pb(name: "sites_par_proprietaire"
                                     subject: SUBJECT_SITE
                                     group_by { field: "site.ownership.owner" }
                                     aggregates { name: "sites" kind: COUNT_DISTINCT })pb");
    world_->justice_job =
        RunJob(analytics.get(), R"pb(name: "sites_par_decision"
                                     subject: SUBJECT_SITE
                                     group_by { field: "site.justice.justice_rendered_by" }
                                     aggregates { name: "sites" kind: COUNT_DISTINCT })pb");
  }

  // Submits a projection as the bootstrap administrator and waits for it.
  static std::string RunJob(v1::Analytics::Stub* analytics, const std::string& spec) {
    v1::SubmitProjectionRequest submit;
    submit.set_spec_text(spec);
    submit.set_log_position(world_->head);
    v1::ProjectionJob job;
    grpc::Status s = analytics->SubmitProjection(As(world_->admin).get(), submit, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::GetProjectionJobRequest get;
    get.set_name(job.name());
    get.set_wait(true);
    s = analytics->GetProjectionJob(As(world_->admin).get(), get, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(job.state(), "done") << job.error();
    return job.name();
  }

  static World* world_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::unique_ptr<v1::Sites::Stub> sites_;
  std::unique_ptr<v1::Actions::Stub> actions_;
  std::unique_ptr<v1::Territories::Stub> territories_;
  std::unique_ptr<v1::Analytics::Stub> analytics_;
  std::unique_ptr<v1::Admin::Stub> admin_stub_;
  std::unique_ptr<v1::Projections::Stub> projections_;
  std::unique_ptr<v1::EventStream::Stub> events_;
};

World* AccessLeakTest::world_ = nullptr;

// One cell of the matrix: the answer of one RPC to one reader about one departement's data.
struct Answer {
  grpc::Status status;
  std::string bytes;  // the serialized response when OK
};

// What the matrix expects of a cell.
struct Expect {
  StatusCode code;
  // Sentinels that must appear in the response (the reader has the right and the RPC returns
  // the field); every other sentinel is checked against MaySee.
  std::vector<Kind> present;
};

// The restricted parts of a site a reader sees, as kinds, for a full-site answer.
std::vector<Kind> VisibleSiteKinds(const Reader& r, const std::string& dep) {
  std::vector<Kind> out;
  for (Kind k : {Kind::kPublicSite, Kind::kJustice, Kind::kPolice, Kind::kOwner, Kind::kParcelOwner,
                 Kind::kComment}) {
    if (MaySee(r, k, dep)) out.push_back(k);
  }
  return out;
}

// ListSites (docs/access.md §9): a restricted category is opened in the list only when it is
// open everywhere the reader reads, and the site_list rows carry no journal (comments). The
// history view's ListSitesAsOf redacts each site by its own scope instead.
bool ListShows(const Reader& r, Kind k) {
  switch (k) {
    case Kind::kComment:
      return false;
    case Kind::kJustice:
    case Kind::kPolice:
      return r.justice == Lvl::kNational || r.sites == Lvl::kLocal;
    case Kind::kOwner:
    case Kind::kParcelOwner:
      return r.owner == Lvl::kNational || r.sites == Lvl::kLocal;
    default:
      return true;
  }
}

// Site-level read: observers denied, outside the reading scope NOT_FOUND.
StatusCode SiteReadCode(const Reader& r, const std::string& dep) {
  if (r.observer) return StatusCode::PERMISSION_DENIED;
  return Covers(r.sites, dep) ? StatusCode::OK : StatusCode::NOT_FOUND;
}
StatusCode ActionReadCode(const Reader& r, const std::string& dep) {
  if (r.observer) return StatusCode::PERMISSION_DENIED;
  return Covers(r.actions, dep) ? StatusCode::OK : StatusCode::NOT_FOUND;
}

template <typename M>
Answer Of(const grpc::Status& s, const M& m) {
  return {s, s.ok() ? m.SerializeAsString() : std::string()};
}

TEST_F(AccessLeakTest, EveryReadRpcReturnsOnlyWhatTheRoleMaySeeInAndOutOfScope) {
  const uint64_t head = world_->head;
  for (const Reader& r : Readers()) {
    const std::string& token = world_->tokens.at(r.id);
    // (rpc, departement) -> answer and expectation.
    struct Cell {
      std::string rpc;
      std::string dep;  // "" for calls over every departement
      Answer answer;
      Expect expect;
    };
    std::vector<Cell> cells;
    const StatusCode list_code = r.observer ? StatusCode::PERMISSION_DENIED : StatusCode::OK;

    for (const std::string& dep : kDepartements) {
      const std::string site = "s" + dep, action = "a" + dep;
      {
        v1::GetSiteRequest req;
        req.set_name("sites/" + site);
        req.set_min_position(head);
        v1::Site out;
        cells.push_back({"Sites.GetSite",
                         dep,
                         Of(sites_->GetSite(As(token).get(), req, &out), out),
                         {SiteReadCode(r, dep), VisibleSiteKinds(r, dep)}});
      }
      {
        v1::GetSiteChangeLogRequest req;
        req.set_name("sites/" + site);
        v1::ChangeLog out;
        cells.push_back({"Sites.GetSiteChangeLog",
                         dep,
                         Of(sites_->GetSiteChangeLog(As(token).get(), req, &out), out),
                         {SiteReadCode(r, dep), {}}});
      }
      {
        v1::GetSiteAsOfQuery req;
        req.set_name("sites/" + site);
        *req.mutable_valid_date() = Day(2099, 12, 31);
        req.set_min_position(head);
        v1::SiteAsOf out;
        cells.push_back({"Sites.GetSiteAsOf",
                         dep,
                         Of(sites_->GetSiteAsOf(As(token).get(), req, &out), out),
                         {SiteReadCode(r, dep), VisibleSiteKinds(r, dep)}});
      }
      {
        v1::GetActionRequest req;
        req.set_name("actions/" + action);
        req.set_min_position(head);
        v1::Action out;
        std::vector<Kind> present;
        for (Kind k : {Kind::kPublicAction, Kind::kFinance}) {
          if (MaySee(r, k, dep)) present.push_back(k);
        }
        cells.push_back({"Actions.GetAction",
                         dep,
                         Of(actions_->GetAction(As(token).get(), req, &out), out),
                         {ActionReadCode(r, dep), present}});
      }
      {
        v1::GetSiteActionsQuery req;
        req.set_name("sites/" + site);
        req.set_min_position(head);
        v1::SiteActions out;
        cells.push_back({"Actions.GetSiteActions",
                         dep,
                         Of(actions_->GetSiteActions(As(token).get(), req, &out), out),
                         {SiteReadCode(r, dep), {}}});
      }
      {
        v1::GetSeriesQuery req;
        req.mutable_request()->mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
        req.mutable_request()->mutable_territory()->set_code(dep);
        *req.mutable_request()->add_dates() = Day(2024, 6, 1);
        req.set_min_position(head);
        v1::SeriesResponse out;
        cells.push_back({"Territories.GetSeries",
                         dep,
                         Of(territories_->GetSeries(As(token).get(), req, &out), out),
                         {StatusCode::OK, {}}});
      }
    }

    // Lists over every departement: the expected sentinels are the union over departements.
    {
      v1::ListSitesQuery req;
      req.mutable_request()->set_include_site(true);
      req.set_min_position(head);
      v1::ListSitesResponse out;
      cells.push_back({"Sites.ListSites",
                       "",
                       Of(sites_->ListSites(As(token).get(), req, &out), out),
                       {list_code, {}}});
    }
    {
      v1::ListSitesAsOfQuery req;
      *req.mutable_valid_date() = Day(2099, 12, 31);
      req.set_min_position(head);
      v1::ListSitesAsOfResponse out;
      cells.push_back({"Sites.ListSitesAsOf",
                       "",
                       Of(sites_->ListSitesAsOf(As(token).get(), req, &out), out),
                       {list_code, {}}});
    }
    {
      v1::ListActionsQuery req;
      req.set_min_position(head);
      v1::ListActionsResponse out;
      cells.push_back({"Actions.ListActions",
                       "",
                       Of(actions_->ListActions(As(token).get(), req, &out), out),
                       {list_code, {}}});
    }
    v1::ActionAggregatesResponse aggregates;
    {
      // Aggregates: every role, observers included (finances only where they are visible).
      v1::GetActionAggregatesQuery req;
      req.set_min_position(head);
      cells.push_back(
          {"Actions.GetActionAggregates",
           "",
           Of(actions_->GetActionAggregates(As(token).get(), req, &aggregates), aggregates),
           {StatusCode::OK, {}}});
    }

    for (const Cell& c : cells) {
      SCOPED_TRACE(absl::StrCat(r.id, " ", c.rpc, " ", c.dep));
      EXPECT_EQ(c.answer.status.error_code(), c.expect.code) << c.answer.status.error_message();
      EXPECT_EQ(Leaks(r, c.answer.bytes), std::vector<std::string>{});
      if (!c.answer.status.ok()) continue;
      for (Kind k : c.expect.present) {
        EXPECT_NE(c.answer.bytes.find(Sentinel(k, c.dep)), std::string::npos)
            << "missing " << Sentinel(k, c.dep);
      }
      if (c.dep.empty() && (c.rpc == "Sites.ListSites" || c.rpc == "Sites.ListSitesAsOf")) {
        // Lists return every site of the reading scope, each with what the reader may see.
        for (const std::string& dep : kDepartements) {
          for (Kind k : VisibleSiteKinds(r, dep)) {
            if (c.rpc == "Sites.ListSites" && !ListShows(r, k)) continue;
            EXPECT_NE(c.answer.bytes.find(Sentinel(k, dep)), std::string::npos)
                << "missing " << Sentinel(k, dep);
          }
        }
      }
      if (c.rpc == "Actions.ListActions") {
        for (const std::string& dep : kDepartements) {
          for (Kind k : {Kind::kPublicAction, Kind::kFinance}) {
            if (!MaySee(r, k, dep)) continue;
            EXPECT_NE(c.answer.bytes.find(Sentinel(k, dep)), std::string::npos)
                << "missing " << Sentinel(k, dep);
          }
        }
      }
    }
    // Finance sums carry no string: look for the planned amounts of each departement.
    for (const v1::ActionAggregate& a : aggregates.aggregates()) {
      for (const v1::FinanceTotal& f : a.finances()) {
        for (const std::string& dep : kDepartements) {
          if (f.amount_cents() == FinanceAmount(dep) && a.departement_code() == dep) {
            EXPECT_TRUE(MaySee(r, Kind::kFinance, dep))
                << r.id << " sees the finance sums of departement " << dep;
          }
        }
        EXPECT_TRUE(f.amount_cents() != FinanceAmount("93") + FinanceAmount("13") ||
                    (r.finances == Lvl::kNational))
            << r.id << " sees the national finance sum";
      }
    }
  }
}

// Filtering on the administrative evacuation order or the insalubrity order tells which sites
// have one: both filters, in the current list and at a past date, are refused to readers who do
// not see the procedures of every site they list (docs/access.md §9), like the judicial ones.
TEST_F(AccessLeakTest, OrderFiltersAreRefusedWithoutJusticeAccessInBothLists) {
  const uint64_t head = world_->head;
  for (const Reader& r : Readers()) {
    const std::string& token = world_->tokens.at(r.id);
    const bool justice =
        r.justice == Lvl::kNational || (r.sites == Lvl::kLocal && r.justice == Lvl::kLocal);
    for (const std::string field : {"administrative_order", "insalubrity_order"}) {
      for (v1::TriState value : {v1::YES, v1::TRI_STATE_UNSPECIFIED}) {
        SCOPED_TRACE(absl::StrCat(r.id, " ", field, " ", v1::TriState_Name(value)));
        v1::SiteFilter filter;
        if (std::string(field) == "administrative_order") {
          filter.add_administrative_order(value);
        } else {
          filter.add_insalubrity_order(value);
        }
        // Neither site has an order: "yes" lists nothing, "not filled" every site read.
        const int expected = value == v1::YES ? 0 : (r.sites == Lvl::kNational ? 2 : 1);

        v1::ListSitesQuery list;
        *list.mutable_request()->mutable_filter() = filter;
        list.set_min_position(head);
        v1::ListSitesResponse current;
        grpc::Status s = sites_->ListSites(As(token).get(), list, &current);
        v1::ListSitesAsOfQuery asof;
        *asof.mutable_filter() = filter;
        *asof.mutable_valid_date() = Day(2099, 12, 31);
        asof.set_min_position(head);
        v1::ListSitesAsOfResponse past;
        grpc::Status p = sites_->ListSitesAsOf(As(token).get(), asof, &past);

        if (r.observer) {
          EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
          EXPECT_EQ(p.error_code(), StatusCode::PERMISSION_DENIED);
        } else if (!justice) {
          EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
          EXPECT_EQ(p.error_code(), StatusCode::PERMISSION_DENIED) << p.error_message();
          const std::string message = absl::StrCat("filter.", field);
          EXPECT_NE(s.error_message().find(message), std::string::npos) << s.error_message();
          EXPECT_NE(p.error_message().find(message), std::string::npos) << p.error_message();
        } else {
          ASSERT_TRUE(s.ok()) << s.error_message();
          ASSERT_TRUE(p.ok()) << p.error_message();
          EXPECT_EQ(current.sites_size(), expected);
          EXPECT_EQ(past.sites_size(), expected);
        }
      }
    }
  }
}

// Filtering a list on justice or police data would tell which sites are under a procedure: both
// lists refuse it unless justice data is open everywhere the reader reads (docs/access.md §9),
// whatever the date of the list.
TEST_F(AccessLeakTest, ListsFilterOnJusticeDataOnlyForReadersWhoSeeItEverywhereTheyRead) {
  const uint64_t head = world_->head;
  for (const Reader& r : Readers()) {
    SCOPED_TRACE(r.id);
    const std::string& token = world_->tokens.at(r.id);
    const bool justice_everywhere =
        !r.observer &&
        (r.justice == Lvl::kNational || (r.justice == Lvl::kLocal && r.sites == Lvl::kLocal));
    const StatusCode code = justice_everywhere ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
    // Every site has a justice procedure and a police request: "yes" returns what the reader
    // reads, "no" nothing.
    std::set<std::string> readable;
    for (const std::string& dep : kDepartements) {
      if (Covers(r.sites, dep)) readable.insert("s" + dep);
    }
    struct Filter {
      std::string what;
      v1::SiteFilter filter;
      std::set<std::string> expected;
    };
    std::vector<Filter> filters(4);
    filters[0].what = "justice_procedure yes";
    filters[0].filter.add_justice_procedure(v1::YES);
    filters[0].expected = readable;
    filters[1].what = "justice_procedure no";
    filters[1].filter.add_justice_procedure(v1::NO);
    filters[2].what = "police_status requested";
    filters[2].filter.add_police_status(v1::POLICE_STATUS_REQUESTED);
    filters[2].expected = readable;
    filters[3].what = "police_status unspecified";
    filters[3].filter.add_police_status(v1::POLICE_STATUS_UNSPECIFIED);
    for (const Filter& f : filters) {
      SCOPED_TRACE(f.what);
      {
        v1::ListSitesQuery req;
        *req.mutable_request()->mutable_filter() = f.filter;
        req.set_min_position(head);
        v1::ListSitesResponse out;
        grpc::Status s = sites_->ListSites(As(token).get(), req, &out);
        ASSERT_EQ(s.error_code(), code) << "ListSites: " << s.error_message();
        std::set<std::string> ids;
        for (const v1::SiteSummary& row : out.sites()) ids.insert(row.id());
        if (s.ok()) {
          EXPECT_EQ(ids, f.expected) << "ListSites";
        }
      }
      {
        v1::ListSitesAsOfQuery req;
        *req.mutable_valid_date() = Day(2099, 12, 31);
        *req.mutable_filter() = f.filter;
        req.set_min_position(head);
        v1::ListSitesAsOfResponse out;
        grpc::Status s = sites_->ListSitesAsOf(As(token).get(), req, &out);
        ASSERT_EQ(s.error_code(), code) << "ListSitesAsOf: " << s.error_message();
        if (!s.ok()) {
          if (!r.observer) {
            EXPECT_NE(s.error_message().find("require access to justice data"), std::string::npos)
                << s.error_message();
          }
          continue;
        }
        std::set<std::string> ids;
        for (const v1::Site& site : out.sites()) ids.insert(site.id());
        EXPECT_EQ(ids, f.expected) << "ListSitesAsOf";
      }
    }
  }
}

TEST_F(AccessLeakTest, RawEventReadsAreForNationalAdministratorsOnlyAndCarryTheSentinels) {
  for (const Reader& r : Readers()) {
    SCOPED_TRACE(r.id);
    const std::string& token = world_->tokens.at(r.id);
    const StatusCode code = r.national_admin ? StatusCode::OK : StatusCode::PERMISSION_DENIED;

    v1::ReadAllRequest all;
    all.set_limit(1000);
    v1::ReadAllResponse all_out;
    grpc::Status s = events_->ReadAll(As(token).get(), all, &all_out);
    EXPECT_EQ(s.error_code(), code) << s.error_message();

    v1::ReadStreamRequest stream;
    stream.set_stream_id("site-s93");
    v1::ReadStreamResponse stream_out;
    grpc::Status s2 = events_->ReadStream(As(token).get(), stream, &stream_out);
    EXPECT_EQ(s2.error_code(), code) << s2.error_message();

    v1::SubscribeRequest sub;
    sub.set_from_position(0);
    sub.set_max_batch_events(1000);
    auto ctx = As(token);
    auto reader = events_->Subscribe(ctx.get(), sub);
    std::string batch_bytes;
    v1::SubscribeResponse msg;
    while (reader->Read(&msg)) {
      if (msg.has_batch()) {
        batch_bytes = msg.SerializeAsString();
        break;
      }
    }
    if (!batch_bytes.empty()) ctx->TryCancel();
    grpc::Status s3 = reader->Finish();
    if (r.national_admin) {
      EXPECT_FALSE(batch_bytes.empty());
    } else {
      EXPECT_EQ(s3.error_code(), StatusCode::PERMISSION_DENIED) << s3.error_message();
      EXPECT_TRUE(batch_bytes.empty());
    }
    const std::string all_bytes = s.ok() ? all_out.SerializeAsString() : "";
    const std::string stream_bytes = s2.ok() ? stream_out.SerializeAsString() : "";
    for (const std::string& bytes : {all_bytes, stream_bytes, batch_bytes}) {
      EXPECT_EQ(Leaks(r, bytes), std::vector<std::string>{});
    }
    if (r.national_admin) {
      // The payloads are serialized protobufs: the sentinels appear verbatim, except private
      // owners' names, which the log holds sealed (docs/access.md, section 8).
      for (Kind k : kAllKinds) {
        const bool sealed = k == Kind::kOwner || k == Kind::kParcelOwner;
        for (const std::string& dep : kDepartements) {
          EXPECT_EQ(all_bytes.find(Sentinel(k, dep)) != std::string::npos, !sealed)
              << Sentinel(k, dep);
        }
      }
      for (Kind k : {Kind::kJustice, Kind::kComment}) {
        EXPECT_NE(stream_bytes.find(Sentinel(k, "93")), std::string::npos);
        EXPECT_NE(batch_bytes.find(Sentinel(k, "93")), std::string::npos);
      }
    }
  }
}

// Analytics: custom projections need a national site reading; results and exports of a job that
// groups by a restricted field go only to readers who see that field nationally.
TEST_F(AccessLeakTest, AnalyticsResultsAndExportsCarryNoRestrictedFieldOfAReaderWithoutTheRight) {
  for (const Reader& r : Readers()) {
    SCOPED_TRACE(r.id);
    const std::string& token = world_->tokens.at(r.id);
    {
      v1::SubmitProjectionRequest submit;
      submit.set_spec_text(R"pb(name: "mineurs"
                                subject: SUBJECT_SITE
                                group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
                                aggregates {
                                  name: "mineurs"
                                  kind: LAST_PER_SUBJECT_SUM
                                  field: "site.population.minors"
                                })pb");
      submit.set_log_position(world_->head);
      v1::ProjectionJob job;
      const bool national = !r.observer && r.sites == Lvl::kNational;
      EXPECT_EQ(analytics_->SubmitProjection(As(token).get(), submit, &job).error_code(),
                national ? StatusCode::OK : StatusCode::PERMISSION_DENIED);
    }
    struct JobCase {
      std::string job;
      Lvl needed;  // the reader's level for the restricted field the job groups by
      Kind kind;
      bool restricted;
    };
    const std::vector<JobCase> jobs = {
        {world_->minors_job, Lvl::kNational, Kind::kPublicSite, false},
        {world_->owner_job, r.owner, Kind::kOwner, true},
        {world_->justice_job, r.justice, Kind::kJustice, true},
    };
    for (const JobCase& j : jobs) {
      SCOPED_TRACE(j.job);
      StatusCode code = StatusCode::OK;
      if (j.restricted && j.needed != Lvl::kNational) code = StatusCode::PERMISSION_DENIED;
      if (r.observer && j.restricted) code = StatusCode::PERMISSION_DENIED;  // field groups
      v1::GetProjectionJobRequest get;
      get.set_name(j.job);
      get.set_include_rows(true);
      v1::ProjectionJob job;
      grpc::Status s = analytics_->GetProjectionJob(As(token).get(), get, &job);
      EXPECT_EQ(s.error_code(), code) << s.error_message();
      const std::string job_bytes = s.ok() ? job.SerializeAsString() : "";
      EXPECT_EQ(Leaks(r, job_bytes), std::vector<std::string>{});

      for (v1::ExportFormat format : {v1::EXPORT_FORMAT_CSV, v1::EXPORT_FORMAT_JSON_LINES}) {
        v1::ExportProjectionResultRequest req;
        req.set_name(j.job);
        req.set_format(format);
        v1::ExportProjectionResultResponse out;
        grpc::Status e = analytics_->ExportProjectionResult(As(token).get(), req, &out);
        EXPECT_EQ(e.error_code(), code) << e.error_message();
        const std::string bytes = e.ok() ? out.content() : "";
        EXPECT_EQ(Leaks(r, bytes), std::vector<std::string>{});
        // Custom projections fold the log: private owners' names are sealed there, so no job
        // result ever holds them (they could not be erased from it).
        const bool sealed = j.kind == Kind::kOwner;
        if (e.ok() && j.restricted) {
          for (const std::string& dep : kDepartements) {
            EXPECT_EQ(bytes.find(Sentinel(j.kind, dep)) != std::string::npos, !sealed);
          }
        }
      }
      if (s.ok() && j.restricted) {
        EXPECT_EQ(job_bytes.find(Sentinel(j.kind, "93")) != std::string::npos,
                  j.kind != Kind::kOwner);
      }
    }
  }
}

// ---- Tokens ---------------------------------------------------------------------------------

class Calls {
 public:
  explicit Calls(std::shared_ptr<grpc::Channel> ch)
      : sites_(v1::Sites::NewStub(ch)),
        actions_(v1::Actions::NewStub(ch)),
        territories_(v1::Territories::NewStub(ch)),
        analytics_(v1::Analytics::NewStub(ch)),
        admin_(v1::Admin::NewStub(ch)),
        directory_(v1::Directory::NewStub(ch)),
        projections_(v1::Projections::NewStub(ch)),
        events_(v1::EventStream::NewStub(ch)) {}

  // One RPC of every service, each with the metadata `decorate` adds: service -> status code.
  template <typename F>
  std::map<std::string, StatusCode> Run(F decorate) {
    std::map<std::string, StatusCode> out;
    auto ctx = [&] {
      auto c = Ctx();
      decorate(c.get());
      return c;
    };
    {
      v1::GetSiteRequest req;
      req.set_name("sites/s93");
      v1::Site resp;
      out["Sites.GetSite"] = sites_->GetSite(ctx().get(), req, &resp).error_code();
    }
    {
      v1::GetActionRequest req;
      req.set_name("actions/a93");
      v1::Action resp;
      out["Actions.GetAction"] = actions_->GetAction(ctx().get(), req, &resp).error_code();
    }
    {
      v1::GetCommuneRequest req;
      req.set_code("93066");
      v1::Commune resp;
      out["Territories.GetCommune"] =
          territories_->GetCommune(ctx().get(), req, &resp).error_code();
    }
    {
      v1::ListProjectionJobsResponse resp;
      out["Analytics.ListProjectionJobs"] =
          analytics_->ListProjectionJobs(ctx().get(), {}, &resp).error_code();
    }
    {
      v1::CreateBackupRequest req;  // no path: refused after authentication
      v1::CreateBackupResponse resp;
      out["Admin.CreateBackup"] = admin_->CreateBackup(ctx().get(), req, &resp).error_code();
    }
    {
      v1::WhoAmIResponse resp;
      out["Directory.WhoAmI"] = directory_->WhoAmI(ctx().get(), {}, &resp).error_code();
    }
    {
      v1::ListProjectionsResponse resp;
      out["Projections.ListProjections"] =
          projections_->ListProjections(ctx().get(), {}, &resp).error_code();
    }
    {
      v1::GetHeadResponse resp;
      out["EventStream.GetHead"] = events_->GetHead(ctx().get(), {}, &resp).error_code();
    }
    {
      v1::ReadAllRequest req;
      v1::ReadAllResponse resp;
      out["EventStream.ReadAll"] = events_->ReadAll(ctx().get(), req, &resp).error_code();
    }
    return out;
  }

 private:
  std::unique_ptr<v1::Sites::Stub> sites_;
  std::unique_ptr<v1::Actions::Stub> actions_;
  std::unique_ptr<v1::Territories::Stub> territories_;
  std::unique_ptr<v1::Analytics::Stub> analytics_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::unique_ptr<v1::Projections::Stub> projections_;
  std::unique_ptr<v1::EventStream::Stub> events_;
};

void ExpectAllUnauthenticated(const std::map<std::string, StatusCode>& codes) {
  ASSERT_FALSE(codes.empty());
  for (const auto& [rpc, code] : codes) {
    EXPECT_EQ(code, StatusCode::UNAUTHENTICATED) << rpc;
  }
}
void ExpectNoneUnauthenticated(const std::map<std::string, StatusCode>& codes) {
  for (const auto& [rpc, code] : codes) {
    EXPECT_NE(code, StatusCode::UNAUTHENTICATED) << rpc;
  }
}

auto Header(const std::string& value) {
  return [value](grpc::ClientContext* c) { c->AddMetadata("authorization", value); };
}

// A token for the national administrator "nat-admin" (every call of Calls is allowed to them).
std::string Issue(v1::Directory::Stub* dir, const std::string& admin, int64_t ttl_seconds,
                  std::string* token_id) {
  v1::IssueTokenRequest req;
  req.set_user_id("nat-admin");
  req.set_ttl_seconds(ttl_seconds);
  v1::IssueTokenResponse resp;
  grpc::Status s = dir->IssueToken(As(admin).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (token_id != nullptr) *token_id = resp.record().token_id();
  return resp.token();
}

TEST_F(AccessLeakTest, ExpiredTokenIsUnauthenticatedOnEveryService) {
  Calls calls(world_->channel);
  const std::string token = Issue(directory_.get(), world_->admin, 60, nullptr);
  ExpectNoneUnauthenticated(calls.Run(Header("Bearer " + token)));
  g_now_us += absl::ToInt64Microseconds(absl::Seconds(61));
  ExpectAllUnauthenticated(calls.Run(Header("Bearer " + token)));
  // Long-lived tokens still work at the new time.
  ExpectNoneUnauthenticated(calls.Run(Header("Bearer " + world_->tokens.at("nat-admin"))));
}

TEST_F(AccessLeakTest, RevokedTokenIsUnauthenticatedOnEveryService) {
  Calls calls(world_->channel);
  std::string token_id;
  const std::string token = Issue(directory_.get(), world_->admin, 0, &token_id);
  ExpectNoneUnauthenticated(calls.Run(Header("Bearer " + token)));
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(token_id);
  v1::TokenRecord record;
  grpc::Status s = directory_->RevokeToken(As(world_->admin).get(), revoke, &record);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ExpectAllUnauthenticated(calls.Run(Header("Bearer " + token)));
}

TEST_F(AccessLeakTest, MalformedTokensAreUnauthenticatedOnEveryService) {
  Calls calls(world_->channel);
  const std::string valid = world_->tokens.at("nat-admin");
  for (const std::string& header :
       {std::string("Bearer xyz"), std::string("Basic dXNlcjpwYXNzd29yZA=="), std::string(""),
        std::string("Bearer "), std::string("Bearer ") + std::string(64, 'a'), "Basic " + valid,
        valid, "Bearer " + valid + "0", "Bearer " + valid.substr(0, 63)}) {
    SCOPED_TRACE("authorization: " + header);
    ExpectAllUnauthenticated(calls.Run(Header(header)));
  }
}

TEST_F(AccessLeakTest, MissingTokenIsUnauthenticatedOnEveryServiceWhateverTheActorHeaders) {
  Calls calls(world_->channel);
  ExpectAllUnauthenticated(calls.Run([](grpc::ClientContext*) {}));
  ExpectAllUnauthenticated(calls.Run([](grpc::ClientContext* c) {
    c->AddMetadata("x-actor-user", "nat-admin");
    c->AddMetadata("x-actor-role", "national_admin");
  }));
}

}  // namespace
}  // namespace rb::services
