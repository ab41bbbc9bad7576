// Copyright: the Résorption-bidonvilles data service authors.
#include "access/directory_store.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace rb::access {
namespace {

namespace v1 = resorption::v1;

rb::es::EventMetadata MetadataOf(const Principal& author) {
  rb::es::EventMetadata m;
  m.actor_user = author.user_id;
  m.actor_organisation = author.organisation_id;
  m.actor_role = std::string(rb::domain::RoleId(author.role));
  return m;
}

rb::es::ExpectedRevision ExpectedOf(bool exists, uint64_t revision) {
  return exists ? rb::es::ExpectedRevision::Exactly(revision)
                : rb::es::ExpectedRevision::NoStream();
}

template <typename Event, typename State, typename Evolve>
absl::StatusOr<std::pair<State, bool>> Fold(const rb::es::EventStore& store,
                                            const std::string& stream, State state, Evolve evolve) {
  auto events = store.ReadStream(stream, 0, rb::es::Direction::kForward, SIZE_MAX);
  if (!events.ok()) return events.status();
  for (const rb::es::RecordedEvent& r : *events) {
    Event e;
    if (!e.ParseFromString(r.payload)) {
      return absl::DataLossError(absl::StrCat("undecodable event ", r.revision, " of ", stream));
    }
    state = evolve(std::move(state), e);
    state.set_revision(r.revision);
  }
  return std::make_pair(std::move(state), !events->empty());
}

}  // namespace

absl::StatusOr<v1::Organisation> DirectoryStore::LoadOrganisation(std::string_view id) const {
  v1::Organisation empty;
  empty.set_id(std::string(id));
  auto r = Fold<v1::OrganisationEvent>(*store_, OrganisationStreamId(id), std::move(empty),
                                       EvolveOrganisation);
  if (!r.ok()) return r.status();
  return std::move(r->first);
}

absl::StatusOr<v1::User> DirectoryStore::LoadUser(std::string_view id) const {
  v1::User empty;
  empty.set_id(std::string(id));
  auto r = Fold<v1::UserEvent>(*store_, UserStreamId(id), std::move(empty), EvolveUser);
  if (!r.ok()) return r.status();
  return std::move(r->first);
}

absl::StatusOr<v1::Organisation> DirectoryStore::CreateOrganisation(
    const v1::CreateOrganisationRequest& req, const Principal& author) {
  auto state = LoadOrganisation(req.organisation_id());
  if (!state.ok()) return state.status();
  auto events = DecideCreateOrganisation(*state, req);
  if (!events.ok()) return events.status();
  rb::es::AppendRequest append;
  append.stream_id = OrganisationStreamId(req.organisation_id());
  append.expected = rb::es::ExpectedRevision::NoStream();
  append.metadata = MetadataOf(author);
  for (const auto& e : *events) {
    append.events.push_back({.type = EventType(e), .payload = e.SerializeAsString()});
  }
  auto r = store_->Append(append);
  if (!r.ok()) return r.status();
  return LoadOrganisation(req.organisation_id());
}

absl::Status DirectoryStore::AppendUser(const v1::User& state,
                                        const std::vector<v1::UserEvent>& events,
                                        const Principal& author) {
  if (events.empty()) return absl::OkStatus();
  rb::es::AppendRequest append;
  append.stream_id = UserStreamId(state.id());
  append.expected = ExpectedOf(state.status() != v1::USER_STATUS_UNSPECIFIED, state.revision());
  append.metadata = MetadataOf(author);
  for (const auto& e : events) {
    append.events.push_back({.type = EventType(e), .payload = e.SerializeAsString()});
  }
  return store_->Append(append).status();
}

absl::StatusOr<v1::User> DirectoryStore::CreateUser(const v1::CreateUserRequest& req,
                                                    const Principal& author) {
  auto state = LoadUser(req.user_id());
  if (!state.ok()) return state.status();
  auto org = LoadOrganisation(req.organisation_id());
  if (!org.ok()) return org.status();
  // Decide once without sealing so that a refused request creates no key.
  auto check = DecideCreateUser(*state, *org, req, "");
  if (!check.ok()) return check.status();
  auto sealed = keys_->Seal(UserStreamId(req.user_id()), req.personal_data().SerializeAsString());
  if (!sealed.ok()) return sealed.status();
  auto events = DecideCreateUser(*state, *org, req, std::move(*sealed));
  if (!events.ok()) return events.status();
  if (absl::Status s = AppendUser(*state, *events, author); !s.ok()) return s;
  return LoadUser(req.user_id());
}

absl::StatusOr<v1::User> DirectoryStore::SetUserStatus(std::string_view user_id, bool active,
                                                       std::string_view reason,
                                                       const Principal& author) {
  auto state = LoadUser(user_id);
  if (!state.ok()) return state.status();
  auto events = DecideSetUserStatus(*state, active, reason);
  if (!events.ok()) return events.status();
  if (absl::Status s = AppendUser(*state, *events, author); !s.ok()) return s;
  return LoadUser(user_id);
}

absl::StatusOr<v1::User> DirectoryStore::EraseUser(std::string_view user_id,
                                                   const Principal& author) {
  auto state = LoadUser(user_id);
  if (!state.ok()) return state.status();
  auto events = DecideEraseUser(*state);
  if (!events.ok()) return events.status();
  if (absl::Status s = AppendUser(*state, *events, author); !s.ok()) return s;
  // The event is durable first: a crash here leaves a key that the next erase destroys.
  if (absl::Status s = keys_->Destroy(UserStreamId(user_id)); !s.ok()) return s;
  return LoadUser(user_id);
}

absl::StatusOr<std::vector<v1::User>> DirectoryStore::ListUsers(
    std::string_view organisation_id) const {
  rb::es::LogFilter filter;
  filter.categories = {"user"};
  filter.type_prefixes = {"user.created"};
  std::vector<std::string> ids;
  auto scan = store_->ScanAll(1, filter, SIZE_MAX, [&](const rb::es::RecordedEvent& e) {
    ids.push_back(e.stream_id.substr(5));  // "user-"
    return true;
  });
  if (!scan.ok()) return scan.status();
  std::sort(ids.begin(), ids.end());
  std::vector<v1::User> users;
  for (const std::string& id : ids) {
    auto u = LoadUser(id);
    if (!u.ok()) return u.status();
    if (organisation_id.empty() || u->organisation_id() == organisation_id) {
      users.push_back(std::move(*u));
    }
  }
  return users;
}

absl::StatusOr<Principal> DirectoryStore::LoadPrincipal(std::string_view user_id) const {
  auto user = LoadUser(user_id);
  if (!user.ok()) return user.status();
  auto org = LoadOrganisation(user->organisation_id());
  if (!org.ok()) return org.status();
  return PrincipalOf(*user, *org);
}

absl::StatusOr<v1::PersonalData> DirectoryStore::PersonalDataOf(const v1::User& user) const {
  if (user.erased()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the personal data of user ", user.id(), " was erased"));
  }
  auto clear = keys_->Open(UserStreamId(user.id()), user.sealed_personal_data());
  if (!clear.ok()) return clear.status();
  v1::PersonalData out;
  if (!out.ParseFromString(*clear)) return absl::DataLossError("undecodable personal data");
  return out;
}

}  // namespace rb::access
