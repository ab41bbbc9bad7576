// The Sites service over a real server, real RocksDB and real stubs.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "domain/events.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/domain/test_util.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;

class SitesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.status().ok()) << server_.status(); }

  grpc::Status Declare(const std::string& id, v1::WriteResult* out,
                       const std::string& command_id = "") {
    v1::DeclareSiteRequest req;
    req.set_site_id(id);
    req.mutable_options()->set_command_id(command_id);
    *req.mutable_command() = rb::domain::testing::Declare(id).declare();
    return sites_->DeclareSite(ApiServer::Ctx().get(), req, out);
  }

  v1::RecordPopulationRequest Population(const std::string& name, int total) {
    v1::RecordPopulationRequest req;
    req.set_name(name);
    req.mutable_command()->mutable_population()->set_total(total);
    req.mutable_command()->mutable_population()->set_households(total / 4);
    req.mutable_command()->mutable_population()->set_minors(total / 3);
    return req;
  }

  ApiServer server_;
  std::unique_ptr<v1::Sites::Stub> sites_ = server_.Sites();
};

TEST_F(SitesServiceTest, DeclareSiteReturnsPositionAndRevisionAndGetSiteReadsItBack) {
  v1::WriteResult w;
  grpc::Status s = Declare("lilas", &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(w.name(), "sites/lilas");
  EXPECT_EQ(w.outcome(), v1::WriteResult::OUTCOME_APPENDED);
  EXPECT_GT(w.position(), 0u);
  EXPECT_EQ(w.position(), server_.head());
  EXPECT_FALSE(w.event_types().empty());

  v1::GetSiteRequest get;
  get.set_name("sites/lilas");
  get.set_min_position(w.position());
  v1::Site site;
  s = sites_->GetSite(ApiServer::Ctx().get(), get, &site);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(site.name(), "Les Lilas");
  EXPECT_EQ(site.status(), v1::SITE_STATUS_OPEN);
  EXPECT_EQ(site.revision(), w.revision());
  EXPECT_EQ(site.created_by(), "u-1");
}

TEST_F(SitesServiceTest, DeclareWithoutSiteIdDerivesTheSameIdFromTheCommandId) {
  v1::WriteResult first, retry;
  ASSERT_TRUE(Declare("", &first, "cmd-declare-1").ok());
  ASSERT_TRUE(Declare("", &retry, "cmd-declare-1").ok());
  EXPECT_EQ(first.name(), retry.name());
  EXPECT_EQ(retry.outcome(), v1::WriteResult::OUTCOME_REPLAYED);
}

TEST_F(SitesServiceTest, EachSiteCommandAppendsItsEventsAndAdvancesTheRevision) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  uint64_t revision = w.revision();
  auto expect_appended = [&](const grpc::Status& s, const v1::WriteResult& r, const char* what) {
    ASSERT_TRUE(s.ok()) << what << ": " << s.error_message();
    EXPECT_EQ(r.outcome(), v1::WriteResult::OUTCOME_APPENDED) << what;
    EXPECT_GT(r.revision(), revision) << what;
    EXPECT_EQ(r.position(), server_.head()) << what;
    revision = r.revision();
  };
  {
    v1::WriteResult r;
    auto req = Population("sites/s1", 40);
    req.mutable_options()->set_expected_revision(revision);
    expect_appended(sites_->RecordPopulation(ApiServer::Ctx().get(), req, &r), r, "population");
  }
  {
    v1::SetHeatwaveRequest req;
    req.set_name("sites/s1");
    req.mutable_command()->set_active(true);
    v1::WriteResult r;
    expect_appended(sites_->SetHeatwave(ApiServer::Ctx().get(), req, &r), r, "heatwave");
  }
  {
    v1::AssessLivingConditionsRequest req;
    req.set_name("sites/s1");
    *req.mutable_command()->mutable_living_conditions() =
        rb::domain::testing::ValidLivingConditions();
    v1::WriteResult r;
    expect_appended(sites_->AssessLivingConditions(ApiServer::Ctx().get(), req, &r), r,
                    "living conditions");
  }
  {
    v1::PostCommentRequest req;
    req.set_name("sites/s1");
    req.mutable_command()->set_text("Passage sur site ce matin.");
    v1::WriteResult r;
    expect_appended(sites_->PostComment(ApiServer::Ctx().get(), req, &r), r, "comment");
  }
  {
    v1::UpdateSiteRequest req;
    req.set_name("sites/s1");
    req.mutable_site()->set_name("Les Lilas Nord");
    req.mutable_update_mask()->add_paths("name");
    v1::WriteResult r;
    expect_appended(sites_->UpdateSite(ApiServer::Ctx().get(), req, &r), r, "update");
  }
  {
    v1::CloseSiteRequest req;
    req.set_name("sites/s1");
    *req.mutable_command()->mutable_closure() = rb::domain::testing::ValidClosure();
    v1::WriteResult r;
    expect_appended(sites_->CloseSite(ApiServer::Ctx().get(), req, &r), r, "close");
  }
  v1::GetSiteRequest get;
  get.set_name("sites/s1");
  v1::Site site;
  ASSERT_TRUE(sites_->GetSite(ApiServer::Ctx().get(), get, &site).ok());
  EXPECT_EQ(site.name(), "Les Lilas Nord");
  EXPECT_EQ(site.population().total(), 40);
  EXPECT_TRUE(site.heatwave());
  EXPECT_EQ(site.comments_size(), 1);
  EXPECT_EQ(site.status(), v1::SITE_STATUS_CLOSED);
  EXPECT_EQ(site.revision(), revision);
}

TEST_F(SitesServiceTest, AnUnchangedUpdateAppendsNothingAndReportsNoChange) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::UpdateSiteRequest req;
  req.set_name("sites/s1");
  req.mutable_site()->set_name("Les Lilas");
  req.mutable_update_mask()->add_paths("name");
  v1::WriteResult r;
  ASSERT_TRUE(sites_->UpdateSite(ApiServer::Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.outcome(), v1::WriteResult::OUTCOME_NO_CHANGE);
  EXPECT_EQ(r.revision(), w.revision());
  EXPECT_EQ(server_.head(), w.position());
}

TEST_F(SitesServiceTest, InvalidDeclarationIsInvalidArgumentListingEveryViolation) {
  v1::DeclareSiteRequest req;
  req.set_site_id("bad");
  *req.mutable_command() = rb::domain::testing::Declare("bad").declare();
  req.mutable_command()->mutable_site()->set_name(std::string(60, 'x'));  // more than 35
  req.mutable_command()->mutable_site()->mutable_location()->mutable_address()->set_city_code(
      "00000");  // unknown commune
  v1::WriteResult w;
  grpc::Status s = sites_->DeclareSite(ApiServer::Ctx().get(), req, &w);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  google::rpc::BadRequest bad;
  ASSERT_TRUE(FindDetail(s, &bad));
  ASSERT_GE(bad.field_violations_size(), 2);
  bool name = false, city = false;
  for (const auto& v : bad.field_violations()) {
    if (v.field().find("name") != std::string::npos) name = true;
    if (v.field().find("city_code") != std::string::npos) city = true;
  }
  EXPECT_TRUE(name);
  EXPECT_TRUE(city);
  EXPECT_EQ(server_.head(), 0u);
}

TEST_F(SitesServiceTest, MalformedNameIsInvalidArgumentWithTheField) {
  auto req = Population("site/nope", 10);
  v1::WriteResult w;
  grpc::Status s = sites_->RecordPopulation(ApiServer::Ctx().get(), req, &w);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(FindDetail(s, &bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "name");
}

TEST_F(SitesServiceTest, StaleExpectedRevisionIsAbortedWithTheCurrentRevision) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::WriteResult r;
  ASSERT_TRUE(
      sites_->RecordPopulation(ApiServer::Ctx().get(), Population("sites/s1", 20), &r).ok());
  const uint64_t head = server_.head();

  auto stale = Population("sites/s1", 30);
  stale.mutable_options()->set_expected_revision(w.revision());
  grpc::Status s = sites_->RecordPopulation(ApiServer::Ctx().get(), stale, &r);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  google::rpc::PreconditionFailure pf;
  ASSERT_TRUE(FindDetail(s, &pf));
  ASSERT_EQ(pf.violations_size(), 1);
  EXPECT_EQ(pf.violations(0).type(), "REVISION");
  EXPECT_EQ(pf.violations(0).subject(), std::to_string(w.revision() + 1));
  EXPECT_EQ(server_.head(), head);
}

TEST_F(SitesServiceTest, RetryWithTheSameCommandIdReturnsTheFirstResultAndAppendsNothing) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  auto req = Population("sites/s1", 12);
  req.mutable_options()->set_command_id("pop-7f3a");
  v1::WriteResult first, retry;
  ASSERT_TRUE(sites_->RecordPopulation(ApiServer::Ctx().get(), req, &first).ok());
  const uint64_t head = server_.head();
  ASSERT_TRUE(sites_->RecordPopulation(ApiServer::Ctx().get(), req, &retry).ok());
  EXPECT_EQ(first.outcome(), v1::WriteResult::OUTCOME_APPENDED);
  EXPECT_EQ(retry.outcome(), v1::WriteResult::OUTCOME_REPLAYED);
  EXPECT_EQ(retry.revision(), first.revision());
  EXPECT_EQ(retry.position(), first.position());
  EXPECT_EQ(server_.head(), head);
}

// The reported defect: a SetHeatwave sent with the command id of an earlier CloseSite came back
// as that close, "replayed", and the heatwave change was silently dropped. Now the id reused
// for a different command is refused, naming the field and the rule, and nothing is appended.
TEST_F(SitesServiceTest, ACommandIdReusedForADifferentCommandIsRefusedAndAppendsNothing) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::CloseSiteRequest close;
  close.set_name("sites/s1");
  close.mutable_options()->set_command_id("cmd-close-s1");
  *close.mutable_command()->mutable_closure() = rb::domain::testing::ValidClosure();
  v1::WriteResult closed;
  grpc::Status s = sites_->CloseSite(ApiServer::Ctx().get(), close, &closed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(closed.outcome(), v1::WriteResult::OUTCOME_APPENDED);
  const uint64_t head = server_.head();

  v1::SetHeatwaveRequest heatwave;
  heatwave.set_name("sites/s1");
  heatwave.mutable_options()->set_command_id("cmd-close-s1");
  heatwave.mutable_command()->set_active(true);
  v1::WriteResult r;
  s = sites_->SetHeatwave(ApiServer::Ctx().get(), heatwave, &r);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message(),
            absl::StrCat("command_id: already used for a different command (first used at "
                         "position ",
                         closed.first_position(), "); use a new command id"));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(s, &info));
  EXPECT_EQ(info.reason(), "COMMAND_ID_REUSED");
  EXPECT_EQ(info.metadata().at("field"), "command_id");
  EXPECT_EQ(info.metadata().at("first_position"), absl::StrCat(closed.first_position()));
  EXPECT_EQ(server_.head(), head);

  // The same close from another user, or with another reason, is another command too.
  Actor other;
  other.user = "u-2";
  s = sites_->CloseSite(ApiServer::Ctx(other).get(), close, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  v1::CloseSiteRequest reason = close;
  reason.mutable_options()->set_reason("une autre raison");
  s = sites_->CloseSite(ApiServer::Ctx().get(), reason, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(server_.head(), head);

  // The same close again: its first result, nothing appended.
  v1::WriteResult retry;
  s = sites_->CloseSite(ApiServer::Ctx().get(), close, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.outcome(), v1::WriteResult::OUTCOME_REPLAYED);
  EXPECT_EQ(retry.position(), closed.position());
  EXPECT_EQ(retry.revision(), closed.revision());
  EXPECT_EQ(server_.head(), head);

  v1::GetSiteRequest get;
  get.set_name("sites/s1");
  v1::Site site;
  ASSERT_TRUE(sites_->GetSite(ApiServer::Ctx().get(), get, &site).ok());
  EXPECT_FALSE(site.heatwave());
  EXPECT_EQ(site.revision(), closed.revision());
}

// A command id appended before commands were fingerprinted (the events and the id, as the
// service wrote them then, without a fingerprint) still replays its first result.
TEST_F(SitesServiceTest, ACommandIdFromBeforeFingerprintsStillReplays) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::SiteEvent raised;
  raised.set_valid_at_us(absl::ToUnixMicros(absl::Now()));
  raised.mutable_heatwave_alert_raised();
  rb::es::AppendRequest old;
  old.stream_id = "site-s1";
  old.expected = rb::es::ExpectedRevision::Exactly(w.revision());
  old.command_id = "legacy-heatwave";
  old.metadata = {.actor_user = "u-1",
                  .actor_organisation = "o-1",
                  .actor_role = "local_admin",
                  .command_id = "legacy-heatwave"};
  absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(raised);
  ASSERT_TRUE(data.ok()) << data.status();
  old.events.push_back(*std::move(data));
  absl::StatusOr<rb::es::AppendResult> first = server_.server().store()->Append(old);
  ASSERT_TRUE(first.ok()) << first.status();
  const uint64_t head = server_.head();

  v1::SetHeatwaveRequest heatwave;
  heatwave.set_name("sites/s1");
  heatwave.mutable_options()->set_command_id("legacy-heatwave");
  heatwave.mutable_command()->set_active(true);
  v1::WriteResult retry;
  grpc::Status s = sites_->SetHeatwave(ApiServer::Ctx().get(), heatwave, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.outcome(), v1::WriteResult::OUTCOME_REPLAYED);
  EXPECT_EQ(retry.first_position(), first->first_position);
  EXPECT_EQ(retry.position(), first->last_position);
  EXPECT_EQ(retry.revision(), first->stream_revision);
  EXPECT_EQ(server_.head(), head);
}

TEST_F(SitesServiceTest, CommandOnASiteNeverDeclaredIsNotFound) {
  v1::WriteResult r;
  grpc::Status s =
      sites_->RecordPopulation(ApiServer::Ctx().get(), Population("sites/ghost", 5), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  v1::GetSiteRequest get;
  get.set_name("sites/ghost");
  v1::Site site;
  EXPECT_EQ(sites_->GetSite(ApiServer::Ctx().get(), get, &site).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SitesServiceTest, DeclaringTwiceIsFailedPrecondition) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  grpc::Status s = Declare("s1", &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(SitesServiceTest, CallWithoutActorIsUnauthenticatedAndUnknownRoleToo) {
  v1::WriteResult w;
  v1::DeclareSiteRequest req;
  req.set_site_id("s1");
  *req.mutable_command() = rb::domain::testing::Declare("s1").declare();
  EXPECT_EQ(sites_->DeclareSite(ApiServer::Ctx({.user = ""}).get(), req, &w).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(sites_->DeclareSite(ApiServer::Ctx({.role = "mayor"}).get(), req, &w).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_.head(), 0u);
}

TEST_F(SitesServiceTest, GetSiteWithMinPositionBeyondTheHeadIsOutOfRange) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::GetSiteRequest get;
  get.set_name("sites/s1");
  get.set_min_position(w.position() + 100);
  v1::Site site;
  EXPECT_EQ(sites_->GetSite(ApiServer::Ctx().get(), get, &site).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(SitesServiceTest, GetSiteHidesProceduresFromActorsWithoutTheJusticeOption) {
  v1::WriteResult w;
  ASSERT_TRUE(Declare("s1", &w).ok());
  v1::UpdateProceduresRequest req;
  req.set_name("sites/s1");
  req.mutable_command()->mutable_justice()->set_owner_complaint(v1::YES);
  req.mutable_command()->mutable_justice()->set_justice_procedure(v1::NO);
  v1::WriteResult r;
  grpc::Status s = sites_->UpdateProcedures(ApiServer::Ctx().get(), req, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetSiteRequest get;
  get.set_name("sites/s1");
  v1::Site with, without;
  ASSERT_TRUE(
      sites_
          ->GetSite(ApiServer::Ctx({.role = "collaborator", .options = "access_justice"}).get(),
                    get, &with)
          .ok());
  ASSERT_TRUE(sites_->GetSite(ApiServer::Ctx({.role = "collaborator"}).get(), get, &without).ok());
  EXPECT_EQ(with.justice().owner_complaint(), v1::YES);
  EXPECT_FALSE(without.has_justice());
}

}  // namespace
}  // namespace rb::services::testing

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;

TEST(SitesQueriesTest, ListSitesWithMinPositionSeesTheWriteJustMade) {
  ApiServer server;  // the built-in projections, site_list included
  ASSERT_TRUE(server.status().ok()) << server.status();
  auto sites = server.Sites();
  for (const char* id : {"a", "b", "c"}) {
    v1::DeclareSiteRequest req;
    req.set_site_id(id);
    *req.mutable_command() = rb::domain::testing::Declare(id).declare();
    v1::WriteResult w;
    ASSERT_TRUE(sites->DeclareSite(ApiServer::Ctx().get(), req, &w).ok());
    v1::ListSitesQuery list;
    list.set_min_position(w.position());
    v1::ListSitesResponse page;
    grpc::Status s = sites->ListSites(ApiServer::Ctx().get(), list, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    bool found = false;
    for (const auto& row : page.sites()) found = found || row.id() == id;
    EXPECT_TRUE(found) << id;
  }
}

TEST(SitesQueriesTest, ChangeLogListsWhoChangedWhatAndUnknownSiteIsNotFound) {
  ApiServer server;
  ASSERT_TRUE(server.status().ok()) << server.status();
  auto sites = server.Sites();
  v1::DeclareSiteRequest declare;
  declare.set_site_id("s1");
  *declare.mutable_command() = rb::domain::testing::Declare("s1").declare();
  v1::WriteResult w;
  ASSERT_TRUE(sites->DeclareSite(ApiServer::Ctx().get(), declare, &w).ok());
  v1::RecordPopulationRequest pop;
  pop.set_name("sites/s1");
  pop.mutable_options()->set_reason("passage sur site");
  pop.mutable_command()->mutable_population()->set_total(45);
  ASSERT_TRUE(sites->RecordPopulation(ApiServer::Ctx({.user = "u-2"}).get(), pop, &w).ok());

  v1::GetSiteChangeLogRequest req;
  req.set_name("sites/s1");
  v1::ChangeLog log;
  grpc::Status s = sites->GetSiteChangeLog(ApiServer::Ctx().get(), req, &log);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(log.entries_size(), 2);
  const v1::ChangeLogEntry& last = log.entries(log.entries_size() - 1);
  EXPECT_EQ(last.author_user_id(), "u-2");
  EXPECT_EQ(last.reason(), "passage sur site");
  bool total = false;
  for (const auto& c : last.changes())
    total = total || (c.field_key() == "population.total" && c.new_value() == "45");
  EXPECT_TRUE(total);

  req.set_name("sites/ghost");
  EXPECT_EQ(sites->GetSiteChangeLog(ApiServer::Ctx().get(), req, &log).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace rb::services::testing
