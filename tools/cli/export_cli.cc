// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption sites export|import`, `actions export` and `events export`: the formats people use.
// Everything goes through the service's queries and commands, so its access rules apply.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/context.h"
#include "domain/events.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "projections/views/signals.h"
#include "resorption/v1/site_events.pb.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/action_export.h"
#include "tools/lib/action_xlsx.h"
#include "tools/lib/json.h"
#include "tools/lib/progress.h"
#include "tools/lib/site_history.h"
#include "tools/lib/site_import.h"
#include "tools/lib/site_table.h"
#include "tools/lib/site_xlsx.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kSitesExportUsage = R"(Usage: resorption sites export [flags]

Exports the sites the actor may read (ListSites, every page) with the platform's sections and
French column headers: Localisation, Site, Habitants, Conditions de vie, Diagnostic, Procédure
judiciaire (only when the actor may read procedures and some site has one), Intervenants,
Orientation, Commentaires (with --comments, when some site has a message the actor may read),
Mise à jour.
  --format=csv|xlsx|geojson   default csv (UTF-8, comma separated); xlsx needs --out
  --out=FILE                  default standard output
  --departement= --commune= --status=open|closed|all --min-population= --sort= --asc
                              the filters of `sites list`
  --date=YYYY-MM-DD           the sites as they were on that date (declared dates, as known
                              now: ListSitesAsOf), in site id order; statuses and signals are
                              those of that date; the two action columns are left empty (the
                              actions of a past date are not known)
  --comments                  add each site's journal, as the actor may read it (one GetSite
                              per site); not with --date
  --min-position=N            read your writes: wait until the list includes log position N
The CSV is the layout `sites import` reads back.
)";
constexpr const char* kActionsExportUsage = R"(Usage: resorption actions export [flags]

The actions of one year in the platform's spreadsheet layout (ListActions with the year: the
actions running during that year, as the actor may read them): département, region, operators,
dates, place, topics and goals; the year's indicators with the platform's headings; its finances,
planned and spent per type (only when the actor may see the finances of some exported action;
empty cells for the others); the journal and the dates of the last updates. The workbook has one
sheet per département and a sheet "Tous"; above each table, the year, the date of the extraction
and, for the current and the previous year, how many actions financed by the dedicated credits
had their indicators updated less than three months ago.
  --year=YYYY                 default: the previous year
  --format=csv|xlsx           default csv: the "Tous" sheet (headings, then one line per
                              action); xlsx needs --out
  --out=FILE                  default standard output
  --departement=CODE          only this département
  --dedicated-only            only the actions financed by the dedicated credits that year
  --extracted-on=YYYY-MM-DD   the date of the extraction (default: today, UTC)
  --min-position=N            read your writes: wait until the view includes log position N
An export with no action is refused (exit status 1).
)";
constexpr const char* kEventsExportUsage = R"(Usage: resorption events export [flags]

Writes the log as JSON Lines for analysts (EventStream.ReadAll, page after page): one event per
line with its metadata and its payload decoded as JSON.
  --format=jsonl     the only format
  --from=N           first position (default 1)
  --type=PREFIX      only events whose type starts with PREFIX
  --category=NAME    only streams of that category: site or action
  --out=FILE         default standard output
)";
constexpr const char* kSitesImportUsage = R"(Usage: resorption sites import FILE.csv [--dry-run]

Imports a spreadsheet in the CSV layout of `sites export` (header row of French column names;
required: Code INSEE, Adresse, Latitude, Longitude, Type de site, Date de signalement; computed
columns such as Commune or the living-condition statuses are ignored).
Every line is validated first (syntax, numbers, dates, known commune, the declaration,
population, diagnostic, living conditions, procedure and closure rules); any problem is printed
as FILE:LINE: COLUMN: reason, the exit status is 1 and nothing is sent. Otherwise each line sends
one DeclareSite (+ RecordPopulation when counts are filled, + RecordCensus for the Diagnostic
columns, + AssessLivingConditions for the answers of the living conditions, + UpdateProcedures
for the Procédure judiciaire columns, + CloseSite when the closure columns are)
whose command id derives from the file's SHA-256, the line and the command, so
importing the same file again appends nothing.
  --dry-run   validate only
)";

// Writes `content` to --out or `out`; 1 on a write failure.
int Emit(const Flags& f, const std::string& content, std::ostream& out, std::ostream& err) {
  if (!f.Has("out")) {
    out << content;
    return 0;
  }
  std::ofstream file(f.Get("out"), std::ios::binary);
  file << content;
  file.close();
  if (!file.good()) {
    err << "resorption: cannot write " << f.Get("out") << "\n";
    return 1;
  }
  return 0;
}

// Every site on `day` (ListSitesAsOf, page after page) that passes `filter`, with its signals on
// that day. Action facts are not known on a past date: the signals count no action, and the rows
// say so, so that the action columns stay empty rather than read "non".
grpc::Status ListAllSitesOn(const Client& c, const v1::SiteFilter& filter, absl::CivilDay day,
                            int64_t min_population, std::vector<SiteRow>* rows) {
  v1::ListSitesAsOfQuery q;
  q.mutable_valid_date()->set_year(static_cast<int32_t>(day.year()));
  q.mutable_valid_date()->set_month(day.month());
  q.mutable_valid_date()->set_day(day.day());
  switch (filter.state()) {
    case v1::SITE_STATE_FILTER_CLOSED:
      q.set_status(v1::SITE_STATUS_FILTER_CLOSED);
      break;
    case v1::SITE_STATE_FILTER_ALL:
      q.set_status(v1::SITE_STATUS_FILTER_ALL);
      break;
    default:
      q.set_status(v1::SITE_STATUS_FILTER_OPEN);
  }
  *q.mutable_filter() = filter;
  q.set_page_size(500);
  ProgressBar bar("sites", std::cerr);
  for (;;) {
    v1::ListSitesAsOfResponse resp;
    grpc::Status s = c.sites().ListSitesAsOf(c.Context().get(), q, &resp);
    if (!s.ok()) {
      bar.Finish();
      return s;
    }
    for (const v1::Site& site : resp.sites()) {
      if (min_population > 0 && site.population().total() < min_population) continue;
      SiteRow row{site, rb::views::ComputeSignals(site, {}, day)};
      row.actions_known = false;
      rows->push_back(std::move(row));
    }
    const bool more = !resp.next_page_token().empty();
    bar.Update(rows->size(), rows->size() + (more ? 500 : 0));
    if (!more) break;
    q.set_page_token(resp.next_page_token());
  }
  bar.Finish();
  return grpc::Status::OK;
}

int SitesExport(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string format = f.Get("format", "csv");
  if (format != "csv" && format != "xlsx" && format != "geojson") {
    return Usage(err, "--format takes csv, xlsx or geojson");
  }
  if (format == "xlsx" && !f.Has("out")) return Usage(err, "--format=xlsx needs --out=FILE");
  uint64_t min_population = 0;
  if (!Uint(f, "min-population", &min_population)) {
    return Usage(err, "--min-population takes a number");
  }
  v1::ListSitesRequest req;
  std::string error;
  if (!SiteListRequestFromFlags(f, &req, &error)) return Usage(err, error);
  Client c(f);
  std::vector<SiteRow> rows;
  if (f.Has("date")) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(f.Get("date"), &day)) return Usage(err, "--date takes YYYY-MM-DD");
    grpc::Status s =
        ListAllSitesOn(c, req.filter(), day, static_cast<int64_t>(min_population), &rows);
    if (!s.ok()) return RpcFailed(err, s);
  } else {
    std::vector<v1::SiteSummary> sites;
    uint64_t min_position = 0;
    if (!Uint(f, "min-position", &min_position)) return Usage(err, "--min-position takes a number");
    // The site list and the actions view follow the log each at its pace: both are read at least
    // at the head of the log when the export starts, so that their columns agree.
    v1::GetHeadResponse head;
    grpc::Status s = c.events().GetHead(c.Context().get(), v1::GetHeadRequest(), &head);
    if (!s.ok()) return RpcFailed(err, s);
    min_position = std::max<uint64_t>(min_position, head.position());
    s = ListAllSites(c, req, 0, static_cast<int64_t>(min_population), min_position, &sites);
    if (!s.ok()) return RpcFailed(err, s);
    rows.reserve(sites.size());
    for (v1::SiteSummary& x : sites) rows.push_back(SiteRow{x.site(), x.signals()});
    // "Financed the year of the extraction": the years of the few sites whose open actions have
    // dedicated credits at all.
    const int year = static_cast<int>(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()).year());
    for (SiteRow& row : rows) {
      if (!row.signals.has_dedicated_financing()) continue;
      v1::GetSiteActionsQuery q;
      q.set_name(absl::StrCat("sites/", row.site.id()));
      q.set_min_position(min_position);
      v1::SiteActions actions;
      s = c.actions().GetSiteActions(c.Context().get(), q, &actions);
      if (!s.ok()) return RpcFailed(err, s);
      const auto& years = actions.dedicated_financing_years();
      row.financed_in_extraction_year = std::find(years.begin(), years.end(), year) != years.end();
    }
  }
  if (f.Has("comments")) {
    if (f.Has("date")) return Usage(err, "--comments is not available with --date");
    // The journal is not part of the list's rows: each message has its own readers, which
    // GetSite applies.
    for (SiteRow& row : rows) {
      v1::GetSiteRequest get;
      get.set_name(absl::StrCat("sites/", row.site.id()));
      v1::Site site;
      grpc::Status s = c.sites().GetSite(c.Context().get(), get, &site);
      if (!s.ok()) return RpcFailed(err, s);
      *row.site.mutable_comments() = site.comments();
    }
  }
  for (SiteRow& row : rows) row.viewer_organisation_id = f.actor_organisation;
  const std::vector<const SiteColumn*> columns = ExportColumns(rows);
  if (format == "xlsx") {
    if (absl::Status st = WriteSitesXlsx(columns, rows, f.Get("out")); !st.ok()) {
      err << "resorption: " << st.message() << "\n";
      return 1;
    }
    return 0;
  }
  return Emit(f, format == "csv" ? SitesCsv(columns, rows) : SitesGeoJson(columns, rows), out, err);
}

int ActionsExport(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string format = f.Get("format", "csv");
  if (format != "csv" && format != "xlsx") return Usage(err, "--format takes csv or xlsx");
  if (format == "xlsx" && !f.Has("out")) return Usage(err, "--format=xlsx needs --out=FILE");
  ActionExportOptions options;
  options.today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (f.Has("extracted-on") && !absl::ParseCivilTime(f.Get("extracted-on"), &options.today)) {
    return Usage(err, "--extracted-on takes YYYY-MM-DD");
  }
  options.year = static_cast<int>(options.today.year()) - 1;
  if (f.Has("year")) {
    uint64_t year = 0;
    if (!Uint(f, "year", &year) || year < 2000 || year > 2100) {
      return Usage(err, "--year takes a year between 2000 and 2100");
    }
    options.year = static_cast<int>(year);
  }
  options.dedicated_only = f.Has("dedicated-only");
  uint64_t min_position = 0;
  if (!Uint(f, "min-position", &min_position)) return Usage(err, "--min-position takes a number");
  v1::ListActionsQuery q;
  q.set_min_position(min_position);
  q.set_year(options.year);
  q.mutable_request()->set_departement_code(f.Get("departement"));
  Client c(f);
  v1::ListActionsResponse resp;
  grpc::Status s = c.actions().ListActions(c.Context().get(), q, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  const std::vector<v1::Action> actions(resp.actions().begin(), resp.actions().end());
  absl::StatusOr<ActionExport> e = BuildActionExport(actions, options);
  if (!e.ok()) {
    err << "resorption: " << e.status().message() << "\n";
    return 1;
  }
  if (format == "xlsx") {
    if (absl::Status st = WriteActionsXlsx(*e, f.Get("out")); !st.ok()) {
      err << "resorption: " << st.message() << "\n";
      return 1;
    }
    return 0;
  }
  return Emit(f, ActionExportCsv(*e), out, err);
}

// The payload as JSON when its type and schema version are those this build writes, else null
// (older versions are upcast by the service, not here).
std::string PayloadJson(const v1::Event& e) {
  static const auto* names = [] {
    auto* m = new std::map<std::string, std::pair<uint32_t, std::string>>;
    for (const auto& list : {rb::domain::SiteEventTypes(), rb::domain::ActionEventTypes()}) {
      for (const auto& t : list) (*m)[t.type] = {t.schema_version, t.message_name};
    }
    return m;
  }();
  auto it = names->find(e.type());
  const uint32_t version = e.schema_version() == 0 ? 1 : e.schema_version();
  if (it == names->end() || it->second.first != version) return "null";
  const auto* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(it->second.second);
  if (d == nullptr) return "null";
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> m(factory.GetPrototype(d)->New());
  if (!m->ParseFromString(e.payload())) return "null";
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(*m, &json, o).ok()) return "null";
  return json;
}

int EventsExport(const Flags& f, std::ostream& out, std::ostream& err) {
  if (f.Get("format", "jsonl") != "jsonl") return Usage(err, "--format takes jsonl");
  uint64_t from = 1;
  if (!Uint(f, "from", &from)) return Usage(err, "--from takes a number");
  Client c(f);
  v1::GetHeadResponse head;
  grpc::Status s = c.events().GetHead(c.Context().get(), v1::GetHeadRequest(), &head);
  if (!s.ok()) return RpcFailed(err, s);
  std::ofstream file;
  if (f.Has("out")) file.open(f.Get("out"), std::ios::binary);
  std::ostream& sink = f.Has("out") ? file : out;
  ProgressBar bar("events", std::cerr);
  v1::ReadAllRequest req;
  req.set_from_position(from);
  req.set_limit(1000);
  if (f.Has("type")) req.mutable_filter()->add_type_prefixes(f.Get("type"));
  if (f.Has("category")) req.mutable_filter()->add_categories(f.Get("category"));
  for (;;) {
    v1::ReadAllResponse resp;
    s = c.events().ReadAll(c.Context().get(), req, &resp);
    if (!s.ok()) {
      bar.Finish();
      return RpcFailed(err, s);
    }
    for (const v1::Event& e : resp.events()) {
      sink << EventEnvelopeJson(e).AddRaw("payload", PayloadJson(e)).str() << "\n";
    }
    bar.Update(resp.last_examined(), head.position());
    if (resp.end_of_log() || resp.next_position() <= req.from_position()) break;
    req.set_from_position(resp.next_position());
  }
  bar.Finish();
  sink.flush();
  if (!sink.good()) {
    err << "resorption: cannot write " << f.Get("out", "the output") << "\n";
    return 1;
  }
  return 0;
}

int SitesImport(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string path = f.positional[2];
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << "resorption: cannot read " << path << "\n";
    return 1;
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  rb::domain::Context ctx;
  ctx.now_us = absl::ToUnixMicros(absl::Now());
  ctx.actor.user_id = f.actor_user;
  ctx.actor.organisation_id = f.actor_organisation;
  // The actor's options (access_justice...), as the server reads them from x-actor-options.
  for (absl::string_view o : absl::StrSplit(f.actor_options, ',', absl::SkipWhitespace())) {
    ctx.actor.options.emplace_back(absl::StripAsciiWhitespace(o));
  }
  const std::optional<rb::domain::Role> role = RoleFromId(f.actor_role);
  if (!role.has_value()) return Usage(err, absl::StrCat("unknown role ", f.actor_role));
  ctx.actor.role = *role;
  const ImportPlan plan = PlanSiteImport(bytes.str(), ctx);
  for (const ImportProblem& p : plan.problems) {
    err << path << ":" << p.line << ": " << (p.column.empty() ? "" : p.column + ": ") << p.reason
        << "\n";
  }
  if (!plan.problems.empty()) {
    err << "resorption: " << plan.problems.size() << " problem(s); nothing imported\n";
    return 1;
  }
  if (f.Has("dry-run")) {
    out << path << ": " << plan.lines.size() << " site(s) valid, sha256 " << plan.file_hash
        << "; nothing sent (dry run)\n";
    return 0;
  }
  Client c(f);
  const std::string reason =
      absl::StrCat("import du fichier ", path, " (sha256 ", plan.file_hash, ")");
  int appended = 0, replayed = 0, failed = 0;
  ProgressBar bar("import", std::cerr);
  for (size_t i = 0; i < plan.lines.size(); ++i) {
    const ImportLine& l = plan.lines[i];
    bar.Update(i, plan.lines.size());
    auto options = [&](v1::WriteOptions* o, const std::string& kind) {
      o->set_command_id(ImportCommandId(plan.file_hash, l.line, kind));
      o->set_reason(absl::StrCat(reason, ", ligne ", l.line));
      if (l.valid_at_us != 0) {
        o->mutable_valid_time()->set_seconds(l.valid_at_us / 1000000);
      }
    };
    v1::DeclareSiteRequest declare;
    declare.set_site_id(l.site_id);
    options(declare.mutable_options(), "declare");
    *declare.mutable_command()->mutable_site() = l.declaration;
    v1::WriteResult r;
    grpc::Status s = c.sites().DeclareSite(c.Context().get(), declare, &r);
    if (s.ok() && l.population.has_value()) {
      (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
      v1::RecordPopulationRequest pop;
      pop.set_name(r.name());
      options(pop.mutable_options(), "population");
      *pop.mutable_command() = *l.population;
      s = c.sites().RecordPopulation(c.Context().get(), pop, &r);
    }
    if (s.ok() && l.census.has_value()) {
      (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
      v1::RecordCensusRequest census;
      census.set_name(r.name());
      options(census.mutable_options(), "census");
      *census.mutable_command()->mutable_census() = *l.census;
      s = c.sites().RecordCensus(c.Context().get(), census, &r);
    }
    if (s.ok() && l.living_conditions.has_value()) {
      (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
      v1::AssessLivingConditionsRequest assess;
      assess.set_name(r.name());
      options(assess.mutable_options(), "living_conditions");
      *assess.mutable_command()->mutable_living_conditions() = *l.living_conditions;
      s = c.sites().AssessLivingConditions(c.Context().get(), assess, &r);
    }
    if (s.ok() && l.procedures.has_value()) {
      (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
      v1::UpdateProceduresRequest procedures;
      procedures.set_name(r.name());
      options(procedures.mutable_options(), "procedures");
      *procedures.mutable_command() = *l.procedures;
      s = c.sites().UpdateProcedures(c.Context().get(), procedures, &r);
    }
    if (s.ok() && l.closure.has_value()) {
      (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
      v1::CloseSiteRequest close;
      close.set_name(r.name());
      options(close.mutable_options(), "close");
      *close.mutable_command()->mutable_closure() = *l.closure;
      s = c.sites().CloseSite(c.Context().get(), close, &r);
    }
    if (!s.ok()) {
      err << path << ":" << l.line << ": ";
      RpcFailed(err, s);
      ++failed;
      continue;
    }
    (r.outcome() == v1::WriteResult::OUTCOME_REPLAYED ? replayed : appended)++;
  }
  bar.Finish();
  if (f.json) {
    out << JsonObject()
               .Add("file", path)
               .Add("sha256", plan.file_hash)
               .Add("lines", uint64_t(plan.lines.size()))
               .Add("commands_appended", appended)
               .Add("commands_replayed", replayed)
               .Add("failed", failed)
               .str()
        << "\n";
  } else {
    out << path << ": " << plan.lines.size() << " line(s), " << appended << " command(s) appended, "
        << replayed << " already imported, " << failed << " refused\n";
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace

std::vector<Command> ExportCommands() {
  return {
      {"sites",
       "export",
       kSitesExportUsage,
       {"format", "out", "departement", "commune", "status", "min-population", "sort", "asc",
        "date", "comments", "min-position"},
       0,
       0,
       SitesExport},
      {"sites", "import", kSitesImportUsage, {"dry-run"}, 1, 1, SitesImport},
      {"actions",
       "export",
       kActionsExportUsage,
       {"year", "format", "out", "departement", "dedicated-only", "extracted-on", "min-position"},
       0,
       0,
       ActionsExport},
      {"events",
       "export",
       kEventsExportUsage,
       {"format", "from", "type", "category", "out"},
       0,
       0,
       EventsExport},
  };
}

}  // namespace rb::tools
