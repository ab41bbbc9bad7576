// Copyright: the Résorption-bidonvilles data service authors.
//
// The one mapping from absl::Status (what the libraries return) to grpc::Status (what clients
// receive), with rich error details in the `grpc-status-details-bin` trailer.
//
//   absl::Status s = rb::services::BadRequestError(
//       "the append request is invalid",
//       {{"stream_id", "must not be empty"}, {"events", "must hold at least one event"}});
//   return rb::services::ToGrpcStatus(s);
//
// The trailer holds a serialized google.rpc.Status {code, message, details} whose details are:
//  * google.rpc.BadRequest, when the absl::Status carries one as a payload under kBadRequestUrl
//    (build it with BadRequestError);
//  * google.rpc.PreconditionFailure (type "REVISION", subject the current revision N as a
//    decimal, -1 for an absent stream, description "current revision N") for an ABORTED status from
//    the event store that names the current revision (rb::es::CurrentRevisionFrom);
//  * always a google.rpc.ErrorInfo with domain kErrorDomain and a reason: the one carried as a
//    payload under kErrorInfoUrl when present, otherwise derived from the code
//    ("INVALID_ARGUMENT", "WRONG_EXPECTED_REVISION", ...); for the ALREADY_EXISTS of a command id
//    used before for a different command (rb::es::CommandIdReusedError), "COMMAND_ID_REUSED"
//    with metadata field = "command_id" and first_position = the position of its first use.
//
// Codes map one to one (absl and gRPC share the canonical codes). OK maps to grpc::Status::OK.
#ifndef RB_SERVICES_STATUS_MAPPING_H_
#define RB_SERVICES_STATUS_MAPPING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace rb::services {

inline constexpr absl::string_view kErrorDomain = "resorption.gouv.fr";
inline constexpr absl::string_view kBadRequestUrl = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr absl::string_view kErrorInfoUrl = "type.googleapis.com/google.rpc.ErrorInfo";

struct FieldViolation {
  std::string field;        // path in the request, e.g. "events[2].type"
  std::string description;  // the rule, in the user's terms
};

// INVALID_ARGUMENT carrying every violation as a google.rpc.BadRequest payload.
absl::Status BadRequestError(absl::string_view message,
                             const std::vector<FieldViolation>& violations);

// Attaches a google.rpc.ErrorInfo reason (and optional metadata) to `status` as a payload.
void SetErrorReason(absl::Status& status, absl::string_view reason,
                    const std::vector<std::pair<std::string, std::string>>& metadata = {});

// Maps `status` to a grpc::Status with the details described above.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace rb::services

#endif  // RB_SERVICES_STATUS_MAPPING_H_
