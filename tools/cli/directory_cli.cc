// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption users list|create|activate|deactivate|erase|whoami`, `organisations create`,
// `tokens issue|revoke`, `audit list`: the Directory service from the command line, so that an
// administrator manages accounts without a generic gRPC client.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "access/policy.h"
#include "domain/context.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/json.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kUsersListUsage = R"(Usage: resorption users list [ORGANISATION]

The accounts the actor may manage (all of them for a national administrator), or those of one
organisation: id, organisation, role, status and options. Personal data stay sealed.
)";
constexpr const char* kUsersCreateUsage =
    R"(Usage: resorption users create USER ORGANISATION ROLE [flags]

Creates account USER ([a-z0-9-], at most 64) in ORGANISATION with ROLE: national_admin,
local_admin, direct_collaborator, collaborator, association, national_establisment, intervener,
external_observator. The account waits for activation unless --active is given.
  --grant=A,B        options: access_justice, access_owner, access_action_finances,
                     close_shantytown, create_and_close_shantytown
  --email=           the e-mail address (required by the server)
  --first-name= --last-name= --position= --phone=
                     personal data (sealed; erased with the account)
  --active           create it active
)";
constexpr const char* kUsersActivateUsage = R"(Usage: resorption users activate USER

Activates account USER (a new or deactivated account).
)";
constexpr const char* kUsersDeactivateUsage =
    R"(Usage: resorption users deactivate USER --reason=TEXT

Deactivates account USER: its tokens stop working at once.
  --reason=TEXT   why (kept in the user's history)
)";
constexpr const char* kUsersEraseUsage = R"(Usage: resorption users erase USER

Erases account USER's personal data (right to be forgotten): the account stays as an id, the
log stays verifiable.
)";
constexpr const char* kUsersWhoamiUsage = R"(Usage: resorption users whoami

The account, organisation and token the server sees for this client.
)";
constexpr const char* kOrganisationsCreateUsage =
    R"(Usage: resorption organisations create ORGANISATION --name=NAME --category=CATEGORY
                                     --territories=LEVEL:CODE[,LEVEL:CODE] [flags]

Creates ORGANISATION ([a-z0-9-], at most 64). CATEGORY: public_establishment,
territorial_collectivity, association, administration, intervener. LEVEL: nation, region,
departement, epci, commune (nation takes no code: "nation").
  --type=TEXT          e.g. Préfecture, DDETS, Commune, Association
  --main=LEVEL:CODE    the main territory, one of --territories (default: the first)
  --grant=A,B          options of the organisation's members
)";
constexpr const char* kTokensIssueUsage = R"(Usage: resorption tokens issue USER [flags]

Issues a bearer token for USER and prints it once (the service keeps only its hash), with its
id, which names it in `tokens revoke` and in the logs.
  --ttl-days=N   lifetime in days (default: the server's, 90)
  --label=TEXT   what the token is for
)";
constexpr const char* kTokensRevokeUsage = R"(Usage: resorption tokens revoke TOKEN_ID

Revokes a token by its id (16 hex digits, as `tokens issue` printed it).
)";
constexpr const char* kAuditListUsage = R"(Usage: resorption audit list [--date=YYYY-MM-DD]

The privileged reads recorded on one day (default today, UTC): who read restricted data (justice,
owner, finances), the raw log, or exported. National administrators only.
  --date=YYYY-MM-DD   the day
)";

// "national_admin" -> USER_ROLE_NATIONAL_ADMIN; false for an unknown role.
bool ParseRole(const std::string& name, v1::UserRole* role) {
  const std::optional<rb::domain::Role> r = RoleFromId(name);
  if (!r.has_value()) return false;
  *role = rb::access::RoleToProto(*r);
  return true;
}

std::string RoleName(v1::UserRole role) {
  if (role == v1::USER_ROLE_UNSPECIFIED) return "";
  return std::string(rb::domain::RoleId(rb::access::RoleFromProto(role)));
}

// The lower-case end of an enum value's name after `prefix` ("USER_STATUS_ACTIVE" -> "active").
template <typename E>
std::string EnumWord(E value, const std::string& prefix) {
  const std::string name =
      google::protobuf::GetEnumDescriptor<E>()->FindValueByNumber(value)
          ? google::protobuf::GetEnumDescriptor<E>()->FindValueByNumber(value)->name()
          : "";
  return absl::AsciiStrToLower(absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name);
}

// "active" -> ORGANISATION_CATEGORY_... etc.: the value whose EnumWord is `word`.
template <typename E>
bool ParseEnumWord(const std::string& word, const std::string& prefix, E* out) {
  const auto* d = google::protobuf::GetEnumDescriptor<E>();
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() == 0) continue;
    if (EnumWord(static_cast<E>(d->value(i)->number()), prefix) == word) {
      *out = static_cast<E>(d->value(i)->number());
      return true;
    }
  }
  return false;
}

// "departement:93" -> {DEPARTEMENT, "93"}; "nation" -> {NATION, ""}.
bool ParseScope(const std::string& text, v1::ScopeTerritory* out) {
  const std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  v1::ScopeLevel level{};
  if (!ParseEnumWord(parts[0], "SCOPE_LEVEL_", &level)) return false;
  out->set_level(level);
  if (level == v1::SCOPE_LEVEL_NATION) return parts.size() == 1;
  if (parts.size() != 2 || parts[1].empty()) return false;
  out->set_code(parts[1]);
  return true;
}

std::vector<std::string> List(const std::string& csv) {
  return absl::StrSplit(csv, ',', absl::SkipWhitespace());
}

std::string Scope(const v1::ScopeTerritory& t) {
  const std::string level = EnumWord(t.level(), "SCOPE_LEVEL_");
  return t.code().empty() ? level : absl::StrCat(level, ":", t.code());
}

std::string Time(int64_t us) {
  if (us == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

void PrintUser(const Flags& f, const v1::User& user, std::ostream& out) {
  if (f.json) {
    v1::User u = user;
    u.clear_sealed_personal_data();  // never printed, even sealed
    out << ProtoJson(u) << "\n";
    return;
  }
  const v1::User& u = user;
  out << absl::StrFormat("%-24s %-24s %-22s %-9s %s%s\n", u.id(), u.organisation_id(),
                         RoleName(u.role()), EnumWord(u.status(), "USER_STATUS_"),
                         absl::StrJoin(u.options(), ","), u.erased() ? " (erased)" : "");
}

void PrintUserHeader(const Flags& f, std::ostream& out) {
  if (!f.json) {
    out << absl::StrFormat("%-24s %-24s %-22s %-9s %s\n", "USER", "ORGANISATION", "ROLE", "STATUS",
                           "OPTIONS");
  }
}

int UsersList(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::ListUsersRequest req;
  if (f.positional.size() > 2) req.set_organisation_id(f.positional[2]);
  v1::ListUsersResponse resp;
  grpc::Status s = c.directory().ListUsers(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  PrintUserHeader(f, out);
  for (const v1::User& u : resp.users()) PrintUser(f, u, out);
  return 0;
}

int UsersCreate(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::CreateUserRequest req;
  req.set_user_id(f.positional[2]);
  req.set_organisation_id(f.positional[3]);
  v1::UserRole role{};
  if (!ParseRole(f.positional[4], &role)) {
    return Usage(err, absl::StrCat("unknown role ", f.positional[4]));
  }
  req.set_role(role);
  for (const std::string& o : List(f.Get("grant"))) req.add_options(o);
  v1::PersonalData* p = req.mutable_personal_data();
  p->set_email(f.Get("email"));
  p->set_first_name(f.Get("first-name"));
  p->set_last_name(f.Get("last-name"));
  p->set_position(f.Get("position"));
  p->set_phone(f.Get("phone"));
  req.set_activate(f.Has("active"));
  Client c(f);
  v1::User user;
  grpc::Status s = c.directory().CreateUser(c.Context().get(), req, &user);
  if (!s.ok()) return RpcFailed(err, s);
  PrintUserHeader(f, out);
  PrintUser(f, user, out);
  return 0;
}

int SetStatus(const Flags& f, bool active, std::ostream& out, std::ostream& err) {
  v1::SetUserStatusRequest req;
  req.set_user_id(f.positional[2]);
  req.set_active(active);
  req.set_reason(f.Get("reason"));
  if (!active && req.reason().empty()) return Usage(err, "users deactivate needs --reason=TEXT");
  Client c(f);
  v1::User user;
  grpc::Status s = c.directory().SetUserStatus(c.Context().get(), req, &user);
  if (!s.ok()) return RpcFailed(err, s);
  PrintUserHeader(f, out);
  PrintUser(f, user, out);
  return 0;
}

int UsersActivate(const Flags& f, std::ostream& out, std::ostream& err) {
  return SetStatus(f, true, out, err);
}

int UsersDeactivate(const Flags& f, std::ostream& out, std::ostream& err) {
  return SetStatus(f, false, out, err);
}

int UsersErase(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::EraseUserRequest req;
  req.set_user_id(f.positional[2]);
  Client c(f);
  v1::User user;
  grpc::Status s = c.directory().EraseUser(c.Context().get(), req, &user);
  if (!s.ok()) return RpcFailed(err, s);
  PrintUserHeader(f, out);
  PrintUser(f, user, out);
  return 0;
}

int UsersWhoami(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::WhoAmIResponse resp;
  grpc::Status s = c.directory().WhoAmI(c.Context().get(), v1::WhoAmIRequest(), &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(resp) << "\n";
    return 0;
  }
  out << "user          " << resp.user().id() << "\n"
      << "role          " << RoleName(resp.user().role()) << "\n"
      << "options       " << absl::StrJoin(resp.user().options(), ",") << "\n"
      << "organisation  " << resp.organisation().id() << " (" << resp.organisation().name() << ")\n"
      << "territory     " << Scope(resp.organisation().main_territory()) << "\n"
      << "token         " << resp.token_id() << "\n";
  return 0;
}

int OrganisationsCreate(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::CreateOrganisationRequest req;
  req.set_organisation_id(f.positional[2]);
  req.set_name(f.Get("name"));
  req.set_type(f.Get("type"));
  v1::OrganisationCategory category{};
  if (!ParseEnumWord(f.Get("category"), "ORGANISATION_CATEGORY_", &category)) {
    return Usage(err, absl::StrCat("--category: unknown category \"", f.Get("category"), "\""));
  }
  req.set_category(category);
  for (const std::string& t : List(f.Get("territories"))) {
    if (!ParseScope(t, req.add_territories())) {
      return Usage(err, absl::StrCat("--territories: \"", t, "\" is not LEVEL:CODE"));
    }
  }
  if (req.territories().empty()) return Usage(err, "--territories: at least one territory");
  if (f.Has("main")) {
    if (!ParseScope(f.Get("main"), req.mutable_main_territory())) {
      return Usage(err, absl::StrCat("--main: \"", f.Get("main"), "\" is not LEVEL:CODE"));
    }
  } else {
    *req.mutable_main_territory() = req.territories(0);
  }
  for (const std::string& o : List(f.Get("grant"))) req.add_options(o);
  Client c(f);
  v1::Organisation org;
  grpc::Status s = c.directory().CreateOrganisation(c.Context().get(), req, &org);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(org) << "\n";
    return 0;
  }
  std::vector<std::string> scopes;
  for (const auto& t : org.territories()) scopes.push_back(Scope(t));
  out << "organisations/" << org.id() << " created: " << org.name() << ", "
      << EnumWord(org.category(), "ORGANISATION_CATEGORY_") << ", territories "
      << absl::StrJoin(scopes, ",") << " (main " << Scope(org.main_territory()) << ")\n";
  return 0;
}

int TokensIssue(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t days = 0;
  if (!Uint(f, "ttl-days", &days) || (f.Has("ttl-days") && (days < 1 || days > 3650))) {
    return Usage(err, "--ttl-days takes a number of days from 1 to 3650");
  }
  v1::IssueTokenRequest req;
  req.set_user_id(f.positional[2]);
  req.set_ttl_seconds(static_cast<int64_t>(days) * 86400);
  req.set_label(f.Get("label"));
  Client c(f);
  v1::IssueTokenResponse resp;
  grpc::Status s = c.directory().IssueToken(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .Add("token", resp.token())
               .Add("token_id", resp.record().token_id())
               .Add("user_id", resp.record().user_id())
               .Add("expires_at", Time(resp.record().expires_at_us()))
               .str()
        << "\n";
    return 0;
  }
  out << resp.token() << "\n";
  err << "token " << resp.record().token_id() << " for " << resp.record().user_id()
      << (resp.record().expires_at_us() == 0
              ? std::string(", no expiry")
              : absl::StrCat(", expires ", Time(resp.record().expires_at_us())))
      << "; it is shown only now\n";
  return 0;
}

int TokensRevoke(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::RevokeTokenRequest req;
  req.set_token_id(f.positional[2]);
  Client c(f);
  v1::TokenRecord record;
  grpc::Status s = c.directory().RevokeToken(c.Context().get(), req, &record);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(record) << "\n";
    return 0;
  }
  out << "token " << record.token_id() << " of " << record.user_id() << " revoked at "
      << Time(record.revoked_at_us()) << "\n";
  return 0;
}

int AuditList(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::ListAuditRequest req;
  if (f.Has("date")) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(f.Get("date"), &day)) {
      return Usage(err, absl::StrCat("--date: \"", f.Get("date"), "\" is not YYYY-MM-DD"));
    }
    req.set_date(absl::FormatCivilTime(day));
  } else {
    req.set_date(absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()));
  }
  Client c(f);
  v1::ListAuditResponse resp;
  grpc::Status s = c.directory().ListAudit(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-20s %-20s %-20s %-16s %-24s %s\n", "AT", "USER", "ORGANISATION",
                           "WHAT", "TARGET", "FIELDS");
  }
  for (const v1::AuditRecord& r : resp.records()) {
    if (f.json) {
      out << ProtoJson(r) << "\n";
    } else {
      out << absl::StrFormat("%-20s %-20s %-20s %-16s %-24s %s\n", Time(r.at_us()), r.user_id(),
                             r.organisation_id(), r.what(), r.target(),
                             absl::StrJoin(r.fields(), ","));
    }
  }
  return 0;
}

}  // namespace

std::vector<Command> DirectoryCommands() {
  return {
      {"users", "list", kUsersListUsage, {}, 0, 1, UsersList},
      {"users",
       "create",
       kUsersCreateUsage,
       {"grant", "email", "first-name", "last-name", "position", "phone", "active"},
       3,
       3,
       UsersCreate},
      {"users", "activate", kUsersActivateUsage, {}, 1, 1, UsersActivate},
      {"users", "deactivate", kUsersDeactivateUsage, {"reason"}, 1, 1, UsersDeactivate},
      {"users", "erase", kUsersEraseUsage, {}, 1, 1, UsersErase},
      {"users", "whoami", kUsersWhoamiUsage, {}, 0, 0, UsersWhoami},
      {"organisations",
       "create",
       kOrganisationsCreateUsage,
       {"name", "type", "category", "territories", "main", "grant"},
       1,
       1,
       OrganisationsCreate},
      {"tokens", "issue", kTokensIssueUsage, {"ttl-days", "label"}, 1, 1, TokensIssue},
      {"tokens", "revoke", kTokensRevokeUsage, {}, 1, 1, TokensRevoke},
      {"audit", "list", kAuditListUsage, {"date"}, 0, 0, AuditList},
  };
}

}  // namespace rb::tools
