#include "domain/labels.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/common.pb.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::domain {
namespace {

namespace pb = google::protobuf;

std::vector<const pb::EnumDescriptor*> AllEnums() {
  std::vector<const pb::EnumDescriptor*> out;
  for (const pb::FileDescriptor* f :
       {resorption::v1::Site::descriptor()->file(), resorption::v1::Action::descriptor()->file(),
        resorption::v1::Date::descriptor()->file(),
        resorption::v1::SiteClosedV1::descriptor()->file()}) {
    for (int i = 0; i < f->enum_type_count(); ++i) out.push_back(f->enum_type(i));
  }
  return out;
}

TEST(LabelsTest, EveryEnumerationValueHasAFrenchLabelAndAPlatformCode) {
  size_t checked = 0;
  for (const pb::EnumDescriptor* e : AllEnums()) {
    std::set<std::string> codes;
    for (int i = 0; i < e->value_count(); ++i) {
      const int n = e->value(i)->number();
      if (n == 0) {
        EXPECT_TRUE(FrenchLabel(e, n).empty()) << e->value(i)->name();
        continue;
      }
      EXPECT_FALSE(FrenchLabel(e, n).empty()) << e->value(i)->name();
      const std::string code(PlatformCode(e, n));
      EXPECT_FALSE(code.empty()) << e->value(i)->name();
      EXPECT_TRUE(codes.insert(code).second) << "duplicate code " << code << " in " << e->name();
      EXPECT_EQ(FromPlatformCode(e, code), n) << e->value(i)->name();
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
}

TEST(LabelsTest, LabelsAreTheOnesUsersKnow) {
  using namespace resorption::v1;  // NOLINT
  EXPECT_EQ(FrenchLabel(FIELD_TYPE_LAND), "Terrain");
  EXPECT_EQ(FrenchLabel(FIELD_TYPE_BUILDING), "Immeuble bâti");
  EXPECT_EQ(FrenchLabel(FIELD_TYPE_UNKNOWN), "Inconnu");
  EXPECT_EQ(FrenchLabel(OWNER_TYPE_PRIVATE), "Privé");
  EXPECT_EQ(FrenchLabel(CLOSING_CAUSE_CLOSED_BY_JUSTICE),
            "Décision de justice suite à une plainte du propriétaire");
  EXPECT_EQ(FrenchLabel(CLOSING_SOLUTION_HOUSING), "Logement");
  EXPECT_EQ(PlatformCode(WATER_ACCESS_TYPE_NETWORK_TAP), "robinet_connecte_au_reseau");
  EXPECT_EQ(PlatformCode(TOILET_TYPE_DRY), "toilettes_seches");
  EXPECT_EQ(PlatformCode(ELECTRICITY_ACCESS_TYPE_GENERATOR), "electrogene");
  EXPECT_EQ(PlatformCode(ACTOR_THEME_SOCIAL_MEDIATION), "mediation_sociale");
  EXPECT_EQ(FrenchLabel(ACTION_TOPIC_SAFETY), "Stabilisation et sécurisation du site");
  EXPECT_EQ(PlatformCode(FINANCE_TYPE_DEDICATED), "dedie");
  EXPECT_EQ(FrenchLabel(CENSUS_STATUS_SCHEDULED), "Prévu");
  EXPECT_EQ(FrenchLabel(POLICE_STATUS_GRANTED), "Obtenu");
  EXPECT_EQ(FromPlatformCode<ActionTopic>("school"), ACTION_TOPIC_SCHOOL);
  EXPECT_EQ(FromPlatformCode<ActionTopic>("nope"), std::nullopt);
}

TEST(LabelsTest, EveryActionIndicatorHasThePlatformsHeadingInFormOrder) {
  const pb::Descriptor* d = resorption::v1::ActionIndicators::descriptor();
  std::vector<std::string> fields;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->name() != "year" && d->field(i)->name() != "updated_at_us") {
      fields.push_back(d->field(i)->name());
    }
  }
  std::vector<std::string> listed;
  for (const IndicatorHeading& h : IndicatorHeadings()) {
    listed.emplace_back(h.field);
    EXPECT_FALSE(h.section.empty()) << h.field;
    EXPECT_EQ(IndicatorLabel(h.field), h.heading);
  }
  EXPECT_EQ(listed, fields);
  EXPECT_EQ(IndicatorLabel("nombre_personnes"),
            "Nombre total de personnes concernées par l'action");
  EXPECT_EQ(IndicatorLabel("scolaire_nombre_college"), "Nombre de mineurs scolarisés au collège");
  EXPECT_EQ(IndicatorLabel("year"), "");
  EXPECT_EQ(IndicatorLabel("nope"), "");
}

TEST(LabelsTest, FiveCurrentClosingSolutions) {
  EXPECT_EQ(resorption::v1::ClosingSolution_descriptor()->value_count(), 6);  // + UNSPECIFIED
  EXPECT_EQ(resorption::v1::ClosingSolutionV1_descriptor()->value_count(), 7);
}

}  // namespace
}  // namespace rb::domain
