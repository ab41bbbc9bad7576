// The `resorption actions` write commands (create, update, managers, operators, indicators,
// finances, comment, close) run as a binary against a real server (in-process Server on
// 127.0.0.1:0, empty data directory, no authentication: the actor is sent as metadata): what they
// write is what `actions show` and `actions aggregates` then print (read your writes through
// --min-position); a bad flag value exits 2 naming the flag, a refusal of the domain rules exits
// 1 with the field violations, and neither moves the head of the log.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/server.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/run_tool.h"

namespace rb::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunTool;

class ActionsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::services::ServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.data_dir = tmp_.path() + "/data";
    o.metrics_address = "";
    o.log_sink = &log_;
    o.shutdown_grace = absl::Seconds(5);
    server_ = std::make_unique<rb::services::Server>(std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    auto site = Cli({"sites", "declare", "--id=s-1", "--commune=93066",
                     "--address=12 rue des Lilas 93200 Saint-Denis", "--lat=48.9362",
                     "--lon=2.3574", "--type=Terrain", "--declared=2024-01-15"});
    ASSERT_EQ(site.exit_code, 0) << site.err;
  }

  // The CLI as a national administrator (u-1 of o-1).
  testing::ToolRun Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {absl::StrCat("--server=127.0.0.1:", server_->port()), "--actor=u-1",
                               "--organisation=o-1", "--role=national_admin"});
    return RunTool("resorption", args, tmp_.path());
  }

  // The log's last position.
  std::string Head() {
    auto r = Cli({"--json", "events", "head"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string key = R"("position":)";
    const size_t at = r.out.find(key);
    if (at == std::string::npos) return "0";
    const size_t from = at + key.size();
    return r.out.substr(from, r.out.find(',', from) - from);
  }

  // `actions show ID` once the view includes every write so far.
  testing::ToolRun Show(const std::string& id, bool json = false) {
    std::vector<std::string> args = {"actions", "show", id, "--min-position=" + Head()};
    if (json) args.insert(args.begin(), "--json");
    return Cli(args);
  }

  // Creates the action a-93 (on site s-1, housing and school, from 2024-03-01).
  void CreateAction() {
    auto r =
        Cli({"--json", "actions", "create", "--id=a-93", "--name=Accompagnement vers le logement",
             "--started=2024-03-01", "--topics=housing,school", "--departement=93", "--sites=s-1",
             "--goals=Reloger les familles", "--managers=u-1:o-1",
             "--operators=u-op:o-op,u-op2:o-op", "--reason=lancement"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(R"("name":"actions/a-93","outcome":"appended","revision":0)"));
  }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = tmp_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  rb::testing::TempDir tmp_;
  std::ostringstream log_;
  std::unique_ptr<rb::services::Server> server_;
};

TEST_F(ActionsCliTest, CreateThenShowPrintsTheGivenFields) {
  CreateAction();
  auto show = Show("a-93");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Intitulé               Accompagnement vers le logement"));
  EXPECT_THAT(show.out, HasSubstr("Statut                 En cours"));
  EXPECT_THAT(show.out, HasSubstr("Département            93"));
  EXPECT_THAT(show.out, HasSubstr("Début                  2024-03-01"));
  EXPECT_THAT(show.out, HasSubstr("Thématiques            Logement, Éducation et scolarisation"));
  EXPECT_THAT(show.out, HasSubstr("Objectifs              Reloger les familles"));
  EXPECT_THAT(show.out, HasSubstr("Lieu                   Sur site"));
  EXPECT_THAT(show.out, HasSubstr("Sites                  s-1"));
  EXPECT_THAT(show.out, HasSubstr("Pilotes                u-1 (o-1)"));
  EXPECT_THAT(show.out, HasSubstr("Opérateurs             u-op (o-op), u-op2 (o-op)"));
  EXPECT_THAT(show.out, Not(HasSubstr("Fin ")));

  // The same command again: the id is taken.
  auto again = Cli({"actions", "create", "--id=a-93", "--name=Doublon", "--started=2024-03-01",
                    "--topics=health", "--departement=93", "--other=Ailleurs", "--managers=u-1:o-1",
                    "--operators=u-op:o-op"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err,
              HasSubstr("action_id: lifecycle.already_created: Cette action existe déjà."));
}

TEST_F(ActionsCliTest, UpdateManagersAndOperatorsChangeOnlyWhatIsGiven) {
  CreateAction();
  auto update = Cli({"actions", "update", "a-93", "--name=Logement accompagné",
                     "--ended=2025-06-30", "--other=Plusieurs communes"});
  ASSERT_EQ(update.exit_code, 0) << update.err;
  EXPECT_THAT(update.out, HasSubstr("actions/a-93: appended, revision 1, position "));
  auto managers = Cli({"actions", "managers", "a-93", "u-1:o-1", "u-2:o-2"});
  ASSERT_EQ(managers.exit_code, 0) << managers.err;
  auto operators = Cli({"actions", "operators", "actions/a-93", "u-op3:o-op3"});
  ASSERT_EQ(operators.exit_code, 0) << operators.err;

  auto show = Show("a-93");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Intitulé               Logement accompagné"));
  EXPECT_THAT(show.out, HasSubstr("Fin                    2025-06-30"));
  EXPECT_THAT(show.out, HasSubstr("Lieu                   Autre"));
  EXPECT_THAT(show.out, Not(HasSubstr("s-1")));  // the place is replaced whole
  EXPECT_THAT(show.out, HasSubstr("Objectifs              Reloger les familles"));  // kept
  EXPECT_THAT(show.out, HasSubstr("Pilotes                u-1 (o-1), u-2 (o-2)"));
  EXPECT_THAT(show.out, HasSubstr("Opérateurs             u-op3 (o-op3)"));
  EXPECT_THAT(show.out, HasSubstr("Révision               3"));

  // The end date cleared; the same pilots again change nothing.
  ASSERT_EQ(Cli({"actions", "update", "a-93", "--ended="}).exit_code, 0);
  auto same = Cli({"actions", "managers", "a-93", "u-1:o-1", "u-2:o-2"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_THAT(same.out, HasSubstr("no_change"));
  show = Show("a-93");
  EXPECT_THAT(show.out, Not(HasSubstr("Fin ")));
  EXPECT_EQ(Cli({"actions", "update", "a-93"}).exit_code, 2);  // nothing to change
}

TEST_F(ActionsCliTest, IndicatorsAndFinancesAreVisibleInShowAndAggregates) {
  CreateAction();
  auto ind = Cli({"actions", "indicators", "a-93", "--year=2024", "--nombre-personnes=12",
                  "--nombre-menages=4", "--logement-nombre-personnes=5", "--nombre-femmes=7"});
  ASSERT_EQ(ind.exit_code, 0) << ind.err;
  // A second call replaces only the indicators it names, clears the one given empty.
  ind = Cli({"actions", "indicators", "a-93", "--year=2024", "--hebergement-nombre-personnes=3",
             "--nombre-femmes="});
  ASSERT_EQ(ind.exit_code, 0) << ind.err;
  auto fin = Cli({"actions", "finances", "a-93", "--year=2024", "--type=dedie", "--planned=1500.5",
                  "--spent=200", "--comments=premier versement"});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  fin = Cli({"actions", "finances", "a-93", "--year=2024", "--type=etatique", "--planned=99,99"});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  fin = Cli({"actions", "finances", "a-93", "--year=2024", "--type=dedie", "--spent=300.25"});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;

  auto show = Show("a-93");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Indicateurs 2024       personnes 12, ménages 4, mineurs 0, "
                                  "hébergés 3, logés 5"));
  EXPECT_THAT(show.out, HasSubstr("Crédits dédiés à la résorption des bidonvilles : prévu "
                                  "1500.50 €, dépensé 300.25 €"));
  EXPECT_THAT(show.out, HasSubstr("Financements étatiques hors crédits dédiés : prévu 99.99 €, "
                                  "dépensé 0.00 €"));
  auto json = Show("a-93", /*json=*/true);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(R"("nombre_personnes":12)"));
  EXPECT_THAT(json.out, Not(HasSubstr("nombre_femmes")));
  EXPECT_THAT(json.out, HasSubstr(R"("comments":"premier versement")"));

  auto agg = Cli({"actions", "aggregates", "--year=2024", "--min-position=" + Head()});
  ASSERT_EQ(agg.exit_code, 0) << agg.err;
  // One action; people 12, households 4, sheltered 3, housed 5; planned and spent in euros.
  EXPECT_THAT(agg.out, HasSubstr(absl::StrFormat("%-4d %-10s %7d %9d %10d %9d %6d %14s %14s", 2024,
                                                 "93", 1, 12, 4, 3, 5, "1600.49", "300.25")));

  // A line removed; the other stays.
  fin = Cli({"actions", "finances", "a-93", "--year=2024", "--type=etatique", "--remove"});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  show = Show("a-93");
  EXPECT_THAT(show.out, Not(HasSubstr("Financements étatiques")));
  EXPECT_THAT(show.out, HasSubstr("prévu 1500.50 €"));
}

TEST_F(ActionsCliTest, FilesCarryWhatFlagsCannot) {
  // An ETI: its addresses only come in a file.
  const std::string create = Write("eti.json", R"({
    "details": {
      "name": "Espace temporaire de Saint-Denis",
      "startedAt": {"year": 2024, "month": 5, "day": 2},
      "topics": ["ACTION_TOPIC_HOUSING"],
      "departementCode": "93",
      "location": {"type": "ACTION_LOCATION_TYPE_ETI", "etiAddresses": [{
        "label": "3 rue de la Gare 93200 Saint-Denis", "cityCode": "93066",
        "coordinates": {"latitude": 48.9362, "longitude": 2.3574}}]}
    },
    "managers": [{"userId": "u-1", "organisationId": "o-1"}],
    "operators": [{"user_id": "u-op", "organisation_id": "o-op"}]
  })");
  auto created = Cli({"actions", "create", "--id=eti-1", "--file=" + create, "--goals=Insertion"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string finances = Write("finances.json", R"({"lines": [
    {"type": "FINANCE_TYPE_EUROPEAN", "amountCents": "100000", "realAmountCents": "2550"},
    {"type": "FINANCE_TYPE_PRIVATE", "amountCents": "500"}]})");
  auto fin = Cli({"actions", "finances", "eti-1", "--year=2024", "--file=" + finances});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  auto show = Show("eti-1");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Lieu                   Espace temporaire d'insertion"));
  EXPECT_THAT(show.out, HasSubstr("Objectifs              Insertion"));
  EXPECT_THAT(show.out, HasSubstr("Financements européens : prévu 1000.00 €, dépensé 25.50 €"));
  EXPECT_THAT(show.out, HasSubstr("Financements privés : prévu 5.00 €, dépensé 0.00 €"));

  // An unreadable or malformed file: exit 2 naming the flag, the file and the error.
  const std::string head = Head();
  auto missing = Cli({"actions", "create", "--file=" + tmp_.path() + "/none.json"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--file: cannot read " + tmp_.path() + "/none.json"));
  const std::string broken = Write("broken.json", R"({"details": {"nom": "x"}})");
  auto bad = Cli({"actions", "create", "--file=" + broken});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--file: " + broken + " is not a CreateAction in JSON: "));
  EXPECT_THAT(bad.err, HasSubstr("nom"));
  EXPECT_EQ(Head(), head);
}

TEST_F(ActionsCliTest, CommentThenCloseThenOnlyMessages) {
  CreateAction();
  auto comment = Cli({"actions", "comment", "a-93", "--text=Visite du 12 mars"});
  ASSERT_EQ(comment.exit_code, 0) << comment.err;
  auto close = Cli({"--json", "actions", "close", "a-93", "--date=2024-12-31",
                    "--comment=Toutes les familles relogées"});
  ASSERT_EQ(close.exit_code, 0) << close.err;
  EXPECT_THAT(close.out, HasSubstr(R"("outcome":"appended")"));
  auto show = Show("a-93");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Statut                 Terminée"));
  EXPECT_THAT(show.out, HasSubstr("Fermée le              2024-12-31"));
  EXPECT_THAT(show.out, HasSubstr("Bilan                  Toutes les familles relogées"));
  EXPECT_THAT(show.out, HasSubstr("u-1 : « Visite du 12 mars »"));
  auto list = Cli({"actions", "list", "--open", "--min-position=" + Head()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, Not(HasSubstr("a-93")));

  // Closed: refused by the server (exit 1, the violation printed), but messages still go in.
  const std::string head = Head();
  auto late = Cli({"actions", "indicators", "a-93", "--year=2024", "--nombre-personnes=3"});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_THAT(late.err, HasSubstr("the server answered 9 "));  // FAILED_PRECONDITION
  EXPECT_THAT(late.err,
              HasSubstr("action_id: lifecycle.action_closed: Cette action est terminée."));
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(Cli({"actions", "comment", "a-93", "--text=Bilan transmis"}).exit_code, 0);
}

// A message posted without --command-id prints the id it was sent with; posted again with that
// id (a retry by hand after a lost answer), it prints the first result and appends nothing.
TEST_F(ActionsCliTest, AMessageSentAgainWithItsCommandIdAppendsNothing) {
  CreateAction();
  auto first = Cli({"--json", "actions", "comment", "a-93", "--text=Visite du 12 mars"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr(R"("name":"actions/a-93","outcome":"appended","revision":1,)"));
  const std::string id = testing::PrintedCommandId(first.out);
  ASSERT_EQ(id.size(), 36u) << first.out;  // a UUID
  const std::string head = Head();

  auto again = Cli(
      {"--json", "actions", "comment", "a-93", "--text=Visite du 12 mars", "--command-id=" + id});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::string replayed = first.out;
  replayed.replace(replayed.find("appended"), 8, "replayed");
  EXPECT_EQ(again.out, replayed);  // the first result: same revision, position and id
  EXPECT_EQ(Head(), head);
  auto show = Show("a-93", /*json=*/true);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr(R"("revision":"1")"));
}

TEST_F(ActionsCliTest, BadValuesExitTwoNamingTheFlagAndChangeNothing) {
  CreateAction();
  const std::string head = Head();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"actions", "indicators", "a-93", "--year=abc", "--nombre-personnes=3"}, "--year"},
      {{"actions", "indicators", "a-93", "--nombre-personnes=3"}, "needs --year"},
      {{"actions", "indicators", "a-93", "--year=2024", "--nombre-personnes=-3"},
       "--nombre-personnes takes a whole number >= 0"},
      {{"actions", "indicators", "a-93", "--year=2024", "--nombre-mineurs=2.5"},
       "--nombre-mineurs takes a whole number >= 0"},
      {{"actions", "indicators", "a-93", "--year=2024"}, "at least one indicator"},
      {{"actions", "indicators", "a-93", "--year=2024", "--personnes=3"},
       "unknown flag --personnes"},
      {{"actions", "finances", "a-93", "--year=2024", "--type=dedie", "--planned=1.234"},
       "--planned: \"1.234\" is not an amount in euros"},
      {{"actions", "finances", "a-93", "--year=2024", "--type=dedie", "--spent=-5"},
       "--spent: \"-5\" is not an amount in euros"},
      {{"actions", "finances", "a-93", "--year=2024", "--type=dedie", "--planned=12 000"},
       "--planned"},
      {{"actions", "finances", "a-93", "--year=2024", "--type=cuisine", "--planned=1"},
       "--type: unknown finance type cuisine"},
      {{"actions", "finances", "a-93", "--year=2024", "--type=dedie"},
       "needs --planned, --spent or --comments, or --remove"},
      {{"actions", "finances", "a-93", "--year=20245", "--type=dedie", "--planned=1"}, "--year"},
      {{"actions", "create", "--id=a-2", "--name=X", "--started=2024-02-30", "--topics=health",
        "--departement=93", "--other=Ici", "--managers=u-1:o-1", "--operators=u-op:o-op"},
       "--started: \"2024-02-30\" is not a date"},
      {{"actions", "create", "--id=a-2", "--name=X", "--started=2024-02-01", "--topics=cuisine",
        "--departement=93", "--other=Ici", "--managers=u-1:o-1", "--operators=u-op:o-op"},
       "--topics: unknown topic cuisine"},
      {{"actions", "create", "--id=a-2", "--name=X", "--started=2024-02-01", "--topics=health",
        "--departement=93", "--location=tente", "--managers=u-1:o-1", "--operators=u-op:o-op"},
       "--location: unknown place tente"},
      {{"actions", "create", "--id=a-2", "--name=X", "--started=2024-02-01", "--topics=health",
        "--departement=93", "--other=Ici", "--managers=u-1"},
       "--managers: \"u-1\" is not USER:ORGANISATION"},
      {{"actions", "create", "--id=a-2", "--name=X", "--started=2024-02-01", "--topics=health"},
       "actions create needs --departement, --location (or --sites, --other), --managers, "
       "--operators"},
      {{"actions", "update", "a-93", "--ended=31/13/2025"}, "--ended: \"31/13/2025\""},
      {{"actions", "managers", "a-93", "u-2:"}, "actions managers: \"u-2:\" is not USER:ORG"},
      {{"actions", "operators", "a-93"}, "wrong number of arguments for actions operators"},
      {{"actions", "close", "a-93", "--date=2024/12/31"}, "--date: \"2024/12/31\" is not a date"},
      {{"actions", "close", "a-93"}, "actions close needs --date"},
      {{"actions", "comment", "a-93"}, "actions comment needs --text"},
  };
  for (const Case& c : cases) {
    auto run = Cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.args[1] << " " << c.args.back() << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.message)) << c.args[1] << " " << c.args.back();
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(ActionsCliTest, DomainRefusalsExitOneWithTheFieldViolationsAndChangeNothing) {
  CreateAction();
  const std::string head = Head();
  auto more_households = Cli({"actions", "indicators", "a-93", "--year=2024",
                              "--nombre-personnes=3", "--nombre-menages=9"});
  EXPECT_EQ(more_households.exit_code, 1);
  EXPECT_THAT(more_households.err, HasSubstr("the server answered 3 "));  // INVALID_ARGUMENT
  EXPECT_THAT(more_households.err, HasSubstr("record_indicators.indicators.nombre_menages: "));
  auto before_start =
      Cli({"actions", "finances", "a-93", "--year=2023", "--type=dedie", "--planned=10"});
  EXPECT_EQ(before_start.exit_code, 1);
  EXPECT_THAT(before_start.err, HasSubstr("record_finances.finances.year: "));
  auto early_close = Cli({"actions", "close", "a-93", "--date=2024-01-01"});
  EXPECT_EQ(early_close.exit_code, 1);
  EXPECT_THAT(early_close.err, HasSubstr("close.closed_at: "));
  auto unknown_dep = Cli({"actions", "update", "a-93", "--departement=999"});
  EXPECT_EQ(unknown_dep.exit_code, 1);
  EXPECT_THAT(unknown_dep.err, HasSubstr("update.details.departement_code: "));
  auto no_such = Cli({"actions", "indicators", "a-404", "--year=2024", "--nombre-personnes=3"});
  EXPECT_EQ(no_such.exit_code, 1);
  EXPECT_THAT(no_such.err, HasSubstr("the server answered 5 "));  // NOT_FOUND
  EXPECT_EQ(Head(), head);
}

}  // namespace
}  // namespace rb::tools
