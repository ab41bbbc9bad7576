// Sites.GetSiteAsOf and Sites.ListSitesAsOf over a real server, real RocksDB and real stubs.
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api_views/views_api_fixture.h"

namespace rb::services::testing {
namespace {

using rb::domain::testing::D;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class SiteHistoryRpcsTest : public ViewsApiTest {
 protected:
  grpc::Status AsOf(const std::string& id, v1::Date valid, v1::SiteAsOf* out,
                    const google::protobuf::Timestamp* known_at = nullptr) {
    v1::GetSiteAsOfQuery q;
    q.set_name(absl::StrCat("sites/", id));
    *q.mutable_valid_date() = valid;
    if (known_at != nullptr) *q.mutable_known_at() = *known_at;
    q.set_min_position(last_position_);
    return sites_->GetSiteAsOf(ApiServer::Ctx().get(), q, out);
  }

  static std::vector<std::string> Ids(const v1::ListSitesAsOfResponse& r) {
    std::vector<std::string> ids;
    for (const v1::Site& s : r.sites()) ids.push_back(s.id());
    return ids;
  }

  v1::ListSitesAsOfQuery Departement93(v1::Date valid) {
    v1::ListSitesAsOfQuery q;
    q.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
    q.mutable_territory()->set_code("93");
    *q.mutable_valid_date() = valid;
    q.set_min_position(last_position_);
    return q;
  }
};

TEST_F(SiteHistoryRpcsTest, GetSiteAsOfReadsTheStateOnTheValidDate) {
  v1::SiteAsOf s;
  grpc::Status st = AsOf("s1", D(2024, 2, 5), &s);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(s.found());
  EXPECT_EQ(s.site().id(), "s1");
  EXPECT_EQ(s.site().population().total(), 40);
  ASSERT_TRUE(AsOf("s1", D(2024, 3, 1), &s).ok());  // the end of the day includes its versions
  EXPECT_EQ(s.site().population().total(), 50);
  EXPECT_EQ(s.known_at_position(), server_.head());
}

TEST_F(SiteHistoryRpcsTest, RetroactiveCorrectionIsVisibleAsKnownNowAndInvisibleAsKnownBefore) {
  v1::SiteAsOf now;
  ASSERT_TRUE(AsOf("s1", D(2024, 2, 20), &now).ok());
  EXPECT_EQ(now.site().population().total(), 45);
  EXPECT_EQ(now.site().population().households(), 11);

  const google::protobuf::Timestamp before = ToTimestamp(before_correction_);
  v1::SiteAsOf then;
  grpc::Status st = AsOf("s1", D(2024, 2, 20), &then, &before);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(then.site().population().total(), 40);
  EXPECT_LT(then.known_at_position(), correction_position_);

  // After the next version by valid date, the correction no longer shows.
  ASSERT_TRUE(AsOf("s1", D(2024, 3, 5), &now).ok());
  EXPECT_EQ(now.site().population().total(), 50);
}

TEST_F(SiteHistoryRpcsTest, ACorrectionOfThePastLeavesTheCurrentSiteAndShowsInTheChangeLog) {
  // The current site is the history's state on its latest date: 50 (2024-03-01), not the 45 of
  // the correction dated 2024-02-15, although the correction was recorded last.
  v1::GetSiteRequest get;
  get.set_name("sites/s1");
  get.set_min_position(last_position_);
  v1::Site site;
  grpc::Status st = sites_->GetSite(ApiServer::Ctx().get(), get, &site);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(site.population().total(), 50);
  v1::SiteAsOf latest;
  ASSERT_TRUE(AsOf("s1", D(2024, 6, 1), &latest).ok());
  EXPECT_EQ(latest.site().population().total(), 50);

  // The list (site_list view) agrees.
  v1::ListSitesQuery list;
  list.mutable_request()->mutable_filter()->add_departement_codes("93");
  list.set_min_position(last_position_);
  v1::ListSitesResponse page;
  st = sites_->ListSites(ApiServer::Ctx().get(), list, &page);
  ASSERT_TRUE(st.ok()) << st.error_message();
  bool listed = false;
  for (const v1::SiteSummary& row : page.sites()) {
    if (row.id() != "s1") continue;
    listed = true;
    EXPECT_EQ(row.population(), 50);
  }
  EXPECT_TRUE(listed);

  // The change log shows the correction against the site on its date: 40 -> 45.
  v1::GetSiteChangeLogRequest log_req;
  log_req.set_name("sites/s1");
  v1::ChangeLog log;
  st = sites_->GetSiteChangeLog(ApiServer::Ctx().get(), log_req, &log);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_GT(log.entries_size(), 0);
  const v1::ChangeLogEntry& correction = log.entries(log.entries_size() - 1);
  bool people = false;
  for (const v1::FieldChange& c : correction.changes()) {
    if (c.field_key() != "population.total") continue;
    people = true;
    EXPECT_EQ(c.old_value(), "40");
    EXPECT_EQ(c.new_value(), "45");
  }
  EXPECT_TRUE(people);
}

TEST_F(SiteHistoryRpcsTest, GetSiteAsOfIsNotFoundBeforeTheSiteExistedOrForAnUnknownSite) {
  v1::SiteAsOf s;
  EXPECT_EQ(AsOf("s1", D(2024, 1, 9), &s).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(AsOf("ghost", D(2024, 3, 1), &s).error_code(), grpc::StatusCode::NOT_FOUND);
  // As known before the service recorded anything: not found either.
  const google::protobuf::Timestamp early = Noon(2001, 1, 1);
  EXPECT_EQ(AsOf("s1", D(2024, 3, 1), &s, &early).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SiteHistoryRpcsTest, GetSiteAsOfReportsEveryBadFieldAtOnce) {
  v1::GetSiteAsOfQuery q;
  q.set_name("site/s1");
  q.mutable_known_at()->set_seconds(-5);
  v1::SiteAsOf s;
  grpc::Status st = sites_->GetSiteAsOf(ApiServer::Ctx().get(), q, &s);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), UnorderedElementsAre("name", "valid_date", "known_at"));

  q.set_name("sites/s1");
  q.clear_known_at();
  q.mutable_valid_date()->set_year(2024);  // 2024-02-30
  q.mutable_valid_date()->set_month(2);
  q.mutable_valid_date()->set_day(30);
  st = sites_->GetSiteAsOf(ApiServer::Ctx().get(), q, &s);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), ElementsAre("valid_date"));
}

TEST_F(SiteHistoryRpcsTest, GetSiteAsOfWithoutAnActorIsUnauthenticated) {
  v1::GetSiteAsOfQuery q;
  q.set_name("sites/s1");
  *q.mutable_valid_date() = D(2024, 3, 1);
  v1::SiteAsOf s;
  EXPECT_EQ(
      sites_->GetSiteAsOf(ApiServer::Ctx(Actor{.user = "", .role = ""}).get(), q, &s).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SiteHistoryRpcsTest, MinPositionBeyondTheHeadIsRefused) {
  v1::GetSiteAsOfQuery q;
  q.set_name("sites/s1");
  *q.mutable_valid_date() = D(2024, 3, 1);
  q.set_min_position(server_.head() + 100);
  v1::SiteAsOf s;
  EXPECT_EQ(sites_->GetSiteAsOf(ApiServer::Ctx().get(), q, &s).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(SiteHistoryRpcsTest, ListSitesAsOfListsTheTerritorysSitesOnThatDate) {
  v1::ListSitesAsOfResponse r;
  grpc::Status st = sites_->ListSitesAsOf(ApiServer::Ctx().get(), Departement93(D(2024, 4, 1)), &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(Ids(r), ElementsAre("s1", "s2"));
  EXPECT_TRUE(r.next_page_token().empty());

  // s2 is closed on 2024-05-01: gone from the open list, present in the closed one.
  ASSERT_TRUE(
      sites_->ListSitesAsOf(ApiServer::Ctx().get(), Departement93(D(2024, 5, 15)), &r).ok());
  EXPECT_THAT(Ids(r), ElementsAre("s1"));
  v1::ListSitesAsOfQuery closed = Departement93(D(2024, 5, 15));
  closed.set_status(v1::SITE_STATUS_FILTER_CLOSED);
  ASSERT_TRUE(sites_->ListSitesAsOf(ApiServer::Ctx().get(), closed, &r).ok());
  EXPECT_THAT(Ids(r), ElementsAre("s2"));

  // Before s1 was declared, only s3 existed, and it is overseas.
  ASSERT_TRUE(sites_->ListSitesAsOf(ApiServer::Ctx().get(), Departement93(D(2024, 1, 8)), &r).ok());
  EXPECT_THAT(Ids(r), IsEmpty());
  v1::ListSitesAsOfQuery overseas = Departement93(D(2024, 1, 8));
  overseas.mutable_territory()->set_level(v1::TERRITORY_LEVEL_ZONE);
  overseas.mutable_territory()->set_code("outre_mer");
  ASSERT_TRUE(sites_->ListSitesAsOf(ApiServer::Ctx().get(), overseas, &r).ok());
  EXPECT_THAT(Ids(r), ElementsAre("s3"));
}

TEST_F(SiteHistoryRpcsTest, ListSitesAsOfAppliesTheSiteFilterToThePastState) {
  v1::ListSitesAsOfQuery q;  // the whole country
  *q.mutable_valid_date() = D(2024, 4, 1);
  q.set_min_position(last_position_);
  q.mutable_filter()->add_departement_codes("974");
  v1::ListSitesAsOfResponse r;
  grpc::Status st = sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(Ids(r), ElementsAre("s3"));

  q.mutable_filter()->clear_departement_codes();
  q.mutable_filter()->set_text_prefix("site s");
  ASSERT_TRUE(sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &r).ok());
  EXPECT_THAT(Ids(r), ElementsAre("s1", "s2", "s3"));
}

TEST_F(SiteHistoryRpcsTest, ListSitesAsOfPagesAtOneKnownAtPosition) {
  v1::ListSitesAsOfQuery q = Departement93(D(2024, 4, 1));
  q.set_page_size(1);
  v1::ListSitesAsOfResponse first;
  ASSERT_TRUE(sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &first).ok());
  EXPECT_THAT(Ids(first), ElementsAre("s1"));
  ASSERT_FALSE(first.next_page_token().empty());

  // A site declared in between does not shift the pages: they read the first page's position.
  Declare("s0", "93066", Noon(2024, 3, 20));
  q.set_page_token(first.next_page_token());
  v1::ListSitesAsOfResponse second;
  grpc::Status st = sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &second);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(Ids(second), ElementsAre("s2"));
  EXPECT_EQ(second.known_at_position(), first.known_at_position());
  EXPECT_TRUE(second.next_page_token().empty());

  // A token is bound to its query.
  q.mutable_filter()->add_city_codes("93066");
  EXPECT_EQ(sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &second).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SiteHistoryRpcsTest, ListSitesAsOfReportsBadRequests) {
  v1::ListSitesAsOfQuery q;
  q.mutable_territory()->set_level(v1::TERRITORY_LEVEL_COMMUNE);
  q.set_page_size(501);
  q.set_page_token("not a token");
  q.mutable_filter()->set_has_action(true);
  v1::ListSitesAsOfResponse r;
  grpc::Status st = sites_->ListSitesAsOf(ApiServer::Ctx().get(), q, &r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationFields(st), UnorderedElementsAre("valid_date", "territory.code", "filter",
                                                        "page_size", "page_token"));
}

}  // namespace
}  // namespace rb::services::testing
