// Copyright: the Résorption-bidonvilles data service authors.
#include "access/directory.h"

#include <memory>

#include "access/directory_store.h"
#include "access/subject_keys.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::access {
namespace {

namespace v1 = resorption::v1;

v1::CreateOrganisationRequest Prefecture() {
  v1::CreateOrganisationRequest r;
  r.set_organisation_id("pref-93");
  r.set_name("Préfecture de la Seine-Saint-Denis");
  r.set_type("Préfecture");
  r.set_category(v1::ORGANISATION_CATEGORY_ADMINISTRATION);
  auto* t = r.add_territories();
  t->set_level(v1::SCOPE_LEVEL_DEPARTEMENT);
  t->set_code("93");
  return r;
}

v1::CreateUserRequest Correspondent() {
  v1::CreateUserRequest r;
  r.set_user_id("camille");
  r.set_organisation_id("pref-93");
  r.set_role(v1::USER_ROLE_DIRECT_COLLABORATOR);
  r.add_options("access_owner");
  r.mutable_personal_data()->set_email("camille.martin@seine-saint-denis.gouv.fr");
  r.mutable_personal_data()->set_last_name("Martin");
  r.set_activate(true);
  return r;
}

TEST(DecideCreateOrganisation, ReportsEveryViolationAtOnce) {
  v1::CreateOrganisationRequest r;
  r.set_organisation_id("Bad Id");
  auto* t = r.add_territories();
  t->set_level(v1::SCOPE_LEVEL_DEPARTEMENT);
  t->set_code("999");
  r.add_options("see_everything");
  auto d = DecideCreateOrganisation({}, r);
  ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(d.status().message());
  EXPECT_NE(m.find("organisation_id"), std::string::npos);
  EXPECT_NE(m.find("name: must not be empty"), std::string::npos);
  EXPECT_NE(m.find("category"), std::string::npos);
  EXPECT_NE(m.find("territories[0].code"), std::string::npos);
  EXPECT_NE(m.find("options[0]"), std::string::npos);
}

TEST(DecideCreateOrganisation, DefaultsTheMainTerritoryToTheFirstAndRefusesADuplicate) {
  auto d = DecideCreateOrganisation({}, Prefecture());
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(EventType((*d)[0]), "organisation.created");
  v1::Organisation org = EvolveOrganisation({}, (*d)[0]);
  EXPECT_TRUE(org.exists());
  EXPECT_EQ(org.main_territory().code(), "93");
  EXPECT_EQ(DecideCreateOrganisation(org, Prefecture()).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(DecideUser, CreatesActivatesDeactivatesAndErases) {
  v1::Organisation org = EvolveOrganisation({}, (*DecideCreateOrganisation({}, Prefecture()))[0]);
  auto created = DecideCreateUser({}, org, Correspondent(), "sealed");
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->size(), 2u);  // created + activated
  v1::User u;
  u.set_id("camille");
  for (const auto& e : *created) u = EvolveUser(std::move(u), e);
  EXPECT_EQ(u.status(), v1::USER_STATUS_ACTIVE);
  EXPECT_EQ(u.sealed_personal_data(), "sealed");

  auto p = PrincipalOf(u, org);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, Role::kDirectCollaborator);
  ASSERT_EQ(p->territories.size(), 1u);
  EXPECT_EQ(p->territories[0].code(), "93");
  EXPECT_TRUE(p->HasOption("access_owner"));

  EXPECT_TRUE(DecideSetUserStatus(u, true, "")->empty());  // already active: no event
  auto off = DecideSetUserStatus(u, false, "left the prefecture");
  ASSERT_EQ(off->size(), 1u);
  u = EvolveUser(std::move(u), (*off)[0]);
  EXPECT_EQ(PrincipalOf(u, org).status().code(), absl::StatusCode::kFailedPrecondition);

  auto erase = DecideEraseUser(u);
  ASSERT_EQ(erase->size(), 1u);
  EXPECT_EQ(EventType((*erase)[0]), "user.erased");
  u = EvolveUser(std::move(u), (*erase)[0]);
  EXPECT_TRUE(u.erased());
  EXPECT_TRUE(u.sealed_personal_data().empty());
  EXPECT_EQ(DecideSetUserStatus(u, true, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(DecideEraseUser(u)->empty());  // idempotent
}

TEST(DecideCreateUser, RefusesAnUnknownOrganisationRoleAndEmail) {
  v1::CreateUserRequest r = Correspondent();
  r.set_role(v1::USER_ROLE_UNSPECIFIED);
  r.mutable_personal_data()->set_email("nobody");
  auto d = DecideCreateUser({}, {}, r, "");
  ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(d.status().message());
  EXPECT_NE(m.find("role"), std::string::npos);
  EXPECT_NE(m.find("organisation_id"), std::string::npos);
  EXPECT_NE(m.find("personal_data.email"), std::string::npos);
}

class DirectoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = rb::es::EventStore::Open({}, dir_.path() + "/data");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    keys_ = std::make_unique<SubjectKeys>(&store_->kv());
    ASSERT_TRUE(keys_->Init().ok());
    directory_ = std::make_unique<DirectoryStore>(store_.get(), keys_.get());
    admin_.user_id = "admin";
    admin_.role = Role::kNationalAdmin;
  }
  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<SubjectKeys> keys_;
  std::unique_ptr<DirectoryStore> directory_;
  Principal admin_;
};

TEST_F(DirectoryStoreTest, StoresOrganisationsAndUsersAsEventsInTheirStreams) {
  ASSERT_TRUE(directory_->CreateOrganisation(Prefecture(), admin_).ok());
  auto u = directory_->CreateUser(Correspondent(), admin_);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->status(), v1::USER_STATUS_ACTIVE);

  auto events = store_->ReadStream("user-camille", 0, rb::es::Direction::kForward, 10);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].type, "user.created");
  EXPECT_EQ((*events)[0].metadata.actor_user, "admin");
  EXPECT_EQ((*events)[1].type, "user.activated");
  // The e-mail address is sealed, never in the log in clear.
  EXPECT_EQ((*events)[0].payload.find("camille.martin"), std::string::npos);

  auto personal = directory_->PersonalDataOf(*u);
  ASSERT_TRUE(personal.ok()) << personal.status();
  EXPECT_EQ(personal->email(), "camille.martin@seine-saint-denis.gouv.fr");

  auto p = directory_->LoadPrincipal("camille");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->organisation_id, "pref-93");

  auto users = directory_->ListUsers("pref-93");
  ASSERT_EQ(users->size(), 1u);
  EXPECT_TRUE(directory_->ListUsers("other")->empty());
  EXPECT_EQ(directory_->CreateUser(Correspondent(), admin_).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(DirectoryStoreTest, ErasingAUserMakesThePersonalDataUnreadable) {
  ASSERT_TRUE(directory_->CreateOrganisation(Prefecture(), admin_).ok());
  auto u = directory_->CreateUser(Correspondent(), admin_);
  ASSERT_TRUE(u.ok());
  const std::string sealed = u->sealed_personal_data();
  auto erased = directory_->EraseUser("camille", admin_);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_TRUE(erased->erased());
  EXPECT_EQ(directory_->PersonalDataOf(*erased).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Even the sealed bytes still in the log cannot be opened any more.
  EXPECT_EQ(keys_->Open("user-camille", sealed).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->Verify().ok());
  EXPECT_EQ(directory_->LoadPrincipal("camille").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace rb::access
