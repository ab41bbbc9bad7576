// Copyright: the Résorption-bidonvilles data service authors.
#include "access/policy.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rb::access {
namespace {

namespace v1 = resorption::v1;

v1::Territory SaintDenis() {  // inside the organisation's departement 93
  v1::Territory t;
  t.set_city_code("93066");
  t.set_departement_code("93");
  t.set_region_code("11");
  t.set_epci_code("200054781");
  return t;
}

v1::Territory Marseille() {  // elsewhere
  v1::Territory t;
  t.set_city_code("13055");
  t.set_departement_code("13");
  t.set_region_code("93");
  t.set_epci_code("200054807");
  return t;
}

v1::ScopeTerritory Ref(v1::ScopeLevel level, std::string code) {
  v1::ScopeTerritory r;
  r.set_level(level);
  r.set_code(std::move(code));
  return r;
}

Principal Of(Role role, std::vector<std::string> options = {}) {
  Principal p;
  p.user_id = "u-1";
  p.organisation_id = "o-1";
  p.role = role;
  p.user_options = std::move(options);
  p.territories = {Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "93")};
  return p;
}

// One row of the default matrix (docs/access.md): L = inside the organisation's territory,
// O = elsewhere.
struct Row {
  Role role;
  std::vector<std::string> options;
  bool read_l, read_o, write_l, write_o, close_l, justice_l, justice_o, owner_l, finances_l,
      finances_o, aggregates_only;
};

class DefaultMatrix : public ::testing::TestWithParam<Row> {};

TEST_P(DefaultMatrix, GrantsWhatTheReferenceSays) {
  const Row& r = GetParam();
  const Principal p = Of(r.role, r.options);
  SCOPED_TRACE(std::string(rb::domain::RoleId(r.role)));
  EXPECT_EQ(CanReadSite(p, SaintDenis(), "1"), r.read_l);
  EXPECT_EQ(CanReadSite(p, Marseille(), "2"), r.read_o);
  EXPECT_EQ(CanWriteSite(p, SaintDenis(), "1"), r.write_l);
  EXPECT_EQ(CanWriteSite(p, Marseille(), "2"), r.write_o);
  EXPECT_EQ(CanCloseSite(p, SaintDenis(), "1"), r.close_l);
  EXPECT_EQ(CanSeeJustice(p, SaintDenis(), "1"), r.justice_l);
  EXPECT_EQ(CanSeeJustice(p, Marseille(), "2"), r.justice_o);
  EXPECT_EQ(CanSeeOwner(p, SaintDenis(), "1"), r.owner_l);
  EXPECT_EQ(CanSeeFinances(p, "93", "a-1"), r.finances_l);
  EXPECT_EQ(CanSeeFinances(p, "13", "a-2"), r.finances_o);
  EXPECT_EQ(AggregatesOnly(p), r.aggregates_only);
  EXPECT_TRUE(CanReadAggregates(p));
}

using R = Role;
INSTANTIATE_TEST_SUITE_P(
    Roles, DefaultMatrix,
    ::testing::Values(
        //   role                     options  rdL   rdO    wrL    wrO    clL    juL    juO    owL
        //   fiL    fiO    aggOnly
        Row{R::kNationalAdmin,
            {},
            true,
            true,
            true,
            true,
            true,
            true,
            true,
            true,
            true,
            true,
            false},
        Row{R::kLocalAdmin,
            {},
            true,
            true,
            true,
            false,
            true,
            true,
            true,
            true,
            true,
            false,
            false},
        Row{R::kDirectCollaborator,
            {},
            true,
            true,
            true,
            false,
            true,
            true,
            true,
            false,
            true,
            false,
            false},
        Row{R::kCollaborator,
            {},
            true,
            false,
            true,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false},
        Row{R::kAssociation,
            {},
            true,
            false,
            true,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false},
        Row{R::kNationalEstablishment,
            {},
            true,
            true,
            false,
            false,
            false,
            false,
            false,
            false,
            true,
            true,
            false},
        Row{R::kIntervener,
            {},
            true,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false},
        Row{R::kExternalObserver,
            {},
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            true},
        // Options.
        Row{R::kCollaborator,
            {"close_shantytown"},
            true,
            false,
            true,
            false,
            true,
            false,
            false,
            false,
            false,
            false,
            false},
        Row{R::kAssociation,
            {"create_and_close_shantytown"},
            true,
            false,
            true,
            false,
            true,
            false,
            false,
            false,
            false,
            false,
            false},
        Row{R::kCollaborator,
            {"access_justice"},
            true,
            false,
            true,
            false,
            false,
            true,
            false,
            false,
            false,
            false,
            false},
        Row{R::kIntervener,
            {"access_justice", "access_owner"},
            true,
            false,
            false,
            false,
            false,
            true,
            false,
            true,
            false,
            false,
            false},
        Row{R::kNationalEstablishment,
            {"access_justice"},
            true,
            true,
            false,
            false,
            false,
            true,
            true,
            false,
            true,
            true,
            false},
        Row{R::kAssociation,
            {"access_action_finances"},
            true,
            false,
            true,
            false,
            false,
            false,
            false,
            false,
            true,
            false,
            false},
        // Options cannot lift an observer above aggregates, nor give interveners closure.
        Row{R::kExternalObserver,
            {"access_justice", "close_shantytown"},
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            true},
        Row{R::kIntervener,
            {"close_shantytown"},
            true,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false,
            false}));

TEST(Policy, OrganisationOptionsApplyToEveryMember) {
  Principal p = Of(Role::kCollaborator);
  p.organisation_options = {"access_justice"};
  EXPECT_TRUE(CanSeeJustice(p, SaintDenis(), "1"));
  EXPECT_TRUE(p.HasOption("access_justice"));
  EXPECT_TRUE(p.ToActor().HasOption("access_justice"));
}

TEST(Policy, UserSpecificRefusalWinsOverRoleAndOptions) {
  Principal p = Of(Role::kDirectCollaborator, {"access_justice"});
  v1::PermissionAttachment deny;
  deny.set_entity("shantytown_justice");
  deny.set_feature("access");
  deny.set_allowed(false);
  p.attachments = {deny};
  EXPECT_FALSE(CanSeeJustice(p, SaintDenis(), "1"));
  EXPECT_TRUE(CanReadSite(p, SaintDenis(), "1"));
}

TEST(Policy, AttachmentsWidenTheScopeBySiteActionOrTerritory) {
  Principal p = Of(Role::kAssociation);
  v1::PermissionAttachment site;
  site.set_entity("shantytown");
  site.set_feature("read");
  site.set_allowed(true);
  site.set_site_id("2");
  v1::PermissionAttachment region = site;
  region.set_feature("update");
  *region.mutable_territory() = Ref(v1::SCOPE_LEVEL_REGION, "93");
  v1::PermissionAttachment action;
  action.set_entity("action");
  action.set_feature("read");
  action.set_allowed(true);
  action.set_action_id("a-2");
  p.attachments = {site, region, action};
  EXPECT_TRUE(CanReadSite(p, Marseille(), "2"));
  EXPECT_FALSE(CanReadSite(p, Marseille(), "3"));
  EXPECT_TRUE(CanWriteSite(p, Marseille(), "3"));
  EXPECT_TRUE(CanReadAction(p, "13", "a-2"));
  EXPECT_FALSE(CanReadAction(p, "13", "a-3"));
}

TEST(Policy, TerritoriesMatchAtEveryLevel) {
  const v1::Territory t = SaintDenis();
  EXPECT_TRUE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_NATION, "")));
  EXPECT_TRUE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_REGION, "11")));
  EXPECT_TRUE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "93")));
  EXPECT_TRUE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_EPCI, "200054781")));
  EXPECT_TRUE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_COMMUNE, "93066")));
  EXPECT_FALSE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_COMMUNE, "93048")));
  EXPECT_FALSE(SiteTerritoryIn(t, Ref(v1::SCOPE_LEVEL_REGION, "")));
  v1::Territory district;
  district.set_city_code("13201");  // Marseille 1er arrondissement
  district.set_departement_code("13");
  EXPECT_TRUE(SiteTerritoryIn(district, Ref(v1::SCOPE_LEVEL_COMMUNE, "13055")));
  EXPECT_TRUE(DepartementIn("93", Ref(v1::SCOPE_LEVEL_REGION, "11")));
  EXPECT_FALSE(DepartementIn("13", Ref(v1::SCOPE_LEVEL_REGION, "11")));
  EXPECT_TRUE(DepartementIn("93", Ref(v1::SCOPE_LEVEL_COMMUNE, "93066")));
}

v1::TerritoryRef Area(v1::TerritoryLevel level, std::string code) {
  v1::TerritoryRef t;
  t.set_level(level);
  t.set_code(std::move(code));
  return t;
}

TEST(Policy, JusticeFiguresOfATerritoryNeedJusticeAccessOverTheWholeTerritory) {
  // A partner with the justice option sees the procedures of departement 93 only.
  const Principal local = Of(Role::kCollaborator, {"access_justice"});
  EXPECT_TRUE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_COMMUNE, "93066")));
  EXPECT_TRUE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_DEPARTEMENT, "93")));
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_COMMUNE, "13055")));
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_DEPARTEMENT, "13")));
  // Larger than the scope: the Métropole du Grand Paris and the region hold communes of other
  // departements.
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_EPCI, "200054781")));
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_REGION, "11")));
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_ZONE, "hexagone")));
  EXPECT_FALSE(CanSeeJustice(local, Area(v1::TERRITORY_LEVEL_NATION, "FR")));

  // Without the option, nowhere, not even in the reading scope; nor for observers.
  for (const Principal& p :
       {Of(Role::kCollaborator), Of(Role::kExternalObserver), Of(Role::kNationalEstablishment)}) {
    SCOPED_TRACE(std::string(rb::domain::RoleId(p.role)));
    EXPECT_FALSE(CanSeeJustice(p, Area(v1::TERRITORY_LEVEL_COMMUNE, "93066")));
    EXPECT_FALSE(CanSeeJustice(p, Area(v1::TERRITORY_LEVEL_DEPARTEMENT, "93")));
  }

  // A region scope covers its departements and communes; a national grant everything.
  Principal regional = Of(Role::kCollaborator, {"access_justice"});
  regional.territories = {Ref(v1::SCOPE_LEVEL_REGION, "11")};
  EXPECT_TRUE(CanSeeJustice(regional, Area(v1::TERRITORY_LEVEL_DEPARTEMENT, "93")));
  EXPECT_TRUE(CanSeeJustice(regional, Area(v1::TERRITORY_LEVEL_REGION, "11")));
  EXPECT_TRUE(CanSeeJustice(regional, Area(v1::TERRITORY_LEVEL_EPCI, "200054781")));
  EXPECT_FALSE(CanSeeJustice(regional, Area(v1::TERRITORY_LEVEL_NATION, "")));
  const Principal national = Of(Role::kNationalEstablishment, {"access_justice"});
  EXPECT_TRUE(CanSeeJustice(national, Area(v1::TERRITORY_LEVEL_NATION, "")));
  EXPECT_TRUE(CanSeeJustice(national, Area(v1::TERRITORY_LEVEL_ZONE, "outre_mer")));

  // A departement scope covers the EPCIs whose communes all lie in it.
  Principal bouches = Of(Role::kCollaborator, {"access_justice"});
  bouches.territories = {Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "13")};
  EXPECT_TRUE(CanSeeJustice(bouches, Area(v1::TERRITORY_LEVEL_EPCI, "200035087")));
  EXPECT_FALSE(CanSeeJustice(bouches, Area(v1::TERRITORY_LEVEL_EPCI, "200054807")));  // + 83, 84

  // A commune scope covers that commune and its districts only.
  Principal city = Of(Role::kCollaborator, {"access_justice"});
  city.territories = {Ref(v1::SCOPE_LEVEL_COMMUNE, "13055")};
  EXPECT_TRUE(CanSeeJustice(city, Area(v1::TERRITORY_LEVEL_COMMUNE, "13055")));
  EXPECT_TRUE(CanSeeJustice(city, Area(v1::TERRITORY_LEVEL_COMMUNE, "13201")));
  EXPECT_FALSE(CanSeeJustice(city, Area(v1::TERRITORY_LEVEL_DEPARTEMENT, "13")));
}

TEST(Policy, LocalAdminsManageUsersInTheirTerritoryOnly) {
  const Principal p = Of(Role::kLocalAdmin);
  EXPECT_TRUE(CanManageUsers(p, Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "93")));
  EXPECT_TRUE(CanManageUsers(p, Ref(v1::SCOPE_LEVEL_COMMUNE, "93066")));
  EXPECT_FALSE(CanManageUsers(p, Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "13")));
  EXPECT_FALSE(
      CanManageUsers(Of(Role::kDirectCollaborator), Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "93")));
  EXPECT_TRUE(CanManageUsers(Of(Role::kNationalAdmin), Ref(v1::SCOPE_LEVEL_DEPARTEMENT, "13")));
}

TEST(Policy, RawLogAndAuditAreForNationalAdminsOrADedicatedRight) {
  EXPECT_TRUE(CanReadRawLog(Of(Role::kNationalAdmin)));
  EXPECT_FALSE(CanReadRawLog(Of(Role::kLocalAdmin)));
  Principal analyst = Of(Role::kNationalEstablishment);
  v1::PermissionAttachment log;
  log.set_entity("log");
  log.set_feature("read");
  log.set_allowed(true);
  *log.mutable_territory() = Ref(v1::SCOPE_LEVEL_NATION, "");
  analyst.attachments = {log};
  EXPECT_TRUE(CanReadRawLog(analyst));
  EXPECT_FALSE(CanReadAudit(analyst));
  EXPECT_TRUE(CanReadAudit(Of(Role::kNationalAdmin)));
}

v1::Site RestrictedSite() {
  v1::Site s;
  s.set_id("1");
  *s.mutable_location()->mutable_territory() = SaintDenis();
  s.mutable_justice()->set_justice_procedure(v1::YES);
  s.mutable_police()->set_bailiff("Étude Martin");
  s.mutable_administrative_order()->set_decision_rendered_by("Préfet");
  s.mutable_insalubrity_order()->set_order_by("Maire");
  s.mutable_ownership()->set_owner("M. Dupont");
  s.mutable_ownership()->add_parcel_owners()->set_name("SCI Les Lilas");
  s.mutable_population()->set_total(42);
  auto* open = s.add_comments();
  open->set_text("visible by all");
  auto* restricted = s.add_comments();
  restricted->set_text("for the prefecture only");
  restricted->add_target_organisation_ids("o-prefecture");
  return s;
}

TEST(RedactSite, RemovesProceduresOwnerAndRestrictedCommentsForAnOperator) {
  v1::Site s = RestrictedSite();
  const Redaction r = RedactSite(Of(Role::kAssociation), &s);
  EXPECT_TRUE(r.justice_removed);
  EXPECT_TRUE(r.owner_removed);
  EXPECT_EQ(r.comments_removed, 1);
  EXPECT_TRUE(r.restricted_kept.empty());
  EXPECT_FALSE(s.has_justice());
  EXPECT_FALSE(s.has_police());
  EXPECT_FALSE(s.has_administrative_order());
  EXPECT_FALSE(s.has_insalubrity_order());
  EXPECT_EQ(s.ownership().owner(), "");
  EXPECT_EQ(s.ownership().parcel_owners(0).name(), "");
  EXPECT_EQ(s.population().total(), 42);
  ASSERT_EQ(s.comments_size(), 1);
  EXPECT_EQ(s.comments(0).text(), "visible by all");
}

TEST(RedactSite, KeepsWhatACorrespondentMaySeeAndSaysSo) {
  v1::Site s = RestrictedSite();
  Principal p = Of(Role::kDirectCollaborator, {"access_owner"});
  p.organisation_id = "o-prefecture";
  const Redaction r = RedactSite(p, &s);
  EXPECT_FALSE(r.justice_removed);
  EXPECT_FALSE(r.owner_removed);
  EXPECT_EQ(r.comments_removed, 0);
  EXPECT_EQ(r.restricted_kept, (std::vector<std::string>{"justice", "owner"}));
  EXPECT_EQ(s.police().bailiff(), "Étude Martin");
  EXPECT_EQ(s.ownership().owner(), "M. Dupont");
}

TEST(RedactAction, RemovesFinancesOutsideTheFinanceScope) {
  v1::Action a;
  a.set_id("a-1");
  a.mutable_details()->set_departement_code("93");
  a.add_finances()->set_year(2024);
  v1::Action copy = a;
  EXPECT_TRUE(RedactAction(Of(Role::kAssociation), &a));
  EXPECT_TRUE(a.finances().empty());
  EXPECT_TRUE(a.finances_hidden());
  EXPECT_FALSE(RedactAction(Of(Role::kDirectCollaborator), &copy));
  EXPECT_EQ(copy.finances_size(), 1);
  EXPECT_FALSE(copy.finances_hidden());
}

TEST(RedactAction, MarksFinancesHiddenEvenWhenThereAreNone) {
  // An export decides from the mark whether to show finance columns: an empty list alone does
  // not tell "no finances" from "finances removed".
  v1::Action a;
  a.set_id("a-1");
  a.mutable_details()->set_departement_code("93");
  v1::Action copy = a;
  EXPECT_FALSE(RedactAction(Of(Role::kAssociation), &a));
  EXPECT_TRUE(a.finances_hidden());
  EXPECT_FALSE(RedactAction(Of(Role::kDirectCollaborator), &copy));
  EXPECT_FALSE(copy.finances_hidden());
}

TEST(RedactAction, RemovesJournalMessagesAddressedToOthers) {
  v1::Action a;
  a.set_id("a-1");
  a.mutable_details()->set_departement_code("93");
  a.add_comments()->set_text("visible by all");
  v1::Comment* restricted = a.add_comments();
  restricted->set_text("for the prefecture only");
  restricted->set_author_user_id("u-author");
  restricted->add_target_organisation_ids("o-prefecture");
  v1::Action for_operator = a, for_prefecture = a, for_author = a, for_national = a;
  EXPECT_FALSE(RedactAction(Of(Role::kAssociation), &for_operator));  // no finances removed
  ASSERT_EQ(for_operator.comments_size(), 1);
  EXPECT_EQ(for_operator.comments(0).text(), "visible by all");
  Principal prefecture = Of(Role::kDirectCollaborator);
  prefecture.organisation_id = "o-prefecture";
  RedactAction(prefecture, &for_prefecture);
  EXPECT_EQ(for_prefecture.comments_size(), 2);
  Principal author = Of(Role::kAssociation);
  author.user_id = "u-author";
  RedactAction(author, &for_author);
  EXPECT_EQ(for_author.comments_size(), 2);
  RedactAction(Of(Role::kNationalAdmin), &for_national);
  EXPECT_EQ(for_national.comments_size(), 2);
}

TEST(SuppressSmallCount, HidesCountsFromOneToFourAndKeepsTheRest) {
  EXPECT_EQ(SuppressSmallCount(0), 0);
  EXPECT_EQ(SuppressSmallCount(1), std::nullopt);
  EXPECT_EQ(SuppressSmallCount(4), std::nullopt);
  EXPECT_EQ(SuppressSmallCount(5), 5);
  EXPECT_EQ(SuppressSmallCount(120), 120);
  EXPECT_EQ(SuppressSmallCount(9, 10), std::nullopt);
}

TEST(Policy, OutsideTheReadingScopeIsNotFoundInsideAForbiddenWriteIsDenied) {
  EXPECT_EQ(NotFound("site", "2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NotFound("site", "2").message(), "site 2 not found");
  EXPECT_EQ(Denied("closing sites").code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace rb::access
