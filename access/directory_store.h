// Copyright: the Résorption-bidonvilles data service authors.
//
// DirectoryStore: the directory on the event log. Loads organisations and users by folding
// their streams, decides with access/directory.h and appends with the loaded revision as the
// expected revision (a concurrent writer makes the call fail with ABORTED; retry). Personal data
// is sealed with the user's subject key before it is appended, and erasing a user destroys the
// key (access/subject_keys.h).
//
//   rb::access::DirectoryStore dir(store, &keys);
//   auto org = dir.CreateOrganisation(org_req, author);
//   auto user = dir.CreateUser(user_req, author);       // author: who acts (event metadata)
//   absl::StatusOr<rb::access::Principal> p = dir.LoadPrincipal("user-7");
//
// Errors: those of directory.h and of the event store. Thread-safe; store and keys must outlive
// the DirectoryStore.
#ifndef RB_ACCESS_DIRECTORY_STORE_H_
#define RB_ACCESS_DIRECTORY_STORE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "access/directory.h"
#include "access/subject_keys.h"
#include "eventstore/event_store.h"

namespace rb::access {

class DirectoryStore {
 public:
  DirectoryStore(rb::es::EventStore* store, SubjectKeys* keys) : store_(store), keys_(keys) {}

  absl::StatusOr<resorption::v1::Organisation> CreateOrganisation(
      const resorption::v1::CreateOrganisationRequest& req, const Principal& author);
  absl::StatusOr<resorption::v1::User> CreateUser(const resorption::v1::CreateUserRequest& req,
                                                  const Principal& author);
  absl::StatusOr<resorption::v1::User> SetUserStatus(std::string_view user_id, bool active,
                                                     std::string_view reason,
                                                     const Principal& author);
  // Appends "user.erased" then destroys the subject key.
  absl::StatusOr<resorption::v1::User> EraseUser(std::string_view user_id, const Principal& author);

  // Absent: an empty message (exists() false / status UNSPECIFIED) with its id set.
  absl::StatusOr<resorption::v1::Organisation> LoadOrganisation(std::string_view id) const;
  absl::StatusOr<resorption::v1::User> LoadUser(std::string_view id) const;
  // Every user (of one organisation when `organisation_id` is not empty), ordered by id.
  absl::StatusOr<std::vector<resorption::v1::User>> ListUsers(
      std::string_view organisation_id) const;
  // The principal of an active user (PrincipalOf).
  absl::StatusOr<Principal> LoadPrincipal(std::string_view user_id) const;
  // Decrypts a user's personal data; FAILED_PRECONDITION once erased.
  absl::StatusOr<resorption::v1::PersonalData> PersonalDataOf(
      const resorption::v1::User& user) const;

 private:
  absl::Status AppendUser(const resorption::v1::User& state,
                          const std::vector<resorption::v1::UserEvent>& events,
                          const Principal& author);

  rb::es::EventStore* store_;
  SubjectKeys* keys_;
};

}  // namespace rb::access

#endif  // RB_ACCESS_DIRECTORY_STORE_H_
