#include "domain/geo.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rb::domain::geo {
namespace {

TEST(GeographyTest, UsageExampleOfTheHeaderWorks) {
  const Geography& geo = Geography::Get();
  const Commune* c = geo.FindCommune("93066");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "Saint-Denis");
  EXPECT_EQ(c->departement, "93");
  EXPECT_EQ(c->region, "11");
  EXPECT_FALSE(geo.SearchCommunes("st denis", 10).empty() &&
               geo.SearchCommunes("saint denis", 10).empty());
}

TEST(GeographyTest, LoadsEveryRowOfTheEmbeddedFiles) {
  const Geography& geo = Geography::Get();
  EXPECT_EQ(geo.commune_count(), 35014u);
  EXPECT_EQ(geo.epci_count(), 1255u);
  EXPECT_EQ(geo.departement_count(), 109u);
  EXPECT_EQ(geo.region_count(), 26u);
  EXPECT_FALSE(EmbeddedCommunesCsv().empty());
}

TEST(GeographyTest, CommuneLeadsToEpciDepartementAndRegion) {
  const Geography& geo = Geography::Get();
  const Commune* c = geo.FindCommune("97411");  // Saint-Denis de La Réunion
  ASSERT_NE(c, nullptr);
  const Departement* d = geo.FindDepartement(c->departement);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name, "La Réunion");
  EXPECT_EQ(d->zone, Zone::kDrom);
  const Region* r = geo.FindRegion(d->region);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->zone, Zone::kDrom);
  const Epci* e = geo.FindEpci(c->epci);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->name.empty());
}

TEST(GeographyTest, QuotedEpciNamesKeepTheirCommas) {
  const Epci* e = Geography::Get().FindEpci("200034718");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "CC de Vitry, Champagne et Der");
  EXPECT_EQ(e->type, "CC");
}

TEST(GeographyTest, DistrictsKnowTheirCity) {
  const Commune* c = Geography::Get().FindCommune("13201");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->is_district);
  EXPECT_EQ(c->parent, "13055");
}

TEST(GeographyTest, UnknownCodesAreNotFound) {
  const Geography& geo = Geography::Get();
  EXPECT_EQ(geo.FindCommune("99999"), nullptr);
  EXPECT_EQ(geo.FindCommune(""), nullptr);
  EXPECT_EQ(geo.FindDepartement("00"), nullptr);
  EXPECT_EQ(geo.FindEpci("1"), nullptr);
  EXPECT_EQ(geo.FindRegion("99"), nullptr);
}

TEST(GeographyTest, SearchIgnoresCaseAccentsAndHyphensAndRanksByPopulation) {
  const Geography& geo = Geography::Get();
  auto hits = geo.SearchCommunes("SAINT-DENIS", 5);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]->code, "97411");  // the most populous Saint-Denis
  auto evry = geo.SearchCommunes("evry", 50);
  bool found = false;
  for (const Commune* c : evry) found |= c->name.find("Évry") == 0;
  EXPECT_TRUE(found);
  EXPECT_TRUE(geo.SearchCommunes("", 5).empty());
  EXPECT_TRUE(geo.SearchCommunes("zzzzzz", 5).empty());
  EXPECT_LE(geo.SearchCommunes("s", 7).size(), 7u);
}

TEST(GeographyTest, NormalizeNameFoldsFrenchLetters) {
  EXPECT_EQ(NormalizeName("L'Haÿ-les-Roses"), "l hay les roses");
  EXPECT_EQ(NormalizeName("Œuilly  Ç"), "oeuilly c");
}

TEST(CoordinatesTest, MetropolitanAndOverseasPointsArePlausible) {
  EXPECT_TRUE(PlausibleCoordinates(48.936, 2.357));  // Saint-Denis 93
  EXPECT_TRUE(PlausibleCoordinates(-20.88, 55.45));  // Saint-Denis 974
  EXPECT_TRUE(PlausibleCoordinates(4.93, -52.33));   // Cayenne
  EXPECT_FALSE(PlausibleCoordinates(0, 0));          // Gulf of Guinea
  EXPECT_FALSE(PlausibleCoordinates(40.4, -3.7));    // Madrid
}

TEST(CoordinatesTest, PointMustLieInItsDepartementsTerritory) {
  EXPECT_TRUE(CoordinatesPlausibleFor("93", 48.936, 2.357));
  EXPECT_FALSE(CoordinatesPlausibleFor("93", -20.88, 55.45));
  EXPECT_TRUE(CoordinatesPlausibleFor("974", -20.88, 55.45));
  EXPECT_FALSE(CoordinatesPlausibleFor("974", 48.936, 2.357));
  EXPECT_FALSE(CoordinatesPlausibleFor("00", 48.936, 2.357));
}

}  // namespace
}  // namespace rb::domain::geo
