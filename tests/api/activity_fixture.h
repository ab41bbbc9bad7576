// The activity feed's fixture (Sites.ListActivity, Sites.WatchActivity): a real server serving
// the API modules, with two sites and seven versions recorded by a national administrator, in
// this order:
//   1. sites/lilas declared (Saint-Denis, 93)       5. a message on lilas to organisation o-9 only
//   2. sites/halage declared (Nantes, 44)           6. lilas: a justice procedure (owner complaint)
//   3. lilas: population 42                         7. sites/halage closed
//   4. a message on lilas, to everyone
#ifndef RB_TESTS_API_ACTIVITY_FIXTURE_H_
#define RB_TESTS_API_ACTIVITY_FIXTURE_H_

#include <memory>

#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/domain/test_util.h"

namespace rb::services::testing {

inline const Actor kNational{.user = "u-1", .organisation = "o-1", .role = "national_admin"};
// Another organisation's collaborator, without the justice option.
inline const Actor kCollaborator{.user = "u-2", .organisation = "o-2", .role = "collaborator"};

class ActivityFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace v1 = resorption::v1;
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    v1::WriteResult w;
    // Saint-Denis (93).
    v1::DeclareSiteRequest lilas;
    lilas.set_site_id("lilas");
    *lilas.mutable_command() = rb::domain::testing::Declare("lilas").declare();
    ASSERT_TRUE(sites_->DeclareSite(ApiServer::Ctx(kNational).get(), lilas, &w).ok());
    // Nantes (44).
    v1::DeclareSiteRequest halage;
    halage.set_site_id("halage");
    *halage.mutable_command() = rb::domain::testing::Declare("halage").declare();
    v1::Site* s = halage.mutable_command()->mutable_site();
    s->set_name("Chemin du Halage");
    s->mutable_location()->mutable_address()->set_label("Chemin du Halage, Nantes");
    s->mutable_location()->mutable_address()->set_city_code("44109");
    s->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(47.2058);
    s->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(-1.5394);
    ASSERT_TRUE(sites_->DeclareSite(ApiServer::Ctx(kNational).get(), halage, &w).ok());

    v1::RecordPopulationRequest pop;
    pop.set_name("sites/lilas");
    pop.mutable_command()->mutable_population()->set_total(42);
    ASSERT_TRUE(sites_->RecordPopulation(ApiServer::Ctx(kNational).get(), pop, &w).ok());

    v1::PostCommentRequest open;
    open.set_name("sites/lilas");
    open.mutable_command()->set_text("Passage sur site ce matin.");
    ASSERT_TRUE(sites_->PostComment(ApiServer::Ctx(kNational).get(), open, &w).ok());
    v1::PostCommentRequest restricted;
    restricted.set_name("sites/lilas");
    restricted.mutable_command()->set_text("Pour la DDETS seulement.");
    restricted.mutable_command()->add_target_organisation_ids("o-9");
    ASSERT_TRUE(sites_->PostComment(ApiServer::Ctx(kNational).get(), restricted, &w).ok());

    v1::UpdateProceduresRequest justice;
    justice.set_name("sites/lilas");
    justice.mutable_command()->mutable_justice()->set_owner_complaint(v1::YES);
    ASSERT_TRUE(sites_->UpdateProcedures(ApiServer::Ctx(kNational).get(), justice, &w).ok());

    v1::CloseSiteRequest close;
    close.set_name("sites/halage");
    *close.mutable_command()->mutable_closure() = rb::domain::testing::ValidClosure();
    ASSERT_TRUE(sites_->CloseSite(ApiServer::Ctx(kNational).get(), close, &w).ok());
  }

  ApiServer server_;
  std::unique_ptr<resorption::v1::Sites::Stub> sites_ = server_.Sites();
};

}  // namespace rb::services::testing

#endif  // RB_TESTS_API_ACTIVITY_FIXTURE_H_
