// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/cli/cli_common.h"

#include <chrono>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tools/lib/deterministic_ids.h"
#include "tools/lib/site_history.h"
#include "tools/lib/site_table.h"

namespace rb::tools {

int Usage(std::ostream& err, const std::string& message) {
  err << "resorption: " << message << "\nTry --help.\n";
  return 2;
}

int RpcFailed(std::ostream& err, const grpc::Status& s) {
  err << "resorption: the server answered " << s.error_code() << " ("
      << absl::StrCat(s.error_message().empty() ? "no message" : s.error_message()) << ")\n";
  google::rpc::Status details;
  if (!s.error_details().empty() && details.ParseFromString(s.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      if (any.UnpackTo(&bad)) {
        for (const auto& v : bad.field_violations()) {
          err << "  " << v.field() << ": " << v.description() << "\n";
        }
      }
      google::rpc::PreconditionFailure pre;
      if (any.UnpackTo(&pre)) {
        for (const auto& v : pre.violations()) {
          err << "  " << v.type() << " " << v.subject() << ": " << v.description() << "\n";
        }
      }
    }
  }
  return 1;
}

bool Uint(const Flags& f, const std::string& name, uint64_t* v) {
  auto it = f.values.find(name);
  if (it == f.values.end()) return true;
  return absl::SimpleAtoi(it->second, v);
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, o);
  return json;
}

absl::Status ProtoFromJsonFile(const std::string& path, google::protobuf::Message* m) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  m->Clear();
  const auto s = google::protobuf::util::JsonStringToMessage(text.str(), m);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a ", m->GetDescriptor()->name(),
                                                   " in JSON: ", std::string(s.message())));
  }
  return absl::OkStatus();
}

std::string Euros(int64_t cents) {
  const uint64_t magnitude =
      cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  return absl::StrFormat("%s%d.%02d", cents < 0 ? "-" : "", magnitude / 100, magnitude % 100);
}

absl::Status ParseEuros(const std::string& text, int64_t* cents) {
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "\"", text, "\" is not an amount in euros (digits, at most 2 decimals, e.g. 1500.50)"));
  const size_t sep = text.find_first_of(".,");
  const std::string units = text.substr(0, sep);
  const std::string decimals = sep == std::string::npos ? "" : text.substr(sep + 1);
  auto digits = [](const std::string& t) {
    return t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (units.empty() || !digits(units) || !digits(decimals) || decimals.size() > 2 ||
      (sep != std::string::npos && decimals.empty())) {
    return bad;
  }
  int64_t whole = 0;
  if (!absl::SimpleAtoi(units, &whole) || whole > std::numeric_limits<int64_t>::max() / 100 - 1) {
    return bad;
  }
  int64_t fraction = 0;
  if (!decimals.empty() && !absl::SimpleAtoi(decimals, &fraction)) return bad;
  *cents = whole * 100 + (decimals.size() == 1 ? fraction * 10 : fraction);
  return absl::OkStatus();
}

std::string NewCommandId() {
  std::random_device source;
  auto draw = [&source] { return (uint64_t{source()} << 32) | uint64_t{source()}; };
  const uint64_t hi = draw();
  return UuidV4(hi, draw());
}

void SetWriteOptions(const Flags& f, resorption::v1::WriteOptions* o) {
  const std::string given = f.Get("command-id");
  o->set_command_id(given.empty() ? NewCommandId() : given);
  if (f.Has("reason")) o->set_reason(f.Get("reason"));
}

int PrintWrite(const Flags& f, const resorption::v1::WriteResult& r, const std::string& command_id,
               std::ostream& out) {
  using resorption::v1::WriteResult;
  const std::string outcome = r.outcome() == WriteResult::OUTCOME_APPENDED    ? "appended"
                              : r.outcome() == WriteResult::OUTCOME_NO_CHANGE ? "no_change"
                              : r.outcome() == WriteResult::OUTCOME_REPLAYED  ? "replayed"
                                                                              : "unspecified";
  if (f.json) {
    out << JsonObject()
               .Add("name", r.name())
               .Add("outcome", outcome)
               .Add("revision", r.revision())
               .Add("position", r.position())
               .Add("command_id", command_id)
               .str()
        << "\n";
  } else {
    out << r.name() << ": " << outcome << ", revision " << r.revision() << ", position "
        << r.position() << ", command id " << command_id << "\n";
  }
  return 0;
}

namespace {

// The server may or may not have carried out a write answered so.
bool OutcomeUnknown(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// The server refused the command id as used by another command: final, whatever came before.
bool CommandIdReused(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::ALREADY_EXISTS &&
         s.error_message().find("already used for a different command") != std::string::npos;
}

// ALREADY_EXISTS after a lost answer, other than a reused id: the lost try was still being
// appended, its result not yet known.
bool TakenByTheLostTry(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::ALREADY_EXISTS && !CommandIdReused(s);
}

}  // namespace

grpc::Status SendWithRetries(const WriteTry& once, const WriteRetry& retry, const RetryWait& wait,
                             std::ostream& err, int* tries) {
  std::chrono::milliseconds backoff = retry.backoff;
  bool lost = false;  // an earlier try's answer was lost
  *tries = 0;
  while (true) {
    const grpc::Status s = once();
    ++*tries;
    const bool again = OutcomeUnknown(s) || (lost && TakenByTheLostTry(s));
    if (!again || *tries >= retry.attempts) return s;
    lost = lost || OutcomeUnknown(s);
    err << "resorption: outcome unknown ("
        << absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())) << ": "
        << s.error_message() << "); sending again with the same command id (try " << *tries + 1
        << " of " << retry.attempts << ")\n";
    wait(backoff);
    backoff *= 2;
  }
}

int SendWriteTries(const Flags& f, const std::string& command_id, const WriteTry& once,
                   const resorption::v1::WriteResult* r, std::ostream& out, std::ostream& err) {
  int tries = 0;
  const grpc::Status s = SendWithRetries(
      once, f.write_retry, [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }, err,
      &tries);
  if (!s.ok()) {
    RpcFailed(err, s);
    if (OutcomeUnknown(s) || (tries > 1 && TakenByTheLostTry(s))) {
      err << "resorption: the outcome is unknown: send the same command again with --command-id="
          << command_id << " (it appends nothing if this one was carried out)\n";
    }
    return 1;
  }
  resorption::v1::WriteResult result = *r;
  if (tries > 1 && f.Get("command-id").empty() &&
      result.outcome() == resorption::v1::WriteResult::OUTCOME_REPLAYED) {
    // This run's own random id: only its lost try can have appended under it.
    result.set_outcome(resorption::v1::WriteResult::OUTCOME_APPENDED);
  }
  return PrintWrite(f, result, command_id, out);
}

std::optional<rb::domain::Role> RoleFromId(std::string_view id) {
  using rb::domain::Role;
  for (Role r : {Role::kNationalAdmin, Role::kLocalAdmin, Role::kDirectCollaborator,
                 Role::kCollaborator, Role::kAssociation, Role::kNationalEstablishment,
                 Role::kIntervener, Role::kExternalObserver}) {
    if (rb::domain::RoleId(r) == absl::string_view(id.data(), id.size())) return r;
  }
  return std::nullopt;
}

std::string PadRight(std::string_view text, size_t width) {
  size_t chars = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;  // not a continuation byte
  }
  std::string out(text);
  if (chars < width) out.append(width - chars, ' ');
  return out;
}

int64_t Micros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

JsonObject EventEnvelopeJson(const resorption::v1::Event& e) {
  JsonObject o;
  o.Add("position", e.position())
      .Add("stream_id", e.stream_id())
      .Add("revision", e.revision())
      .Add("event_id", e.event_id())
      .Add("type", e.type())
      .Add("schema_version", uint64_t{e.schema_version()})
      .Add("valid_at", FormatMicros(Micros(e.valid_at())))
      .Add("valid_at_us", Micros(e.valid_at()))
      .Add("recorded_at", FormatMicros(Micros(e.recorded_at())))
      .Add("recorded_at_us", Micros(e.recorded_at()))
      .Add("actor_user", e.metadata().actor_user())
      .Add("actor_organisation", e.metadata().actor_organisation())
      .Add("actor_role", e.metadata().actor_role())
      .Add("reason", e.metadata().reason())
      .Add("command_id", e.metadata().command_id());
  return o;
}

absl::Status DayFlag(const Flags& f, const std::string& name, resorption::v1::Date* date) {
  absl::Status s = ParseDay(f.Get(name), date);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", s.message()));
}

absl::Status ParseEnumCode(const std::string& label, const std::string& text,
                           const google::protobuf::EnumDescriptor* type, int* value) {
  if (std::optional<int> n = rb::domain::FromPlatformCode(type, text); n.has_value()) {
    *value = *n;
    return absl::OkStatus();
  }
  std::vector<std::string> codes;
  for (int i = 0; i < type->value_count(); ++i) {
    const absl::string_view code = rb::domain::PlatformCode(type, type->value(i)->number());
    if (!code.empty()) codes.emplace_back(code);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(label, ": unknown value \"", text, "\" (", absl::StrJoin(codes, ", "), ")"));
}

absl::Status ReadJsonFile(const std::string& path, google::protobuf::Message* m) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the file"));
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  const auto s = google::protobuf::util::JsonStringToMessage(text.str(), m, o);
  if (s.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(path, ": not a ", m->GetDescriptor()->name(),
                                                 " in JSON: ", s.message().ToString()));
}

Client::Client(const Flags& f)
    : channel_(grpc::CreateChannel(f.server, grpc::InsecureChannelCredentials())), flags_(f) {}

std::unique_ptr<grpc::ClientContext> Client::Context(bool with_deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (with_deadline) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(flags_.timeout_s));
  }
  if (!flags_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + flags_.token);
  if (!flags_.actor_user.empty()) ctx->AddMetadata("x-actor-user", flags_.actor_user);
  if (!flags_.actor_organisation.empty()) {
    ctx->AddMetadata("x-actor-organisation", flags_.actor_organisation);
  }
  if (!flags_.actor_role.empty()) ctx->AddMetadata("x-actor-role", flags_.actor_role);
  if (!flags_.actor_options.empty()) ctx->AddMetadata("x-actor-options", flags_.actor_options);
  return ctx;
}

}  // namespace rb::tools
