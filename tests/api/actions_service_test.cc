// The Actions service over a real server, real RocksDB and real stubs.
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/domain/test_util.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;

class ActionsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.status().ok()) << server_.status(); }

  grpc::Status Create(const std::string& id, v1::WriteResult* out) {
    v1::CreateActionRequest req;
    req.set_action_id(id);
    *req.mutable_command() = rb::domain::testing::CreateAction(id).create();
    return actions_->CreateAction(ApiServer::Ctx().get(), req, out);
  }

  ApiServer server_;
  std::unique_ptr<v1::Actions::Stub> actions_ = server_.Actions();
};

TEST_F(ActionsServiceTest, CreateActionThenGetActionReadsItBack) {
  v1::WriteResult w;
  grpc::Status s = Create("a1", &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(w.name(), "actions/a1");
  EXPECT_EQ(w.outcome(), v1::WriteResult::OUTCOME_APPENDED);
  EXPECT_EQ(w.position(), server_.head());

  v1::GetActionRequest get;
  get.set_name("actions/a1");
  get.set_min_position(w.position());
  v1::Action action;
  s = actions_->GetAction(ApiServer::Ctx().get(), get, &action);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(action.details().name(), "Accompagnement vers le logement");
  EXPECT_EQ(action.status(), v1::ACTION_STATUS_OPEN);
  EXPECT_EQ(action.revision(), w.revision());
}

// A command id reused for a different command on an action is refused and appends nothing; the
// same command again replays its first result.
TEST_F(ActionsServiceTest, ACommandIdReusedForADifferentCommandIsRefusedAndAppendsNothing) {
  v1::WriteResult w;
  ASSERT_TRUE(Create("a1", &w).ok());
  v1::PostActionCommentRequest comment;
  comment.set_name("actions/a1");
  comment.mutable_options()->set_command_id("cmd-comment-a1");
  comment.mutable_command()->set_text("Réunion de suivi.");
  v1::WriteResult posted;
  grpc::Status s = actions_->PostActionComment(ApiServer::Ctx().get(), comment, &posted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const uint64_t head = server_.head();

  v1::PostActionCommentRequest other = comment;
  other.mutable_command()->set_text("Un autre message.");
  v1::WriteResult r;
  s = actions_->PostActionComment(ApiServer::Ctx().get(), other, &r);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "command_id: already used for a different command (first used at position " +
                std::to_string(posted.first_position()) + "); use a new command id");
  EXPECT_EQ(server_.head(), head);

  v1::WriteResult retry;
  s = actions_->PostActionComment(ApiServer::Ctx().get(), comment, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.outcome(), v1::WriteResult::OUTCOME_REPLAYED);
  EXPECT_EQ(retry.position(), posted.position());
  EXPECT_EQ(server_.head(), head);
}

TEST_F(ActionsServiceTest, UpdateWithFieldMaskAndCommentAdvanceTheRevision) {
  v1::WriteResult w;
  ASSERT_TRUE(Create("a1", &w).ok());
  v1::UpdateActionRequest update;
  update.set_name("actions/a1");
  update.mutable_options()->set_expected_revision(w.revision());
  update.mutable_details()->set_name("Accès à l'emploi");
  update.mutable_update_mask()->add_paths("name");
  v1::WriteResult u;
  grpc::Status s = actions_->UpdateAction(ApiServer::Ctx().get(), update, &u);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(u.revision(), w.revision());

  v1::PostActionCommentRequest comment;
  comment.set_name("actions/a1");
  comment.mutable_command()->set_text("Réunion de suivi.");
  v1::WriteResult c;
  s = actions_->PostActionComment(ApiServer::Ctx().get(), comment, &c);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(c.revision(), u.revision());

  // The same update again, now stale.
  s = actions_->UpdateAction(ApiServer::Ctx().get(), update, &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
}

TEST_F(ActionsServiceTest, AJournalMessageAddressedToAnOrganisationIsReadOnlyByIt) {
  v1::WriteResult w;
  ASSERT_TRUE(Create("a1", &w).ok());
  v1::PostActionCommentRequest comment;
  comment.set_name("actions/a1");
  comment.mutable_command()->set_text("Pour la préfecture.");
  comment.mutable_command()->add_target_organisation_ids("o-prefecture");
  ASSERT_TRUE(actions_->PostActionComment(ApiServer::Ctx().get(), comment, &w).ok());
  v1::GetActionRequest get;
  get.set_name("actions/a1");
  v1::Action other, prefecture;
  ASSERT_TRUE(actions_
                  ->GetAction(ApiServer::Ctx(
                                  {.user = "u-7", .organisation = "o-asso", .role = "association"})
                                  .get(),
                              get, &other)
                  .ok());
  EXPECT_EQ(other.comments_size(), 0);
  ASSERT_TRUE(actions_
                  ->GetAction(ApiServer::Ctx({.user = "u-8",
                                              .organisation = "o-prefecture",
                                              .role = "direct_collaborator"})
                                  .get(),
                              get, &prefecture)
                  .ok());
  ASSERT_EQ(prefecture.comments_size(), 1);
  EXPECT_EQ(prefecture.comments(0).text(), "Pour la préfecture.");
}

TEST_F(ActionsServiceTest, CommandOnAnUnknownActionIsNotFound) {
  v1::PostActionCommentRequest comment;
  comment.set_name("actions/ghost");
  comment.mutable_command()->set_text("?");
  v1::WriteResult c;
  EXPECT_EQ(actions_->PostActionComment(ApiServer::Ctx().get(), comment, &c).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetActionRequest get;
  get.set_name("actions/ghost");
  v1::Action action;
  EXPECT_EQ(actions_->GetAction(ApiServer::Ctx().get(), get, &action).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ActionsServiceTest, InvalidCreationListsEveryViolation) {
  v1::CreateActionRequest req;
  req.set_action_id("a1");
  *req.mutable_command() = rb::domain::testing::CreateAction("a1").create();
  req.mutable_command()->mutable_details()->clear_name();
  req.mutable_command()->mutable_details()->clear_topics();
  v1::WriteResult w;
  grpc::Status s = actions_->CreateAction(ApiServer::Ctx().get(), req, &w);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  google::rpc::BadRequest bad;
  ASSERT_TRUE(FindDetail(s, &bad));
  EXPECT_GE(bad.field_violations_size(), 2);
  EXPECT_EQ(server_.head(), 0u);
}

}  // namespace
}  // namespace rb::services::testing
