// A real server (tests/api/api_test_util.h) with a fixed command clock (2024-06-15 12:00 UTC)
// and a small history written through the Sites stub, shared by the tests of the view-backed
// RPCs. Valid dates, all at noon UTC:
//
//   s1  Saint-Denis (93066, dep. 93)   declared 2024-01-10; population 40 on 2024-02-01, 50 on
//                                      2024-03-01; then a retroactive correction: 45 from
//                                      2024-02-15 (recorded after `before_correction_`)
//   s2  Saint-Denis (93066, dep. 93)   declared 2024-01-20; population 20 (5 households) on
//                                      2024-01-25; closed on 2024-05-01 with solutions: housing
//                                      for 20 people, 5 households
//   s3  Saint-Denis (97411, La Réunion) declared 2024-01-05; population 30 on 2024-02-01
#ifndef RB_TESTS_API_VIEWS_VIEWS_API_FIXTURE_H_
#define RB_TESTS_API_VIEWS_VIEWS_API_FIXTURE_H_

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/domain/test_util.h"

namespace rb::services::testing {

namespace v1 = resorption::v1;

inline ApiModulesOptions FixedClock() {
  ApiModulesOptions o;
  o.commands.now_us = [] { return rb::domain::testing::Now(); };
  return o;
}

// Noon UTC on the day.
inline google::protobuf::Timestamp Noon(int y, int m, int d) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(y, m, d, 12, 0, 0), absl::UTCTimeZone())));
}

inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

class ViewsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    Declare("s1", "93066", Noon(2024, 1, 10));
    Population("s1", 40, 10, Noon(2024, 2, 1));
    Population("s1", 50, 12, Noon(2024, 3, 1));
    Declare("s2", "93066", Noon(2024, 1, 20));
    Population("s2", 20, 5, Noon(2024, 1, 25));
    Close("s2", Noon(2024, 5, 1));
    Declare("s3", "97411", Noon(2024, 1, 5));
    Population("s3", 30, 8, Noon(2024, 2, 1));
    // Every write above is acknowledged, hence recorded, before this instant; the correction
    // below is recorded after it.
    before_correction_ = absl::Now();
    CorrectPopulation("s1", 45, 11, Noon(2024, 2, 15));
  }

  void Expect(const grpc::Status& s, const v1::WriteResult& r) {
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(r.outcome(), v1::WriteResult::OUTCOME_APPENDED);
    last_position_ = r.position();
  }

  void Declare(const std::string& id, const std::string& city, google::protobuf::Timestamp at) {
    v1::DeclareSiteRequest req;
    req.set_site_id(id);
    *req.mutable_options()->mutable_valid_time() = at;
    *req.mutable_command() = rb::domain::testing::Declare(id).declare();
    v1::Site* site = req.mutable_command()->mutable_site();
    site->set_name(absl::StrCat("Site ", id));
    site->mutable_location()->mutable_address()->set_city_code(city);
    if (city == "97411") {
      site->mutable_location()->mutable_address()->set_label("1 rue de Paris 97400 Saint-Denis");
      site->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(-20.88);
      site->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(55.45);
    }
    v1::WriteResult r;
    Expect(sites_->DeclareSite(ApiServer::Ctx().get(), req, &r), r);
  }

  void Population(const std::string& id, int people, int households,
                  google::protobuf::Timestamp at) {
    v1::RecordPopulationRequest req;
    req.set_name(absl::StrCat("sites/", id));
    *req.mutable_options()->mutable_valid_time() = at;
    req.mutable_command()->mutable_population()->set_total(people);
    req.mutable_command()->mutable_population()->set_households(households);
    v1::WriteResult r;
    Expect(sites_->RecordPopulation(ApiServer::Ctx().get(), req, &r), r);
  }

  void CorrectPopulation(const std::string& id, int people, int households,
                         google::protobuf::Timestamp at) {
    v1::CorrectRetroactivelyRequest req;
    req.set_name(absl::StrCat("sites/", id));
    *req.mutable_options()->mutable_valid_time() = at;
    req.mutable_options()->set_reason("Recensement mal saisi");
    req.mutable_site()->mutable_population()->set_total(people);
    req.mutable_site()->mutable_population()->set_households(households);
    req.mutable_update_mask()->add_paths("population");
    v1::WriteResult r;
    Expect(sites_->CorrectRetroactively(ApiServer::Ctx().get(), req, &r), r);
    correction_position_ = r.position();
  }

  void Close(const std::string& id, google::protobuf::Timestamp at) {
    v1::CloseSiteRequest req;
    req.set_name(absl::StrCat("sites/", id));
    *req.mutable_options()->mutable_valid_time() = at;
    v1::Closure* c = req.mutable_command()->mutable_closure();
    *c = rb::domain::testing::ValidClosure();
    *c->mutable_closed_at() = rb::domain::testing::D(2024, 5, 1);
    c->mutable_solutions(0)->set_people(20);
    c->mutable_solutions(0)->set_households(5);
    v1::WriteResult r;
    Expect(sites_->CloseSite(ApiServer::Ctx().get(), req, &r), r);
  }

  ApiServer server_{FixedClock()};
  std::unique_ptr<v1::Sites::Stub> sites_ = server_.Sites();
  std::unique_ptr<v1::Actions::Stub> actions_ = server_.Actions();
  std::unique_ptr<v1::Territories::Stub> territories_ = server_.Territories();
  absl::Time before_correction_;
  uint64_t correction_position_ = 0;
  uint64_t last_position_ = 0;
};

// The field paths of the google.rpc.BadRequest of an INVALID_ARGUMENT status.
inline std::vector<std::string> ViolationFields(const grpc::Status& s) {
  std::vector<std::string> out;
  google::rpc::BadRequest bad;
  if (!FindDetail(s, &bad)) return out;
  for (const auto& v : bad.field_violations()) out.push_back(v.field());
  return out;
}

}  // namespace rb::services::testing

#endif  // RB_TESTS_API_VIEWS_VIEWS_API_FIXTURE_H_
