// Copyright: the Résorption-bidonvilles data service authors.
//
// What every `resorption` command shares: the parsed flags, the gRPC client (with the actor's
// metadata on every call), usage and server errors, and the command table entry. Internal to
// tools/cli.
//
//   int SitesShow(const Flags& f, std::ostream& out, std::ostream& err) {
//     Client c(f);
//     auto ctx = c.Context();
//     grpc::Status s = c.sites().GetSite(ctx.get(), req, &site);
//     if (!s.ok()) return RpcFailed(err, s);   // exit code 1, message + violations on stderr
//     ...
//   }
//
// Writes carry a command id (--command-id, or a new random UUID) and go through SendWrite, which
// sends them again with that id when the answer was lost and prints the id with the result:
//
//   v1::SetHeatwaveRequest req;
//   SetWriteOptions(f, req.mutable_options());
//   return SendWrite(f, Client(f), &v1::Sites::Stub::SetHeatwave, req, out, err);
#ifndef RB_TOOLS_CLI_CLI_COMMON_H_
#define RB_TOOLS_CLI_CLI_COMMON_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "domain/context.h"
#include "domain/labels.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "resorption/v1/analytics_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "tools/lib/json.h"

namespace rb::tools {

// How a write whose answer was lost (UNAVAILABLE, DEADLINE_EXCEEDED) is sent again, with the
// same command id.
struct WriteRetry {
  int attempts = 3;                        // tries in all
  std::chrono::milliseconds backoff{250};  // the wait before the second try, doubled after each
};

struct Flags {
  std::string server = "127.0.0.1:50051";
  bool json = false;
  int timeout_s = 30;
  WriteRetry write_retry;
  // The actor sent as call metadata (x-actor-user, -organisation, -role, -options).
  std::string actor_user, actor_organisation, actor_role = "national_admin", actor_options;
  // Bearer token sent as `authorization: Bearer <token>` (servers with authentication).
  std::string token;
  std::map<std::string, std::string> values;  // command flags: name -> value ("" for switches)
  std::vector<std::string> positional;
  bool help = false;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// Prints the usage error; returns 2.
int Usage(std::ostream& err, const std::string& message);
// Prints a failed call: code, message, and the rich details the server attached; returns 1.
int RpcFailed(std::ostream& err, const grpc::Status& s);
// Reads the numeric flag `name` when present; false when it is not a number.
bool Uint(const Flags& f, const std::string& name, uint64_t* v);
int64_t Micros(const google::protobuf::Timestamp& ts);
// `m` as one line of JSON with the proto field names.
std::string ProtoJson(const google::protobuf::Message& m);
// Fills `m` from the file at `path` holding it in protobuf's JSON mapping (proto or lowerCamel
// field names). INVALID_ARGUMENT naming the file and the parse error when it cannot be read or
// parsed.
absl::Status ProtoFromJsonFile(const std::string& path, google::protobuf::Message* m);
// Euro cents as euros with two decimals: 150050 -> "1500.50", -5 -> "-0.05".
std::string Euros(int64_t cents);
// An amount in euros ("1500", "1500.5", "1500.50"; a decimal comma is accepted) to cents.
// INVALID_ARGUMENT on a sign, more than two decimals, anything but digits, or an overflow.
absl::Status ParseEuros(const std::string& text, int64_t* cents);
// A new command id: 128 random bits from the system's random source (std::random_device) as a
// version-4 UUID in canonical lower-case form, e.g. "3f2b8c1e-9a4d-4e7f-b2c6-0d5e8a1f7c93".
std::string NewCommandId();
// The command id (--command-id; NewCommandId() when it is absent or empty) and --reason of every
// write command into `o`.
void SetWriteOptions(const Flags& f, resorption::v1::WriteOptions* o);
// Prints the result of a write: "NAME: OUTCOME, revision R, position P, command id ID", or one
// JSON line (name, outcome, revision, position, command_id) with --json. Returns 0.
int PrintWrite(const Flags& f, const resorption::v1::WriteResult& r, const std::string& command_id,
               std::ostream& out);
// One try of a write: the same request (so the same command id) with a fresh context.
using WriteTry = std::function<grpc::Status()>;
// Waits between two tries.
using RetryWait = std::function<void(std::chrono::milliseconds)>;
// Calls `once` until its answer is known, at most retry.attempts times, waiting retry.backoff
// (then twice as long each time) before each new try. Unknown: UNAVAILABLE and DEADLINE_EXCEEDED
// (the server may have appended or not), and ALREADY_EXISTS after such an answer (the lost try
// was still being appended when the next came: the try after that is answered with its result,
// OUTCOME_REPLAYED). Each new try is noted on `err`. Returns the last answer; sets *tries.
grpc::Status SendWithRetries(const WriteTry& once, const WriteRetry& retry, const RetryWait& wait,
                             std::ostream& err, int* tries);
// Sends a write whose options carry `command_id` with SendWithRetries (f.write_retry), `once`
// filling *r, then prints the result (PrintWrite; a command id of this run's own, answered as
// OUTCOME_REPLAYED on a later try, was appended by the lost try: printed as "appended"), or the
// failure (RpcFailed) with, when the outcome stays unknown, how to send it again by hand.
// Returns the exit code.
int SendWriteTries(const Flags& f, const std::string& command_id, const WriteTry& once,
                   const resorption::v1::WriteResult* r, std::ostream& out, std::ostream& err);
// The platform role whose id is `id` ("national_admin", "association"...); nullopt when unknown.
std::optional<rb::domain::Role> RoleFromId(std::string_view id);
// `text` (UTF-8) followed by spaces up to `width` characters (not bytes), for aligned French
// labels; unchanged when already as wide.
std::string PadRight(std::string_view text, size_t width);
// The JSON line of an event without its payload or hashes: position, stream, revision, ids, type,
// dates (readable, and exact in microseconds since the epoch: valid_at_us, recorded_at_us) and
// metadata (callers add "log_hash" or "payload").
JsonObject EventEnvelopeJson(const resorption::v1::Event& e);

// Flag values read locally, each error naming the flag (or the file) for Usage():
// The day flag `name` (YYYY-MM-DD or DD/MM/YYYY) into `date`; INVALID_ARGUMENT "--name: ..."
// when it is not a valid date. The flag must be present.
absl::Status DayFlag(const Flags& f, const std::string& name, resorption::v1::Date* date);
// `text` as a value of the enum `type` by its platform code (domain/labels.h: "resorbed",
// "done", "sociological_diagnosis"...); INVALID_ARGUMENT "LABEL: unknown value \"TEXT\" (the
// codes)" otherwise. `label` names what was read: "--cause", "PHASE".
absl::Status ParseEnumCode(const std::string& label, const std::string& text,
                           const google::protobuf::EnumDescriptor* type, int* value);
template <typename E>
absl::Status ParseEnumCode(const std::string& label, const std::string& text, E* value) {
  int n = 0;
  absl::Status s = ParseEnumCode(label, text, google::protobuf::GetEnumDescriptor<E>(), &n);
  if (s.ok()) *value = static_cast<E>(n);
  return s;
}
// The enum flag `name` (which must be present) by its platform code, as ParseEnumCode.
template <typename E>
absl::Status EnumFlag(const Flags& f, const std::string& name, E* value) {
  return ParseEnumCode("--" + name, f.Get(name), value);
}
// The message `m` from the file at `path` in protobuf's JSON mapping (the .proto field names or
// their lowerCamelCase, enum values by name, a Date as {"year":2025,"month":1,"day":31});
// INVALID_ARGUMENT "PATH: reason" when the file cannot be read or parsed (an unknown field is an
// error).
absl::Status ReadJsonFile(const std::string& path, google::protobuf::Message* m);

class Client {
 public:
  explicit Client(const Flags& f);
  // A context with the actor's metadata and, unless told otherwise, the call deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const;
  resorption::v1::EventStream::Stub events() const {
    return resorption::v1::EventStream::Stub(channel_);
  }
  resorption::v1::Admin::Stub admin() const { return resorption::v1::Admin::Stub(channel_); }
  resorption::v1::Sites::Stub sites() const { return resorption::v1::Sites::Stub(channel_); }
  resorption::v1::Projections::Stub projections() const {
    return resorption::v1::Projections::Stub(channel_);
  }
  resorption::v1::Analytics::Stub analytics() const {
    return resorption::v1::Analytics::Stub(channel_);
  }
  resorption::v1::Territories::Stub territories() const {
    return resorption::v1::Territories::Stub(channel_);
  }
  resorption::v1::Actions::Stub actions() const { return resorption::v1::Actions::Stub(channel_); }
  resorption::v1::Directory::Stub directory() const {
    return resorption::v1::Directory::Stub(channel_);
  }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  const Flags& flags_;
};

// The site list flags shared by `sites list` and `sites export`: --departement=CODE[,CODE],
// --commune=INSEE[,INSEE], --status=open|closed|all, --sort=update|population|commune|priority,
// --asc. False with `error` set on a bad value.
bool SiteListRequestFromFlags(const Flags& f, resorption::v1::ListSitesRequest* req,
                              std::string* error);
// Every page of ListSites (include_site set) until the last or until `limit` sites kept (0: no
// limit), keeping only the sites with at least `min_population` people when it is set (> 0).
// `min_position` > 0: the first page waits for the view to include that log position (read your
// writes). Draws a progress bar on a terminal.
grpc::Status ListAllSites(const Client& c, resorption::v1::ListSitesRequest req, uint64_t limit,
                          int64_t min_population, uint64_t min_position,
                          std::vector<resorption::v1::SiteSummary>* out);

// Sends the write `req` (options set by SetWriteOptions) with the method `rpc` of the service's
// stub as SendWriteTries does: retried with the same command id when the answer is lost, the
// result printed with that id. Returns the exit code.
template <typename Stub, typename Req>
int SendWrite(const Flags& f, const Client& c,
              grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&,
                                        resorption::v1::WriteResult*),
              const Req& req, std::ostream& out, std::ostream& err) {
  Stub stub(c.channel());
  resorption::v1::WriteResult r;
  auto once = [&] {
    r.Clear();
    return (stub.*rpc)(c.Context().get(), req, &r);
  };
  return SendWriteTries(f, req.options().command_id(), once, &r, out, err);
}

struct Command {
  const char* group;
  const char* name;
  const char* usage;
  std::vector<std::string> flags;  // accepted command flags
  int min_args = 0;                // positional arguments after "group name"
  int max_args = 0;
  int (*run)(const Flags&, std::ostream&, std::ostream&);
};

// The command tables of each file.
std::vector<Command> SiteCommands();       // sites_cli.cc
std::vector<Command> ServiceCommands();    // services_cli.cc: projections, analytics, territories
std::vector<Command> ExportCommands();     // export_cli.cc: sites export|import, events export
std::vector<Command> DirectoryCommands();  // directory_cli.cc: users, organisations, tokens, audit
std::vector<Command> ActionCommands();     // actions_cli.cc: actions (reads and writes)

}  // namespace rb::tools

#endif  // RB_TOOLS_CLI_CLI_COMMON_H_
