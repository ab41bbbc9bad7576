// Copyright: the Résorption-bidonvilles data service authors.
//
// The directory as event-sourced aggregates: organisations (stream "organisation-<id>") and users
// (stream "user-<id>"). Pure decision (state, request) -> events and evolution
// (state, event) -> state; no I/O, no clock.
//
//   resorption::v1::Organisation org;                  // folded (empty: absent)
//   resorption::v1::CreateOrganisationRequest req = ...;
//   absl::StatusOr<std::vector<resorption::v1::OrganisationEvent>> d =
//       rb::access::DecideCreateOrganisation(org, req);
//   if (!d.ok()) return d.status();
//   for (const auto& e : *d) org = rb::access::EvolveOrganisation(std::move(org), e);
//
// Errors: INVALID_ARGUMENT listing every violation (field path and rule) with a BadRequest-like
// message; ALREADY_EXISTS when creating what exists; NOT_FOUND when changing an absent user or
// when the user's organisation is absent; FAILED_PRECONDITION for an erased user.
// The personal data of a user is sealed by the caller (access/subject_keys.h) before deciding.
#ifndef RB_ACCESS_DIRECTORY_H_
#define RB_ACCESS_DIRECTORY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "access/policy.h"
#include "resorption/v1/directory.pb.h"
#include "resorption/v1/directory_service.pb.h"

namespace rb::access {

std::string OrganisationStreamId(std::string_view organisation_id);
std::string UserStreamId(std::string_view user_id);

// Event type names ("organisation.created", "user.activated", ...).
std::string EventType(const resorption::v1::OrganisationEvent& e);
std::string EventType(const resorption::v1::UserEvent& e);

[[nodiscard]] absl::StatusOr<std::vector<resorption::v1::OrganisationEvent>>
DecideCreateOrganisation(const resorption::v1::Organisation& state,
                         const resorption::v1::CreateOrganisationRequest& req);
resorption::v1::Organisation EvolveOrganisation(resorption::v1::Organisation state,
                                                const resorption::v1::OrganisationEvent& e);

// `sealed_personal_data` replaces req.personal_data in the event (which never holds it clear).
[[nodiscard]] absl::StatusOr<std::vector<resorption::v1::UserEvent>> DecideCreateUser(
    const resorption::v1::User& state, const resorption::v1::Organisation& organisation,
    const resorption::v1::CreateUserRequest& req, std::string sealed_personal_data);
// No event when the status already is the requested one.
[[nodiscard]] absl::StatusOr<std::vector<resorption::v1::UserEvent>> DecideSetUserStatus(
    const resorption::v1::User& state, bool active, std::string_view reason);
[[nodiscard]] absl::StatusOr<std::vector<resorption::v1::UserEvent>> DecideEraseUser(
    const resorption::v1::User& state);
resorption::v1::User EvolveUser(resorption::v1::User state, const resorption::v1::UserEvent& e);

// The principal of an active user of `organisation`. FAILED_PRECONDITION (with the status in
// the message) when the user is not active; NOT_FOUND when absent.
[[nodiscard]] absl::StatusOr<Principal> PrincipalOf(const resorption::v1::User& user,
                                                    const resorption::v1::Organisation& org);

}  // namespace rb::access

#endif  // RB_ACCESS_DIRECTORY_H_
