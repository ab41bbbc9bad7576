// The Analytics service over real gRPC: submit a specification, follow the job, export it.
#include "absl/time/civil_time.h"
#include "domain/command_handler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "resorption/v1/analytics_service.grpc.pb.h"
#include "tests/domain/test_util.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using ::testing::HasSubstr;

constexpr char kSpec[] = R"pb(
  name: "personnes_par_departement"
  subject: SUBJECT_SITE
  event_types: "site.population_recorded"
  group_by { territory: TERRITORY_LEVEL_DEPARTEMENT }
  aggregates { name: "personnes" kind: LAST_PER_SUBJECT_SUM field: "site.population.total" }
)pb";

class AnalyticsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    stub_ = v1::Analytics::NewStub(server_.channel());
    rb::domain::CommandHandler handler(server_.server().store());
    for (const char* id : {"1", "2"}) {
      ASSERT_TRUE(
          handler.HandleSite(rb::domain::testing::Declare(id), rb::domain::testing::Ctx()).ok());
      v1::SiteCommand c = rb::domain::testing::On(id);
      auto* p = c.mutable_record_population()->mutable_population();
      p->set_total(20);
      p->set_households(4);
      ASSERT_TRUE(handler.HandleSite(c, rb::domain::testing::Ctx()).ok());
    }
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  testing::TestServer server_;
  std::unique_ptr<v1::Analytics::Stub> stub_;
};

TEST_F(AnalyticsServiceTest, SubmittedSpecificationIsBuiltAndExported) {
  v1::SubmitProjectionRequest submit;
  submit.set_spec_text(kSpec);
  v1::ProjectionJob job;
  grpc::Status s = stub_->SubmitProjection(Ctx().get(), submit, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(job.name(), HasSubstr("projectionJobs/"));
  EXPECT_EQ(job.target_position(), server_.server().store()->GetHead().position);

  v1::GetProjectionJobRequest get;
  get.set_name(job.name());
  get.set_wait(true);
  get.set_include_rows(true);
  v1::ProjectionJob done;
  ASSERT_TRUE(stub_->GetProjectionJob(Ctx().get(), get, &done).ok());
  ASSERT_EQ(done.state(), "done") << done.error();
  ASSERT_EQ(done.result().rows_size(), 1);
  EXPECT_EQ(done.result().rows(0).group(0), "93");
  EXPECT_EQ(done.result().rows(0).values(0), 40);
  EXPECT_EQ(done.result().log_hash(), rb::es::ToHex(server_.server().store()->GetHead().log_hash));

  v1::ExportProjectionResultRequest exp;
  exp.set_name(job.name());
  exp.set_format(v1::EXPORT_FORMAT_CSV);
  v1::ExportProjectionResultResponse csv;
  ASSERT_TRUE(stub_->ExportProjectionResult(Ctx().get(), exp, &csv).ok());
  EXPECT_EQ(csv.content(), "departement,personnes\r\n93,40\r\n");
  exp.set_format(v1::EXPORT_FORMAT_JSON_LINES);
  v1::ExportProjectionResultResponse jsonl;
  ASSERT_TRUE(stub_->ExportProjectionResult(Ctx().get(), exp, &jsonl).ok());
  EXPECT_THAT(jsonl.content(), HasSubstr("\"rows_hash\":\"" + done.result().rows_hash()));
  EXPECT_THAT(jsonl.content(), HasSubstr("{\"departement\":\"93\",\"personnes\":40}"));

  v1::ListProjectionJobsResponse list;
  ASSERT_TRUE(stub_->ListProjectionJobs(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.jobs_size(), 1);
  EXPECT_EQ(list.jobs(0).result().rows_size(), 0);  // listings stay small
}

TEST_F(AnalyticsServiceTest, InvalidSpecificationIsRefusedWithFieldViolations) {
  v1::SubmitProjectionRequest submit;
  submit.set_spec_text(R"pb(name: "x"
                            subject: SUBJECT_SITE
                            aggregates { name: "s" kind: SUM field: "site.nope" })pb");
  v1::ProjectionJob job;
  grpc::Status s = stub_->SubmitProjection(Ctx().get(), submit, &job);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  bool found = false;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest br;
    if (any.UnpackTo(&br)) {
      ASSERT_EQ(br.field_violations_size(), 1);
      EXPECT_EQ(br.field_violations(0).field(), "aggregates[0].field");
      found = true;
    }
  }
  EXPECT_TRUE(found);

  v1::GetProjectionJobRequest get;
  get.set_name("jobs/1");
  EXPECT_EQ(stub_->GetProjectionJob(Ctx().get(), get, &job).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  get.set_name("projectionJobs/job-999999");
  EXPECT_EQ(stub_->GetProjectionJob(Ctx().get(), get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace rb::services
