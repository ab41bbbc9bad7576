// Copyright: the Résorption-bidonvilles data service authors.
#include "services/status_mapping.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace rb::services {
namespace {

std::string ReasonFromCode(const absl::Status& status, bool revision_known,
                           bool command_id_reused) {
  if (status.code() == absl::StatusCode::kAborted && revision_known) {
    return "WRONG_EXPECTED_REVISION";
  }
  if (command_id_reused) return "COMMAND_ID_REUSED";
  return absl::StatusCodeToString(status.code());
}

void Pack(const google::protobuf::Message& m, google::rpc::Status& out) {
  out.add_details()->PackFrom(m);
}

}  // namespace

absl::Status BadRequestError(absl::string_view message,
                             const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest br;
  for (const FieldViolation& v : violations) {
    auto* fv = br.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  return status;
}

void SetErrorReason(absl::Status& status, absl::string_view reason,
                    const std::vector<std::pair<std::string, std::string>>& metadata) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));

  if (auto br = status.GetPayload(kBadRequestUrl)) {
    google::rpc::BadRequest bad_request;
    if (bad_request.ParseFromString(std::string(*br))) Pack(bad_request, rich);
  }

  std::optional<int64_t> current;
  if (status.code() == absl::StatusCode::kAborted) current = rb::es::CurrentRevisionFrom(status);
  if (current.has_value()) {
    google::rpc::PreconditionFailure pf;
    auto* v = pf.add_violations();
    v->set_type("REVISION");
    v->set_description(absl::StrCat("current revision ", *current));
    v->set_subject(absl::StrCat(*current));
    Pack(pf, rich);
  }

  std::optional<uint64_t> reused;
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    reused = rb::es::ReusedCommandPositionFrom(status);
  }

  google::rpc::ErrorInfo info;
  if (auto ei = status.GetPayload(kErrorInfoUrl)) {
    info.ParseFromString(std::string(*ei));
  }
  if (info.reason().empty()) {
    info.set_reason(ReasonFromCode(status, current.has_value(), reused.has_value()));
  }
  info.set_domain(std::string(kErrorDomain));
  if (current.has_value()) (*info.mutable_metadata())["current_revision"] = absl::StrCat(*current);
  if (reused.has_value()) {
    (*info.mutable_metadata())["field"] = "command_id";
    (*info.mutable_metadata())["first_position"] = absl::StrCat(*reused);
  }
  Pack(info, rich);

  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      rich.SerializeAsString());
}

}  // namespace rb::services
