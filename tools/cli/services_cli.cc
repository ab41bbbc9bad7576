// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption projections status|rebuild`, `analytics submit|get|export`,
// `territories search|series|flows`.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/labels.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/json.h"
#include "tools/lib/progress.h"
#include "tools/lib/site_table.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kProjectionsStatusUsage = R"(Usage: resorption projections status

Every projection: its state, position, lag behind the log head, and a running rebuild.
)";
constexpr const char* kProjectionsRebuildUsage = R"(Usage: resorption projections rebuild NAME

Rebuilds projection NAME from the start of the log in a new generation while the current one
keeps serving, follows its progress (WatchRebuild, progress bar on a terminal) and returns once
the new generation serves the queries.
)";
constexpr const char* kAnalyticsSubmitUsage = R"(Usage: resorption analytics submit FILE [flags]

Submits the projection specification in FILE (protobuf text format of ProjectionSpec, see
docs/analysts.md) and prints the job's name.
  --position=N   pin the log position (default: the head)
  --live         keep it live: built again at the new head whenever the log grows
  --wait         wait for the job to end and print its state
)";
constexpr const char* kAnalyticsGetUsage = R"(Usage: resorption analytics get JOB [--wait]

Prints one job's state and progress (JOB: projectionJobs/job-000001 or job-000001).
  --wait   wait for the job to end
)";
constexpr const char* kAnalyticsExportUsage = R"(Usage: resorption analytics export JOB [flags]

Writes a finished job's result.
  --format=csv|jsonl   default csv
  --out=FILE           default standard output
)";
constexpr const char* kTerritoriesSearchUsage = R"(Usage: resorption territories search PREFIX

Communes whose name starts with PREFIX (case, accents, hyphens ignored), most populated first.
  --limit=N   at most N (default 10, at most 100)
)";

constexpr const char* kTerritoriesSeriesUsage =
    R"(Usage: resorption territories series LEVEL [CODE] --from=YYYY-MM-DD --to=YYYY-MM-DD

The figures of a territory on `from`, on the 1st of each month after it and on `to` (the series
view, as known now), with the flows since the previous date. LEVEL: commune (INSEE code), epci
(SIREN), departement, region, nation (no code), zone (hexagone or outre_mer).
Table columns: open sites, people, minors, schooled minors, sites and people with access to
water, sites out of date, then sites opened, closed and resorbed since the previous date;
--json prints every figure.
  --min-position=N   read your writes: wait until the view includes log position N
)";
constexpr const char* kTerritoriesFlowsUsage =
    R"(Usage: resorption territories flows LEVEL [CODE] --from=YYYY-MM-DD --to=YYYY-MM-DD

Over the period after `from` up to `to`: sites opened, closed and resorbed, and the people and
households of the closed sites by closing solution; with the stock of open sites on `to`.
  --min-position=N   read your writes: wait until the view includes log position N
)";

std::string StateName(v1::ProjectionState s) {
  std::string name = v1::ProjectionState_Name(s);
  return absl::AsciiStrToLower(name.substr(std::string("PROJECTION_STATE_").size()));
}

int ProjectionsStatus(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::ListProjectionsResponse resp;
  grpc::Status s =
      c.projections().ListProjections(c.Context().get(), v1::ListProjectionsRequest(), &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-20s %-11s %-10s %-10s %-8s %s\n", "PROJECTION", "STATE", "POSITION",
                           "HEAD", "LAG", "REBUILD");
  }
  for (const v1::ProjectionInfo& p : resp.projections()) {
    const std::string rebuild =
        p.rebuilding() ? absl::StrCat(p.rebuild().position(), "/", p.head_position()) : "";
    if (f.json) {
      out << JsonObject()
                 .Add("name", p.name())
                 .Add("state", StateName(p.active().state()))
                 .Add("generation", p.active().generation())
                 .Add("position", p.active().position())
                 .Add("head_position", p.head_position())
                 .Add("lag_events", p.active().lag_events())
                 .AddBool("rebuilding", p.rebuilding())
                 .Add("error", p.active().error())
                 .str()
          << "\n";
    } else {
      out << absl::StrFormat("%-20s %-11s %-10d %-10d %-8d %s\n", p.name(),
                             StateName(p.active().state()), p.active().position(),
                             p.head_position(), p.active().lag_events(), rebuild);
    }
  }
  return 0;
}

int ProjectionsRebuild(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::RebuildProjectionRequest req;
  req.set_name(f.positional[2]);
  v1::RebuildProjectionResponse started;
  grpc::Status s = c.projections().RebuildProjection(c.Context().get(), req, &started);
  if (!s.ok()) return RpcFailed(err, s);
  auto ctx = c.Context(/*with_deadline=*/false);
  v1::WatchRebuildRequest watch;
  watch.set_name(req.name());
  auto stub = c.projections();
  auto reader = stub.WatchRebuild(ctx.get(), watch);
  ProgressBar bar(absl::StrCat("rebuild ", req.name()), std::cerr);
  v1::RebuildProgress p, last;
  bool switched = false;
  while (reader->Read(&p)) {
    bar.Update(p.position(), p.head_position());
    last = p;
    if (p.switched()) switched = true;
  }
  bar.Finish();
  s = reader->Finish();
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << JsonObject()
               .Add("name", req.name())
               .Add("generation", last.generation())
               .Add("position", last.position())
               .AddBool("switched", switched)
               .str()
        << "\n";
  } else {
    out << req.name() << ": generation " << last.generation() << " rebuilt up to position "
        << last.position() << (switched ? ", now serving" : ", not switched") << "\n";
  }
  return switched ? 0 : 1;
}

std::string JobName(const std::string& arg) {
  return arg.rfind("projectionJobs/", 0) == 0 ? arg : absl::StrCat("projectionJobs/", arg);
}

int PrintJob(const Flags& f, const v1::ProjectionJob& job, std::ostream& out) {
  if (f.json) {
    out << JsonObject()
               .Add("name", job.name())
               .Add("spec_name", job.spec_name())
               .Add("state", job.state())
               .Add("position", job.position())
               .Add("target_position", job.target_position())
               .Add("error", job.error())
               .Add("rows", uint64_t(job.result().rows_size()))
               .Add("rows_hash", job.result().rows_hash())
               .str()
        << "\n";
  } else {
    out << job.name() << "  " << job.spec_name() << "  " << job.state() << "  " << job.position()
        << "/" << job.target_position() << "\n";
    if (!job.error().empty()) out << "error: " << job.error() << "\n";
    if (job.state() == "done") {
      out << "rows " << job.result().rows_size() << ", hash " << job.result().rows_hash() << "\n";
    }
  }
  return job.state() == "failed" || job.state() == "cancelled" ? 1 : 0;
}

int WaitJob(const Flags& f, const Client& c, const std::string& name, std::ostream& out,
            std::ostream& err) {
  v1::GetProjectionJobRequest req;
  req.set_name(name);
  req.set_wait(true);
  v1::ProjectionJob job;
  grpc::Status s = c.analytics().GetProjectionJob(c.Context().get(), req, &job);
  if (!s.ok()) return RpcFailed(err, s);
  return PrintJob(f, job, out);
}

int AnalyticsSubmit(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t position = 0;
  if (!Uint(f, "position", &position)) return Usage(err, "--position takes a number");
  std::ifstream in(f.positional[2], std::ios::binary);
  if (!in) {
    err << "resorption: cannot read " << f.positional[2] << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  Client c(f);
  v1::SubmitProjectionRequest req;
  req.set_spec_text(text.str());
  req.set_log_position(position);
  req.set_live(f.Has("live"));
  v1::ProjectionJob job;
  grpc::Status s = c.analytics().SubmitProjection(c.Context().get(), req, &job);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.Has("wait")) return WaitJob(f, c, job.name(), out, err);
  return PrintJob(f, job, out);
}

int AnalyticsGet(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  if (f.Has("wait")) return WaitJob(f, c, JobName(f.positional[2]), out, err);
  v1::GetProjectionJobRequest req;
  req.set_name(JobName(f.positional[2]));
  v1::ProjectionJob job;
  grpc::Status s = c.analytics().GetProjectionJob(c.Context().get(), req, &job);
  if (!s.ok()) return RpcFailed(err, s);
  return PrintJob(f, job, out);
}

int AnalyticsExport(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string format = f.Get("format", "csv");
  v1::ExportProjectionResultRequest req;
  req.set_name(JobName(f.positional[2]));
  if (format == "csv") {
    req.set_format(v1::EXPORT_FORMAT_CSV);
  } else if (format == "jsonl") {
    req.set_format(v1::EXPORT_FORMAT_JSON_LINES);
  } else {
    return Usage(err, "--format takes csv or jsonl");
  }
  Client c(f);
  v1::ExportProjectionResultResponse resp;
  grpc::Status s = c.analytics().ExportProjectionResult(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.Has("out")) {
    out << resp.content();
    return 0;
  }
  std::ofstream file(f.Get("out"), std::ios::binary);
  file << resp.content();
  if (!file.good()) {
    err << "resorption: cannot write " << f.Get("out") << "\n";
    return 1;
  }
  return 0;
}

int TerritoriesSearch(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t limit = 10;
  if (!Uint(f, "limit", &limit)) return Usage(err, "--limit takes a number");
  Client c(f);
  v1::SearchCommunesRequest req;
  req.set_prefix(f.positional[2]);
  req.set_page_size(static_cast<int32_t>(limit));
  v1::SearchCommunesResponse resp;
  grpc::Status s = c.territories().SearchCommunes(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-6s %-32s %-4s %-10s %s\n", "INSEE", "COMMUNE", "DEP", "EPCI",
                           "POPULATION");
  }
  for (const v1::Commune& x : resp.communes()) {
    if (f.json) {
      out << JsonObject()
                 .Add("code", x.code())
                 .Add("name", x.name())
                 .Add("departement", x.territory().departement_code())
                 .Add("epci", x.territory().epci_code())
                 .Add("region", x.territory().region_code())
                 .Add("population", int64_t{x.population()})
                 .str()
          << "\n";
    } else {
      out << absl::StrFormat("%-6s %-32s %-4s %-10s %d\n", x.code(), x.name(),
                             x.territory().departement_code(), x.territory().epci_code(),
                             x.population());
    }
  }
  return 0;
}

// LEVEL [CODE] and --from/--to into `territory`, `from`, `to`; false with `error` set.
bool TerritoryPeriod(const Flags& f, v1::TerritoryRef* territory, v1::Date* from, v1::Date* to,
                     std::string* error) {
  const std::string level = absl::AsciiStrToLower(f.positional[2]);
  const std::vector<std::pair<std::string, v1::TerritoryLevel>> levels = {
      {"commune", v1::TERRITORY_LEVEL_COMMUNE},         {"epci", v1::TERRITORY_LEVEL_EPCI},
      {"departement", v1::TERRITORY_LEVEL_DEPARTEMENT}, {"region", v1::TERRITORY_LEVEL_REGION},
      {"nation", v1::TERRITORY_LEVEL_NATION},           {"zone", v1::TERRITORY_LEVEL_ZONE},
  };
  bool known = false;
  for (const auto& [name, value] : levels) {
    if (name == level) {
      territory->set_level(value);
      known = true;
    }
  }
  if (!known) {
    *error = absl::StrCat("unknown level ", f.positional[2],
                          " (commune, epci, departement, region, nation, zone)");
    return false;
  }
  if (f.positional.size() > 3) territory->set_code(f.positional[3]);
  if (territory->code().empty() && territory->level() != v1::TERRITORY_LEVEL_NATION) {
    *error = absl::StrCat(level, " needs a code");
    return false;
  }
  for (const auto& [flag, date] : {std::pair{"from", from}, std::pair{"to", to}}) {
    if (!f.Has(flag) || !ParseDay(f.Get(flag), date).ok()) {
      *error = absl::StrCat("--", flag, "=YYYY-MM-DD is required");
      return false;
    }
  }
  return true;
}

std::string IsoDay(const v1::Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

int TerritoriesSeries(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::GetSeriesQuery q;
  uint64_t min_position = 0;
  if (!Uint(f, "min-position", &min_position)) return Usage(err, "--min-position takes a number");
  q.set_min_position(min_position);
  std::string error;
  v1::SeriesRequest* req = q.mutable_request();
  if (!TerritoryPeriod(f, req->mutable_territory(), req->mutable_from(), req->mutable_to(),
                       &error)) {
    return Usage(err, error);
  }
  Client c(f);
  v1::SeriesResponse resp;
  grpc::Status s = c.territories().GetSeries(c.Context().get(), q, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-10s %7s %8s %7s %8s %7s %8s %9s %6s %6s %8s\n", "DATE", "SITES",
                           "PEOPLE", "MINORS", "SCHOOLED", "WATER", "W_PEOPLE", "OUTDATED",
                           "OPENED", "CLOSED", "RESORBED");
  }
  for (const v1::SeriesPoint& p : resp.points()) {
    if (f.json) {
      out << ProtoJson(p) << "\n";
      continue;
    }
    const v1::TerritoryStock& k = p.stock();
    out << absl::StrFormat("%-10s %7d %8d %7d %8d %7d %8d %9d %6d %6d %8d\n", IsoDay(p.date()),
                           k.sites(), k.people(), k.minors(), k.minors_in_school(),
                           k.sites_with_water(), k.people_with_water(), k.sites_out_of_date(),
                           p.flows().sites_opened(), p.flows().sites_closed(),
                           p.flows().sites_resorbed());
  }
  return 0;
}

int TerritoriesFlows(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::GetPeriodFlowsQuery q;
  uint64_t min_position = 0;
  if (!Uint(f, "min-position", &min_position)) return Usage(err, "--min-position takes a number");
  q.set_min_position(min_position);
  std::string error;
  v1::PeriodRequest* req = q.mutable_request();
  if (!TerritoryPeriod(f, req->mutable_territory(), req->mutable_from(), req->mutable_to(),
                       &error)) {
    return Usage(err, error);
  }
  Client c(f);
  v1::SeriesPoint p;
  grpc::Status s = c.territories().GetPeriodFlows(c.Context().get(), q, &p);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(p) << "\n";
    return 0;
  }
  const v1::TerritoryFlows& fl = p.flows();
  out << "period            " << IsoDay(req->from()) << " .. " << IsoDay(req->to()) << "\n"
      << "sites opened      " << fl.sites_opened() << "\n"
      << "sites closed      " << fl.sites_closed() << "\n"
      << "sites resorbed    " << fl.sites_resorbed() << "\n";
  const auto* solutions = google::protobuf::GetEnumDescriptor<v1::ClosingSolution>();
  for (int i = 1; i < fl.people_by_solution_size(); ++i) {
    const int64_t households =
        i < fl.households_by_solution_size() ? fl.households_by_solution(i) : 0;
    if (fl.people_by_solution(i) == 0 && households == 0) continue;
    out << absl::StrFormat("  %-40s %d people, %d households\n",
                           rb::domain::FrenchLabel(solutions, i), fl.people_by_solution(i),
                           households);
  }
  out << "open sites on " << IsoDay(req->to()) << "  " << p.stock().sites() << " ("
      << p.stock().people() << " people)\n";
  return 0;
}

}  // namespace

std::vector<Command> ServiceCommands() {
  return {
      {"projections", "status", kProjectionsStatusUsage, {}, 0, 0, ProjectionsStatus},
      {"projections", "rebuild", kProjectionsRebuildUsage, {}, 1, 1, ProjectionsRebuild},
      {"analytics",
       "submit",
       kAnalyticsSubmitUsage,
       {"position", "live", "wait"},
       1,
       1,
       AnalyticsSubmit},
      {"analytics", "get", kAnalyticsGetUsage, {"wait"}, 1, 1, AnalyticsGet},
      {"analytics", "export", kAnalyticsExportUsage, {"format", "out"}, 1, 1, AnalyticsExport},
      {"territories", "search", kTerritoriesSearchUsage, {"limit"}, 1, 1, TerritoriesSearch},
      {"territories",
       "series",
       kTerritoriesSeriesUsage,
       {"from", "to", "min-position"},
       1,
       2,
       TerritoriesSeries},
      {"territories",
       "flows",
       kTerritoriesFlowsUsage,
       {"from", "to", "min-position"},
       1,
       2,
       TerritoriesFlows},
  };
}

}  // namespace rb::tools
