// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/cli/cli.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/backup.h"
#include "tools/lib/json.h"
#include "tools/lib/progress.h"
#include "tools/lib/site_history.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kUsage = R"(Usage: resorption [--server=HOST:PORT] [--json] COMMAND ...

Client of the Résorption-bidonvilles data service.

Commands:
  events head        the log's last position and chain hash
  events read        one page of the log or of one stream
  events tail        follow the log live (subscription)
  events export      the log as JSON Lines for analysts
  backup create      back up the running server's data directory
  backup restore     restore a backup into a new data directory (offline)
  erasure sweep      run the retention rules of personal data now (national admin)
  erasure anonymise-owner SITE   erase one site's private owners' names (national admin)
  sites declare|show|list|history|asof|close|update-population|comment|heatwave|confirm
  sites activity     the activity feed, newest first; --follow: live, oldest first
  sites update|correct|census|procedures|intervener|phase|moderate-comment|correct-closure|erase
  sites living-conditions|upgrade-living-conditions|import-living-conditions-v1
  sites export       CSV, XLSX or GeoJSON with the platform's French columns
  sites import       a CSV in the export's layout (--dry-run: validate only)
  actions list|show|aggregates   actions, their yearly indicators and finances
  actions create|update|managers|operators|indicators|finances|comment|close
  actions export     one year's actions as the platform's workbook (XLSX) or CSV
  projections status|rebuild
  analytics submit|get|export
  territories search communes by name prefix
  territories series|flows   figures of a territory month by month, flows over a period
  users list|create|activate|deactivate|erase|whoami
  organisations create
  tokens issue|revoke
  audit list         privileged reads of one day (national admin)

Global flags:
  --server=HOST:PORT  the server (default 127.0.0.1:50051, or $RESORPTION_SERVER)
  --json              one JSON object per line instead of tables
  --timeout=SECONDS   deadline of each call (default 30)
  --token=TOKEN       bearer token sent with every call ($RESORPTION_TOKEN)
  --token-file=PATH   read the token from a file ($RESORPTION_TOKEN_FILE; default, when no
                      token is given: var/data/bootstrap-admin.token if it is readable)
  --actor=USER        servers started with --auth=disabled only: the acting user
                      (default $RESORPTION_ACTOR, else $USER)
  --organisation=ORG  idem: the actor's organisation ($RESORPTION_ORGANISATION)
  --role=ROLE         idem: the actor's role (default $RESORPTION_ROLE or national_admin)
  --options=A,B       idem: the actor's options, e.g. access_justice ($RESORPTION_OPTIONS)
  --help              this text; COMMAND --help for a command's own

Write commands (sites and actions) carry a command id, --command-id=ID or a new random UUID,
and print it with their result. The server carries out a command id once: the same command sent
again with --command-id=ID appends nothing and prints "replayed" with the first result. A write
left without an answer (UNAVAILABLE, DEADLINE_EXCEEDED) is sent again with the same id, three
tries in all; if none is answered, the id to send it again with is printed on stderr.

Exit status: 0 success, 1 the server refused or failed (message and field violations on
stderr), 2 usage error.
)";

// Appended to the usage of every command that takes --command-id.
constexpr const char* kWriteUsage = R"(
Every write:
  --command-id=ID   the command's idempotency key (default: a new random UUID), printed with
                    the result ("command id ID"): the same command sent again with
                    --command-id=ID appends nothing and prints "replayed" with the first
                    result. Without an answer (UNAVAILABLE, DEADLINE_EXCEEDED) the command is
                    sent again with the same id, three tries in all
  --reason=TEXT     why (kept in the events' metadata)
)";

constexpr const char* kEventsHeadUsage = R"(Usage: resorption events head

Prints the position of the last event of the log and its chain hash.
)";
constexpr const char* kEventsReadUsage = R"(Usage: resorption events read [flags]

Reads one page of the whole log (or of one stream), forward by default.
  --from=N          first position (or revision with --stream) to read; default the start
                    (the end with --backward)
  --limit=N         at most N events (default 20, at most 1000)
  --stream=ID       read one stream, e.g. site-42
  --type=PREFIX     only events whose type starts with PREFIX (whole log only), e.g. site.closed
  --category=NAME   only streams of that category (whole log only): site or action
  --backward        newest first
)";
constexpr const char* kEventsTailUsage = R"(Usage: resorption events tail [flags]

Follows the log: prints every new event as it is appended (Ctrl-C stops).
  --from=N    start at position N instead of after the current head (1: the whole log)
  --count=N   stop after N events
)";
constexpr const char* kBackupCreateUsage = R"(Usage: resorption backup create [--path=DIR]

Asks the running server for a consistent backup of its data directory, taken while it keeps
serving. Without --path the server writes <data dir>/../backups/backup-<UTC time>.
Audit it with `resorption-audit --data-dir=DIR verify`.
)";
constexpr const char* kBackupRestoreUsage = R"(Usage: resorption backup restore SRC DST

Copies the backup SRC into the new data directory DST (offline: no server needed), then
verifies every hash chain of the copy. Start a server on it with resorptiond --data-dir=DST.
)";

std::string EventJson(const v1::Event& e) {
  return EventEnvelopeJson(e).Add("log_hash", e.log_hash()).str();
}

void PrintEventsTableHeader(std::ostream& out) {
  out << absl::StrFormat("%-9s %-14s %-5s %-36s %-10s %-19s %s\n", "POSITION", "STREAM", "REV",
                         "TYPE", "DATE", "RECORDED", "AUTHOR");
}

void PrintEventRow(const v1::Event& e, std::ostream& out) {
  std::string valid = FormatMicros(Micros(e.valid_at())).substr(0, 10);
  std::string recorded = FormatMicros(Micros(e.recorded_at())).substr(0, 19);
  out << absl::StrFormat("%-9d %-14s %-5d %-36s %-10s %-19s %s\n", e.position(), e.stream_id(),
                         e.revision(), e.type(), valid, recorded, e.metadata().actor_user());
}

int EventsHead(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::GetHeadResponse resp;
  grpc::Status s = c.events().GetHead(c.Context().get(), v1::GetHeadRequest(), &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .Add("position", resp.position())
               .Add("log_hash", resp.log_hash())
               .Add("recorded_at", resp.position() ? FormatMicros(Micros(resp.recorded_at())) : "")
               .str()
        << "\n";
  } else {
    out << "position " << resp.position() << "\nhash     " << resp.log_hash() << "\n";
  }
  return 0;
}

int EventsRead(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t from = 0, limit = 20;
  if (!Uint(f, "from", &from) || !Uint(f, "limit", &limit)) {
    return Usage(err, "--from and --limit take a number");
  }
  const bool backward = f.values.count("backward") > 0;
  Client c(f);
  std::vector<v1::Event> events;
  if (f.values.count("stream")) {
    v1::ReadStreamRequest req;
    req.set_stream_id(f.values.at("stream"));
    if (f.values.count("from")) req.set_from_revision(from);
    req.set_direction(backward ? v1::DIRECTION_BACKWARD : v1::DIRECTION_FORWARD);
    req.set_limit(static_cast<uint32_t>(limit));
    v1::ReadStreamResponse resp;
    grpc::Status s = c.events().ReadStream(c.Context().get(), req, &resp);
    if (!s.ok()) return RpcFailed(err, s);
    events.assign(resp.events().begin(), resp.events().end());
  } else {
    v1::ReadAllRequest req;
    req.set_from_position(from);
    req.set_limit(static_cast<uint32_t>(limit));
    req.set_direction(backward ? v1::DIRECTION_BACKWARD : v1::DIRECTION_FORWARD);
    if (f.values.count("type")) req.mutable_filter()->add_type_prefixes(f.values.at("type"));
    if (f.values.count("category")) req.mutable_filter()->add_categories(f.values.at("category"));
    v1::ReadAllResponse resp;
    grpc::Status s = c.events().ReadAll(c.Context().get(), req, &resp);
    if (!s.ok()) return RpcFailed(err, s);
    events.assign(resp.events().begin(), resp.events().end());
  }
  if (!f.json) PrintEventsTableHeader(out);
  for (const v1::Event& e : events) {
    if (f.json) {
      out << EventJson(e) << "\n";
    } else {
      PrintEventRow(e, out);
    }
  }
  return 0;
}

int EventsTail(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t from = 0, count = 0;
  if (!Uint(f, "from", &from) || !Uint(f, "count", &count)) {
    return Usage(err, "--from and --count take a number");
  }
  Client c(f);
  auto ctx = c.Context(/*with_deadline=*/false);
  v1::SubscribeRequest req;
  if (f.values.count("from")) {
    req.set_from_position(from);
  } else {
    req.set_from_head(true);
  }
  auto stub = c.events();
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub.Subscribe(ctx.get(), req);
  if (!f.json) PrintEventsTableHeader(out);
  uint64_t seen = 0;
  v1::SubscribeResponse resp;
  while (reader->Read(&resp)) {
    for (const v1::Event& e : resp.batch().events()) {
      if (f.json) {
        out << EventJson(e) << "\n";
      } else {
        PrintEventRow(e, out);
      }
      out.flush();
      if (count > 0 && ++seen >= count) {
        ctx->TryCancel();
        break;
      }
    }
    if (count > 0 && seen >= count) break;
  }
  grpc::Status s = reader->Finish();
  if (count > 0 && seen >= count) return 0;
  if (!s.ok()) return RpcFailed(err, s);
  return 0;
}

int BackupCreate(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::CreateBackupRequest req;
  if (f.values.count("path")) req.set_path(f.values.at("path"));
  v1::CreateBackupResponse resp;
  ProgressBar bar("backup", std::cerr);
  bar.Update(0, 1);
  grpc::Status s = c.admin().CreateBackup(c.Context().get(), req, &resp);
  bar.Finish();
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .Add("path", resp.path())
               .Add("head_position", resp.head_position())
               .Add("head_hash", resp.head_hash())
               .str()
        << "\n";
  } else {
    out << "backup   " << resp.path() << "\nposition " << resp.head_position() << "\nhash     "
        << resp.head_hash() << "\n";
  }
  return 0;
}

constexpr const char* kErasureSweepUsage = R"(Usage: resorption erasure sweep [--dry-run]

Runs the erasure sweep now (it also runs daily in the server): anonymises the private owners of
sites closed for more than a year, erases the personal data of users deactivated for more than
six months, and deactivates accounts without a sign-in for six months. --dry-run lists what
would change and changes nothing. National administrators.
)";

constexpr const char* kErasureAnonymiseUsage =
    R"(Usage: resorption erasure anonymise-owner SITE_ID [--reason=TEXT]

Erases now the names of the site's private (and unknown) owners, whatever its status: the site's
owner key is destroyed and the names read "Anonymisé le <jour>" everywhere. National administrators.
)";

int ErasureSweepCommand(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::RunErasureSweepRequest req;
  req.set_dry_run(f.Has("dry-run"));
  v1::ErasureSweepReport resp;
  grpc::Status s = c.admin().RunErasureSweep(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .AddBool("dry_run", resp.dry_run())
               .Add("owners_anonymised", int64_t{resp.anonymised_site_ids_size()})
               .Add("users_erased", int64_t{resp.erased_user_ids_size()})
               .Add("users_deactivated", int64_t{resp.deactivated_user_ids_size()})
               .str()
        << "\n";
    return 0;
  }
  out << (resp.dry_run() ? "would anonymise" : "anonymised") << " the owners of "
      << resp.anonymised_site_ids_size() << " site(s)";
  for (const std::string& id : resp.anonymised_site_ids()) out << " " << id;
  out << "\n"
      << (resp.dry_run() ? "would erase" : "erased") << " " << resp.erased_user_ids_size()
      << " user(s)";
  for (const std::string& id : resp.erased_user_ids()) out << " " << id;
  out << "\n"
      << (resp.dry_run() ? "would deactivate" : "deactivated") << " "
      << resp.deactivated_user_ids_size() << " inactive account(s)";
  for (const std::string& id : resp.deactivated_user_ids()) out << " " << id;
  out << "\n";
  return 0;
}

int ErasureAnonymiseCommand(const Flags& f, std::ostream& out, std::ostream& err) {
  if (f.positional.size() != 3) return Usage(err, "erasure anonymise-owner takes SITE_ID");
  Client c(f);
  v1::AnonymiseSiteOwnerRequest req;
  req.set_site_id(f.positional[2]);
  req.set_reason(f.Get("reason"));
  v1::AnonymiseSiteOwnerResponse resp;
  grpc::Status s = c.admin().AnonymiseSiteOwner(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .AddBool("anonymised", resp.anonymised())
               .Add("position", resp.position())
               .str()
        << "\n";
  } else if (resp.anonymised()) {
    out << "owner of site " << req.site_id() << " anonymised at position " << resp.position()
        << "\n";
  } else {
    out << "site " << req.site_id() << ": no private owner name left to anonymise\n";
  }
  return 0;
}

int BackupRestore(const Flags& f, std::ostream& out, std::ostream& err) {
  if (f.positional.size() != 4) return Usage(err, "backup restore takes SRC and DST");
  const std::string& src = f.positional[2];
  const std::string& dst = f.positional[3];
  absl::StatusOr<rb::es::VerifyReport> r = RestoreBackup(src, dst);
  if (!r.ok()) {
    err << "resorption: restore failed: " << r.status().message() << "\n";
    return 1;
  }
  if (f.json) {
    out << JsonObject()
               .Add("path", dst)
               .AddBool("intact", true)
               .Add("events_checked", r->events_checked)
               .Add("head_hash", rb::es::ToHex(r->head_hash))
               .str()
        << "\n";
  } else {
    out << "restored " << src << " into " << dst << ": " << r->events_checked
        << " events verified, head hash " << rb::es::ToHex(r->head_hash) << "\n"
        << "start a server on it: resorptiond --data-dir=" << dst << "\n";
  }
  return 0;
}

const std::vector<Command>& Commands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>{
        {"events", "head", kEventsHeadUsage, {}, 0, 0, EventsHead},
        {"events",
         "read",
         kEventsReadUsage,
         {"from", "limit", "stream", "type", "category", "backward"},
         0,
         0,
         EventsRead},
        {"events", "tail", kEventsTailUsage, {"from", "count"}, 0, 0, EventsTail},
        {"backup", "create", kBackupCreateUsage, {"path"}, 0, 0, BackupCreate},
        {"backup", "restore", kBackupRestoreUsage, {}, 2, 2, BackupRestore},
        {"erasure", "sweep", kErasureSweepUsage, {"dry-run"}, 0, 0, ErasureSweepCommand},
        {"erasure",
         "anonymise-owner",
         kErasureAnonymiseUsage,
         {"reason"},
         1,
         1,
         ErasureAnonymiseCommand},
    };
    for (auto table : {SiteCommands(), ServiceCommands(), ExportCommands(), DirectoryCommands(),
                       ActionCommands()}) {
      all->insert(all->end(), table.begin(), table.end());
    }
    return all;
  }();
  return *commands;
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f;
  auto env = [](const char* name, std::string* value) {
    if (const char* v = std::getenv(name); v != nullptr && *v) *value = v;
  };
  env("RESORPTION_SERVER", &f.server);
  env("RESORPTION_ACTOR", &f.actor_user);
  env("RESORPTION_ORGANISATION", &f.actor_organisation);
  env("RESORPTION_ROLE", &f.actor_role);
  env("RESORPTION_OPTIONS", &f.actor_options);
  env("RESORPTION_TOKEN", &f.token);
  std::string token_file;
  env("RESORPTION_TOKEN_FILE", &token_file);
  if (f.actor_user.empty()) env("USER", &f.actor_user);
  const std::vector<std::pair<std::string, std::string*>> globals = {
      {"--server=", &f.server},
      {"--actor=", &f.actor_user},
      {"--organisation=", &f.actor_organisation},
      {"--role=", &f.actor_role},
      {"--options=", &f.actor_options},
      {"--token=", &f.token},
      {"--token-file=", &token_file},
  };
  for (const std::string& a : args) {
    bool global = false;
    for (const auto& [prefix, value] : globals) {
      if (absl::StartsWith(a, prefix)) {
        *value = a.substr(prefix.size());
        global = true;
      }
    }
    if (global) continue;
    if (a == "--help" || a == "-h") {
      f.help = true;
    } else if (a == "--json") {
      f.json = true;
    } else if (absl::StartsWith(a, "--timeout=")) {
      if (!absl::SimpleAtoi(a.substr(10), &f.timeout_s) || f.timeout_s <= 0) {
        return Usage(err, "--timeout takes a positive number of seconds");
      }
    } else if (absl::StartsWith(a, "--")) {
      size_t eq = a.find('=');
      f.values[a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2)] =
          eq == std::string::npos ? "" : a.substr(eq + 1);
    } else {
      f.positional.push_back(a);
    }
  }
  if (f.token.empty()) {
    // A token file named explicitly must be readable; the bootstrap file is a local default.
    const bool explicit_file = !token_file.empty();
    if (!explicit_file) token_file = "var/data/bootstrap-admin.token";
    std::ifstream in(token_file);
    if (in) {
      std::getline(in, f.token);
      while (!f.token.empty() && std::isspace(static_cast<unsigned char>(f.token.back()))) {
        f.token.pop_back();
      }
    } else if (explicit_file) {
      return Usage(err, absl::StrCat("cannot read the token file ", token_file));
    }
  }
  if (f.positional.size() < 2) {
    if (f.help) {
      out << kUsage;
      return 0;
    }
    return Usage(err, f.positional.empty() ? "missing command" : "missing sub-command");
  }
  for (const Command& c : Commands()) {
    if (f.positional[0] != c.group || f.positional[1] != c.name) continue;
    if (f.help) {
      out << c.usage;
      if (std::find(c.flags.begin(), c.flags.end(), "command-id") != c.flags.end()) {
        out << kWriteUsage;
      }
      return 0;
    }
    for (const auto& [name, value] : f.values) {
      if (std::find(c.flags.begin(), c.flags.end(), name) == c.flags.end()) {
        return Usage(err, absl::StrCat("unknown flag --", name, " for ", c.group, " ", c.name));
      }
    }
    const int given = static_cast<int>(f.positional.size()) - 2;
    if (given < c.min_args || given > c.max_args) {
      return Usage(err, c.max_args == 0
                            ? absl::StrCat(c.group, " ", c.name, " takes no argument")
                            : absl::StrCat("wrong number of arguments for ", c.group, " ", c.name));
    }
    return c.run(f, out, err);
  }
  return Usage(err, absl::StrCat("unknown command ", f.positional[0], " ", f.positional[1]));
}

}  // namespace rb::tools
