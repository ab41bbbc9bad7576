// Sites.ListActivity over a real server: the activity feed of the sites a reader may read,
// newest first, with the reader's own visibility.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/directory_service.h"
#include "tests/api/activity_fixture.h"
#include "tests/domain/test_util.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;
using ::testing::ElementsAre;

class ActivityTest : public ActivityFixture {
 protected:
  v1::ListActivityResponse List(const Actor& actor, v1::ListActivityQuery q = {}) {
    v1::ListActivityResponse resp;
    grpc::Status s = sites_->ListActivity(ApiServer::Ctx(actor).get(), q, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  static std::vector<std::string> Summary(const v1::ListActivityResponse& r) {
    std::vector<std::string> out;
    for (const v1::Activity& a : r.activities()) {
      out.push_back(absl::StrCat(a.site().empty() ? a.action() : a.site(), " ",
                                 v1::ActivityKind_Name(a.kind())));
    }
    return out;
  }
};

TEST_F(ActivityTest, EveryVersionNewestFirstForANationalAdministrator) {
  v1::ListActivityResponse r = List(kNational);
  EXPECT_THAT(Summary(r), ElementsAre("sites/halage ACTIVITY_KIND_SITE_CLOSED",
                                      "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                      "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                      "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                      "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                      "sites/halage ACTIVITY_KIND_SITE_DECLARED",
                                      "sites/lilas ACTIVITY_KIND_SITE_DECLARED"));
  EXPECT_TRUE(r.next_page_token().empty());
  for (int i = 1; i < r.activities_size(); ++i) {
    EXPECT_GT(r.activities(i - 1).position(), r.activities(i).position());
  }
  EXPECT_EQ(r.activities(0).position(), server_.head());
  const v1::Activity& population = r.activities(4);
  EXPECT_EQ(population.site_name(), "Les Lilas");
  EXPECT_EQ(population.territory().departement_code(), "93");
  EXPECT_EQ(population.author_user_id(), "u-1");
  ASSERT_FALSE(population.changes().empty());
  EXPECT_EQ(population.changes(0).field(), "Nombre de personnes");
  EXPECT_EQ(population.changes(0).new_value(), "42");
  EXPECT_EQ(r.activities(2).comment().text(), "Pour la DDETS seulement.");
  EXPECT_EQ(r.activities(3).comment().text(), "Passage sur site ce matin.");
  EXPECT_FALSE(r.activities(0).changes().empty());  // the closure's fields
}

TEST_F(ActivityTest, AReaderSeesOnlyWhatTheyMayRead) {
  // No justice option: the procedures update has nothing left to show; the message addressed
  // to another organisation is not listed.
  v1::ListActivityResponse r = List(kCollaborator);
  EXPECT_THAT(Summary(r), ElementsAre("sites/halage ACTIVITY_KIND_SITE_CLOSED",
                                      "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                      "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                      "sites/halage ACTIVITY_KIND_SITE_DECLARED",
                                      "sites/lilas ACTIVITY_KIND_SITE_DECLARED"));
  EXPECT_EQ(r.activities(1).comment().text(), "Passage sur site ce matin.");
  Actor justice = kCollaborator;
  justice.options = "access_justice";
  EXPECT_EQ(List(justice).activities_size(), 6);
}

TEST_F(ActivityTest, TerritoryAndKindFilters) {
  v1::ListActivityQuery q;
  q.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  q.mutable_territory()->set_code("44");
  EXPECT_THAT(Summary(List(kNational, q)), ElementsAre("sites/halage ACTIVITY_KIND_SITE_CLOSED",
                                                       "sites/halage ACTIVITY_KIND_SITE_DECLARED"));
  v1::ListActivityQuery comments;
  comments.add_kinds(v1::ACTIVITY_KIND_SITE_COMMENT);
  EXPECT_THAT(Summary(List(kNational, comments)),
              ElementsAre("sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                          "sites/lilas ACTIVITY_KIND_SITE_COMMENT"));
}

TEST_F(ActivityTest, ActionsAppearInTheFeedOfTheirDepartement) {
  auto actions = server_.Actions();
  v1::WriteResult w;
  v1::CreateActionRequest create;
  create.set_action_id("a1");
  *create.mutable_command() = rb::domain::testing::CreateAction("a1").create();  // in the 93
  ASSERT_TRUE(actions->CreateAction(ApiServer::Ctx(kNational).get(), create, &w).ok());
  v1::UpdateActionRequest update;
  update.set_name("actions/a1");
  update.mutable_details()->set_name("Accès à l'emploi");
  update.mutable_update_mask()->add_paths("name");
  ASSERT_TRUE(actions->UpdateAction(ApiServer::Ctx(kNational).get(), update, &w).ok());
  v1::PostActionCommentRequest open;
  open.set_name("actions/a1");
  open.mutable_command()->set_text("Réunion de suivi.");
  ASSERT_TRUE(actions->PostActionComment(ApiServer::Ctx(kNational).get(), open, &w).ok());
  v1::PostActionCommentRequest restricted = open;
  restricted.mutable_command()->set_text("Pour la préfecture.");
  restricted.mutable_command()->add_target_organisation_ids("o-9");
  ASSERT_TRUE(actions->PostActionComment(ApiServer::Ctx(kNational).get(), restricted, &w).ok());

  v1::ListActivityQuery q;
  for (auto k : {v1::ACTIVITY_KIND_ACTION_CREATED, v1::ACTIVITY_KIND_ACTION_UPDATED,
                 v1::ACTIVITY_KIND_ACTION_CLOSED, v1::ACTIVITY_KIND_ACTION_COMMENT}) {
    q.add_kinds(k);
  }
  v1::ListActivityResponse national = List(kNational, q);
  EXPECT_THAT(Summary(national), ElementsAre("actions/a1 ACTIVITY_KIND_ACTION_COMMENT",
                                             "actions/a1 ACTIVITY_KIND_ACTION_COMMENT",
                                             "actions/a1 ACTIVITY_KIND_ACTION_UPDATED",
                                             "actions/a1 ACTIVITY_KIND_ACTION_CREATED"));
  EXPECT_EQ(national.activities(0).comment().text(), "Pour la préfecture.");
  EXPECT_EQ(national.activities(2).action_name(), "Accès à l'emploi");
  EXPECT_EQ(national.activities(2).territory().departement_code(), "93");
  EXPECT_EQ(national.activities(2).territory().region_code(), "11");
  ASSERT_FALSE(national.activities(2).changes().empty());
  EXPECT_EQ(national.activities(2).changes(0).new_value(), "Accès à l'emploi");
  // Another organisation does not read the message addressed to o-9.
  EXPECT_THAT(Summary(List(kCollaborator, q)),
              ElementsAre("actions/a1 ACTIVITY_KIND_ACTION_COMMENT",
                          "actions/a1 ACTIVITY_KIND_ACTION_UPDATED",
                          "actions/a1 ACTIVITY_KIND_ACTION_CREATED"));
  // Territories: the action's département and region list it; another département, a commune
  // (actions lie in a département) do not.
  auto count_in = [&](v1::TerritoryLevel level, const std::string& code) {
    v1::ListActivityQuery t = q;
    t.mutable_territory()->set_level(level);
    t.mutable_territory()->set_code(code);
    return List(kNational, t).activities_size();
  };
  EXPECT_EQ(count_in(v1::TERRITORY_LEVEL_DEPARTEMENT, "93"), 4);
  EXPECT_EQ(count_in(v1::TERRITORY_LEVEL_REGION, "11"), 4);
  EXPECT_EQ(count_in(v1::TERRITORY_LEVEL_DEPARTEMENT, "44"), 0);
  EXPECT_EQ(count_in(v1::TERRITORY_LEVEL_COMMUNE, "93066"), 0);
  // Without a kind filter, sites and actions are mixed, newest first.
  v1::ListActivityResponse all = List(kNational);
  EXPECT_EQ(all.activities(0).action(), "actions/a1");
  EXPECT_EQ(all.activities_size(), 7 + 4);
}

// A user joins when their account is first activated: the feed names their organisation and role,
// never the person, and shows them where the organisation mainly works.
TEST(ActivityUsersTest, UsersWhoJoinAppearWithTheirOrganisationNeverTheirName) {
  ApiServer server({}, {[] { return std::make_unique<DirectoryModule>(); }});
  ASSERT_TRUE(server.status().ok()) << server.status();
  auto directory = server.Directory();
  auto sites = server.Sites();
  auto list = [&](const v1::ListActivityQuery& q) {
    v1::ListActivityResponse resp;
    grpc::Status s = sites->ListActivity(ApiServer::Ctx(kNational).get(), q, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  auto organisation = [&](const std::string& id, const std::string& name, v1::ScopeLevel level,
                          const std::string& code) {
    v1::CreateOrganisationRequest req;
    req.set_organisation_id(id);
    req.set_name(name);
    req.set_type("Association");
    req.set_category(v1::ORGANISATION_CATEGORY_ASSOCIATION);
    v1::ScopeTerritory* t = req.add_territories();
    t->set_level(level);
    t->set_code(code);
    v1::Organisation out;
    grpc::Status s = directory->CreateOrganisation(ApiServer::Ctx(kNational).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  auto user = [&](const std::string& id, const std::string& org, bool activate) {
    v1::CreateUserRequest req;
    req.set_user_id(id);
    req.set_organisation_id(org);
    req.set_role(v1::USER_ROLE_ASSOCIATION);
    req.mutable_personal_data()->set_first_name("Jeanne");
    req.mutable_personal_data()->set_last_name("Martin");
    req.mutable_personal_data()->set_email(id + "@example.org");
    req.set_activate(activate);
    v1::User out;
    grpc::Status s = directory->CreateUser(ApiServer::Ctx(kNational).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  auto set_active = [&](const std::string& id, bool active) {
    v1::SetUserStatusRequest req;
    req.set_user_id(id);
    req.set_active(active);
    v1::User out;
    grpc::Status s = directory->SetUserStatus(ApiServer::Ctx(kNational).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  organisation("asso-93", "Association du 93", v1::SCOPE_LEVEL_DEPARTEMENT, "93");
  // Nantes Métropole: an EPCI whose communes all lie in Loire-Atlantique (44).
  organisation("asso-44", "Association nantaise", v1::SCOPE_LEVEL_EPCI, "244400404");
  organisation("asso-69", "Association lyonnaise", v1::SCOPE_LEVEL_DEPARTEMENT, "69");
  user("u-93", "asso-93", /*activate=*/false);  // access requested: not joined yet
  user("u-44", "asso-44", /*activate=*/true);   // created active: joined
  user("u-69", "asso-69", /*activate=*/true);   // joined, then erased: gone from the feed
  {
    v1::EraseUserRequest req;
    req.set_user_id("u-69");
    v1::User out;
    grpc::Status s = directory->EraseUser(ApiServer::Ctx(kNational).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  set_active("u-93", true);  // joined
  set_active("u-93", false);
  set_active("u-93", true);  // back after a deactivation: not a second arrival

  v1::ListActivityQuery joined;
  joined.add_kinds(v1::ACTIVITY_KIND_USER_JOINED);
  v1::ListActivityResponse r = list(joined);
  ASSERT_EQ(r.activities_size(), 2);
  const v1::Activity& a = r.activities(0);  // newest first: u-93's first activation
  EXPECT_EQ(a.user(), "users/u-93");
  EXPECT_EQ(a.user_organisation_id(), "asso-93");
  EXPECT_EQ(a.user_organisation_name(), "Association du 93");
  EXPECT_EQ(a.user_role(), "association");
  EXPECT_EQ(a.territory().departement_code(), "93");
  EXPECT_EQ(a.territory().region_code(), "11");
  // Who activated: the directory's author, the call's principal (on this test server, without a
  // token: the built-in "system").
  EXPECT_EQ(a.author_user_id(), "system");
  EXPECT_EQ(r.activities(1).user(), "users/u-44");
  EXPECT_EQ(r.activities(1).territory().epci_code(), "244400404");
  EXPECT_EQ(r.activities(1).territory().departement_code(), "44");
  EXPECT_EQ(r.activities(1).territory().region_code(), "52");
  EXPECT_EQ(r.SerializeAsString().find("Jeanne"), std::string::npos);
  EXPECT_EQ(r.SerializeAsString().find("Martin"), std::string::npos);

  // The territory filter applies to the organisation's main territory (an EPCI lies in its
  // département when all its communes do).
  v1::ListActivityQuery in44 = joined;
  in44.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  in44.mutable_territory()->set_code("44");
  v1::ListActivityResponse nantes = list(in44);
  ASSERT_EQ(nantes.activities_size(), 1);
  EXPECT_EQ(nantes.activities(0).user(), "users/u-44");
  // The directory's other events (organisations, deactivations) are not activities.
  EXPECT_EQ(list({}).activities_size(), 2);
}

TEST_F(ActivityTest, PagesFollowTheTokenToTheBeginningOfTheLog) {
  const std::vector<std::string> all = Summary(List(kNational));
  std::vector<std::string> paged;
  v1::ListActivityQuery q;
  q.set_page_size(2);
  int pages = 0;
  do {
    v1::ListActivityResponse r = List(kNational, q);
    EXPECT_LE(r.activities_size(), 2);
    for (const std::string& s : Summary(r)) paged.push_back(s);
    q.set_page_token(r.next_page_token());
    ++pages;
  } while (!q.page_token().empty() && pages < 10);
  EXPECT_EQ(paged, all);
  EXPECT_EQ(pages, 4);  // 2 + 2 + 2 + 1
}

TEST_F(ActivityTest, BadQueriesNameTheFieldAndTheRule) {
  v1::ListActivityResponse resp;
  v1::ListActivityQuery big;
  big.set_page_size(500);
  grpc::Status s = sites_->ListActivity(ApiServer::Ctx(kNational).get(), big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message() + s.error_details(), ::testing::HasSubstr("page_size"));
  v1::ListActivityQuery token;
  token.set_page_token("yesterday");
  s = sites_->ListActivity(ApiServer::Ctx(kNational).get(), token, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message() + s.error_details(), ::testing::HasSubstr("page_token"));
  v1::ListActivityQuery territory;
  territory.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  s = sites_->ListActivity(ApiServer::Ctx(kNational).get(), territory, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message() + s.error_details(), ::testing::HasSubstr("territory.code"));
  v1::ListActivityQuery since;
  since.mutable_since()->set_seconds(int64_t{1} << 60);
  s = sites_->ListActivity(ApiServer::Ctx(kNational).get(), since, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message() + s.error_details(), ::testing::HasSubstr("since"));
}

TEST_F(ActivityTest, SinceEndsTheFeedAtThatInstant) {
  const v1::ListActivityResponse all = List(kNational);
  ASSERT_EQ(all.activities_size(), 7);
  // From the recording time of the fourth newest activity on: the four newest.
  v1::ListActivityQuery q;
  const int64_t us = all.activities(3).recorded_at_us();
  q.mutable_since()->set_seconds(us / 1'000'000);
  q.mutable_since()->set_nanos(static_cast<int32_t>(us % 1'000'000) * 1000);
  v1::ListActivityResponse recent = List(kNational, q);
  ASSERT_GE(recent.activities_size(), 4);
  for (const v1::Activity& a : recent.activities()) EXPECT_GE(a.recorded_at_us(), us);
  EXPECT_TRUE(recent.next_page_token().empty());
}

}  // namespace
}  // namespace rb::services::testing
