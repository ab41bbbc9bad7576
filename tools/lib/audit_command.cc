// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/audit_command.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "analytics/export.h"
#include "analytics/runner.h"
#include "analytics/spec.h"
#include "domain/violations.h"
#include "eventstore/event_store.h"
#include "tools/lib/json.h"
#include "tools/lib/site_history.h"

namespace rb::tools {
namespace {

constexpr const char* kUsage = R"(Usage: resorption-audit [--data-dir=DIR] COMMAND [--json]

Offline audit of a Résorption-bidonvilles data directory or backup. The directory is opened
read-only: it may be audited while a server runs on it.

Commands:
  verify      recompute every hash of the log and both chains (log and streams)
  head        print the position and hash of the log head (write it down to prove later that
              nothing up to it was altered)
  site ID     replay the full history of site ID: each version with who, when (declared date and
              recording time), why, the event and what changed; checks the site's hash chain
  project SPEC
              build the custom projection of the text specification file SPEC (docs/analysts.md)
              at --position (default: the head) and print its provenance and rows, so that a
              result obtained from the service can be rebuilt independently and compared

Flags:
  --data-dir=DIR  data directory or backup to audit (default var/data)
  --json          one JSON object per line instead of text
  --position=N    with project: the pinned log position (default: the head)
  --format=F      with project: csv (default) or jsonl
  --help          this text

Exit status: 0 intact, 1 altered or unreadable (the first bad position is named), 2 usage error.
)";

int Usage(std::ostream& err, const std::string& message) {
  err << "resorption-audit: " << message << "\nTry --help.\n";
  return 2;
}

int Fail(std::ostream& err, const absl::Status& s) {
  err << "resorption-audit: " << (s.code() == absl::StatusCode::kDataLoss ? "ALTERED: " : "")
      << s.message() << "\n";
  return 1;
}

// Builds a custom projection offline and prints its provenance (stderr) and rows (stdout).
int BuildProjection(const rb::es::EventStore& store, const std::string& spec_file,
                    uint64_t position, const std::string& format, std::ostream& out,
                    std::ostream& err) {
  std::ifstream in(spec_file);
  if (!in) return Usage(err, absl::StrCat("cannot read the specification file ", spec_file));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<resorption::v1::ProjectionSpec> spec = rb::analytics::ParseSpec(text.str());
  if (!spec.ok()) return Fail(err, spec.status());
  absl::StatusOr<rb::analytics::CompiledSpec> compiled = rb::analytics::Compile(*spec);
  if (!compiled.ok()) {
    err << "resorption-audit: " << compiled.status().message() << "\n";
    for (const auto& v : rb::domain::ViolationsFrom(compiled.status())) {
      err << "  " << v.field << ": " << v.message << "\n";
    }
    return 1;
  }
  rb::analytics::RunOptions options;
  options.log_position = position;
  absl::StatusOr<resorption::v1::ProjectionResult> result =
      rb::analytics::RunProjection(store, *compiled, options);
  if (!result.ok()) return Fail(err, result.status());
  err << "projection " << result->name() << "\nspec_hash    " << result->spec_hash()
      << "\nlog_position " << result->log_position() << "\nlog_hash     " << result->log_hash()
      << "\nrows_hash    " << result->rows_hash() << "\n";
  out << (format == "csv" ? rb::analytics::ToCsv(*result) : rb::analytics::ToJsonLines(*result));
  return 0;
}

}  // namespace

int RunAudit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string data_dir = "var/data";
  bool json = false;
  uint64_t position = 0;
  std::string format = "csv";
  std::vector<std::string> positional;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << kUsage;
      return 0;
    } else if (absl::StartsWith(a, "--data-dir=")) {
      data_dir = a.substr(11);
    } else if (a == "--json") {
      json = true;
    } else if (absl::StartsWith(a, "--position=")) {
      if (!absl::SimpleAtoi(a.substr(11), &position)) {
        return Usage(err, "--position takes a log position (a whole number)");
      }
    } else if (absl::StartsWith(a, "--format=")) {
      format = a.substr(9);
      if (format != "csv" && format != "jsonl") return Usage(err, "--format is csv or jsonl");
    } else if (absl::StartsWith(a, "--")) {
      return Usage(err, absl::StrCat("unknown flag ", a));
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) return Usage(err, "missing command (verify, head or site ID)");
  const std::string& command = positional[0];
  if (command == "site" && positional.size() != 2) return Usage(err, "site takes one site id");
  if (command == "project" && positional.size() != 2) {
    return Usage(err, "project takes one specification file");
  }
  if (command != "site" && command != "project" && positional.size() != 1) {
    return Usage(err, absl::StrCat(command, " takes no argument"));
  }
  if (command != "verify" && command != "head" && command != "site" && command != "project") {
    return Usage(err, absl::StrCat("unknown command ", command));
  }

  rb::es::Options options;
  options.read_only = true;
  options.block_cache_bytes = 32 << 20;
  absl::StatusOr<std::unique_ptr<rb::es::EventStore>> store =
      rb::es::EventStore::Open(options, data_dir);
  if (!store.ok()) return Fail(err, store.status());

  if (command == "head") {
    rb::es::Head head = (*store)->GetHead();
    if (json) {
      out << JsonObject()
                 .Add("position", head.position)
                 .Add("log_hash", rb::es::ToHex(head.log_hash))
                 .Add("recorded_at", head.position == 0 ? "" : FormatMicros(head.recorded_at_us))
                 .str()
          << "\n";
    } else {
      out << "position " << head.position << "\nhash     " << rb::es::ToHex(head.log_hash) << "\n";
      if (head.position > 0) out << "recorded " << FormatMicros(head.recorded_at_us) << "\n";
    }
    return 0;
  }
  if (command == "verify") {
    absl::StatusOr<rb::es::VerifyReport> report = (*store)->Verify();
    if (!report.ok()) return Fail(err, report.status());
    if (json) {
      out << JsonObject()
                 .AddBool("intact", true)
                 .Add("events_checked", report->events_checked)
                 .Add("streams_checked", report->streams_checked)
                 .Add("head_hash", rb::es::ToHex(report->head_hash))
                 .str()
          << "\n";
    } else {
      out << "intact: " << report->events_checked << " events in " << report->streams_checked
          << " streams, head hash " << rb::es::ToHex(report->head_hash) << "\n";
    }
    return 0;
  }
  if (command == "project")
    return BuildProjection(**store, positional[1], position, format, out, err);
  absl::StatusOr<SiteHistory> history = ReplaySite(**store, positional[1]);
  if (!history.ok()) return Fail(err, history.status());
  for (const SiteVersion& v : history->versions) {
    if (json) {
      out << VersionJson(history->site_id, v) << "\n";
    } else {
      PrintVersion(v, out);
    }
  }
  if (!json) {
    out << "site " << history->site_id << ": " << history->versions.size()
        << " versions, stream hash chain intact\n";
  }
  return 0;
}

}  // namespace rb::tools
