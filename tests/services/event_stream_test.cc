// The EventStream service over real gRPC against a real server and data directory.
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::AppendReq;
using testing::Ctx;
using testing::FindDetail;
using ::testing::HasSubstr;

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    stub_ = server_.EventStreamStub();
  }

  v1::AppendResponse MustAppend(const v1::AppendRequest& req) {
    v1::AppendResponse resp;
    grpc::Status s = stub_->Append(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  testing::TestServer server_;
  std::unique_ptr<v1::EventStream::Stub> stub_;
};

TEST_F(EventStreamTest, AppendReturnsPositionsAndReadStreamReturnsEveryField) {
  v1::AppendRequest req = AppendReq("site-1", 2, "site.declared");
  req.mutable_expected()->set_kind(v1::ExpectedRevision::KIND_NO_STREAM);
  req.set_command_id("cmd-1");
  req.mutable_events(0)->mutable_valid_at()->set_seconds(1'600'000'000);
  req.mutable_events(0)->set_schema_version(2);
  v1::AppendResponse a = MustAppend(req);
  EXPECT_EQ(a.first_position(), 1u);
  EXPECT_EQ(a.last_position(), 2u);
  EXPECT_EQ(a.stream_revision(), 1u);
  EXPECT_FALSE(a.replayed());

  v1::ReadStreamRequest r;
  r.set_stream_id("site-1");
  v1::ReadStreamResponse resp;
  ASSERT_TRUE(stub_->ReadStream(Ctx().get(), r, &resp).ok());
  ASSERT_EQ(resp.events_size(), 2);
  EXPECT_TRUE(resp.end_of_stream());
  const v1::Event& e = resp.events(0);
  EXPECT_EQ(e.stream_id(), "site-1");
  EXPECT_EQ(e.revision(), 0u);
  EXPECT_EQ(e.position(), 1u);
  EXPECT_EQ(e.type(), "site.declared");
  EXPECT_EQ(e.schema_version(), 2u);
  EXPECT_EQ(e.valid_at().seconds(), 1'600'000'000);
  EXPECT_GT(e.recorded_at().seconds(), 1'600'000'000);
  EXPECT_EQ(e.metadata().actor_user(), "user-1");
  EXPECT_EQ(e.metadata().reason(), "test");
  EXPECT_EQ(e.metadata().command_id(), "cmd-1");
  EXPECT_EQ(e.payload(), "payload 0");
  EXPECT_EQ(e.payload_type_url(), "");
  EXPECT_EQ(e.event_id().size(), 36u);
  EXPECT_EQ(e.stream_hash().size(), 64u);
  EXPECT_EQ(e.log_hash().size(), 64u);
  EXPECT_EQ(resp.events(1).revision(), 1u);
}

TEST_F(EventStreamTest, RetryWithSameCommandIdIsReplayedAndAppendsNothing) {
  v1::AppendRequest req = AppendReq("site-1", 1);
  req.set_command_id("cmd-retry");
  v1::AppendResponse first = MustAppend(req);
  v1::AppendResponse second = MustAppend(req);
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(second.last_position(), first.last_position());
  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &head).ok());
  EXPECT_EQ(head.position(), 1u);
}

TEST_F(EventStreamTest, BadInputIsInvalidArgumentWithEveryViolationInBadRequest) {
  v1::AppendRequest req;
  req.set_stream_id("has space");
  req.add_events();  // no type
  auto* e = req.add_events();
  e->set_type("ok");
  e->mutable_valid_at()->set_nanos(-5);
  v1::AppendResponse resp;
  grpc::Status s = stub_->Append(Ctx().get(), req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::BadRequest br;
  ASSERT_TRUE(FindDetail(s, &br));
  std::set<std::string> fields;
  for (const auto& v : br.field_violations()) fields.insert(v.field());
  EXPECT_EQ(fields, (std::set<std::string>{"stream_id", "events[0].type", "events[1].valid_at"}));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(s, &info));
  EXPECT_EQ(info.domain(), "resorption.gouv.fr");
  EXPECT_EQ(info.reason(), "INVALID_ARGUMENT");

  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &head).ok());
  EXPECT_EQ(head.position(), 0u) << "bad input changes nothing";

  req = AppendReq("site-1", 0);
  s = stub_->Append(Ctx().get(), req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(FindDetail(s, &br));
  EXPECT_EQ(br.field_violations(0).field(), "events");

  v1::ReadStreamRequest rs;
  v1::ReadStreamResponse rsr;
  s = stub_->ReadStream(Ctx().get(), rs, &rsr);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(FindDetail(s, &br));
  EXPECT_EQ(br.field_violations(0).field(), "stream_id");

  v1::GetStreamInfoResponse info_resp;
  s = stub_->GetStreamInfo(Ctx().get(), {}, &info_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ReadAllRequest ra;
  ra.set_direction(static_cast<v1::Direction>(7));
  v1::ReadAllResponse rar;
  s = stub_->ReadAll(Ctx().get(), ra, &rar);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(FindDetail(s, &br));
  EXPECT_EQ(br.field_violations(0).field(), "direction");
}

TEST_F(EventStreamTest, StaleExpectedRevisionIsAbortedWithCurrentRevision) {
  MustAppend(AppendReq("site-1", 3));
  v1::AppendRequest req = AppendReq("site-1", 1);
  req.mutable_expected()->set_kind(v1::ExpectedRevision::KIND_EXACT);
  req.mutable_expected()->set_revision(0);
  v1::AppendResponse resp;
  grpc::Status s = stub_->Append(Ctx().get(), req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  google::rpc::PreconditionFailure pf;
  ASSERT_TRUE(FindDetail(s, &pf));
  ASSERT_EQ(pf.violations_size(), 1);
  EXPECT_EQ(pf.violations(0).type(), "REVISION");
  EXPECT_EQ(pf.violations(0).subject(), "2");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(s, &info));
  EXPECT_EQ(info.reason(), "WRONG_EXPECTED_REVISION");
  EXPECT_EQ(info.metadata().at("current_revision"), "2");

  req.mutable_expected()->set_kind(v1::ExpectedRevision::KIND_STREAM_EXISTS);
  req.mutable_expected()->set_revision(0);
  req.set_stream_id("site-absent");
  s = stub_->Append(Ctx().get(), req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(FindDetail(s, &pf));
  EXPECT_EQ(pf.violations(0).subject(), "-1");
}

TEST_F(EventStreamTest, CommandIdReusedWithOtherContentIsAlreadyExists) {
  v1::AppendRequest req = AppendReq("site-1", 1);
  req.set_command_id("cmd-x");
  MustAppend(req);
  const uint64_t head = server_.server().store()->GetHead().position;
  req.mutable_events(0)->set_payload("different");
  v1::AppendResponse resp;
  grpc::Status s = stub_->Append(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(),
            "command_id: already used for a different command (first used at position 1); use a "
            "new command id");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(s, &info));
  EXPECT_EQ(info.reason(), "COMMAND_ID_REUSED");
  EXPECT_EQ(info.metadata().at("first_position"), "1");
  EXPECT_EQ(server_.server().store()->GetHead().position, head);
}

TEST_F(EventStreamTest, ReadStreamPagesForwardAndBackward) {
  MustAppend(AppendReq("site-1", 5));
  MustAppend(AppendReq("site-2", 1));
  v1::ReadStreamRequest r;
  r.set_stream_id("site-1");
  r.set_limit(2);
  std::vector<uint64_t> revisions;
  for (int guard = 0; guard < 10; ++guard) {
    v1::ReadStreamResponse resp;
    ASSERT_TRUE(stub_->ReadStream(Ctx().get(), r, &resp).ok());
    for (const auto& e : resp.events()) revisions.push_back(e.revision());
    if (resp.end_of_stream()) break;
    r.set_from_revision(resp.next_revision());
  }
  EXPECT_EQ(revisions, (std::vector<uint64_t>{0, 1, 2, 3, 4}));

  revisions.clear();
  r.clear_from_revision();
  r.set_direction(v1::DIRECTION_BACKWARD);
  for (int guard = 0; guard < 10; ++guard) {
    v1::ReadStreamResponse resp;
    ASSERT_TRUE(stub_->ReadStream(Ctx().get(), r, &resp).ok());
    for (const auto& e : resp.events()) revisions.push_back(e.revision());
    if (resp.end_of_stream()) break;
    r.set_from_revision(resp.next_revision());
  }
  EXPECT_EQ(revisions, (std::vector<uint64_t>{4, 3, 2, 1, 0}));

  v1::ReadStreamResponse absent;
  r.set_stream_id("site-none");
  ASSERT_TRUE(stub_->ReadStream(Ctx().get(), r, &absent).ok());
  EXPECT_EQ(absent.events_size(), 0);
  EXPECT_TRUE(absent.end_of_stream());
}

TEST_F(EventStreamTest, ReadAllFiltersByTypePrefixAndCategoryBothDirections) {
  MustAppend(AppendReq("site-1", 2, "site.updated"));
  MustAppend(AppendReq("action-1", 2, "action.created"));
  MustAppend(AppendReq("site-2", 1, "site.closed"));

  v1::ReadAllRequest r;
  r.mutable_filter()->add_categories("site");
  v1::ReadAllResponse resp;
  ASSERT_TRUE(stub_->ReadAll(Ctx().get(), r, &resp).ok());
  std::vector<uint64_t> positions;
  for (const auto& e : resp.events()) positions.push_back(e.position());
  EXPECT_EQ(positions, (std::vector<uint64_t>{1, 2, 5}));
  EXPECT_TRUE(resp.end_of_log());
  EXPECT_EQ(resp.next_position(), 6u);

  r.Clear();
  r.mutable_filter()->add_type_prefixes("action.");
  r.set_direction(v1::DIRECTION_BACKWARD);
  resp.Clear();
  ASSERT_TRUE(stub_->ReadAll(Ctx().get(), r, &resp).ok());
  positions.clear();
  for (const auto& e : resp.events()) positions.push_back(e.position());
  EXPECT_EQ(positions, (std::vector<uint64_t>{4, 3}));

  // Forward paging over everything, two at a time.
  r.Clear();
  r.set_limit(2);
  positions.clear();
  for (int guard = 0; guard < 10; ++guard) {
    v1::ReadAllResponse page;
    ASSERT_TRUE(stub_->ReadAll(Ctx().get(), r, &page).ok());
    for (const auto& e : page.events()) positions.push_back(e.position());
    if (page.end_of_log()) break;
    r.set_from_position(page.next_position());
  }
  EXPECT_EQ(positions, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(EventStreamTest, GetHeadGetStreamInfoAndVerifyAgree) {
  v1::GetHeadResponse empty;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &empty).ok());
  EXPECT_EQ(empty.position(), 0u);
  EXPECT_EQ(empty.log_hash(), std::string(64, '0'));

  MustAppend(AppendReq("site-1", 3));
  MustAppend(AppendReq("site-2", 1));
  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &head).ok());
  EXPECT_EQ(head.position(), 4u);
  EXPECT_GT(head.recorded_at().seconds(), 0);

  v1::GetStreamInfoRequest ir;
  ir.set_stream_id("site-1");
  v1::GetStreamInfoResponse info;
  ASSERT_TRUE(stub_->GetStreamInfo(Ctx().get(), ir, &info).ok());
  EXPECT_TRUE(info.exists());
  EXPECT_EQ(info.last_revision(), 2u);
  EXPECT_EQ(info.last_hash().size(), 64u);
  ir.set_stream_id("site-none");
  info.Clear();
  ASSERT_TRUE(stub_->GetStreamInfo(Ctx().get(), ir, &info).ok());
  EXPECT_FALSE(info.exists());

  v1::VerifyResponse verify;
  ASSERT_TRUE(stub_->Verify(Ctx().get(), {}, &verify).ok());
  EXPECT_EQ(verify.events_checked(), 4u);
  EXPECT_EQ(verify.head_hash(), head.log_hash());
}

TEST_F(EventStreamTest, ExpiredDeadlineDoesNoWork) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  v1::AppendResponse resp;
  grpc::Status s = stub_->Append(&ctx, AppendReq("site-1", 1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(Ctx().get(), {}, &head).ok());
  EXPECT_EQ(head.position(), 0u);
}

TEST_F(EventStreamTest, RequestIdIsEchoedAndRpcsAreLogged) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "req-abc");
  v1::GetHeadResponse head;
  ASSERT_TRUE(stub_->GetHead(&ctx, {}, &head).ok());
  auto md = ctx.GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "req-abc");
  // The test server logs warnings and above: a failed call is logged.
  v1::AppendResponse resp;
  grpc::ClientContext bad;
  bad.AddMetadata("x-request-id", "req-bad");
  ASSERT_FALSE(stub_->Append(&bad, AppendReq("", 1), &resp).ok());
  server_.server().Shutdown();
  EXPECT_THAT(server_.logs(), HasSubstr("\"method\":\"Append\",\"code\":\"INVALID_ARGUMENT\""));
  EXPECT_THAT(server_.logs(), HasSubstr("\"request_id\":\"req-bad\""));
}

}  // namespace
}  // namespace rb::services
