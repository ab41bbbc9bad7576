// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption actions list|show|aggregates`: the actions (intervention programmes) and their
// yearly indicators and finances, as the `action_views` view serves them.
// `resorption actions create|update|managers|operators|indicators|finances|comment|close`: the
// Actions service's commands, flag values checked here when their format is local (dates,
// euros, counts, codes), the rest by the server's domain rules (field violations, exit 1).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "domain/labels.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/site_history.h"
#include "tools/lib/site_table.h"

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

constexpr const char* kActionsCreateUsage = R"(Usage: resorption actions create [flags]

Creates an action (CreateAction). Required: --name, --started, --topics, --departement, the
place (--location, --sites or --other), --managers and --operators, unless --file holds them.
  --id=ID                     the action id (default: derived by the server from the command id)
  --name=TEXT                 Intitulé (255 characters at most)
  --started=DATE              Début (YYYY-MM-DD or DD/MM/YYYY)
  --ended=DATE                Fin, on or after the start
  --goals=TEXT                Objectifs
  --topics=CODE[,CODE]        Thématiques: health, school, work, housing, safety
  --departement=CODE          the action's département, e.g. 93
  --location=TYPE             Lieu: eti, logement, sur_site, autre (default: sur_site with
                              --sites, autre with --other)
  --sites=ID[,ID]             the sites of an action on site (sur_site)
  --other=TEXT                the place of an action elsewhere (autre)
  --managers=USER:ORG[,...]   Pilotes: user id and organisation id
  --operators=USER:ORG[,...]  Opérateurs: user id and organisation id
  --file=PATH                 a CreateAction in protobuf's JSON mapping ({"details": {...},
                              "managers": [...], "operators": [...]}), e.g. for the addresses
                              of an ETI; the flags given replace its fields
)";
constexpr const char* kActionsUpdateUsage = R"(Usage: resorption actions update ID [flags]

Changes the details given (UpdateAction, with their fields as the update mask); the others are
kept. At least one of:
  --name=TEXT --goals=TEXT --started=DATE --departement=CODE --topics=CODE[,CODE]
  --ended=DATE                Fin (--ended= with nothing clears it)
  --location=TYPE --sites=ID[,ID] --other=TEXT   the place, replaced whole (as for create)
  --file=PATH                 an UpdateAction in protobuf's JSON mapping ({"details": {...},
                              "updateMask": "name,goals"}); the flags given are added to it
)";
constexpr const char* kActionsManagersUsage =
    R"(Usage: resorption actions managers ID USER:ORG [USER:ORG...]

Replaces the pilots of an action (SetActionManagers): each one a user id and the id of their
organisation, e.g. u-93:asso-93.
)";
constexpr const char* kActionsOperatorsUsage =
    R"(Usage: resorption actions operators ID USER:ORG [USER:ORG...]

Replaces the operators of an action (SetActionOperators): each one a user id and the id of
their organisation, e.g. u-7:ope-93.
)";
constexpr const char* kActionsIndicatorsUsage =
    R"(Usage: resorption actions indicators ID --year=YYYY [indicators]

Records the indicators of one year (RecordActionIndicators): the action is read, the indicators
given replace that year's, the others are kept; sent with the revision read, so a concurrent
change is refused (ABORTED). Each takes a whole number >= 0, or nothing to clear it
(--nombre-femmes=). At least one indicator.
  --year=YYYY      the year (required), from the action's start year to this year
  --nombre-personnes=N --nombre-menages=N --nombre-femmes=N --nombre-mineurs=N
  --sante-nombre-personnes=N
  --travail-nombre-personnes=N --travail-nombre-femmes=N
  --hebergement-nombre-personnes=N --hebergement-nombre-menages=N
  --logement-nombre-personnes=N --logement-nombre-menages=N
  --scolaire-mineurs-scolarisables=N --scolaire-mineurs-en-mediation=N
  --scolaire-nombre-maternelle=N --scolaire-nombre-elementaire=N --scolaire-nombre-college=N
  --scolaire-nombre-lycee=N --scolaire-nombre-autre=N
)";
constexpr const char* kActionsFinancesUsage =
    R"(Usage: resorption actions finances ID --year=YYYY --type=TYPE [flags]

Records the finances of one year (RecordActionFinances), one finance line at a time: the action
is read, the line of --type is set (added when new, amounts not given kept, 0 for a new line)
or removed, the year's other lines are kept; sent with the revision read, so a concurrent change
is refused (ABORTED). Needs access to the action's finances.
  --year=YYYY        the year (required), from the action's start year to next year
  --type=TYPE        etatique, dedie, collectivite, europeen, prive, autre
  --planned=EUR      amount planned, in euros with at most 2 decimals (1500, 1500.50)
  --spent=EUR        amount spent, idem
  --comments=TEXT    the line's comments
  --remove           remove the line of --type
  --file=PATH        instead of --type: the year's whole finances, an ActionFinances in
                     protobuf's JSON mapping ({"year": 2025, "lines": [{"type":
                     "FINANCE_TYPE_DEDICATED", "amountCents": "150000", ...}]}); --year, when
                     given, replaces its year
)";
constexpr const char* kActionsCommentUsage =
    R"(Usage: resorption actions comment ID --text=TEXT [flags]

Posts a message to the action's journal (PostActionComment); allowed on a closed action.
  --text=TEXT                 the message (required)
  --to-user=ID,...            only these users (and moderators) may read it
  --to-organisation=ID,...    only these organisations (and moderators) may read it
)";
constexpr const char* kActionsCloseUsage = R"(Usage: resorption actions close ID --date=DATE [flags]

Closes an action (CloseAction); a closed action only takes messages afterwards.
  --date=DATE        the day it ended (YYYY-MM-DD or DD/MM/YYYY), not in the future nor before
                     the start (required)
  --comment=TEXT     the closing comment
)";

// The resource name of the action `id` ("a-93" or "actions/a-93").
std::string ActionName(const std::string& id) {
  return id.rfind("actions/", 0) == 0 ? id : "actions/" + id;
}

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
  req.set_name(ActionName(f.positional[2]));
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
  line("Bilan", a.final_comment());
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
  for (const v1::Comment& m : a.comments()) {
    line("Message", absl::StrCat(FormatMicros(m.posted_at_us()).substr(0, 10), " ",
                                 m.author_user_id(), " : « ", m.text(), " »"));
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

// `text` split at commas, empty items dropped.
std::vector<std::string> List(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

// The place of an action from --location, --sites and --other: the type is --location's, else
// sur_site when --sites is given, else autre.
absl::Status LocationFromFlags(const Flags& f, v1::ActionLocation* loc) {
  loc->Clear();
  if (f.Has("location")) {
    auto type = rb::domain::FromPlatformCode<v1::ActionLocationType>(f.Get("location"));
    if (!type.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--location: unknown place ", f.Get("location"), " (eti, logement, sur_site, autre)"));
    }
    loc->set_type(*type);
  } else {
    loc->set_type(f.Has("sites") ? v1::ACTION_LOCATION_TYPE_ON_SITE
                                 : v1::ACTION_LOCATION_TYPE_OTHER);
  }
  for (const std::string& id : List(f.Get("sites"))) loc->add_site_ids(id);
  loc->set_other(f.Get("other"));
  return absl::OkStatus();
}

// The ActionDetails flags given (--name, --goals, --started, --ended, --topics, --departement,
// --location/--sites/--other) into `d`, the name of each field set appended to `paths` (the
// update mask). INVALID_ARGUMENT naming the flag on a bad value; `d` is then partly set.
absl::Status DetailsFromFlags(const Flags& f, v1::ActionDetails* d,
                              std::vector<std::string>* paths) {
  if (f.Has("name")) {
    d->set_name(f.Get("name"));
    paths->push_back("name");
  }
  if (f.Has("goals")) {
    d->set_goals(f.Get("goals"));
    paths->push_back("goals");
  }
  if (f.Has("started")) {
    if (absl::Status s = ParseDay(f.Get("started"), d->mutable_started_at()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--started: ", s.message()));
    }
    paths->push_back("started_at");
  }
  if (f.Has("ended")) {
    d->clear_ended_at();
    if (!f.Get("ended").empty()) {
      if (absl::Status s = ParseDay(f.Get("ended"), d->mutable_ended_at()); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--ended: ", s.message()));
      }
    }
    paths->push_back("ended_at");
  }
  if (f.Has("topics")) {
    d->clear_topics();
    for (const std::string& code : List(f.Get("topics"))) {
      auto topic = rb::domain::FromPlatformCode<v1::ActionTopic>(code);
      if (!topic.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("--topics: unknown topic ", code,
                                                       " (health, school, work, housing, safety)"));
      }
      d->add_topics(*topic);
    }
    paths->push_back("topics");
  }
  if (f.Has("departement")) {
    d->set_departement_code(f.Get("departement"));
    paths->push_back("departement_code");
  }
  if (f.Has("location") || f.Has("sites") || f.Has("other")) {
    if (absl::Status s = LocationFromFlags(f, d->mutable_location()); !s.ok()) return s;
    paths->push_back("location");
  }
  return absl::OkStatus();
}

// Members written USER:ORG (user id, organisation id) into `members`, replacing them.
// INVALID_ARGUMENT starting with `what` (the flag or command) on a malformed item.
absl::Status MembersFromText(const std::string& what, const std::vector<std::string>& items,
                             google::protobuf::RepeatedPtrField<v1::ActionMember>* members) {
  members->Clear();
  for (const std::string& item : items) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", item, "\" is not USER:ORGANISATION, e.g. u-93:asso-93"));
    }
    v1::ActionMember* m = members->Add();
    m->set_user_id(item.substr(0, colon));
    m->set_organisation_id(item.substr(colon + 1));
  }
  return absl::OkStatus();
}

int ActionsCreate(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::CreateActionRequest req;
  v1::CreateAction* cmd = req.mutable_command();
  if (f.Has("file")) {
    if (absl::Status s = ProtoFromJsonFile(f.Get("file"), cmd); !s.ok()) {
      return Usage(err, absl::StrCat("--file: ", s.message()));
    }
  }
  std::vector<std::string> paths;
  if (absl::Status s = DetailsFromFlags(f, cmd->mutable_details(), &paths); !s.ok()) {
    return Usage(err, std::string(s.message()));
  }
  for (const auto& [flag, members] :
       {std::pair{"managers", cmd->mutable_managers()}, {"operators", cmd->mutable_operators()}}) {
    if (!f.Has(flag)) continue;
    absl::Status s = MembersFromText(absl::StrCat("--", flag), List(f.Get(flag)), members);
    if (!s.ok()) return Usage(err, std::string(s.message()));
  }
  const v1::ActionDetails& d = cmd->details();
  std::vector<std::string> missing;
  if (d.name().empty()) missing.push_back("--name");
  if (!d.has_started_at()) missing.push_back("--started");
  if (d.topics().empty()) missing.push_back("--topics");
  if (d.departement_code().empty()) missing.push_back("--departement");
  if (d.location().type() == v1::ACTION_LOCATION_TYPE_UNSPECIFIED) {
    missing.push_back("--location (or --sites, --other)");
  }
  if (cmd->managers().empty()) missing.push_back("--managers");
  if (cmd->operators().empty()) missing.push_back("--operators");
  if (!missing.empty()) {
    return Usage(err, absl::StrCat("actions create needs ", absl::StrJoin(missing, ", ")));
  }
  req.set_action_id(f.Get("id"));
  SetWriteOptions(f, req.mutable_options());
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::CreateAction, req, out, err);
}

int ActionsUpdate(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::UpdateActionRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  if (f.Has("file")) {
    v1::UpdateAction update;
    if (absl::Status s = ProtoFromJsonFile(f.Get("file"), &update); !s.ok()) {
      return Usage(err, absl::StrCat("--file: ", s.message()));
    }
    *req.mutable_details() = update.details();
    *req.mutable_update_mask() = update.update_mask();
  }
  std::vector<std::string> paths;
  if (absl::Status s = DetailsFromFlags(f, req.mutable_details(), &paths); !s.ok()) {
    return Usage(err, std::string(s.message()));
  }
  for (const std::string& path : paths) {
    const auto& mask = req.update_mask().paths();
    if (std::find(mask.begin(), mask.end(), path) == mask.end()) {
      req.mutable_update_mask()->add_paths(path);
    }
  }
  if (req.update_mask().paths().empty()) {
    return Usage(err, "actions update needs at least one field to change (or a --file)");
  }
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::UpdateAction, req, out, err);
}

// The positional arguments after `actions COMMAND ID`.
std::vector<std::string> MemberArgs(const Flags& f) {
  return {f.positional.begin() + 3, f.positional.end()};
}

int ActionsManagers(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::SetActionManagersRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  absl::Status st =
      MembersFromText("actions managers", MemberArgs(f), req.mutable_command()->mutable_managers());
  if (!st.ok()) return Usage(err, std::string(st.message()));
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::SetActionManagers, req, out, err);
}

int ActionsOperators(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::SetActionOperatorsRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  absl::Status st = MembersFromText("actions operators", MemberArgs(f),
                                    req.mutable_command()->mutable_operators());
  if (!st.ok()) return Usage(err, std::string(st.message()));
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::SetActionOperators, req, out, err);
}

// The counts of ActionIndicators (every int32 field but the year).
std::vector<const google::protobuf::FieldDescriptor*> IndicatorFields() {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  const google::protobuf::Descriptor* d = v1::ActionIndicators::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* fd = d->field(i);
    if (fd->type() == google::protobuf::FieldDescriptor::TYPE_INT32 && fd->name() != "year") {
      fields.push_back(fd);
    }
  }
  return fields;
}

// The flag of an indicator: its field name with dashes (nombre_personnes: nombre-personnes).
std::string IndicatorFlag(const google::protobuf::FieldDescriptor* fd) {
  return absl::StrReplaceAll(fd->name(), {{"_", "-"}});
}

// The current state of the action named `name` (GetAction, with the actor's rights).
grpc::Status GetAction(const Client& c, const std::string& name, v1::Action* a) {
  v1::GetActionRequest req;
  req.set_name(name);
  return c.actions().GetAction(c.Context().get(), req, a);
}

int ActionsIndicators(const Flags& f, std::ostream& out, std::ostream& err) {
  if (!f.Has("year")) return Usage(err, "actions indicators needs --year");
  int32_t year = 0;
  if (!Year(f, &year, err)) return 2;
  // The counts given, checked before anything is read: a value, or nullopt to clear it.
  std::vector<std::pair<const google::protobuf::FieldDescriptor*, std::optional<int32_t>>> given;
  for (const google::protobuf::FieldDescriptor* fd : IndicatorFields()) {
    const std::string flag = IndicatorFlag(fd);
    if (!f.Has(flag)) continue;
    int32_t v = 0;
    if (f.Get(flag).empty()) {
      given.emplace_back(fd, std::nullopt);
    } else if (absl::SimpleAtoi(f.Get(flag), &v) && v >= 0) {
      given.emplace_back(fd, v);
    } else {
      return Usage(err, absl::StrCat("--", flag, " takes a whole number >= 0 (nothing clears it)"));
    }
  }
  if (given.empty()) return Usage(err, "actions indicators needs at least one indicator");
  Client c(f);
  v1::Action action;
  const std::string name = ActionName(f.positional[2]);
  grpc::Status s = GetAction(c, name, &action);
  if (!s.ok()) return RpcFailed(err, s);
  v1::RecordActionIndicatorsRequest req;
  req.set_name(name);
  SetWriteOptions(f, req.mutable_options());
  req.mutable_options()->set_expected_revision(action.revision());
  v1::ActionIndicators* ind = req.mutable_command()->mutable_indicators();
  for (const v1::ActionIndicators& i : action.indicators()) {
    if (i.year() == year) *ind = i;
  }
  ind->set_year(year);
  ind->clear_updated_at_us();
  for (const auto& [fd, value] : given) {
    if (value.has_value()) {
      ind->GetReflection()->SetInt32(ind, fd, *value);
    } else {
      ind->GetReflection()->ClearField(ind, fd);
    }
  }
  return SendWrite(f, c, &v1::Actions::Stub::RecordActionIndicators, req, out, err);
}

// `--type` with --planned, --spent, --comments or --remove applied to the year's `lines`.
void ApplyFinanceLine(const Flags& f, v1::FinanceType type, std::optional<int64_t> planned,
                      std::optional<int64_t> spent,
                      google::protobuf::RepeatedPtrField<v1::FinanceLine>* lines) {
  auto it = std::find_if(lines->begin(), lines->end(),
                         [&](const v1::FinanceLine& l) { return l.type() == type; });
  if (f.Has("remove")) {
    if (it != lines->end()) lines->erase(it);
    return;
  }
  v1::FinanceLine* line = it != lines->end() ? &*it : lines->Add();
  line->set_type(type);
  if (planned.has_value()) line->set_amount_cents(*planned);
  if (spent.has_value()) line->set_real_amount_cents(*spent);
  if (f.Has("comments")) line->set_comments(f.Get("comments"));
}

int ActionsFinances(const Flags& f, std::ostream& out, std::ostream& err) {
  int32_t year = 0;
  if (!Year(f, &year, err)) return 2;
  Client c(f);
  v1::RecordActionFinancesRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  v1::ActionFinances* finances = req.mutable_command()->mutable_finances();
  if (f.Has("file")) {
    for (const char* flag : {"type", "planned", "spent", "comments", "remove"}) {
      if (f.Has(flag)) return Usage(err, absl::StrCat("give --file or --", flag, ", not both"));
    }
    if (absl::Status st = ProtoFromJsonFile(f.Get("file"), finances); !st.ok()) {
      return Usage(err, absl::StrCat("--file: ", st.message()));
    }
    if (year != 0) finances->set_year(year);
    if (finances->year() == 0) return Usage(err, "actions finances needs --year");
  } else {
    if (year == 0) return Usage(err, "actions finances needs --year");
    if (!f.Has("type")) return Usage(err, "actions finances needs --type (or --file)");
    auto type = rb::domain::FromPlatformCode<v1::FinanceType>(f.Get("type"));
    if (!type.has_value()) {
      return Usage(err, absl::StrCat("--type: unknown finance type ", f.Get("type"),
                                     " (etatique, dedie, collectivite, europeen, prive, autre)"));
    }
    std::optional<int64_t> planned, spent;
    for (auto [flag, cents] : {std::pair{"planned", &planned}, {"spent", &spent}}) {
      if (!f.Has(flag)) continue;
      int64_t v = 0;
      if (absl::Status st = ParseEuros(f.Get(flag), &v); !st.ok()) {
        return Usage(err, absl::StrCat("--", flag, ": ", st.message()));
      }
      *cents = v;
    }
    const bool change = planned || spent || f.Has("comments");
    if (f.Has("remove") == change) {
      return Usage(err, "actions finances needs --planned, --spent or --comments, or --remove");
    }
    v1::Action action;
    grpc::Status s = GetAction(c, req.name(), &action);
    if (!s.ok()) return RpcFailed(err, s);
    req.mutable_options()->set_expected_revision(action.revision());
    for (const v1::ActionFinances& y : action.finances()) {
      if (y.year() == year) *finances = y;
    }
    finances->set_year(year);
    ApplyFinanceLine(f, *type, planned, spent, finances->mutable_lines());
  }
  return SendWrite(f, c, &v1::Actions::Stub::RecordActionFinances, req, out, err);
}

int ActionsComment(const Flags& f, std::ostream& out, std::ostream& err) {
  if (f.Get("text").empty()) return Usage(err, "actions comment needs --text");
  v1::PostActionCommentRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  req.mutable_command()->set_text(f.Get("text"));
  for (const std::string& u : List(f.Get("to-user"))) {
    req.mutable_command()->add_target_user_ids(u);
  }
  for (const std::string& o : List(f.Get("to-organisation"))) {
    req.mutable_command()->add_target_organisation_ids(o);
  }
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::PostActionComment, req, out, err);
}

int ActionsClose(const Flags& f, std::ostream& out, std::ostream& err) {
  if (!f.Has("date")) return Usage(err, "actions close needs --date");
  v1::CloseActionRequest req;
  req.set_name(ActionName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  if (absl::Status st = ParseDay(f.Get("date"), req.mutable_command()->mutable_closed_at());
      !st.ok()) {
    return Usage(err, absl::StrCat("--date: ", st.message()));
  }
  req.mutable_command()->set_final_comment(f.Get("comment"));
  Client c(f);
  return SendWrite(f, c, &v1::Actions::Stub::CloseAction, req, out, err);
}

}  // namespace

std::vector<Command> ActionCommands() {
  // At most this many pilots or operators on one command line.
  constexpr int kMaxMembers = 100;
  const std::vector<std::string> write = {"command-id", "reason"};
  auto with = [&](std::vector<std::string> flags) {
    flags.insert(flags.end(), write.begin(), write.end());
    return flags;
  };
  std::vector<std::string> indicators = {"year"};
  for (const google::protobuf::FieldDescriptor* fd : IndicatorFields()) {
    indicators.push_back(IndicatorFlag(fd));
  }
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
      {"actions", "create", kActionsCreateUsage,
       with({"id", "name", "started", "ended", "goals", "topics", "departement", "location",
             "sites", "other", "managers", "operators", "file"}),
       0, 0, ActionsCreate},
      {"actions", "update", kActionsUpdateUsage,
       with({"name", "started", "ended", "goals", "topics", "departement", "location", "sites",
             "other", "file"}),
       1, 1, ActionsUpdate},
      {"actions", "managers", kActionsManagersUsage, with({}), 2, kMaxMembers + 1, ActionsManagers},
      {"actions", "operators", kActionsOperatorsUsage, with({}), 2, kMaxMembers + 1,
       ActionsOperators},
      {"actions", "indicators", kActionsIndicatorsUsage, with(indicators), 1, 1, ActionsIndicators},
      {"actions", "finances", kActionsFinancesUsage,
       with({"year", "type", "planned", "spent", "comments", "remove", "file"}), 1, 1,
       ActionsFinances},
      {"actions", "comment", kActionsCommentUsage, with({"text", "to-user", "to-organisation"}), 1,
       1, ActionsComment},
      {"actions", "close", kActionsCloseUsage, with({"date", "comment"}), 1, 1, ActionsClose},
  };
}

}  // namespace rb::tools
