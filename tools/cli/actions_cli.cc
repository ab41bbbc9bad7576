// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption actions list|show|aggregates`: the actions (intervention programmes) and their
// yearly indicators and finances, as the `action_views` view serves them.
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "domain/labels.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "tools/cli/cli_common.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kActionsListUsage = R"(Usage: resorption actions list [flags]

The actions the actor may read, by id: departement, status, dates, topics and name.
  --departement=CODE   only this département
  --open               only the actions in progress
  --year=YYYY          only the actions running during that year
  --topic=CODE         only this topic: health, school, work, housing, safety
  --min-position=N     read your writes: wait until the view includes log position N
)";
constexpr const char* kActionsShowUsage = R"(Usage: resorption actions show ID

One action: details, pilots and operators, the sites it works on, and its indicators and
finances year by year (finances only for readers with access to them). --json prints it whole.
  --min-position=N     read your writes: wait until the view includes log position N
)";
constexpr const char* kActionsAggregatesUsage = R"(Usage: resorption actions aggregates [flags]

Yearly indicators and finances summed per département (or per topic): actions, people and
households followed, people sheltered and housed, amounts planned and spent (in euros; "-" for
a reader without access to finances). A count hidden from an observer of aggregates prints -1.
  --year=YYYY          one year (default: every year)
  --by=departement|topic
  --departement=CODE   only this département
  --min-position=N     read your writes: wait until the view includes log position N
)";

std::string Day(const v1::Date& d) {
  if (d.year() == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string Topics(const v1::Action& a) {
  std::vector<std::string> codes;
  for (int t : a.details().topics()) {
    codes.emplace_back(rb::domain::PlatformCode(static_cast<v1::ActionTopic>(t)));
  }
  return absl::StrJoin(codes, ",");
}

std::string Euros(int64_t cents) {
  const uint64_t magnitude =
      cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  return absl::StrFormat("%s%d.%02d", cents < 0 ? "-" : "", magnitude / 100, magnitude % 100);
}

bool MinPosition(const Flags& f, uint64_t* position, std::ostream& err) {
  if (Uint(f, "min-position", position)) return true;
  Usage(err, "--min-position takes a number");
  return false;
}

bool Year(const Flags& f, int32_t* year, std::ostream& err) {
  uint64_t y = 0;
  if (!Uint(f, "year", &y) || (f.Has("year") && (y < 2000 || y > 2100))) {
    Usage(err, "--year takes a year such as 2025");
    return false;
  }
  *year = static_cast<int32_t>(y);
  return true;
}

int ActionsList(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::ListActionsQuery q;
  uint64_t min_position = 0;
  if (!MinPosition(f, &min_position, err)) return 2;
  q.set_min_position(min_position);
  q.mutable_request()->set_departement_code(f.Get("departement"));
  q.mutable_request()->set_open_only(f.Has("open"));
  int32_t year = 0;
  if (!Year(f, &year, err)) return 2;
  q.set_year(year);
  if (f.Has("topic")) {
    auto topic = rb::domain::FromPlatformCode<v1::ActionTopic>(f.Get("topic"));
    if (!topic.has_value()) return Usage(err, absl::StrCat("unknown topic ", f.Get("topic")));
    q.set_topic(*topic);
  }
  Client c(f);
  v1::ListActionsResponse resp;
  grpc::Status s = c.actions().ListActions(c.Context().get(), q, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-16s %-4s %-9s %-10s %-10s %-22s %s\n", "ACTION", "DEP", "STATUS",
                           "STARTED", "ENDED", "TOPICS", "NAME");
  }
  for (const v1::Action& a : resp.actions()) {
    if (f.json) {
      out << ProtoJson(a) << "\n";
      continue;
    }
    out << absl::StrFormat("%-16s %-4s %-9s %-10s %-10s %-22s %s\n", a.id(),
                           a.details().departement_code(), rb::domain::PlatformCode(a.status()),
                           Day(a.details().started_at()), Day(a.details().ended_at()), Topics(a),
                           a.details().name());
  }
  return 0;
}

int ActionsShow(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::GetActionRequest req;
  uint64_t min_position = 0;
  if (!MinPosition(f, &min_position, err)) return 2;
  req.set_min_position(min_position);
  const std::string& id = f.positional[2];
  req.set_name(id.rfind("actions/", 0) == 0 ? id : "actions/" + id);
  Client c(f);
  v1::Action a;
  grpc::Status s = c.actions().GetAction(c.Context().get(), req, &a);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(a) << "\n";
    return 0;
  }
  auto line = [&](const std::string& label, const std::string& value) {
    if (!value.empty()) out << PadRight(label, 22) << " " << value << "\n";
  };
  auto members = [](const auto& list) {
    std::vector<std::string> out;
    for (const v1::ActionMember& m : list) {
      out.push_back(absl::StrCat(m.user_id(), " (", m.organisation_id(), ")"));
    }
    return absl::StrJoin(out, ", ");
  };
  line("Action", a.id());
  line("Intitulé", a.details().name());
  line("Statut", std::string(rb::domain::FrenchLabel(a.status())));
  line("Département", a.details().departement_code());
  line("Début", Day(a.details().started_at()));
  line("Fin", Day(a.details().ended_at()));
  std::vector<std::string> topics;
  for (int t : a.details().topics()) {
    topics.emplace_back(rb::domain::FrenchLabel(static_cast<v1::ActionTopic>(t)));
  }
  line("Thématiques", absl::StrJoin(topics, ", "));
  line("Objectifs", a.details().goals());
  line("Lieu", std::string(rb::domain::FrenchLabel(a.details().location().type())));
  line("Sites", absl::StrJoin(a.details().location().site_ids(), ", "));
  line("Pilotes", members(a.managers()));
  line("Opérateurs", members(a.operators()));
  line("Fermée le", Day(a.closed_at()));
  for (const v1::ActionIndicators& i : a.indicators()) {
    out << absl::StrFormat(
        "Indicateurs %d       personnes %d, ménages %d, mineurs %d, hébergés %d, "
        "logés %d\n",
        i.year(), i.nombre_personnes(), i.nombre_menages(), i.nombre_mineurs(),
        i.hebergement_nombre_personnes(), i.logement_nombre_personnes());
  }
  for (const v1::ActionFinances& y : a.finances()) {
    for (const v1::FinanceLine& l : y.lines()) {
      out << absl::StrFormat("Financements %d      %s : prévu %s €, dépensé %s €\n", y.year(),
                             rb::domain::FrenchLabel(l.type()), Euros(l.amount_cents()),
                             Euros(l.real_amount_cents()));
    }
  }
  line("Révision", absl::StrCat(a.revision()));
  return 0;
}

int ActionsAggregates(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::GetActionAggregatesQuery q;
  uint64_t min_position = 0;
  if (!MinPosition(f, &min_position, err)) return 2;
  q.set_min_position(min_position);
  int32_t year = 0;
  if (!Year(f, &year, err)) return 2;
  q.mutable_request()->set_year(year);
  const std::string by = f.Get("by", "departement");
  if (by != "departement" && by != "topic") return Usage(err, "--by takes departement or topic");
  q.mutable_request()->set_grouping(by == "topic" ? v1::ACTION_GROUPING_TOPIC
                                                  : v1::ACTION_GROUPING_DEPARTEMENT);
  q.mutable_request()->set_departement_code(f.Get("departement"));
  Client c(f);
  v1::ActionAggregatesResponse resp;
  grpc::Status s = c.actions().GetActionAggregates(c.Context().get(), q, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-4s %-10s %7s %9s %10s %9s %6s %14s %14s\n", "YEAR", "GROUP",
                           "ACTIONS", "PEOPLE", "HOUSEHOLDS", "SHELTERED", "HOUSED", "PLANNED_EUR",
                           "SPENT_EUR");
  }
  for (const v1::ActionAggregate& g : resp.aggregates()) {
    if (f.json) {
      out << ProtoJson(g) << "\n";
      continue;
    }
    // Finances are left out by the server for readers without access to them: "-", not 0.
    int64_t planned = 0, spent = 0;
    for (const v1::FinanceTotal& t : g.finances()) {
      planned += t.amount_cents();
      spent += t.real_amount_cents();
    }
    const bool finances = g.finances_size() > 0;
    const std::string group =
        by == "topic" ? std::string(rb::domain::PlatformCode(g.topic())) : g.departement_code();
    const v1::ActionIndicators& i = g.indicators();
    out << absl::StrFormat("%-4d %-10s %7d %9d %10d %9d %6d %14s %14s\n", g.year(), group,
                           g.actions(), i.nombre_personnes(), i.nombre_menages(),
                           i.hebergement_nombre_personnes(), i.logement_nombre_personnes(),
                           finances ? Euros(planned) : "-", finances ? Euros(spent) : "-");
  }
  return 0;
}

}  // namespace

std::vector<Command> ActionCommands() {
  return {
      {"actions",
       "list",
       kActionsListUsage,
       {"departement", "open", "year", "topic", "min-position"},
       0,
       0,
       ActionsList},
      {"actions", "show", kActionsShowUsage, {"min-position"}, 1, 1, ActionsShow},
      {"actions",
       "aggregates",
       kActionsAggregatesUsage,
       {"year", "by", "departement", "min-position"},
       0,
       0,
       ActionsAggregates},
  };
}

}  // namespace rb::tools
