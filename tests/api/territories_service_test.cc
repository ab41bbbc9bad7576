// The Territories service over a real server and real stubs.
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;

class TerritoriesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.status().ok()) << server_.status(); }
  ApiServer server_;
  std::unique_ptr<v1::Territories::Stub> stub_ = server_.Territories();
};

TEST_F(TerritoriesServiceTest, GetCommuneByCodeGivesItsTerritory) {
  v1::GetCommuneRequest req;
  req.set_code("93066");
  v1::Commune c;
  grpc::Status s = stub_->GetCommune(ApiServer::Ctx().get(), req, &c);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(c.name(), "Saint-Denis");
  EXPECT_EQ(c.territory().departement_code(), "93");
  EXPECT_EQ(c.territory().region_code(), "11");
  EXPECT_FALSE(c.territory().epci_code().empty());
}

TEST_F(TerritoriesServiceTest, GetTerritoryNamesTheEpciDepartementAndRegion) {
  v1::GetTerritoryRequest req;
  req.set_city_code("93066");
  v1::TerritoryInfo t;
  ASSERT_TRUE(stub_->GetTerritory(ApiServer::Ctx().get(), req, &t).ok());
  EXPECT_EQ(t.departement_name(), "Seine-Saint-Denis");
  EXPECT_EQ(t.region_name(), "Île-de-France");
  EXPECT_FALSE(t.epci_name().empty());
}

TEST_F(TerritoriesServiceTest, SearchByPrefixIgnoresCaseAndHyphensAndHonoursPageSize) {
  v1::SearchCommunesRequest req;
  req.set_prefix("saint denis");
  req.set_page_size(3);
  v1::SearchCommunesResponse resp;
  ASSERT_TRUE(stub_->SearchCommunes(ApiServer::Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.communes_size(), 3);
  bool found = false;
  for (const auto& c : resp.communes()) found = found || c.code() == "93066";
  EXPECT_TRUE(found);  // Saint-Denis (93) is among the three most populated matches
  EXPECT_GE(resp.communes(0).population(), resp.communes(1).population());
}

TEST_F(TerritoriesServiceTest, UnknownCodeIsNotFoundAndMalformedInputIsInvalidArgument) {
  v1::GetCommuneRequest req;
  req.set_code("00000");
  v1::Commune c;
  EXPECT_EQ(stub_->GetCommune(ApiServer::Ctx().get(), req, &c).error_code(),
            grpc::StatusCode::NOT_FOUND);
  req.set_code("93");
  EXPECT_EQ(stub_->GetCommune(ApiServer::Ctx().get(), req, &c).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::SearchCommunesRequest search;
  search.set_page_size(1000);
  v1::SearchCommunesResponse resp;
  grpc::Status s = stub_->SearchCommunes(ApiServer::Ctx().get(), search, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(FindDetail(s, &bad));
  EXPECT_EQ(bad.field_violations_size(), 2);  // prefix and page_size at once
}

}  // namespace
}  // namespace rb::services::testing
