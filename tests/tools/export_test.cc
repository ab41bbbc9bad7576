// The `resorption` CLI's site commands, exports and spreadsheet import, against real servers
// (in-process Server on 127.0.0.1:0, empty data directories): export then import into a fresh
// server gives the same sites; a broken CSV gets a complete, precise report and appends nothing;
// importing twice appends nothing the second time.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/run_tool.h"
#include "tools/lib/csv.h"

namespace rb::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadAll;
using testing::RunTool;

constexpr char kActionHeader[] = "Le site fait-il l’objet d’une action ?";
constexpr char kFinancedHeader[] =
    "Le site fait-il l’objet d’une action financée l’année correspondant à la date d’extraction ?";

// The two action cells ("Le site fait-il l’objet d’une action ?", then "... financée ...") of each
// site of a CSV export, by Identifiant; empty (with the test failed) when the CSV or its header is
// not as expected.
std::map<std::string, std::pair<std::string, std::string>> ActionCells(const std::string& csv) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsv(csv);
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok() || records->empty()) return out;
  const std::vector<std::string>& header = records->front().fields;
  auto index = [&](const std::string& name) {
    return std::find(header.begin(), header.end(), name) - header.begin();
  };
  const size_t id = index("Identifiant"), action = index(kActionHeader),
               financed = index(kFinancedHeader);
  EXPECT_LT(action, header.size()) << csv;
  EXPECT_LT(financed, header.size()) << csv;
  if (id >= header.size() || action >= header.size() || financed >= header.size()) return out;
  for (size_t r = 1; r < records->size(); ++r) {
    const std::vector<std::string>& cells = (*records)[r].fields;
    out[cells.at(id)] = {cells.at(action), cells.at(financed)};
  }
  return out;
}

// One server on its own empty data directory.
class TestServer {
 public:
  // `auth`: bearer tokens required (as resorptiond); the bootstrap administrator's token is then
  // in DIR/bootstrap-admin.token.
  explicit TestServer(const std::string& dir, bool auth = false) {
    rb::services::ServerOptions o;
    if (auth) o.auth.mode = rb::services::AuthMode::kRequired;
    o.listen_address = "127.0.0.1:0";
    o.data_dir = dir;
    o.metrics_address = "";
    o.log_sink = &log_;
    o.shutdown_grace = absl::Seconds(5);
    server_ = std::make_unique<rb::services::Server>(std::move(o));
  }
  absl::Status Start() { return server_->Start(); }
  std::string flag() const { return absl::StrCat("--server=127.0.0.1:", server_->port()); }
  std::unique_ptr<resorption::v1::Actions::Stub> Actions() const {
    return resorption::v1::Actions::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<resorption::v1::Directory::Stub> Directory() const {
    return resorption::v1::Directory::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

 private:
  std::ostringstream log_;
  std::unique_ptr<rb::services::Server> server_;
};

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_.path() + "/a");
    std::filesystem::create_directories(tmp_.path() + "/b");
    a_ = std::make_unique<TestServer>(tmp_.path() + "/a/data");
    b_ = std::make_unique<TestServer>(tmp_.path() + "/b/data");
    ASSERT_TRUE(a_->Start().ok());
    ASSERT_TRUE(b_->Start().ok());
  }

  testing::ToolRun Cli(const TestServer& s, std::vector<std::string> args) {
    args.insert(args.begin(),
                {s.flag(), "--actor=u-1", "--organisation=o-1", "--role=national_admin"});
    return RunTool("resorption", args, tmp_.path());
  }

  // The log's last position, to pass as --min-position (read your writes).
  std::string HeadPosition(const TestServer& s) {
    auto r = Cli(s, {"--json", "events", "head"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const size_t at = r.out.find(R"("position":)");
    if (at == std::string::npos) return "0";
    const size_t from = at + std::string(R"("position":)").size();
    return r.out.substr(from, r.out.find(',', from) - from);
  }

  std::string Head(const TestServer& s) {
    auto r = Cli(s, {"events", "head"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  void DeclareTwoSites(const TestServer& s) {
    auto d1 = Cli(s, {"sites", "declare", "--id=s-1", "--name=Les Lilas", "--commune=93066",
                      "--address=12 rue des Lilas 93200 Saint-Denis", "--lat=48.9362",
                      "--lon=2.3574", "--type=Terrain", "--declared=2024-03-01",
                      "--built=2023-11-15", "--access=Portail au fond, à gauche"});
    ASSERT_EQ(d1.exit_code, 0) << d1.err;
    EXPECT_THAT(d1.out, HasSubstr("sites/s-1: appended"));
    auto d2 = Cli(
        s, {"sites", "declare", "--id=s-2", "--commune=44109", "--address=Chemin du Halage, Nantes",
            "--lat=47.2058", "--lon=-1.5394", "--type=Immeuble bâti", "--declared=01/02/2025"});
    ASSERT_EQ(d2.exit_code, 0) << d2.err;
    auto p = Cli(s, {"sites", "update-population", "s-1", "--total=42", "--households=11",
                     "--minors=15", "--in-school=9"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }

  // Creates action a-93 (Seine-Saint-Denis, on site s-1, piloted by o-1, operated by o-op) with
  // its 2024 indicators and, when asked, its 2024 finances; returns the log position of the last
  // write (0 on failure, with the test failed).
  // The two action columns of each site in the site export, once the views have reached
  // `position`; empty (with a test failure) when the export fails.
  std::map<std::string, std::pair<std::string, std::string>> ActionCellsAt(uint64_t position) {
    auto exp = Cli(*a_, {"sites", "export", "--format=csv", "--sort=commune",
                         absl::StrCat("--min-position=", position)});
    EXPECT_EQ(exp.exit_code, 0) << exp.err;
    if (exp.exit_code != 0) return {};
    return ActionCells(exp.out);
  }

  uint64_t CreateActionA93(bool with_finances, int finance_year = 2024) {
    namespace v1 = resorption::v1;
    auto actions = a_->Actions();
    v1::CreateActionRequest create;
    create.set_action_id("a-93");
    v1::ActionDetails* d = create.mutable_command()->mutable_details();
    d->set_name("Accompagnement vers le logement");
    d->mutable_started_at()->set_year(2024);
    d->mutable_started_at()->set_month(3);
    d->mutable_started_at()->set_day(1);
    d->add_topics(v1::ACTION_TOPIC_HOUSING);
    d->set_departement_code("93");
    d->mutable_location()->set_type(v1::ACTION_LOCATION_TYPE_ON_SITE);
    d->mutable_location()->add_site_ids("s-1");
    v1::ActionMember* pilot = create.mutable_command()->add_managers();
    pilot->set_user_id("u-1");
    pilot->set_organisation_id("o-1");
    v1::ActionMember* operator_ = create.mutable_command()->add_operators();
    operator_->set_user_id("u-op");
    operator_->set_organisation_id("o-op");
    v1::WriteResult r;
    grpc::ClientContext c1;
    AsActor(&c1);
    grpc::Status s = actions->CreateAction(&c1, create, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::RecordActionIndicatorsRequest indicators;
    indicators.set_name("actions/a-93");
    v1::ActionIndicators* i = indicators.mutable_command()->mutable_indicators();
    i->set_year(2024);
    i->set_nombre_personnes(12);
    i->set_nombre_menages(4);
    i->set_logement_nombre_personnes(5);
    grpc::ClientContext c2;
    AsActor(&c2);
    s = actions->RecordActionIndicators(&c2, indicators, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (with_finances) {
      return CreateFinancesA93(finance_year, /*planned_cents=*/1500050, /*spent_cents=*/1200000);
    }
    return s.ok() ? r.position() : 0;
  }

  // Records a-93's finances of `year`: a line of the dedicated credits, `planned_cents` planned
  // and `spent_cents` spent; the log position, or 0.
  uint64_t CreateFinancesA93(int year, int64_t planned_cents = 500000, int64_t spent_cents = 0) {
    namespace v1 = resorption::v1;
    v1::RecordActionFinancesRequest finances;
    finances.set_name("actions/a-93");
    v1::ActionFinances* f = finances.mutable_command()->mutable_finances();
    f->set_year(year);
    v1::FinanceLine* dedicated = f->add_lines();
    dedicated->set_type(v1::FINANCE_TYPE_DEDICATED);
    dedicated->set_amount_cents(planned_cents);
    dedicated->set_real_amount_cents(spent_cents);
    grpc::ClientContext ctx;
    AsActor(&ctx);
    v1::WriteResult r;
    grpc::Status s = a_->Actions()->RecordActionFinances(&ctx, finances, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? r.position() : 0;
  }

  // The actor of the writes, as the CLI sends it (the server runs without authentication), and
  // the deadline.
  static void AsActor(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx->AddMetadata("x-actor-user", "u-1");
    ctx->AddMetadata("x-actor-organisation", "o-1");
    ctx->AddMetadata("x-actor-role", "national_admin");
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = tmp_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  rb::testing::TempDir tmp_;
  std::unique_ptr<TestServer> a_, b_;
};

TEST_F(ExportTest, SiteCommandsDeclareListShowHistoryClose) {
  DeclareTwoSites(*a_);
  // Read your writes: the list waits for the site list view to include the last write.
  auto list = Cli(*a_, {"sites", "list", "--sort=commune", "--min-position=" + HeadPosition(*a_)});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("s-1"));
  EXPECT_THAT(list.out, HasSubstr("Nantes"));
  auto big = Cli(*a_, {"--json", "sites", "list", "--min-population=10"});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_THAT(big.out, HasSubstr(R"("id":"s-1")"));
  EXPECT_THAT(big.out, Not(HasSubstr("s-2")));
  auto dep = Cli(*a_, {"sites", "list", "--departement=44"});
  ASSERT_EQ(dep.exit_code, 0) << dep.err;
  EXPECT_THAT(dep.out, HasSubstr("s-2"));
  EXPECT_THAT(dep.out, Not(HasSubstr("s-1")));
  auto show = Cli(*a_, {"sites", "show", "s-1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Nombre de personnes"));
  EXPECT_THAT(show.out, HasSubstr("42"));
  auto history = Cli(*a_, {"sites", "history", "s-1"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("u-1"));
  auto close = Cli(
      *a_, {"sites", "close", "s-2", "--cause=resorbed", "--date=2025-06-01", "--resorbed=yes"});
  ASSERT_EQ(close.exit_code, 0) << close.err;
  auto closed =
      Cli(*a_, {"sites", "list", "--status=closed", "--min-position=" + HeadPosition(*a_)});
  EXPECT_THAT(closed.out, HasSubstr("s-2"));
  // A position beyond the log's head is refused by the server.
  EXPECT_EQ(Cli(*a_, {"sites", "list", "--min-position=99999999"}).exit_code, 1);
  EXPECT_EQ(Cli(*a_, {"sites", "list", "--min-position=soon"}).exit_code, 2);
  // The activity feed, newest first, filtered by département.
  auto activity = Cli(*a_, {"sites", "activity", "--departement=44"});
  ASSERT_EQ(activity.exit_code, 0) << activity.err;
  std::vector<std::string> feed = absl::StrSplit(activity.out, '\n', absl::SkipEmpty());
  ASSERT_GE(feed.size(), 2u) << activity.out;
  EXPECT_THAT(feed[0], HasSubstr("closed  s-2"));
  EXPECT_THAT(activity.out, HasSubstr("declared  s-2"));
  EXPECT_THAT(activity.out, Not(HasSubstr("s-1")));
  auto updates = Cli(*a_, {"--json", "sites", "activity", "--kind=updated", "--limit=1"});
  ASSERT_EQ(updates.exit_code, 0) << updates.err;
  EXPECT_THAT(updates.out, HasSubstr(R"("kind":"updated","site":"s-1")"));
  EXPECT_THAT(updates.out, HasSubstr(R"("field":"Nombre de personnes")"));
  EXPECT_EQ(Cli(*a_, {"sites", "activity", "--kind=moved"}).exit_code, 2);
  auto missing = Cli(*a_, {"sites", "show", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  auto usage = Cli(*a_, {"sites", "list", "--status=maybe"});
  EXPECT_EQ(usage.exit_code, 2);
}

// `sites activity --follow`: the feed oldest first from a log position, then as it is recorded;
// resumed after the position of the last activity printed.
TEST_F(ExportTest, ActivityFollowPrintsOldestFirstAndResumes) {
  DeclareTwoSites(*a_);
  // The whole history (three versions), oldest first; --limit ends the stream.
  auto all = Cli(*a_, {"--json", "sites", "activity", "--follow", "--after=0", "--limit=3"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<std::string> lines = absl::StrSplit(all.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << all.out;
  EXPECT_THAT(lines[0], HasSubstr(R"("kind":"declared","site":"s-1")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("kind":"declared","site":"s-2")"));
  EXPECT_THAT(lines[2], HasSubstr(R"("kind":"updated","site":"s-1")"));
  EXPECT_THAT(lines[2], HasSubstr(R"("field":"Nombre de personnes")"));
  const std::string key = R"({"position":)";
  ASSERT_TRUE(absl::StartsWith(lines[0], key)) << lines[0];
  const std::string first = lines[0].substr(key.size(), lines[0].find(',') - key.size());

  // Human lines, after the first activity: the two that follow it.
  auto resumed = Cli(*a_, {"sites", "activity", "--follow", "--after=" + first, "--limit=2"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  lines = absl::StrSplit(resumed.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << resumed.out;
  EXPECT_THAT(lines[0], HasSubstr("declared  s-2"));
  EXPECT_THAT(resumed.out, HasSubstr("updated  s-1 (Les Lilas)"));
  EXPECT_THAT(resumed.out, HasSubstr("Nombre de personnes"));
  EXPECT_THAT(resumed.out, Not(HasSubstr("declared  s-1")));

  // A follower waiting after the head prints the comment recorded next, whenever it connects.
  const std::string head = HeadPosition(*a_);
  std::filesystem::create_directories(tmp_.path() + "/follow");
  testing::ToolRun live;
  std::thread follower([&] {
    live = RunTool("resorption",
                   {a_->flag(), "--actor=u-1", "--organisation=o-1", "--role=national_admin",
                    "sites", "activity", "--follow", "--after=" + head, "--limit=1"},
                   tmp_.path() + "/follow");
  });
  auto comment = Cli(*a_, {"sites", "comment", "s-2", "--text=Visite prévue lundi"});
  follower.join();
  ASSERT_EQ(comment.exit_code, 0) << comment.err;
  ASSERT_EQ(live.exit_code, 0) << live.err;
  EXPECT_THAT(live.out, HasSubstr("comment  s-2"));
  EXPECT_THAT(live.out, HasSubstr("« Visite prévue lundi »"));

  EXPECT_EQ(Cli(*a_, {"sites", "activity", "--after=3"}).exit_code, 2);
  EXPECT_EQ(Cli(*a_, {"sites", "activity", "--follow", "--since=2024-01-01"}).exit_code, 2);
  EXPECT_EQ(Cli(*a_, {"sites", "activity", "--follow", "--after=later"}).exit_code, 2);
  // A position beyond the head is refused by the server.
  EXPECT_EQ(Cli(*a_, {"sites", "activity", "--follow", "--after=99999999"}).exit_code, 1);
}

// Users who join appear in the activity feed by organisation and role.
TEST_F(ExportTest, ActivityListsTheUsersWhoJoined) {
  namespace v1 = resorption::v1;
  auto directory = a_->Directory();
  v1::CreateOrganisationRequest org;
  org.set_organisation_id("asso-93");
  org.set_name("Association du 93");
  org.set_type("Association");
  org.set_category(v1::ORGANISATION_CATEGORY_ASSOCIATION);
  org.add_territories()->set_level(v1::SCOPE_LEVEL_DEPARTEMENT);
  org.mutable_territories(0)->set_code("93");
  v1::Organisation created;
  grpc::ClientContext c1;
  c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(directory->CreateOrganisation(&c1, org, &created).ok());
  v1::CreateUserRequest user;
  user.set_user_id("u-93");
  user.set_organisation_id("asso-93");
  user.set_role(v1::USER_ROLE_ASSOCIATION);
  user.mutable_personal_data()->set_email("u-93@example.org");
  user.mutable_personal_data()->set_last_name("Martin");
  user.set_activate(true);
  v1::User u;
  grpc::ClientContext c2;
  c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(directory->CreateUser(&c2, user, &u).ok());
  auto activity = Cli(*a_, {"sites", "activity", "--kind=user-joined"});
  ASSERT_EQ(activity.exit_code, 0) << activity.err;
  EXPECT_THAT(activity.out, HasSubstr("user-joined  u-93 (Association du 93, association)  93"));
  EXPECT_THAT(activity.out, Not(HasSubstr("Martin")));
  auto json = Cli(*a_, {"--json", "sites", "activity"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(R"("kind":"user-joined","user":"u-93")"));
}

// An administrator manages organisations, accounts and tokens from the command line; personal
// data never show.
TEST_F(ExportTest, DirectoryCommandsManageOrganisationsUsersAndTokens) {
  // A server that requires tokens, as resorptiond does; the CLI acts as its bootstrap
  // administrator.
  std::filesystem::create_directories(tmp_.path() + "/c");
  TestServer server(tmp_.path() + "/c/data", /*auth=*/true);
  ASSERT_TRUE(server.Start().ok());
  const std::string admin = "--token-file=" + tmp_.path() + "/c/data/bootstrap-admin.token";
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {server.flag(), admin});
    return RunTool("resorption", args, tmp_.path());
  };
  auto org =
      cli({"organisations", "create", "asso-93", "--name=Association du 93", "--type=Association",
           "--category=association", "--territories=departement:93,commune:93066"});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  EXPECT_THAT(org.out, HasSubstr("organisations/asso-93 created: Association du 93, association, "
                                 "territories departement:93,commune:93066 (main departement:93)"));
  EXPECT_EQ(cli({"organisations", "create", "x", "--name=X", "--category=club",
                 "--territories=departement:93"})
                .exit_code,
            2);
  EXPECT_EQ(cli({"users", "create", "u-93", "asso-93", "president"}).exit_code, 2);

  auto user = cli({"--json", "users", "create", "u-93", "asso-93", "association",
                   "--email=u-93@example.org", "--last-name=Martin"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  EXPECT_THAT(user.out, HasSubstr(R"("id":"u-93")"));
  EXPECT_THAT(user.out, HasSubstr(R"("status":"USER_STATUS_NEW")"));
  EXPECT_THAT(user.out, Not(HasSubstr("sealed_personal_data")));
  auto again = cli({"users", "create", "u-93", "asso-93", "association"});
  EXPECT_EQ(again.exit_code, 1);  // the server refuses a second account with this id
  auto active = cli({"users", "activate", "u-93"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  EXPECT_THAT(active.out, HasSubstr(" active "));
  auto list = cli({"users", "list", "asso-93"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("association"));
  EXPECT_THAT(list.out, Not(HasSubstr("Martin")));
  auto json = cli({"--json", "users", "list", "asso-93"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(R"("id":"u-93")"));
  EXPECT_THAT(json.out, HasSubstr(R"("status":"USER_STATUS_ACTIVE")"));

  auto token = cli({"tokens", "issue", "u-93", "--ttl-days=7", "--label=test"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  // The token alone on stdout: one line, no space.
  ASSERT_GT(token.out.size(), 20u);
  EXPECT_EQ(token.out.find('\n'), token.out.size() - 1);
  EXPECT_EQ(token.out.find(' '), std::string::npos);
  EXPECT_EQ(cli({"tokens", "issue", "u-93", "--ttl-days=0"}).exit_code, 2);
  EXPECT_THAT(token.err, HasSubstr(" for u-93, expires "));
  const std::string token_id = token.err.substr(6, 16);  // "token <16 hex digits> for ..."
  const std::string bearer = token.out.substr(0, token.out.size() - 1);
  auto me =
      RunTool("resorption", {server.flag(), "--token=" + bearer, "users", "whoami"}, tmp_.path());
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_THAT(me.out, HasSubstr("user          u-93"));
  EXPECT_THAT(me.out, HasSubstr("organisation  asso-93 (Association du 93)"));
  EXPECT_THAT(me.out, HasSubstr("token         " + token_id));
  // An association may not read the audit trail.
  EXPECT_EQ(
      RunTool("resorption", {server.flag(), "--token=" + bearer, "audit", "list"}, tmp_.path())
          .exit_code,
      1);
  auto revoked = cli({"tokens", "revoke", token_id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_THAT(revoked.out, HasSubstr("token " + token_id + " of u-93 revoked at "));

  EXPECT_EQ(cli({"users", "deactivate", "u-93"}).exit_code, 2);  // --reason is required
  auto inactive = cli({"users", "deactivate", "u-93", "--reason=départ de la structure"});
  ASSERT_EQ(inactive.exit_code, 0) << inactive.err;
  EXPECT_THAT(inactive.out, HasSubstr(" inactive "));
  auto erased = cli({"users", "erase", "u-93"});
  ASSERT_EQ(erased.exit_code, 0) << erased.err;
  EXPECT_THAT(erased.out, HasSubstr("(erased)"));

  // A backup is an export of every site: it appears in the day's audit.
  auto backup = cli({"backup", "create", "--path=" + tmp_.path() + "/audit-backup"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  auto audit = cli({"audit", "list"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("WHAT"));
  EXPECT_THAT(audit.out, HasSubstr("export"));
  EXPECT_THAT(audit.out, HasSubstr("backup:"));
  EXPECT_EQ(cli({"audit", "list", "--date=hier"}).exit_code, 2);
}

// The series view from the command line: monthly figures of a territory and flows over a period.
TEST_F(ExportTest, TerritoriesSeriesAndFlows) {
  DeclareTwoSites(*a_);
  const std::string today =
      absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24), absl::UTCTimeZone());
  auto series = Cli(
      *a_, {"territories", "series", "departement", "93", "--from=2024-01-01", "--to=" + today});
  ASSERT_EQ(series.exit_code, 0) << series.err;
  std::vector<std::string> lines = absl::StrSplit(series.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("DATE"));
  // The site of Saint-Denis, installed on 2023-11-15, counts from then with its declared figures
  // (declared today, without population), and on the last date with its 42 people.
  EXPECT_THAT(lines[1], HasSubstr("2024-01-01       1        0"));
  EXPECT_THAT(lines.back(), HasSubstr(today + "       1       42"));
  auto json =
      Cli(*a_, {"--json", "territories", "series", "nation", "--from=2024-01-01", "--to=" + today});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(R"("sites":"2")"));
  auto flows = Cli(*a_, {"territories", "flows", "nation", "--from=2024-01-01", "--to=" + today});
  ASSERT_EQ(flows.exit_code, 0) << flows.err;
  EXPECT_THAT(flows.out, HasSubstr("sites opened      1"));  // Nantes, reported on 2025-02-01
  flows = Cli(*a_, {"territories", "flows", "nation", "--from=2023-11-01", "--to=" + today});
  ASSERT_EQ(flows.exit_code, 0) << flows.err;
  EXPECT_THAT(flows.out, HasSubstr("sites opened      2"));
  EXPECT_EQ(
      Cli(*a_, {"territories", "series", "departement", "--from=2024-01-01", "--to=2024-02-01"})
          .exit_code,
      2);  // a departement needs its code
  EXPECT_EQ(
      Cli(*a_, {"territories", "series", "planet", "x", "--from=2024-01-01", "--to=2024-02-01"})
          .exit_code,
      2);
}

// A site's two timelines from the command line, and the heatwave and "up to date" commands.
TEST_F(ExportTest, SitesAsOfHeatwaveAndConfirm) {
  auto declared =
      Cli(*a_, {"sites", "declare", "--id=s-9", "--commune=93066", "--address=Rue A", "--lat=48.93",
                "--lon=2.35", "--type=Terrain", "--declared=2024-03-01"});
  ASSERT_EQ(declared.exit_code, 0) << declared.err;
  auto events = Cli(*a_, {"--json", "events", "read", "--stream=site-s-9"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  const size_t at = events.out.find(R"("recorded_at_us":)");
  ASSERT_NE(at, std::string::npos) << events.out;
  const size_t from = at + std::string(R"("recorded_at_us":)").size();
  const std::string declared_at = events.out.substr(from, events.out.find(',', from) - from);
  auto pop = Cli(*a_, {"sites", "update-population", "s-9", "--total=12", "--households=4"});
  ASSERT_EQ(pop.exit_code, 0) << pop.err;

  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  const std::string written = "--min-position=" + HeadPosition(*a_);
  auto now = Cli(*a_, {"sites", "asof", "s-9", "--date=" + today, written});
  ASSERT_EQ(now.exit_code, 0) << now.err;
  EXPECT_THAT(now.out, HasSubstr("2 version(s)"));
  EXPECT_THAT(now.out, HasSubstr("Nombre de personnes"));
  // As known when it was declared: one version, no population yet.
  auto then =
      Cli(*a_, {"sites", "asof", "s-9", "--date=" + today, "--known-at=" + declared_at, written});
  ASSERT_EQ(then.exit_code, 0) << then.err;
  EXPECT_THAT(then.out, HasSubstr("1 version(s)"));
  EXPECT_THAT(then.out, Not(HasSubstr("Nombre de personnes")));
  auto before = Cli(*a_, {"sites", "asof", "s-9", "--date=2020-01-01"});
  EXPECT_EQ(before.exit_code, 1);
  EXPECT_THAT(before.err, HasSubstr("did not exist on 2020-01-01"));
  EXPECT_EQ(Cli(*a_, {"sites", "asof", "s-9"}).exit_code, 2);  // --date is required
  EXPECT_EQ(Cli(*a_, {"sites", "asof", "s-9", "--date=" + today, "--known-at=hier"}).exit_code, 2);

  auto hot = Cli(*a_, {"sites", "heatwave", "s-9", "on", "--reason=alerte préfectorale"});
  ASSERT_EQ(hot.exit_code, 0) << hot.err;
  EXPECT_THAT(hot.out, HasSubstr("appended"));
  auto show = Cli(*a_, {"sites", "show", "s-9"});
  EXPECT_THAT(show.out, HasSubstr("Alerte canicule"));
  EXPECT_THAT(show.out, HasSubstr("Oui"));
  EXPECT_EQ(Cli(*a_, {"sites", "heatwave", "s-9", "maybe"}).exit_code, 2);
  auto confirmed = Cli(*a_, {"sites", "confirm", "s-9"});
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.err;
  EXPECT_THAT(confirmed.out, HasSubstr("appended"));
}

// Actions from the command line: the list, one action with its yearly indicators, the yearly
// sums per département and per topic.
TEST_F(ExportTest, ActionsListShowAndAggregates) {
  DeclareTwoSites(*a_);
  const uint64_t position = CreateActionA93(/*with_finances=*/false);
  ASSERT_GT(position, 0u);
  const std::string written = absl::StrCat("--min-position=", position);
  auto list = Cli(*a_, {"actions", "list", "--departement=93", "--year=2024", written});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("a-93"));
  EXPECT_THAT(list.out, HasSubstr("2024-03-01"));
  EXPECT_THAT(list.out, HasSubstr("housing"));
  auto none = Cli(*a_, {"actions", "list", "--topic=health"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, Not(HasSubstr("a-93")));
  EXPECT_EQ(Cli(*a_, {"actions", "list", "--topic=cuisine"}).exit_code, 2);

  auto show = Cli(*a_, {"actions", "show", "a-93", written});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Accompagnement vers le logement"));
  EXPECT_THAT(show.out, HasSubstr("s-1"));
  EXPECT_THAT(show.out, HasSubstr("Indicateurs 2024       personnes 12, ménages 4"));

  auto by_dep = Cli(*a_, {"actions", "aggregates", "--year=2024", written});
  ASSERT_EQ(by_dep.exit_code, 0) << by_dep.err;
  EXPECT_THAT(by_dep.out, HasSubstr("2024 93               1        12          4"));
  auto by_topic = Cli(*a_, {"actions", "aggregates", "--year=2024", "--by=topic", written});
  ASSERT_EQ(by_topic.exit_code, 0) << by_topic.err;
  EXPECT_THAT(by_topic.out, HasSubstr("2024 housing          1        12"));
  EXPECT_EQ(Cli(*a_, {"actions", "aggregates", "--by=commune"}).exit_code, 2);
}

TEST_F(ExportTest, ActionsExportShowsTheYearAndTheFinancesOnlyToTheirReaders) {
  DeclareTwoSites(*a_);
  const uint64_t position = CreateActionA93(/*with_finances=*/true);
  ASSERT_GT(position, 0u);
  const std::string written = absl::StrCat("--min-position=", position);

  // A pilot's organisation reads the finances: the FINANCEMENT columns, amounts in euros.
  auto pilot = Cli(*a_, {"actions", "export", "--year=2024", written});
  ASSERT_EQ(pilot.exit_code, 0) << pilot.err;
  const std::vector<std::string> lines = absl::StrSplit(pilot.out, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << pilot.out;
  EXPECT_THAT(lines[0], HasSubstr("Crédits dédiés à la résorption des bidonvilles,Dépense sur "
                                  "crédits dédiés à la résorption des bidonvilles"));
  EXPECT_THAT(lines[1], HasSubstr("Seine-Saint-Denis,11,Île-de-France,a-93,o-op,"
                                  "Accompagnement vers le logement,01/03/2024,,Sur site,Logement"));
  EXPECT_THAT(lines[1], HasSubstr(",15000.50,12000.00,"));
  EXPECT_THAT(lines[1], HasSubstr(",12,4,"));  // personnes, ménages of 2024

  // An operator's organisation reads the action, not its finances: no FINANCEMENT columns.
  auto op = RunTool("resorption",
                    {a_->flag(), "--actor=u-op", "--organisation=o-op", "--role=association",
                     "actions", "export", "--year=2024", written},
                    tmp_.path());
  ASSERT_EQ(op.exit_code, 0) << op.err;
  EXPECT_THAT(op.out, HasSubstr("a-93"));
  EXPECT_THAT(op.out, Not(HasSubstr("Crédits dédiés")));
  EXPECT_THAT(op.out, Not(HasSubstr("15000.50")));

  // The workbook: one sheet per département and "Tous".
  const std::string xlsx = tmp_.path() + "/actions.xlsx";
  auto book = Cli(*a_, {"actions", "export", "--year=2024", "--format=xlsx", "--out=" + xlsx});
  ASSERT_EQ(book.exit_code, 0) << book.err;
  EXPECT_GT(std::filesystem::file_size(xlsx), 1000u);

  // No action running in 2019; a bad year or format is a usage error.
  auto none = Cli(*a_, {"actions", "export", "--year=2019"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no action to export"));
  EXPECT_EQ(Cli(*a_, {"actions", "export", "--year=24"}).exit_code, 2);
  EXPECT_EQ(Cli(*a_, {"actions", "export", "--format=ods"}).exit_code, 2);
  EXPECT_EQ(Cli(*a_, {"actions", "export", "--format=xlsx"}).exit_code, 2);
}

// The platform's two action columns: an open action "sur site" lists s-1, not s-2.
TEST_F(ExportTest, ActionColumnsShowTheSitesAnOpenActionLists) {
  DeclareTwoSites(*a_);
  const uint64_t position = CreateActionA93(/*with_finances=*/false);
  ASSERT_GT(position, 0u);
  const auto cells = ActionCellsAt(position);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells.at("s-1"), std::make_pair(std::string("oui"), std::string("non")));
  EXPECT_EQ(cells.at("s-2"), std::make_pair(std::string("non"), std::string("non")));
  // `sites show` reads the site alone (GetSite), without its actions: no action line rather than
  // a wrong "non".
  auto show = Cli(*a_, {"sites", "show", "s-1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Nombre de personnes"));
  EXPECT_THAT(show.out, Not(HasSubstr("l’objet d’une action")));
}

// With a finance line of the dedicated credits for the year of the extraction, the second column
// says so for the listed site; finances of an earlier year do not count.
TEST_F(ExportTest, ActionColumnsShowTheSitesOfAnActionFinancedByTheDedicatedCredits) {
  DeclareTwoSites(*a_);
  uint64_t position = CreateActionA93(/*with_finances=*/true);
  ASSERT_GT(position, 0u);
  const auto earlier = ActionCellsAt(position);
  ASSERT_EQ(earlier.count("s-1"), 1u);
  EXPECT_EQ(earlier.at("s-1"), std::make_pair(std::string("oui"), std::string("non")));
  const int year = static_cast<int>(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()).year());
  position = CreateFinancesA93(year);
  ASSERT_GT(position, 0u);
  const auto cells = ActionCellsAt(position);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells.at("s-1"), std::make_pair(std::string("oui"), std::string("oui")));
  EXPECT_EQ(cells.at("s-2"), std::make_pair(std::string("non"), std::string("non")));
}

TEST_F(ExportTest, CommentsExportTheJournalAsTheActorMayReadIt) {
  DeclareTwoSites(*a_);
  auto first = Cli(*a_, {"sites", "comment", "s-1", "--text=Passage sur site: eau coupée"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = Cli(*a_, {"sites", "comment", "s-1", "--text=Réunion en préfecture",
                          "--to-organisation=o-prefecture"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  auto missing_text = Cli(*a_, {"sites", "comment", "s-1"});
  EXPECT_EQ(missing_text.exit_code, 2);

  // Without --comments the list's rows carry no journal: no Commentaires section.
  auto plain = Cli(*a_, {"sites", "export", "--format=csv", "--sort=commune"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.out, Not(HasSubstr("Date du dernier commentaire")));
  EXPECT_THAT(plain.out, Not(HasSubstr(",Commentaires,")));

  auto with = Cli(*a_, {"sites", "export", "--format=csv", "--sort=commune", "--comments"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_THAT(with.out, HasSubstr("Commentaires,Date du dernier commentaire"));
  // Newest first; a national administrator reads the targeted message too.
  const size_t newer = with.out.find("o-1 (u-1) : Réunion en préfecture");
  const size_t older = with.out.find("o-1 (u-1) : Passage sur site: eau coupée");
  ASSERT_NE(newer, std::string::npos) << with.out;
  ASSERT_NE(older, std::string::npos) << with.out;
  EXPECT_LT(newer, older);

  auto dated = Cli(*a_, {"sites", "export", "--comments", "--date=2024-01-01"});
  EXPECT_EQ(dated.exit_code, 2);
}

TEST_F(ExportTest, ExportAtAPastDateShowsTheSitesAsTheyWereThen) {
  DeclareTwoSites(*a_);  // recorded today: their first versions are valid from today
  ASSERT_GT(CreateActionA93(/*with_finances=*/true), 0u);  // on s-1
  // The history view follows the log asynchronously: wait until every projection has caught up.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool caught_up = false;
  while (!caught_up && absl::Now() < deadline) {
    auto status = Cli(*a_, {"--json", "projections", "status"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    caught_up = status.out.find("\"history\"") != std::string::npos &&
                status.out.find("\"lag_events\":0") != std::string::npos &&
                status.out.find("\"lag_events\":1") == std::string::npos &&
                absl::StrContains(status.out, "live");
    for (char c = '2'; c <= '9' && caught_up; ++c) {
      caught_up = status.out.find(std::string("\"lag_events\":") + c) == std::string::npos;
    }
  }
  ASSERT_TRUE(caught_up);
  const std::string today =
      absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
  auto now = Cli(*a_, {"sites", "export", "--date=" + today});
  ASSERT_EQ(now.exit_code, 0) << now.err;
  EXPECT_THAT(now.out, HasSubstr("s-1"));
  EXPECT_THAT(now.out, HasSubstr("s-2"));
  EXPECT_THAT(now.out, HasSubstr(",42,"));
  // The actions of a past date are not known: the action columns are empty, not "non".
  const auto cells = ActionCells(now.out);
  ASSERT_EQ(cells.size(), 2u) << now.out;
  EXPECT_EQ(cells.at("s-1"), std::make_pair(std::string(), std::string()));
  EXPECT_EQ(cells.at("s-2"), std::make_pair(std::string(), std::string()));
  auto before = Cli(*a_, {"sites", "export", "--date=2020-01-01"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_THAT(before.out, Not(HasSubstr("s-1")));  // nothing was known to exist then
  EXPECT_EQ(Cli(*a_, {"sites", "export", "--date=June"}).exit_code, 2);
}

TEST_F(ExportTest, ExportThenImportIntoAFreshServerGivesTheSameSites) {
  DeclareTwoSites(*a_);
  auto close = Cli(*a_, {"sites", "close", "s-2", "--cause=other", "--context=Incendie",
                         "--date=2025-06-01", "--resorbed=no"});
  ASSERT_EQ(close.exit_code, 0) << close.err;
  const std::string csv = tmp_.path() + "/sites.csv";
  auto exp = Cli(
      *a_, {"sites", "export", "--format=csv", "--sort=commune", "--status=all", "--out=" + csv});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  const std::string exported = ReadAll(csv);
  EXPECT_THAT(exported, HasSubstr("Code INSEE"));
  EXPECT_THAT(exported, HasSubstr("Appellation du site"));
  EXPECT_THAT(exported, HasSubstr("Nombre de ménages"));
  EXPECT_THAT(exported, HasSubstr("\"Portail au fond, à gauche\""));
  EXPECT_THAT(exported, HasSubstr("Incendie"));

  auto dry = Cli(*b_, {"sites", "import", csv, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("2 site(s) valid"));
  const std::string empty_head = Head(*b_);
  auto imp = Cli(*b_, {"sites", "import", csv});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_THAT(imp.out, HasSubstr("4 command(s) appended"));  // 2 declarations, 1 count, 1 closure

  auto again = Cli(*b_, {"sites", "export", "--format=csv", "--sort=commune", "--status=all"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, exported);

  // The events carry the import's reason, naming the file and its hash.
  auto events = Cli(*b_, {"events", "export", "--format=jsonl"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  std::vector<std::string> lines = absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(events.out, HasSubstr(R"("type":"site.closed")"));
  EXPECT_THAT(events.out, HasSubstr("Incendie"));
  EXPECT_THAT(lines[0], HasSubstr("import du fichier " + csv + " (sha256 "));
  EXPECT_THAT(lines[0], HasSubstr(R"("payload":{)"));
}

TEST_F(ExportTest, ImportingTwiceAppendsNothingTheSecondTime) {
  const std::string csv =
      Write("local.csv",
            "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,Nombre de "
            "personnes,Nombre de ménages,Origines,Statut du diagnostic social,Date du "
            "diagnostic,Service en charge du diagnostic\n"
            "93066,Rue A,48.93,2.35,Terrain,2024-01-10,20,5,Ressortissants européens,Réalisé,"
            "2024-06-01,Opérateur MOUS\n"
            "93066,Rue B,48.94,2.36,Inconnu,11/01/2024,,,,,,\n");
  auto first = Cli(*a_, {"sites", "import", csv});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // 2 declarations, 1 count, 1 diagnostic.
  EXPECT_THAT(first.out, HasSubstr("4 command(s) appended, 0 already imported"));
  const std::string head = Head(*a_);
  auto second = Cli(*a_, {"sites", "import", csv});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("0 command(s) appended, 4 already imported"));
  EXPECT_EQ(Head(*a_), head);
  auto list = Cli(*a_, {"--json", "sites", "list"});
  std::vector<std::string> rows = absl::StrSplit(list.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(rows.size(), 2u);
  auto exported = Cli(*a_, {"sites", "export", "--format=csv"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("Opérateur MOUS"));
}

// The Procédure judiciaire columns travel through export and import: a file imported into one
// server, exported, then imported into another gives the same export.
TEST_F(ExportTest, ProceduresTravelThroughImportAndExport) {
  const std::string csv =
      Write("procedures.csv",
            "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
            "Dépôt de plainte par le propriétaire,Existence d'une procédure judiciaire,"
            "Décision de justice rendue,Date de la décision,Origine de la décision,Appel en cours,"
            "Concours de la force publique,Date de la demande du CFP,Date d'octroi du CFP,"
            "Nom de l'étude d'huissiers,Procédure administrative prescrivant l'évacuation sous "
            "délai,Date de l'arrêté,Auteur de l'arrêté,Date de l'évacuation,Arrêté d'insalubrité,"
            "Type d'arrêté\n"
            "93066,Rue A,48.93,2.35,Terrain,2024-01-10,Oui,Oui,Oui,2025-02-03,TJ de Bobigny,Non,"
            "Obtenu,2025-03-01,2025-04-01,Étude Martin,,,,,,\n"
            "93066,Rue B,48.94,2.36,Terrain,2024-01-11,Non,,,,,,,,,,,,,,,\n"
            // A police assistance resting on an evacuation order alone.
            "93066,Rue C,48.95,2.37,Terrain,2024-01-12,,,,,,,Demandé,2025-05-02,,,Oui,2025-04-20,"
            "Préfecture de la Seine-Saint-Denis,2025-07-01,Non,\n");
  auto first = Cli(*a_, {"sites", "import", csv});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("6 command(s) appended"));  // 3 declarations, 3 procedures
  const std::string out_a = tmp_.path() + "/a.csv";
  auto exp_a = Cli(*a_, {"sites", "export", "--format=csv", "--sort=commune", "--out=" + out_a});
  ASSERT_EQ(exp_a.exit_code, 0) << exp_a.err;
  const std::string exported = ReadAll(out_a);
  EXPECT_THAT(exported, HasSubstr(",Oui,Oui,Oui,03/02/2025,TJ de Bobigny,Non,"));
  EXPECT_THAT(exported, HasSubstr(",Obtenu,01/03/2025,01/04/2025,Étude Martin,"));
  EXPECT_THAT(exported, HasSubstr(",Oui,20/04/2025,Préfecture de la Seine-Saint-Denis,01/07/2025,"
                                  "Non,"));
  EXPECT_THAT(exported, HasSubstr(",Demandé,02/05/2025,"));
  auto imp_b = Cli(*b_, {"sites", "import", out_a});
  ASSERT_EQ(imp_b.exit_code, 0) << imp_b.err;
  auto exp_b = Cli(*b_, {"sites", "export", "--format=csv", "--sort=commune"});
  ASSERT_EQ(exp_b.exit_code, 0) << exp_b.err;
  EXPECT_EQ(exp_b.out, exported);
}

// Procedures are justice data: the local check refuses them to a role without access to justice
// and accepts them with the access_justice option, as the server does.
TEST_F(ExportTest, ImportingProceduresNeedsAccessToJustice) {
  const std::string csv = Write("justice.csv",
                                "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de "
                                "signalement,Dépôt de plainte par le propriétaire\n"
                                "93066,Rue A,48.93,2.35,Terrain,2024-01-10,Oui\n");
  const std::string head = Head(*a_);
  auto refused = Cli(*a_, {"--role=collaborator", "sites", "import", csv});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("justice.csv:2: "));
  EXPECT_THAT(refused.err, HasSubstr("nothing imported"));
  EXPECT_EQ(Head(*a_), head);
  auto accepted =
      Cli(*a_, {"--role=collaborator", "--options=access_justice", "sites", "import", csv});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_THAT(accepted.out, HasSubstr("2 command(s) appended"));
}

TEST_F(ExportTest, ABrokenSpreadsheetGetsAPreciseReportAndAppendsNothing) {
  const std::string csv =
      Write("broken.csv",
            "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,Nombre de "
            "personnes,Nombre de ménages,Couleur\n"
            "99999,Rue A,48.93,2.35,Terrain,2024-01-10,20,5,bleu\n"
            "93066,Rue B,quarante,2.36,Cabane,31/02/2024,,,\n"
            "93066,,48.94,2.36,Terrain,2024-01-10,-3,x,\n"
            "93066,Rue D,48.94,2.36,Terrain,2024-01-10,4,9,\n"
            "93066,Rue E,48.94\n");
  const std::string head = Head(*a_);
  for (bool dry : {true, false}) {
    std::vector<std::string> args = {"sites", "import", csv};
    if (dry) args.push_back("--dry-run");
    auto run = Cli(*a_, args);
    EXPECT_EQ(run.exit_code, 1);
    const std::string& e = run.err;
    EXPECT_THAT(e, HasSubstr(csv + ":1: Couleur: unknown column"));
    EXPECT_THAT(e, HasSubstr(csv + ":2: Code INSEE: unknown commune code \"99999\""));
    EXPECT_THAT(e, HasSubstr(csv + ":3: Latitude: \"quarante\" is not a decimal number"));
    EXPECT_THAT(e, HasSubstr(csv + ":3: Type de site: \"Cabane\" is not one of"));
    EXPECT_THAT(e, HasSubstr(csv + ":3: Date de signalement: \"31/02/2024\" is not a date"));
    EXPECT_THAT(e, HasSubstr(csv + ":4: Adresse: required value missing"));
    EXPECT_THAT(e, HasSubstr(csv + ":4: Nombre de personnes: -3 is below the minimum 0"));
    EXPECT_THAT(e, HasSubstr(csv + ":4: Nombre de ménages: \"x\" is not a whole number"));
    EXPECT_THAT(e, HasSubstr(csv + ":5: Nombre de ménages:"));  // households > total
    EXPECT_THAT(e, HasSubstr(csv + ":6: 3 cells where the header names 9 columns"));
    EXPECT_THAT(e, HasSubstr("nothing imported"));
    EXPECT_EQ(Head(*a_), head);
  }
}

// The answers of the living conditions travel through export and import: a file imported into
// one server (an AssessLivingConditions per line with answers), exported with the statuses the
// service computes from them, then imported into another gives the same export.
TEST_F(ExportTest, LivingConditionsTravelThroughImportAndExport) {
  const std::string csv = Write(
      "living.csv",
      "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
      "Type d'accès à l'eau,Point d'eau sur la voie publique,Accès à l'eau continu,"
      "Point d'eau sur le site,Point d'eau à proximité,Accès à l'eau inégal entre les habitants,"
      "Présence d'eaux stagnantes,Présence de toilettes fonctionnelles,Types de toilettes,"
      "Toilettes à l'intérieur du site,Présence d'un accès à l'électricité,"
      "Types d'accès à l'électricité,Accumulation de déchets,Points de collecte à proximité,"
      "Présence d'animaux nuisibles,Précisions sur les nuisibles\n"
      "93066,Rue A,48.93,2.35,Terrain,2024-01-10,Robinet connecté au réseau d'eau,Non,Oui,Oui,"
      "Oui,Non,Non,Oui,Toilettes à chasse d'eau; toilettes_seches,Oui,Oui,Groupe électrogène,"
      "Non,Oui,Oui,Rats\n"
      "93066,Rue B,48.94,2.36,Terrain,2024-01-11,,,,,,,,,,,,,,,,\n");
  auto first = Cli(*a_, {"sites", "import", csv});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("3 command(s) appended"));  // 2 declarations, 1 assessment
  const std::string out_a = tmp_.path() + "/a.csv";
  auto exp_a = Cli(*a_, {"sites", "export", "--format=csv", "--sort=commune", "--out=" + out_a});
  ASSERT_EQ(exp_a.exit_code, 0) << exp_a.err;
  const std::string exported = ReadAll(out_a);
  EXPECT_THAT(exported, HasSubstr(",Robinet connecté au réseau d'eau,,Non,Oui,,Oui,Oui,Non,,Non,"));
  EXPECT_THAT(exported,
              HasSubstr(",Oui,Toilettes à chasse d'eau; Toilettes sèches installées par un "
                        "prestataire ou une association,Oui,,,Oui,Groupe électrogène,,Non,Oui,,,,"
                        "Oui,Rats,"));
  auto imp_b = Cli(*b_, {"sites", "import", out_a});
  ASSERT_EQ(imp_b.exit_code, 0) << imp_b.err;
  EXPECT_THAT(imp_b.out, HasSubstr("3 command(s) appended"));
  auto exp_b = Cli(*b_, {"sites", "export", "--format=csv", "--sort=commune"});
  ASSERT_EQ(exp_b.exit_code, 0) << exp_b.err;
  EXPECT_EQ(exp_b.out, exported);
}

// Answers that break the rules of the living conditions are reported by column, with the rule,
// and nothing is imported.
TEST_F(ExportTest, LivingConditionsAnswersAreCheckedByTheDomainRules) {
  const std::string csv = Write("living_bad.csv",
                                "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de "
                                "signalement,Type d'accès à l'eau,Point d'eau sur la voie publique,"
                                "Accès à l'eau continu,Types de toilettes\n"
                                "93066,Rue A,48.93,2.35,Terrain,2024-01-10,Robinet connecté au "
                                "réseau d'eau,Non,Oui,Toilettes en or\n"
                                "93066,Rue B,48.93,2.35,Terrain,2024-01-10,Robinet connecté au "
                                "réseau d'eau,Non,Non,Latrines\n");
  const std::string head = Head(*a_);
  auto run = Cli(*a_, {"sites", "import", csv});
  EXPECT_EQ(run.exit_code, 1);
  const std::string& e = run.err;
  EXPECT_THAT(e, HasSubstr(csv + ":2: Types de toilettes: \"Toilettes en or\" is not one of"));
  EXPECT_THAT(e, HasSubstr(csv + ":3: Précisions sur la continuité: Précisez pourquoi l'accès à "
                                 "l'eau est discontinu. (water.is_continuous_details_required)"));
  EXPECT_THAT(e, HasSubstr(csv + ":3: Présence de toilettes fonctionnelles: "));
  EXPECT_THAT(e, HasSubstr(csv + ":3: Types de toilettes: "));  // without working toilets
  EXPECT_THAT(e, HasSubstr(csv + ":3: Présence d'un accès à l'électricité: "));
  EXPECT_THAT(e, HasSubstr("nothing imported"));
  EXPECT_EQ(Head(*a_), head);
}

TEST_F(ExportTest, XlsxAndGeoJsonExports) {
  DeclareTwoSites(*a_);
  const std::string xlsx = tmp_.path() + "/sites.xlsx";
  auto x = Cli(*a_, {"sites", "export", "--format=xlsx", "--out=" + xlsx});
  ASSERT_EQ(x.exit_code, 0) << x.err;
  EXPECT_EQ(ReadAll(xlsx).substr(0, 2), "PK");  // a zip container
  auto no_out = Cli(*a_, {"sites", "export", "--format=xlsx"});
  EXPECT_EQ(no_out.exit_code, 2);
  auto geo = Cli(*a_, {"sites", "export", "--format=geojson", "--sort=commune"});
  ASSERT_EQ(geo.exit_code, 0) << geo.err;
  EXPECT_THAT(geo.out, HasSubstr(R"({"type":"FeatureCollection","features":[)"));
  EXPECT_THAT(geo.out, HasSubstr(R"("coordinates":[2.3574,48.9362])"));
  EXPECT_THAT(geo.out, HasSubstr(R"("Nombre de personnes":"42")"));
}

TEST_F(ExportTest, TerritoriesSearchAndProjectionsStatus) {
  auto t = Cli(*a_, {"territories", "search", "saint-den"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_THAT(t.out, HasSubstr("93066"));
  auto p = Cli(*a_, {"projections", "status"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("PROJECTION"));
  EXPECT_THAT(p.out, HasSubstr("site_list"));
}

TEST_F(ExportTest, ProjectionsRebuildAndAnalyticsJobs) {
  DeclareTwoSites(*a_);
  auto rebuild = Cli(*a_, {"projections", "rebuild", "site_list"});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
  EXPECT_THAT(rebuild.out, HasSubstr("now serving"));
  const std::string spec = Write("spec.txtpb", R"pb(
    name: "personnes_par_departement"
    subject: SUBJECT_SITE
    event_types: "site.population_recorded"
    group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
    aggregates { name: "personnes" kind: LAST_PER_SUBJECT_SUM field: "site.population.total" }
  )pb");
  auto submit = Cli(*a_, {"--json", "analytics", "submit", spec, "--wait"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  EXPECT_THAT(submit.out, HasSubstr(R"("state":"done")"));
  auto get = Cli(*a_, {"analytics", "get", "job-000001"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("projectionJobs/job-000001"));
  auto csv = Cli(*a_, {"analytics", "export", "job-000001", "--format=csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("42"));
  auto bad = Cli(*a_, {"analytics", "export", "job-000001", "--format=pdf"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace rb::tools
