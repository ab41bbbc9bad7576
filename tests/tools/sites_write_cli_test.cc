// The `resorption` CLI's site write commands beyond declare, close and population (census,
// living conditions, procedures, interveners, phases, journal moderation, closure correction,
// erasure, update and retroactive correction), run as the real binary against a real server
// (in-process Server on 127.0.0.1:0, empty data directory): each write is visible in
// `sites show`, `sites history` or `sites asof`; a bad flag value or file is a usage error (exit
// 2) that appends nothing; a refusal of the domain rules exits 1 naming the field.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/dates.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/run_tool.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunTool;

class SitesWriteCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_.path() + "/var");
    rb::services::ServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.data_dir = tmp_.path() + "/var/data";
    o.metrics_address = "";
    o.log_sink = &log_;
    o.shutdown_grace = absl::Seconds(5);
    server_ = std::make_unique<rb::services::Server>(std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }

  // The CLI as the national administrator u-1 of o-1 (flags before the command override).
  testing::ToolRun Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server=" + address_, "--actor=u-1", "--organisation=o-1",
                               "--role=national_admin"});
    return RunTool("resorption", args, tmp_.path());
  }

  // Declares the site `id` (built 2023-11-15, reported 2024-03-01) through the CLI.
  void Declare(const std::string& id) {
    auto run = Cli({"sites", "declare", "--id=" + id, "--name=Les Lilas", "--commune=93066",
                    "--address=12 rue des Lilas", "--lat=48.9362", "--lon=2.3574", "--type=Terrain",
                    "--declared=2024-03-01", "--built=2023-11-15"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    ASSERT_THAT(run.out, HasSubstr("sites/" + id + ": appended"));
  }

  // `sites show ID`, which must succeed.
  std::string Show(const std::string& id, bool json = false) {
    auto run = json ? Cli({"--json", "sites", "show", id}) : Cli({"sites", "show", id});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.out;
  }

  // `events head`: the log's last position and hash.
  std::string Head() {
    auto run = Cli({"events", "head"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.out;
  }

  // The log's last position, to pass as --min-position (read your writes).
  // Declares site `id` in Saint-Denis through the API, valid from midnight (UTC) of `day` (the
  // CLI declares sites today), at 48.93, 2.35, so that its past can be corrected.
  void DeclareAtMidnight(const std::string& id, absl::CivilDay day) {
    auto stub =
        v1::Sites::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    v1::DeclareSiteRequest declare;
    declare.set_site_id(id);
    declare.mutable_options()->mutable_valid_time()->set_seconds(
        absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone())));
    v1::Site* form = declare.mutable_command()->mutable_site();
    form->mutable_location()->mutable_address()->set_label("12 rue des Lilas");
    form->mutable_location()->mutable_address()->set_city_code("93066");
    form->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(48.93);
    form->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(2.35);
    form->set_field_type(v1::FIELD_TYPE_LAND);
    *form->mutable_declared_at() = rb::domain::ToDate(day);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("x-actor-user", "u-1");
    ctx.AddMetadata("x-actor-organisation", "o-1");
    ctx.AddMetadata("x-actor-role", "national_admin");
    v1::WriteResult declared;
    grpc::Status s = stub->DeclareSite(&ctx, declare, &declared);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::string HeadPosition() {
    auto run = Cli({"--json", "events", "head"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    const std::string key = R"("position":)";
    const size_t at = run.out.find(key);
    if (at == std::string::npos) return "0";
    const size_t from = at + key.size();
    return run.out.substr(from, run.out.find(',', from) - from);
  }

  // The number of events of one stream (`events read --stream`, one JSON line each).
  size_t StreamEvents(const std::string& stream) {
    auto run = Cli({"--json", "events", "read", "--stream=" + stream, "--limit=1000"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return static_cast<size_t>(std::count(run.out.begin(), run.out.end(), '\n'));
  }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = tmp_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  rb::testing::TempDir tmp_;
  std::ostringstream log_;
  std::string address_;
  std::unique_ptr<rb::services::Server> server_;
};

// The text of `out` after `key` up to `end` ("" when `key` is absent).
std::string After(const std::string& out, const std::string& key, char end) {
  const size_t at = out.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return out.substr(from, out.find(end, from) - from);
}

// A write without --command-id carries a new one and prints it; the same command sent again
// with that id (a retry by hand after a lost answer) prints the first result as replayed and
// appends nothing.
TEST_F(SitesWriteCliTest, AWritePrintsItsCommandIdAndSendingItAgainAppendsNothing) {
  Declare("s-1");
  auto first = Cli({"sites", "comment", "s-1", "--text=Visite du 12 mars"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("sites/s-1: appended, revision 1, position "));
  const std::string id = testing::PrintedCommandId(first.out);
  ASSERT_EQ(id.size(), 36u) << first.out;  // a UUID
  const std::string head = HeadPosition();
  ASSERT_EQ(StreamEvents("site-s-1"), 2u);

  auto again = Cli({"sites", "comment", "s-1", "--text=Visite du 12 mars", "--command-id=" + id});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::string replayed = first.out;
  replayed.replace(replayed.find("appended"), 8, "replayed");
  EXPECT_EQ(again.out, replayed);  // the first result: same revision, position and id
  EXPECT_EQ(HeadPosition(), head);
  EXPECT_EQ(StreamEvents("site-s-1"), 2u);
  EXPECT_EQ(After(Show("s-1", /*json=*/true), R"("revision":")", '"'), "1");

  // Without --command-id, each run is a command of its own.
  auto other = Cli({"sites", "comment", "s-1", "--text=Visite du 12 mars"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr("sites/s-1: appended, revision 2, position "));
  EXPECT_NE(testing::PrintedCommandId(other.out), id);
  EXPECT_EQ(StreamEvents("site-s-1"), 3u);

  // A declaration without --id names its site after the command id: sent again, the same site.
  const std::vector<std::string> declare = {"--json",
                                            "sites",
                                            "declare",
                                            "--commune=93066",
                                            "--address=3 rue des Roses",
                                            "--lat=48.9362",
                                            "--lon=2.3574",
                                            "--type=Terrain",
                                            "--declared=2024-03-01"};
  auto declared = Cli(declare);
  ASSERT_EQ(declared.exit_code, 0) << declared.err;
  EXPECT_THAT(declared.out, HasSubstr(R"("outcome":"appended","revision":0,)"));
  const std::string site = After(declared.out, R"("name":")", '"');
  const std::string declare_id = testing::PrintedCommandId(declared.out);
  ASSERT_EQ(declare_id.size(), 36u) << declared.out;
  const std::string declared_head = HeadPosition();
  std::vector<std::string> retry = declare;
  retry.push_back("--command-id=" + declare_id);
  auto redeclared = Cli(retry);
  ASSERT_EQ(redeclared.exit_code, 0) << redeclared.err;
  EXPECT_THAT(redeclared.out, HasSubstr(absl::StrCat(R"({"name":")", site,
                                                     R"(","outcome":"replayed","revision":0,)")));
  EXPECT_EQ(HeadPosition(), declared_head);
  EXPECT_EQ(StreamEvents("site-" + site.substr(6)), 1u);
}

TEST_F(SitesWriteCliTest, ProceduresFromAFileAreShownAndInTheHistory) {
  Declare("s-1");
  const std::string file = Write("procedures.json", R"({"justice": {"owner_complaint": "YES",
      "justice_procedure": "NO"}})");
  auto run = Cli({"sites", "procedures", "s-1", "--file=" + file, "--reason=plainte reçue"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("sites/s-1: appended"));
  const std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Dépôt de plainte par le propriétaire"));
  EXPECT_THAT(show, HasSubstr("Existence d'une procédure judiciaire"));
  auto history = Cli({"sites", "history", "s-1"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("« plainte reçue »"));
  EXPECT_THAT(history.out, HasSubstr("Dépôt de plainte par le propriétaire: (vide) -> oui"));
  // The same file again changes nothing.
  auto again = Cli({"--json", "sites", "procedures", "s-1", "--file=" + file});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr(R"("outcome":"no_change")"));
  // Procedures are justice data: refused to a collaborator without the access_justice option.
  auto refused = Cli({"--role=collaborator", "sites", "procedures", "s-1", "--file=" + file});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("the server answered 7"));  // PERMISSION_DENIED
}

TEST_F(SitesWriteCliTest, ALivingConditionsAssessmentFromAJsonFile) {
  Declare("s-1");
  const std::string file = Write("living.json", R"({
    "water": {"access_type": "WATER_ACCESS_TYPE_NETWORK_TAP", "is_public": "NO",
              "is_continuous": "YES", "is_local": "YES", "is_close": "YES", "is_unequal": "NO",
              "has_stagnant_water": "NO"},
    "sanitary": {"working_toilets": "YES", "toilet_types": ["TOILET_TYPE_FLUSH"],
                 "toilets_are_inside": "YES"},
    "electricity": {"access": "YES", "accessTypes": ["ELECTRICITY_ACCESS_TYPE_GENERATOR"]},
    "trash": {"is_piling": "NO", "evacuation_is_close": "YES"},
    "pests": {"animals": "YES", "details": "Rats"}})");
  auto run = Cli({"--json", "sites", "living-conditions", "s-1", "--file=" + file});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("name":"sites/s-1","outcome":"appended")"));
  const std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Robinet connecté au réseau d'eau"));
  EXPECT_THAT(show, HasSubstr("Groupe électrogène"));
  EXPECT_THAT(show, HasSubstr("Rats"));
  // Already in v2: the upgrade is refused, naming the field.
  auto upgrade = Cli({"sites", "upgrade-living-conditions", "s-1", "--file=" + file});
  EXPECT_EQ(upgrade.exit_code, 1);
  EXPECT_THAT(upgrade.err, HasSubstr("living_conditions_version"));
}

TEST_F(SitesWriteCliTest, AV1AssessmentIsImportedThenUpgraded) {
  Declare("s-1");
  const std::string v1_file = Write("v1.json", R"({"access_to_water": "YES",
      "water_distance": "WATER_DISTANCE_V1_0_20", "electricity_type": "ELECTRICITY_TYPE_V1_NO"})");
  // History imports only.
  auto refused = Cli({"sites", "import-living-conditions-v1", "s-1", "--file=" + v1_file});
  EXPECT_EQ(refused.exit_code, 1);
  auto imported =
      Cli({"--options=import", "sites", "import-living-conditions-v1", "s-1", "--file=" + v1_file});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_THAT(Show("s-1", /*json=*/true), HasSubstr(R"("living_conditions_version":1)"));
  const std::string v2_file = Write("v2.json", R"({
    "water": {"access_type": "WATER_ACCESS_TYPE_BOTTLE_PURCHASE"},
    "sanitary": {"working_toilets": "NO"}, "electricity": {"access": "NO"},
    "trash": {"is_piling": "YES", "evacuation_is_close": "NO"}})");
  auto upgraded = Cli({"sites", "upgrade-living-conditions", "s-1", "--file=" + v2_file});
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  const std::string show = Show("s-1", /*json=*/true);
  EXPECT_THAT(show, HasSubstr(R"("living_conditions_version":2)"));
  EXPECT_THAT(show, HasSubstr("WATER_ACCESS_TYPE_BOTTLE_PURCHASE"));
}

TEST_F(SitesWriteCliTest, ACensusFromFlagsOrFromAFileWithTheFlagsOverIt) {
  Declare("s-1");
  auto run = Cli(
      {"sites", "census", "s-1", "--status=done", "--date=2025-01-15", "--by=Association Rues"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Réalisé"));
  EXPECT_THAT(show, HasSubstr("15/01/2025"));
  EXPECT_THAT(show, HasSubstr("Association Rues"));

  const std::string file = Write("census.json", R"({"status": "CENSUS_STATUS_DONE",
      "conducted_at": {"year": 2024, "month": 5, "day": 2}, "conducted_by": "SIAO"})");
  auto from_file = Cli({"sites", "census", "s-1", "--file=" + file, "--date=2024-06-03"});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("SIAO"));
  EXPECT_THAT(show, HasSubstr("03/06/2024"));
  EXPECT_THAT(show, Not(HasSubstr("02/05/2024")));
}

TEST_F(SitesWriteCliTest, AnIntervenerAddedThenWithdrawn) {
  Declare("s-1");
  auto add = Cli({"sites", "intervener", "add", "s-1", "--themes=sante,education"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(add.out, HasSubstr("sites/s-1: appended"));
  std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("o-1 (u-1) : Santé, Éducation et scolarisation"));
  // Without a theme: refused by the rules, naming the field.
  auto themeless = Cli({"sites", "intervener", "add", "s-1", "--user=u-2"});
  EXPECT_EQ(themeless.exit_code, 1);
  EXPECT_THAT(themeless.err, HasSubstr("intervener.themes"));
  auto withdraw = Cli({"sites", "intervener", "withdraw", "s-1"});
  ASSERT_EQ(withdraw.exit_code, 0) << withdraw.err;
  show = Show("s-1");
  EXPECT_THAT(show, Not(HasSubstr("o-1 (u-1)")));
  // Withdrawn already: nobody to withdraw.
  auto again = Cli({"sites", "intervener", "withdraw", "s-1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("user_id"));
  EXPECT_EQ(Cli({"sites", "intervener", "join", "s-1"}).exit_code, 2);
  EXPECT_EQ(Cli({"sites", "intervener", "withdraw", "s-1", "--themes=sante"}).exit_code, 2);
}

TEST_F(SitesWriteCliTest, ARetroactiveCorrectionIsVisibleInAsOfAndLeavesTheCurrentSite) {
  // Declared with a past valid date ("Date de mise à jour") so that the past can be corrected.
  DeclareAtMidnight("s-1", absl::CivilDay(2024, 3, 1));
  auto now = Cli({"sites", "update-population", "s-1", "--total=40", "--households=10"});
  ASSERT_EQ(now.exit_code, 0) << now.err;

  const std::string file = Write("population.json", R"({"population": {"total": 25,
      "households": 6}})");
  // The reason is required: refused by the rules, naming the field.
  auto without_reason = Cli({"sites", "correct", "s-1", "--date=2024-06-01", "--file=" + file});
  EXPECT_EQ(without_reason.exit_code, 1);
  EXPECT_THAT(without_reason.err, HasSubstr("reason: "));
  auto corrected = Cli({"sites", "correct", "s-1", "--date=2024-06-01", "--file=" + file,
                        "--reason=comptage du 1er juin oublié"});
  ASSERT_EQ(corrected.exit_code, 0) << corrected.err;
  EXPECT_THAT(corrected.out, HasSubstr("sites/s-1: appended"));

  const std::string written = "--min-position=" + HeadPosition();
  auto june = Cli({"--json", "sites", "asof", "s-1", "--date=2024-06-01", written});
  ASSERT_EQ(june.exit_code, 0) << june.err;
  EXPECT_THAT(june.out, HasSubstr(R"("total":25)"));
  auto may = Cli({"--json", "sites", "asof", "s-1", "--date=2024-05-31", written});
  ASSERT_EQ(may.exit_code, 0) << may.err;
  EXPECT_THAT(may.out, Not(HasSubstr(R"("total":)")));
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  auto current = Cli({"--json", "sites", "asof", "s-1", "--date=" + today, written});
  ASSERT_EQ(current.exit_code, 0) << current.err;
  EXPECT_THAT(current.out, HasSubstr(R"("total":40)"));
  // The current site is today's, not the corrected past.
  auto shown = Cli({"--json", "sites", "show", "s-1"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr(R"("total":40)"));
  EXPECT_THAT(shown.out, Not(HasSubstr(R"("total":25)")));

  // A correction of part of the location completes it from the site on the corrected date, not
  // from today's: the access detail written today does not travel back to July.
  auto access = Cli({"sites", "update", "s-1", "--access=Portail bleu"});
  ASSERT_EQ(access.exit_code, 0) << access.err;
  auto moved = Cli({"sites", "correct", "s-1", "--date=2024-07-01", "--lat=48.95",
                    "--reason=coordonnées relevées en juillet"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  const std::string after = "--min-position=" + HeadPosition();
  auto july = Cli({"--json", "sites", "asof", "s-1", "--date=2024-07-01", after});
  ASSERT_EQ(july.exit_code, 0) << july.err;
  EXPECT_THAT(july.out, HasSubstr(R"("latitude":48.95)"));
  EXPECT_THAT(july.out, Not(HasSubstr("Portail bleu")));
  auto today_site = Cli({"--json", "sites", "show", "s-1"});
  ASSERT_EQ(today_site.exit_code, 0) << today_site.err;
  EXPECT_THAT(today_site.out, HasSubstr("Portail bleu"));
  EXPECT_THAT(today_site.out, HasSubstr(R"("latitude":48.93)"));
}

// Two corrections of parts of the location on one date both hold; a correction on the day of a
// declaration made at midnight completes the location from the declaration, not from today.
TEST_F(SitesWriteCliTest, CorrectionsOfPartsOfTheLocationCompleteItFromTheCorrectedDate) {
  DeclareAtMidnight("s-1", absl::CivilDay(2024, 3, 1));
  auto access = Cli({"sites", "update", "s-1", "--access=Portail bleu"});
  ASSERT_EQ(access.exit_code, 0) << access.err;
  auto first = Cli({"sites", "correct", "s-1", "--date=2024-07-01", "--access=Porte verte",
                    "--reason=accès relevé en juillet"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = Cli({"sites", "correct", "s-1", "--date=2024-07-01", "--lat=48.95",
                     "--reason=coordonnées relevées en juillet"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  auto declared_day = Cli({"sites", "correct", "s-1", "--date=2024-03-01", "--lon=2.36",
                           "--reason=coordonnées relevées au signalement"});
  ASSERT_EQ(declared_day.exit_code, 0) << declared_day.err;
  const std::string after = "--min-position=" + HeadPosition();
  auto july = Cli({"--json", "sites", "asof", "s-1", "--date=2024-07-01", after});
  ASSERT_EQ(july.exit_code, 0) << july.err;
  EXPECT_THAT(july.out, HasSubstr(R"("latitude":48.95)"));
  EXPECT_THAT(july.out, HasSubstr("Porte verte"));
  // The March correction holds until the next version that sets the location: July's.
  EXPECT_THAT(july.out, HasSubstr(R"("longitude":2.35)"));
  auto march = Cli({"--json", "sites", "asof", "s-1", "--date=2024-03-01", after});
  ASSERT_EQ(march.exit_code, 0) << march.err;
  EXPECT_THAT(march.out, HasSubstr(R"("longitude":2.36)"));
  EXPECT_THAT(march.out, HasSubstr(R"("latitude":48.93)"));
  EXPECT_THAT(march.out, Not(HasSubstr("Portail bleu")));
  // Today's site keeps today's access detail.
  auto today_site = Cli({"--json", "sites", "show", "s-1"});
  ASSERT_EQ(today_site.exit_code, 0) << today_site.err;
  EXPECT_THAT(today_site.out, HasSubstr("Portail bleu"));
}

// GetSite answers an erased site with its status and nothing else (sites_service.proto); the
// views no longer know it.
TEST_F(SitesWriteCliTest, AnErasedSiteKeepsOnlyItsStatusAndIsNotFoundInTheViews) {
  Declare("s-1");
  auto without_reason = Cli({"sites", "erase", "s-1"});
  EXPECT_EQ(without_reason.exit_code, 1);
  EXPECT_THAT(without_reason.err, HasSubstr("reason: "));
  auto erased = Cli({"sites", "erase", "s-1", "--reason=doublon de s-0"});
  ASSERT_EQ(erased.exit_code, 0) << erased.err;
  EXPECT_THAT(erased.out, HasSubstr("sites/s-1: appended"));
  const std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Supprimé"));
  EXPECT_THAT(show, Not(HasSubstr("Les Lilas")));
  EXPECT_THAT(show, Not(HasSubstr("12 rue des Lilas")));
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  auto asof = Cli({"sites", "asof", "s-1", "--date=" + today, "--min-position=" + HeadPosition()});
  EXPECT_EQ(asof.exit_code, 1);
  EXPECT_THAT(asof.err, HasSubstr("the server answered 5"));  // NOT_FOUND
  EXPECT_THAT(asof.err, HasSubstr("did not exist"));
  auto list = Cli({"sites", "list", "--status=all", "--min-position=" + HeadPosition()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, Not(HasSubstr("s-1")));
  // Nothing may happen to it any more.
  auto census = Cli({"sites", "census", "s-1", "--status=none"});
  EXPECT_EQ(census.exit_code, 1);
  EXPECT_THAT(census.err, HasSubstr("site_id: "));
}

TEST_F(SitesWriteCliTest, PhasesModerationUpdateAndClosureCorrection) {
  Declare("s-1");
  auto start = Cli({"sites", "phase", "start", "s-1", "sociological_diagnosis"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_THAT(Show("s-1", true), HasSubstr("RESORPTION_PHASE_SOCIOLOGICAL_DIAGNOSIS"));
  auto not_started = Cli({"sites", "phase", "complete", "s-1", "official_opening"});
  EXPECT_EQ(not_started.exit_code, 1);
  EXPECT_THAT(not_started.err, HasSubstr("phase: "));
  auto complete = Cli({"sites", "phase", "complete", "s-1", "sociological_diagnosis"});
  ASSERT_EQ(complete.exit_code, 0) << complete.err;
  EXPECT_THAT(Show("s-1", true), HasSubstr(R"("completed_by":"u-1")"));

  auto comment = Cli({"sites", "comment", "s-1", "--text=Message à retirer"});
  ASSERT_EQ(comment.exit_code, 0) << comment.err;
  std::string json = Show("s-1", true);
  const std::string key = R"("comments":[{"id":")";
  const size_t at = json.find(key);
  ASSERT_NE(at, std::string::npos) << json;
  const std::string comment_id =
      json.substr(at + key.size(), json.find('"', at + key.size()) - at - key.size());
  auto moderated = Cli({"sites", "moderate-comment", "s-1", comment_id, "--reason=hors sujet"});
  ASSERT_EQ(moderated.exit_code, 0) << moderated.err;
  json = Show("s-1", true);
  EXPECT_THAT(json, Not(HasSubstr("Message à retirer")));
  EXPECT_THAT(json, HasSubstr(R"("moderated":true)"));
  auto missing = Cli({"sites", "moderate-comment", "s-1", "999"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("moderate_comment.comment_id"));

  auto updated = Cli(
      {"sites", "update", "s-1", "--name=Les Glycines", "--target=2027", "--access=Portail vert"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  std::string show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Les Glycines"));
  EXPECT_THAT(show, HasSubstr("2027"));
  EXPECT_THAT(show, HasSubstr("Portail vert"));
  EXPECT_THAT(show, HasSubstr("12 rue des Lilas"));  // the rest of the location is kept
  const std::string dwellings = Write("dwellings.json", R"({"id": "ignored",
      "dwellings": {"caravans": 3, "huts": 2}})");
  auto from_file = Cli({"sites", "update", "s-1", "--file=" + dwellings});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_THAT(Show("s-1", true), HasSubstr(R"("caravans":3,"huts":2)"));

  auto closed =
      Cli({"sites", "close", "s-1", "--cause=resorbed", "--date=2025-06-01", "--resorbed=yes"});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  auto unexplained = Cli({"sites", "correct-closure", "s-1", "--cause=unknown"});
  EXPECT_EQ(unexplained.exit_code, 1);
  EXPECT_THAT(unexplained.err, HasSubstr("reason: "));
  auto fixed = Cli({"sites", "correct-closure", "s-1", "--cause=closed_by_pref_admin",
                    "--reason=arrêté préfectoral retrouvé"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  show = Show("s-1");
  EXPECT_THAT(show, HasSubstr("Décision administrative de la Préfecture"));
  EXPECT_THAT(show, HasSubstr("01/06/2025"));  // the date is kept
}

TEST_F(SitesWriteCliTest, BadFlagValuesAndFilesExitTwoAndAppendNothing) {
  Declare("s-1");
  const std::string head = Head();
  const std::string malformed = Write("malformed.json", R"({"water": {"access_type": )");
  const std::string unknown_field = Write("unknown.json", R"({"colour": "blue"})");
  const std::string absent = tmp_.path() + "/absent.json";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sites", "census", "s-1", "--status=done", "--date=2025-02-30", "--by=SIAO"}, "--date: "},
      {{"sites", "census", "s-1", "--status=maybe"}, "--status: unknown value \"maybe\""},
      {{"sites", "census", "s-1"}, "needs --status or --file"},
      {{"sites", "living-conditions", "s-1", "--file=" + malformed}, malformed + ": "},
      {{"sites", "living-conditions", "s-1", "--file=" + unknown_field}, unknown_field + ": "},
      {{"sites", "procedures", "s-1", "--file=" + absent}, absent + ": cannot read the file"},
      {{"sites", "living-conditions", "s-1"}, "needs --file"},
      {{"sites", "intervener", "add", "s-1", "--themes=sante,cuisine"}, "--themes: "},
      {{"sites", "intervener", "add", "s-1", "--user-organisation=o-2", "--themes=sante"},
       "--user-organisation goes with --user"},
      {{"sites", "phase", "start", "s-1", "demolition"}, "PHASE: unknown value"},
      {{"sites", "close", "s-1", "--cause=moved", "--date=2025-06-01"}, "--cause: "},
      {{"sites", "correct-closure", "s-1", "--date=31/31/2025", "--reason=x"}, "--date: "},
      {{"sites", "update", "s-1", "--fields=colour", "--file=" + unknown_field},
       unknown_field + ": "},
      {{"sites", "update", "s-1", "--fields=colour"}, "--fields: colour is not a field of Site"},
      {{"sites", "update", "s-1", "--lat=north"}, "--lat: "},
      {{"sites", "update", "s-1", "--target=soon"}, "--target: "},
      {{"sites", "update", "s-1"}, "needs --file or a field flag"},
      {{"sites", "correct", "s-1", "--name=X", "--reason=x"}, "needs --date"},
      {{"sites", "correct", "s-1", "--date=hier", "--name=X", "--reason=x"}, "--date: "},
      {{"sites", "erase", "s-1", "--bogus=1"}, "unknown flag --bogus"},
  };
  for (const auto& [args, message] : cases) {
    auto run = Cli(args);
    EXPECT_EQ(run.exit_code, 2) << args[1] << " " << run.err;
    EXPECT_THAT(run.err, HasSubstr(message)) << args[1];
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(SitesWriteCliTest, ARuleViolationExitsOneNamingTheField) {
  Declare("s-1");
  const std::string head = Head();
  auto run = Cli({"sites", "census", "s-1", "--status=done"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("the server answered 3"));  // INVALID_ARGUMENT
  EXPECT_THAT(run.err, HasSubstr("census.conducted_by: "));
  EXPECT_THAT(run.err, HasSubstr("census.conducted_at: "));
  EXPECT_EQ(Head(), head);
}

}  // namespace
}  // namespace rb::tools
