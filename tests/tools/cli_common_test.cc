// The write path shared by the `resorption` commands (tools/cli/cli_common.h), without a server:
// the command ids made when --command-id is absent (random version-4 UUIDs), and how a write
// whose answer was lost is sent again with the same id (tries counted, waits asked for but not
// slept: no test here depends on time).
#include "tools/cli/cli_common.h"

#include <chrono>
#include <cstdint>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/lib/deterministic_ids.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool IsUuidV4(const std::string& id) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(id, kUuidV4);
}

// A write whose tries answer `codes` in turn (OK fills the result with `outcome`, revision 4,
// position 9), counting the tries.
struct FakeWrite {
  std::vector<grpc::StatusCode> codes;
  v1::WriteResult::Outcome outcome = v1::WriteResult::OUTCOME_APPENDED;
  v1::WriteResult result;
  int tries = 0;

  WriteTry Once() {
    return [this] {
      const grpc::StatusCode code = codes.at(static_cast<size_t>(tries++));
      result.Clear();
      if (code != grpc::StatusCode::OK) return grpc::Status(code, "try failed");
      result.set_name("sites/s-1");
      result.set_outcome(outcome);
      result.set_revision(4);
      result.set_position(9);
      return grpc::Status::OK;
    };
  }
};

// Flags that wait nothing between tries.
Flags NoWait() {
  Flags f;
  f.write_retry.backoff = std::chrono::milliseconds(0);
  return f;
}

TEST(CommandIdTest, TheBitsAreWrittenAsAVersion4Uuid) {
  EXPECT_EQ(UuidV4(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(UuidV4(~uint64_t{0}, ~uint64_t{0}), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_EQ(UuidV4(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(CommandIdTest, NewIdsAreDistinctVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewCommandId();
    EXPECT_TRUE(IsUuidV4(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(CommandIdTest, AWriteCarriesTheGivenIdOrANewOne) {
  Flags f;
  v1::WriteOptions given;
  f.values["command-id"] = "import-42";
  f.values["reason"] = "recomptage";
  SetWriteOptions(f, &given);
  EXPECT_EQ(given.command_id(), "import-42");
  EXPECT_EQ(given.reason(), "recomptage");

  for (const char* empty_or_absent : {"empty", "absent"}) {
    Flags g;
    if (std::string(empty_or_absent) == "empty") g.values["command-id"] = "";
    v1::WriteOptions a, b;
    SetWriteOptions(g, &a);
    SetWriteOptions(g, &b);
    EXPECT_TRUE(IsUuidV4(a.command_id())) << empty_or_absent << ": " << a.command_id();
    EXPECT_NE(a.command_id(), b.command_id()) << empty_or_absent;
    EXPECT_FALSE(a.has_expected_revision());
    EXPECT_THAT(a.reason(), IsEmpty());
  }
}

TEST(SendWithRetriesTest, OnlyALostAnswerIsSentAgainWithBackoffUpToTheLimit) {
  std::vector<std::chrono::milliseconds> waits;
  const RetryWait record = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  const WriteRetry retry{3, std::chrono::milliseconds(250)};
  std::ostringstream err;
  int tries = 0;

  FakeWrite lost_then_ok{
      {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::OK}};
  EXPECT_TRUE(SendWithRetries(lost_then_ok.Once(), retry, record, err, &tries).ok());
  EXPECT_EQ(tries, 3);
  EXPECT_THAT(waits, ElementsAre(std::chrono::milliseconds(250), std::chrono::milliseconds(500)));
  EXPECT_THAT(err.str(), HasSubstr("sending again with the same command id (try 2 of 3)"));

  FakeWrite never{std::vector<grpc::StatusCode>(3, grpc::StatusCode::UNAVAILABLE)};
  EXPECT_EQ(SendWithRetries(never.Once(), retry, record, err, &tries).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(tries, 3);  // and no fourth

  for (grpc::StatusCode refused :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::ABORTED,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::ALREADY_EXISTS}) {
    FakeWrite once{{refused}};
    waits.clear();
    EXPECT_EQ(SendWithRetries(once.Once(), retry, record, err, &tries).error_code(), refused);
    EXPECT_EQ(tries, 1) << refused;
    EXPECT_THAT(waits, IsEmpty());
  }
}

// The lost try was still being appended when the second came: its id was taken with other
// content (ALREADY_EXISTS); the third is answered with the lost try's result.
TEST(SendWithRetriesTest, AlreadyExistsAfterALostAnswerIsSentAgain) {
  FakeWrite w{
      {grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::ALREADY_EXISTS, grpc::StatusCode::OK},
      v1::WriteResult::OUTCOME_REPLAYED};
  std::ostringstream err;
  int tries = 0;
  EXPECT_TRUE(SendWithRetries(
                  w.Once(), WriteRetry{}, [](std::chrono::milliseconds) {}, err, &tries)
                  .ok());
  EXPECT_EQ(tries, 3);
}

// A command id refused as used by another command is final, even after a lost answer: sending
// it again cannot change that.
TEST(SendWithRetriesTest, AReusedCommandIdIsNotSentAgain) {
  int calls = 0;
  WriteTry once = [&calls] {
    ++calls;
    if (calls == 1) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost");
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        "command_id: already used for a different command (first used at "
                        "position 7); use a new command id");
  };
  std::ostringstream err;
  int tries = 0;
  const grpc::Status s = SendWithRetries(
      once, WriteRetry{}, [](std::chrono::milliseconds) {}, err, &tries);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(tries, 2);
  EXPECT_EQ(calls, 2);
}

TEST(SendWriteTriesTest, PrintsTheResultWithTheCommandId) {
  Flags f = NoWait();
  FakeWrite w{{grpc::StatusCode::OK}};
  std::ostringstream out, err;
  EXPECT_EQ(SendWriteTries(f, "id-1", w.Once(), &w.result, out, err), 0);
  EXPECT_EQ(out.str(), "sites/s-1: appended, revision 4, position 9, command id id-1\n");
  EXPECT_THAT(err.str(), IsEmpty());

  f.json = true;
  FakeWrite j{{grpc::StatusCode::OK}};
  std::ostringstream json;
  EXPECT_EQ(SendWriteTries(f, "id-2", j.Once(), &j.result, json, err), 0);
  EXPECT_THAT(json.str(), HasSubstr(R"("outcome":"appended","revision":4,"position":9,)"
                                    R"("command_id":"id-2")"));
}

// A replay answered to a later try of this run's own id is the lost try's append.
TEST(SendWriteTriesTest, AReplayOfTheLostTryIsReportedAsItsAppend) {
  Flags f = NoWait();
  FakeWrite w{{grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::OK},
              v1::WriteResult::OUTCOME_REPLAYED};
  std::ostringstream out, err;
  EXPECT_EQ(SendWriteTries(f, "generated", w.Once(), &w.result, out, err), 0);
  EXPECT_EQ(out.str(), "sites/s-1: appended, revision 4, position 9, command id generated\n");

  // An id given by hand may be an earlier run's: its replay stays a replay.
  f.values["command-id"] = "by-hand";
  FakeWrite again{{grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::OK},
                  v1::WriteResult::OUTCOME_REPLAYED};
  std::ostringstream replayed;
  EXPECT_EQ(SendWriteTries(f, "by-hand", again.Once(), &again.result, replayed, err), 0);
  EXPECT_THAT(replayed.str(), HasSubstr("sites/s-1: replayed, revision 4"));
}

TEST(SendWriteTriesTest, AnUnknownOutcomeNamesTheIdToSendAgainWith) {
  Flags f = NoWait();
  FakeWrite lost{std::vector<grpc::StatusCode>(3, grpc::StatusCode::DEADLINE_EXCEEDED)};
  std::ostringstream out, err;
  EXPECT_EQ(SendWriteTries(f, "id-3", lost.Once(), &lost.result, out, err), 1);
  EXPECT_EQ(lost.tries, 3);
  EXPECT_THAT(out.str(), IsEmpty());
  EXPECT_THAT(err.str(), HasSubstr("send the same command again with --command-id=id-3"));

  // The lost try was still being appended at every later try: its result is still to be read.
  FakeWrite taken{{grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::ALREADY_EXISTS,
                   grpc::StatusCode::ALREADY_EXISTS}};
  std::ostringstream taken_err;
  EXPECT_EQ(SendWriteTries(f, "id-5", taken.Once(), &taken.result, out, taken_err), 1);
  EXPECT_THAT(taken_err.str(), HasSubstr("send the same command again with --command-id=id-5"));

  FakeWrite refused{{grpc::StatusCode::INVALID_ARGUMENT}};
  std::ostringstream refusal;
  EXPECT_EQ(SendWriteTries(f, "id-4", refused.Once(), &refused.result, out, refusal), 1);
  EXPECT_THAT(refusal.str(), Not(HasSubstr("--command-id")));
}

}  // namespace
}  // namespace rb::tools
