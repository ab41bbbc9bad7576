#include "services/status_mapping.h"

#include "absl/strings/cord.h"
#include "eventstore/event_store.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace rb::services {
namespace {

google::rpc::Status Rich(const grpc::Status& s) {
  google::rpc::Status out;
  EXPECT_TRUE(out.ParseFromString(s.error_details()));
  return out;
}

template <typename T>
bool Find(const google::rpc::Status& rich, T* out) {
  for (const auto& any : rich.details()) {
    if (any.Is<T>()) return any.UnpackTo(out);
  }
  return false;
}

TEST(StatusMappingTest, OkMapsToOkWithoutDetails) {
  grpc::Status s = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(s.error_details().empty());
}

TEST(StatusMappingTest, CodesMapOneToOneWithMessageAndErrorInfo) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kAborted, absl::StatusCode::kUnavailable, absl::StatusCode::kDataLoss,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kCancelled}) {
    grpc::Status s = ToGrpcStatus(absl::Status(code, "why"));
    EXPECT_EQ(static_cast<int>(s.error_code()), static_cast<int>(code));
    EXPECT_EQ(s.error_message(), "why");
    google::rpc::Status rich = Rich(s);
    EXPECT_EQ(rich.code(), static_cast<int>(code));
    EXPECT_EQ(rich.message(), "why");
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(Find(rich, &info));
    EXPECT_EQ(info.domain(), "resorption.gouv.fr");
    EXPECT_EQ(info.reason(), absl::StatusCodeToString(code));
  }
}

TEST(StatusMappingTest, AReusedCommandIdNamesTheFieldAndItsFirstPosition) {
  grpc::Status s = ToGrpcStatus(rb::es::CommandIdReusedError(42));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(),
            "command_id: already used for a different command (first used at position 42); use a "
            "new command id");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(Find(Rich(s), &info));
  EXPECT_EQ(info.reason(), "COMMAND_ID_REUSED");
  EXPECT_EQ(info.metadata().at("field"), "command_id");
  EXPECT_EQ(info.metadata().at("first_position"), "42");
}

TEST(StatusMappingTest, BadRequestPayloadBecomesBadRequestDetailWithEveryViolation) {
  absl::Status s = BadRequestError(
      "invalid", {{"stream_id", "must not be empty"}, {"events[1].type", "must not be empty"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  google::rpc::Status rich = Rich(ToGrpcStatus(s));
  google::rpc::BadRequest br;
  ASSERT_TRUE(Find(rich, &br));
  ASSERT_EQ(br.field_violations_size(), 2);
  EXPECT_EQ(br.field_violations(0).field(), "stream_id");
  EXPECT_EQ(br.field_violations(1).field(), "events[1].type");
  EXPECT_EQ(br.field_violations(1).description(), "must not be empty");
}

TEST(StatusMappingTest, ExplicitReasonWinsOverTheCodeName) {
  absl::Status s = absl::FailedPreconditionError("closed");
  SetErrorReason(s, "SITE_CLOSED", {{"site", "site-42"}});
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(Find(Rich(ToGrpcStatus(s)), &info));
  EXPECT_EQ(info.reason(), "SITE_CLOSED");
  EXPECT_EQ(info.domain(), "resorption.gouv.fr");
  EXPECT_EQ(info.metadata().at("site"), "site-42");
}

TEST(StatusMappingTest, AbortedWithoutCurrentRevisionHasNoPreconditionFailure) {
  google::rpc::PreconditionFailure pf;
  EXPECT_FALSE(Find(Rich(ToGrpcStatus(absl::AbortedError("x"))), &pf));
}

}  // namespace
}  // namespace rb::services
