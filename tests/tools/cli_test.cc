// The `resorption` CLI binary against a real server (in-process Server on 127.0.0.1:0) on a
// data directory filled with the demo history; backups through the Admin service, restored
// offline and audited with the resorption-audit binary.
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/server.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/run_tool.h"
#include "tools/lib/demo.h"

namespace rb::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::RunTool;

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.path() + "/var/data";
    std::filesystem::create_directories(tmp_.path() + "/var");
    auto report = CreateDemoDataDirectory(DemoOptions(), data_);
    ASSERT_TRUE(report.ok()) << report.status();
    head_hash_ = report->head_hash_hex;
    events_ = report->events;
    rb::services::ServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.data_dir = data_;
    o.metrics_address = "";
    o.log_sink = &log_;
    o.shutdown_grace = absl::Seconds(5);
    server_ = std::make_unique<rb::services::Server>(std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    server_flag_ = absl::StrCat("--server=127.0.0.1:", server_->port());
  }

  testing::ToolRun Cli(std::vector<std::string> args) {
    args.insert(args.begin(), server_flag_);
    return RunTool("resorption", args, tmp_.path());
  }

  rb::testing::TempDir tmp_;
  std::ostringstream log_;
  std::string data_, head_hash_, server_flag_;
  uint64_t events_ = 0;
  std::unique_ptr<rb::services::Server> server_;
};

TEST_F(CliTest, EventsHeadPrintsThePositionAndHashOfTheLog) {
  auto run = Cli({"events", "head"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("position ", events_)));
  EXPECT_THAT(run.out, HasSubstr(head_hash_));
  auto json = Cli({"--json", "events", "head"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat(R"("position":)", events_)));
}

TEST_F(CliTest, EventsReadPrintsATableOrJsonLines) {
  auto table = Cli({"events", "read", "--limit=5"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  auto lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 6u);  // header + 5
  EXPECT_THAT(lines[0], HasSubstr("POSITION"));
  EXPECT_THAT(lines[1], HasSubstr("site.declared"));

  auto json = Cli({"--json", "events", "read", "--stream=site-1", "--limit=3"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  lines = Lines(json.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr(R"("stream_id":"site-1","revision":0)"));
  EXPECT_THAT(lines[0], HasSubstr(R"("type":"site.declared")"));

  auto closed = Cli({"--json", "events", "read", "--type=site.closed", "--limit=2"});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  for (const std::string& l : Lines(closed.out))
    EXPECT_THAT(l, HasSubstr(R"("type":"site.closed")"));
}

TEST_F(CliTest, EventsTailFollowsTheLogFromAPosition) {
  auto run = Cli({"--json", "events", "tail", "--from=1", "--count=4"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr(R"("position":1,)"));
  EXPECT_THAT(lines[3], HasSubstr(R"("position":4,)"));
}

TEST_F(CliTest, ServerErrorsPrintTheFieldViolationsAndExitWithOne) {
  auto run = Cli({"events", "read", "--stream=bad stream"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("stream_id: must be printable ASCII without spaces"));
  auto down =
      RunTool("resorption", {"--server=127.0.0.1:1", "--timeout=5", "events", "head"}, tmp_.path());
  EXPECT_EQ(down.exit_code, 1);
}

// A write that gets no answer is tried three times with one command id, then names that id so
// that it can be sent again by hand without appending twice.
TEST_F(CliTest, AWriteWithoutAnswerIsTriedAgainAndNamesItsCommandId) {
  auto down = RunTool(
      "resorption", {"--server=127.0.0.1:1", "--timeout=5", "sites", "confirm", "1"}, tmp_.path());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.out, IsEmpty());
  EXPECT_THAT(down.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(down.err, HasSubstr("sending again with the same command id (try 2 of 3)"));
  EXPECT_THAT(down.err, HasSubstr("sending again with the same command id (try 3 of 3)"));
  EXPECT_THAT(down.err, Not(HasSubstr("try 4")));
  const std::string key = "send the same command again with --command-id=";
  const size_t at = down.err.find(key);
  ASSERT_NE(at, std::string::npos) << down.err;
  const std::string id = down.err.substr(at + key.size(), 36);  // a UUID (cli_common_test)
  EXPECT_EQ(down.err.substr(at + key.size() + 36, 1), " ") << down.err;

  // The id given by hand is the one sent and named again.
  auto by_hand = RunTool(
      "resorption",
      {"--server=127.0.0.1:1", "--timeout=5", "sites", "confirm", "1", "--command-id=" + id},
      tmp_.path());
  EXPECT_EQ(by_hand.exit_code, 1);
  EXPECT_THAT(by_hand.err, HasSubstr(key + id + " "));
}

TEST_F(CliTest, UsageErrorsExitWithTwoAndHelpWorksOnEveryCommand) {
  EXPECT_EQ(Cli({}).exit_code, 2);
  EXPECT_EQ(Cli({"events", "fly"}).exit_code, 2);
  EXPECT_EQ(Cli({"events", "read", "--bogus=1"}).exit_code, 2);
  EXPECT_EQ(Cli({"events", "read", "--limit=many"}).exit_code, 2);
  EXPECT_EQ(Cli({"backup", "restore", "only-one"}).exit_code, 2);
  for (std::vector<std::string> c :
       std::vector<std::vector<std::string>>{{"events", "head"},          {"events", "read"},
                                             {"events", "tail"},          {"backup", "create"},
                                             {"backup", "restore"},       {"sites", "asof"},
                                             {"sites", "heatwave"},       {"sites", "confirm"},
                                             {"territories", "series"},   {"territories", "flows"},
                                             {"actions", "list"},         {"actions", "show"},
                                             {"actions", "aggregates"},   {"actions", "create"},
                                             {"actions", "update"},       {"actions", "managers"},
                                             {"actions", "operators"},    {"actions", "indicators"},
                                             {"actions", "finances"},     {"actions", "comment"},
                                             {"actions", "close"},        {"actions", "export"},
                                             {"users", "list"},           {"users", "create"},
                                             {"users", "activate"},       {"users", "deactivate"},
                                             {"users", "erase"},          {"users", "whoami"},
                                             {"organisations", "create"}, {"tokens", "issue"},
                                             {"tokens", "revoke"},        {"audit", "list"}}) {
    c.push_back("--help");
    auto run = Cli(c);
    EXPECT_EQ(run.exit_code, 0) << c[0] << " " << c[1];
    EXPECT_THAT(run.out, HasSubstr("Usage: resorption " + c[0] + " " + c[1]));
  }
  // The site write commands.
  for (const std::string sub :
       {"census", "living-conditions", "upgrade-living-conditions", "import-living-conditions-v1",
        "procedures", "intervener", "moderate-comment", "phase", "correct-closure", "erase",
        "update", "correct"}) {
    auto run = Cli({"sites", sub, "--help"});
    EXPECT_EQ(run.exit_code, 0) << "sites " << sub;
    EXPECT_THAT(run.out, HasSubstr("Usage: resorption sites " + sub));
    EXPECT_THAT(run.out, HasSubstr("--command-id=ID   the command's idempotency key (default: a "
                                   "new random UUID)"));
  }
  EXPECT_THAT(Cli({"sites", "show", "--help"}).out, Not(HasSubstr("--command-id")));
  auto top = Cli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("backup restore"));
  EXPECT_THAT(top.out, HasSubstr("users list|create"));
  EXPECT_THAT(top.out, HasSubstr("sites update|correct|census|procedures|intervener"));
  EXPECT_THAT(top.out, HasSubstr("actions list|show|aggregates"));
  EXPECT_THAT(top.out, HasSubstr("Write commands (sites and actions) carry a command id"));
  EXPECT_THAT(
      top.out,
      HasSubstr("actions create|update|managers|operators|indicators|finances|comment|close"));
}

TEST_F(CliTest, BackupWhileServingThenRestoreAndAuditTheCopy) {
  const std::string backup = tmp_.path() + "/b1";
  auto created = Cli({"--json", "backup", "create", "--path=" + backup});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr(head_hash_));

  // A second backup to the same place is refused.
  auto again = Cli({"backup", "create", "--path=" + backup});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  // The default place: the data directory's sibling backups/.
  auto default_place = Cli({"--json", "backup", "create"});
  ASSERT_EQ(default_place.exit_code, 0) << default_place.err;
  EXPECT_THAT(default_place.out, HasSubstr(tmp_.path() + "/var/backups/backup-"));

  const std::string restored = tmp_.path() + "/restored";
  auto restore = RunTool("resorption", {"backup", "restore", backup, restored}, tmp_.path());
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_THAT(restore.out, HasSubstr(absl::StrCat(events_, " events verified")));
  auto verify = RunTool("resorption-audit", {"--data-dir=" + restored, "verify"}, tmp_.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr(head_hash_));

  auto onto_existing = RunTool("resorption", {"backup", "restore", backup, restored}, tmp_.path());
  EXPECT_EQ(onto_existing.exit_code, 1);
  EXPECT_THAT(onto_existing.err, HasSubstr("already exists"));
}

}  // namespace
}  // namespace rb::tools
