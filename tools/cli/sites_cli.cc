// Copyright: the Résorption-bidonvilles data service authors.
//
// `resorption sites declare|show|list|history|asof|activity|heatwave|confirm|close|
// update-population|comment`, and the other write commands of the Sites service: census,
// living-conditions, upgrade-living-conditions, import-living-conditions-v1, procedures,
// intervener, moderate-comment, phase, correct-closure, erase, update, correct. The nested
// parts (an assessment, procedures, a closure, site parts) are read from JSON files.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/dates.h"
#include "domain/labels.h"
#include "domain/site.h"
#include "google/protobuf/util/json_util.h"
#include "tools/cli/cli_common.h"
#include "tools/lib/json.h"
#include "tools/lib/progress.h"
#include "tools/lib/site_history.h"
#include "tools/lib/site_table.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

constexpr const char* kDeclareUsage = R"(Usage: resorption sites declare [flags]

Declares a new site (DeclareSite). Required: --commune, --address, --lat, --lon, --type,
--declared.
  --id=ID             the site id (default: derived by the server from the command id)
  --name=TEXT         Appellation du site (35 characters at most)
  --commune=INSEE     the commune's INSEE code, e.g. 93066
  --address=TEXT      the address label
  --access=TEXT       Informations d'accès
  --lat=X --lon=Y     coordinates
  --type=TYPE         Type de site: Terrain, "Immeuble bâti", Inconnu (or terrain, immeuble_bati)
  --declared=DATE     Date de signalement (YYYY-MM-DD or DD/MM/YYYY)
  --built=DATE        Date d'installation
)";
constexpr const char* kShowUsage = R"(Usage: resorption sites show ID

Prints the current state of one site (GetSite); --json prints the whole site as JSON.
)";
constexpr const char* kListUsage = R"(Usage: resorption sites list [flags]

Lists the sites the actor may read (ListSites), following every page.
  --departement=CODE[,CODE]   only these départements
  --commune=INSEE[,INSEE]     only these communes
  --status=open|closed|all    default open
  --min-population=N          only sites with at least N people (counted on this side)
  --sort=update|population|commune|priority   default update (most recent first)
  --asc                       ascending order
  --limit=N                   at most N sites
  --min-position=N            read your writes: wait until the list includes log position N
)";
constexpr const char* kAsOfUsage =
    R"(Usage: resorption sites asof ID --date=YYYY-MM-DD [--known-at=TIME]

The state of one site at the end of a valid date ("date de mise à jour"), as the service knows it
now, or as it knew it at --known-at (a retroactive correction recorded later is then invisible):
the history view's two timelines (GetSiteAsOf). TIME: 2025-03-01T12:00:00Z (RFC 3339, fractions
of a second allowed), "2025-03-01 12:00:00 UTC", or microseconds since the epoch (the
recorded_at_us of `events read --json`). --json prints the whole answer.
  --min-position=N   read your writes: wait until the view includes log position N (the
                     position a write command printed)
)";
constexpr const char* kHeatwaveUsage = R"(Usage: resorption sites heatwave ID on|off [flags]

Raises or lifts the heatwave alert of one site (SetHeatwave).
)";
constexpr const char* kConfirmUsage = R"(Usage: resorption sites confirm ID [flags]

Records that the site's data were checked and are still true ("mettre à jour sans modification",
ConfirmUpToDate): the site is no longer out of date.
)";
constexpr const char* kHistoryUsage = R"(Usage: resorption sites history ID

Who changed what and when on one site, oldest first (GetSiteChangeLog), without the fields the
actor may not see.
)";
constexpr const char* kActivityUsage = R"(Usage: resorption sites activity [flags]

The activity feed (ListActivity), newest first: creations, updates with their changed fields,
closures and journal messages on the sites and actions the actor may read, as the actor may see
them, and the users who joined (by organisation and role).
  --departement=CODE   only the sites of this département (where they are now), its actions and
                       the users of its organisations
  --commune=INSEE      only the sites of this commune (and the users of organisations based there)
  --kind=KIND[,KIND]   declared, updated, closed, comment (sites), action-created,
                       action-updated, action-closed, action-comment, user-joined (default: all)
  --since=YYYY-MM-DD   only what was recorded on or after this day (UTC)
  --limit=N            at most N activities (default 50; with --follow, stop after N)
  --follow             follow the feed live (WatchActivity): prints the activities oldest first
                       as they are recorded (Ctrl-C stops); without --after, only the new ones
  --after=POSITION     with --follow: first the activities recorded after this log position (0:
                       the whole history), then the new ones. To resume, pass the "position" of
                       the last activity printed with --json (or the one a server shutdown
                       reports): nothing is missed nor repeated
)";
constexpr const char* kCloseUsage = R"(Usage: resorption sites close ID [flags]

Closes an open site (CloseSite). Required: --cause and --date.
  --cause=CAUSE       resorbed, closed_by_justice, closed_by_pref_admin, closed_by_city_admin,
                      other (needs --context), unknown
  --date=DATE         Date de fermeture (YYYY-MM-DD or DD/MM/YYYY)
  --resorbed=yes|no   "Résorbé": the inhabitants left with solutions
  --context=TEXT      Contexte de fermeture
)";
constexpr const char* kUpdatePopulationUsage =
    R"(Usage: resorption sites update-population ID [flags]

Records new population counts (RecordPopulation): the counts given replace the current ones,
the others are kept. Sent with the revision read, so a concurrent change is refused (ABORTED).
  --total=N --households=N --minors=N --minors-0-3=N --minors-3-6=N --minors-6-12=N
  --minors-12-16=N --minors-16-18=N --in-school=N --females=N --girls=N
)";

constexpr const char* kCommentUsage = R"(Usage: resorption sites comment ID --text=TEXT [flags]

Posts a message to the site's journal (PostComment).
  --text=TEXT                 the message (required)
  --to-user=ID,...            only these users (and moderators) may read it
  --to-organisation=ID,...    only these organisations (and moderators) may read it
)";

constexpr const char* kCensusUsage = R"(Usage: resorption sites census ID [flags]

Records the social diagnostic ("Diagnostic social", RecordCensus): the census given replaces the
current one. Needs --status or --file.
  --status=STATUS   Statut du diagnostic social: none (non prévu), scheduled (prévu),
                    done (réalisé)
  --date=DATE       Date du diagnostic (YYYY-MM-DD or DD/MM/YYYY)
  --by=TEXT         Service en charge du diagnostic
  --file=PATH       a Census in JSON, e.g. {"status":"CENSUS_STATUS_DONE","conducted_at":
                    {"year":2025,"month":1,"day":15},"conducted_by":"SIAO"}; the flags given
                    override its fields
)";
constexpr const char* kLivingConditionsUsage =
    R"(Usage: resorption sites living-conditions ID --file=PATH [flags]

Assesses the living conditions in schema v2 (AssessLivingConditions): the assessment replaces
the current one. Refused on a site still in v1: use `sites upgrade-living-conditions`.
  --file=PATH   a LivingConditionsV2 in JSON (site.proto): {"water":{"access_type":
                "WATER_ACCESS_TYPE_NETWORK_TAP","is_public":"NO",...},"sanitary":{...},
                "electricity":{...},"trash":{...},"pests":{...},"fire":{...}}
)";
constexpr const char* kUpgradeLivingConditionsUsage =
    R"(Usage: resorption sites upgrade-living-conditions ID --file=PATH [flags]

Switches a site in v1 (or never assessed) to the living conditions v2 with this assessment
(UpgradeLivingConditions): the v1 answers are dropped. Refused once the site is in v2.
  --file=PATH   a LivingConditionsV2 in JSON, as for `sites living-conditions`
)";
constexpr const char* kImportLivingConditionsV1Usage =
    R"(Usage: resorption sites import-living-conditions-v1 ID --file=PATH [flags]

Records an assessment in the former schema v1 (ImportLivingConditionsV1): history imports only
(actors with the import option); refused once the site is in v2.
  --file=PATH   a LivingConditionsV1 in JSON (site.proto), e.g. {"access_to_water":"YES",
                "water_distance":"WATER_DISTANCE_V1_0_20","electricity_type":
                "ELECTRICITY_TYPE_V1_NO"}
)";
constexpr const char* kProceduresUsage =
    R"(Usage: resorption sites procedures ID --file=PATH [flags]

Updates the restricted procedures (UpdateProcedures): each part in the file replaces the current
one, the parts left out are unchanged. Needs access to justice (option access_justice).
  --file=PATH   an UpdateProcedures in JSON: {"justice":{...},"police":{...},
                "administrative_order":{...},"insalubrity_order":{...}} (site.proto's
                JusticeProcedure, PoliceAssistance, AdministrativeOrder, InsalubrityOrder), e.g.
                {"justice":{"owner_complaint":"YES","justice_procedure":"NO"}}
)";
constexpr const char* kIntervenerUsage =
    R"(Usage: resorption sites intervener add|withdraw ID [flags]

add declares an intervener on the site with their themes (DeclareIntervener); withdraw removes
one (WithdrawIntervener). Without --user: the actor (and their organisation); only
administrators name another user.
  --user=ID                the intervening user
  --user-organisation=ID   add: that user's organisation
  --themes=THEME[,THEME]   add: sante, education, emploi, logement, mediation_sociale,
                           securite, humanitaire, diagnostic, pilotage, autre
  --other-theme=TEXT       add: what "autre" means (required with it)
)";
constexpr const char* kModerateCommentUsage =
    R"(Usage: resorption sites moderate-comment ID COMMENT_ID [flags]

Moderates a message of the site's journal (ModerateComment): its text is withdrawn for every
reader. Administrators. COMMENT_ID: the message's id (comments[].id of `sites show --json`).
  --reason=TEXT   why (kept with the moderation)
)";
constexpr const char* kPhaseUsage = R"(Usage: resorption sites phase start|complete ID PHASE [flags]

Starts or completes a phase of the site's resorption (StartResorptionPhase,
CompleteResorptionPhase). PHASE: sociological_diagnosis, technical_diagnosis, social_assessment,
political_validation, contract_preparation, land_equipment_development, family_information,
contractualization_of_families, official_opening.
)";
constexpr const char* kCorrectClosureUsage =
    R"(Usage: resorption sites correct-closure ID --reason=TEXT [flags]

Corrects the closure of a closed site (CorrectClosure). National administrators; the reason is
required. Starts from the current closure (or from --file): the values given replace its own,
the others are kept. Sent with the revision read, so a concurrent change is refused (ABORTED).
  --cause=CAUSE       resorbed, closed_by_justice, closed_by_pref_admin, closed_by_city_admin,
                      other (needs --context), unknown
  --date=DATE         Date de fermeture (YYYY-MM-DD or DD/MM/YYYY)
  --resorbed=yes|no   "Résorbé": the inhabitants left with solutions
  --context=TEXT      Contexte de fermeture
  --file=PATH         a Closure in JSON (site.proto), e.g. with its "solutions" (orientation of
                      the households); replaces the current closure, the flags override it
)";
constexpr const char* kEraseUsage = R"(Usage: resorption sites erase ID --reason=TEXT [flags]

Erases a site (EraseSite): only its id and status remain (`sites show` prints "Supprimé"), the
views no longer know it and nothing may happen to it any more. National administrators; the
reason is required.
)";
constexpr const char* kUpdateUsage = R"(Usage: resorption sites update ID [flags]

Updates parts of a site (UpdateSite): each top-level field given replaces the current one, and
each part that really changed becomes one event. Sent with the revision read, so a concurrent
change is refused (ABORTED).
  --file=PATH        a Site in JSON holding the parts to update (the layout of
                     `sites show --json`)
  --fields=F[,F]     the top-level fields to take from the file: name, location, field_type,
                     ownership, built_at, declared_at, reinstallation, resorption_target,
                     heatwave, census, population, dwellings, origins, living_conditions_v2,
                     justice, police, administrative_order, insalubrity_order; a field named
                     but absent from the file is cleared. Default: those the file sets
  --name=TEXT --commune=INSEE --address=TEXT --access=TEXT --lat=X --lon=Y --type=TYPE
  --declared=DATE --built=DATE   as for `sites declare`; over the file's values
  --target=YEAR      Objectif de résorption
)";
constexpr const char* kCorrectUsage =
    R"(Usage: resorption sites correct ID --date=DATE --reason=TEXT [flags]

Corrects the past (CorrectRetroactively): an update valid from the start of DATE (UTC), before
the site's latest event and not before its declaration; `sites asof` shows it from that date
until a later version sets the same fields, and not as known before it was recorded; the current
site keeps its later versions. Administrators; the reason is required.
  --date=DATE   when the corrected values became true (YYYY-MM-DD or DD/MM/YYYY)
  --file, --fields and the field flags of `sites update` give the corrected parts; a location
                flag changes that part alone, the rest as it was on DATE
)";

std::string SiteName(const std::string& id) { return absl::StrCat("sites/", id); }

// A flag of the site form: the export column whose setter reads its value, and the top-level
// Site field it writes.
struct FormFlag {
  const char* flag;
  const char* column;
  const char* field;
};

// The flags of `sites declare`, also those of `sites update` and `sites correct`.
const std::vector<FormFlag>& DeclareFlags() {
  static const auto* flags = new std::vector<FormFlag>{
      {"commune", "Code INSEE", "location"},
      {"address", "Adresse", "location"},
      {"name", "Appellation du site", "name"},
      {"access", "Informations d'accès", "location"},
      {"lat", "Latitude", "location"},
      {"lon", "Longitude", "location"},
      {"type", "Type de site", "field_type"},
      {"declared", "Date de signalement", "declared_at"},
      {"built", "Date d'installation", "built_at"},
  };
  return *flags;
}

// The flags of `sites update` and `sites correct`: the declaration's and the resorption target.
const std::vector<FormFlag>& UpdateFlags() {
  static const auto* flags = [] {
    auto* all = new std::vector<FormFlag>(DeclareFlags());
    all->push_back({"target", "Objectif de résorption", "resorption_target"});
    return all;
  }();
  return *flags;
}

int SitesDeclare(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::Site site;
  for (const auto& [flag, column, field] : DeclareFlags()) {
    const SiteColumn* c = FindSiteColumn(column);
    if (!f.Has(flag)) {
      if (c->required) return Usage(err, absl::StrCat("sites declare needs --", flag));
      continue;
    }
    if (absl::Status s = c->set(f.Get(flag), &site); !s.ok()) {
      return Usage(err, absl::StrCat("--", flag, ": ", s.message()));
    }
  }
  Client c(f);
  v1::DeclareSiteRequest req;
  req.set_site_id(f.Get("id"));
  SetWriteOptions(f, req.mutable_options());
  *req.mutable_command()->mutable_site() = site;
  return SendWrite(f, c, &v1::Sites::Stub::DeclareSite, req, out, err);
}

// The columns of the export for one site, one per line, the empty ones left out.
void PrintSite(const v1::Site& site, std::ostream& out) {
  SiteRow row{site, {}};
  row.actions_known = false;  // GetSite has no action facts: no action column
  for (const SiteColumn& col : SiteColumns()) {
    // The domain statuses are computed by the list, not shown here; the answers are.
    if (col.section == "Conditions de vie" && col.field.empty() &&
        col.header != "Alerte canicule") {
      continue;
    }
    const std::string v = col.get(row);
    if (!v.empty()) out << PadRight(col.header, 48) << " " << v << "\n";
  }
  out << PadRight("Révision", 48) << " " << site.revision() << "\n";
}

int SitesShow(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::GetSiteRequest req;
  req.set_name(SiteName(f.positional[2]));
  v1::Site site;
  grpc::Status s = c.sites().GetSite(c.Context().get(), req, &site);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(site) << "\n";
    return 0;
  }
  PrintSite(site, out);
  return 0;
}

int SitesAsOf(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::GetSiteAsOfQuery req;
  req.set_name(SiteName(f.positional[2]));
  uint64_t min_position = 0;
  if (!Uint(f, "min-position", &min_position)) return Usage(err, "--min-position takes a number");
  req.set_min_position(min_position);
  if (!f.Has("date")) return Usage(err, "sites asof needs --date=YYYY-MM-DD");
  if (absl::Status st = ParseDay(f.Get("date"), req.mutable_valid_date()); !st.ok()) {
    return Usage(err, absl::StrCat("--date: ", st.message()));
  }
  if (f.Has("known-at")) {
    // RFC 3339 (2025-03-01T12:00:00Z, fractions allowed), the CLI's "2025-03-01 12:00:00 UTC", or
    // microseconds since the epoch (recorded_at_us of `events read --json`).
    const std::string text = f.Get("known-at");
    absl::Time t;
    int64_t us = 0;
    std::string error;
    if (absl::SimpleAtoi(text, &us)) {
      t = absl::FromUnixMicros(us);
    } else if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error) &&
               !absl::ParseTime("%Y-%m-%d %H:%M:%S UTC", text, absl::UTCTimeZone(), &t, &error)) {
      return Usage(err, absl::StrCat("--known-at: \"", text,
                                     "\" is not a time such as 2025-03-01T12:00:00Z"));
    }
    if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
      return Usage(err, absl::StrCat("--known-at: \"", text, "\" is not a finite time"));
    }
    const int64_t seconds = absl::ToUnixSeconds(t);
    req.mutable_known_at()->set_seconds(seconds);
    req.mutable_known_at()->set_nanos(
        static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  }
  Client c(f);
  v1::SiteAsOf resp;
  grpc::Status s = c.sites().GetSiteAsOf(c.Context().get(), req, &resp);
  if (!s.ok()) return RpcFailed(err, s);
  if (f.json) {
    out << ProtoJson(resp) << "\n";
    return 0;
  }
  const std::string known = f.Has("known-at") ? f.Get("known-at") : std::string("now");
  out << "site " << f.positional[2] << " on " << f.Get("date") << ", as known "
      << (f.Has("known-at") ? "at " + known : known) << ": " << resp.versions()
      << " version(s), log position " << resp.known_at_position() << "\n";
  PrintSite(resp.site(), out);
  return 0;
}

int SitesHeatwave(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string state = f.positional[3];
  if (state != "on" && state != "off") return Usage(err, "sites heatwave takes on or off");
  v1::SetHeatwaveRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  req.mutable_command()->set_active(state == "on");
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::SetHeatwave, req, out, err);
}

int SitesConfirm(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::ConfirmUpToDateRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::ConfirmUpToDate, req, out, err);
}

int SitesList(const Flags& f, std::ostream& out, std::ostream& err) {
  uint64_t limit = 0, min_population = 0, min_position = 0;
  if (!Uint(f, "limit", &limit) || !Uint(f, "min-population", &min_population) ||
      !Uint(f, "min-position", &min_position)) {
    return Usage(err, "--limit, --min-population and --min-position take a number");
  }
  v1::ListSitesRequest req;
  std::string error;
  if (!SiteListRequestFromFlags(f, &req, &error)) return Usage(err, error);
  Client c(f);
  std::vector<v1::SiteSummary> sites;
  grpc::Status s =
      ListAllSites(c, req, limit, static_cast<int64_t>(min_population), min_position, &sites);
  if (!s.ok()) return RpcFailed(err, s);
  if (!f.json) {
    out << absl::StrFormat("%-14s %-35s %-6s %-24s %-8s %-10s %s\n", "ID", "NAME", "STATUS",
                           "COMMUNE", "PEOPLE", "UPDATED", "PRIORITY");
  }
  for (const v1::SiteSummary& x : sites) {
    const std::string people = x.has_population() ? absl::StrCat(x.population()) : "";
    const std::string updated =
        x.updated_at_us()
            ? rb::domain::FormatDate(rb::domain::ToDate(rb::domain::DayOfMicros(x.updated_at_us())))
            : "";
    if (f.json) {
      JsonObject o;
      o.Add("id", x.id())
          .Add("name", x.name())
          .Add("status", std::string(rb::domain::PlatformCode(x.status())))
          .Add("city_code", x.territory().city_code())
          .Add("commune", x.territory().city_name())
          .Add("departement", x.territory().departement_code())
          .Add("updated", updated)
          .Add("priority_score", int64_t{x.signals().priority_score()});
      if (x.has_population()) o.Add("population", int64_t{x.population()});
      out << o.str() << "\n";
    } else {
      out << absl::StrFormat("%-14s %-35s %-6s %-24s %-8s %-10s %d\n", x.id(), x.name(),
                             std::string(rb::domain::PlatformCode(x.status())),
                             x.territory().city_name(), people, updated,
                             x.signals().priority_score());
    }
  }
  return 0;
}

// The activity kinds by their command-line names, and back.
const std::map<std::string, v1::ActivityKind>& ActivityKinds() {
  static const auto* kinds = new std::map<std::string, v1::ActivityKind>{
      {"declared", v1::ACTIVITY_KIND_SITE_DECLARED},
      {"updated", v1::ACTIVITY_KIND_SITE_UPDATED},
      {"closed", v1::ACTIVITY_KIND_SITE_CLOSED},
      {"comment", v1::ACTIVITY_KIND_SITE_COMMENT},
      {"action-created", v1::ACTIVITY_KIND_ACTION_CREATED},
      {"action-updated", v1::ACTIVITY_KIND_ACTION_UPDATED},
      {"action-closed", v1::ACTIVITY_KIND_ACTION_CLOSED},
      {"action-comment", v1::ACTIVITY_KIND_ACTION_COMMENT},
      {"user-joined", v1::ACTIVITY_KIND_USER_JOINED}};
  return *kinds;
}
std::string ActivityKindName(v1::ActivityKind kind) {
  for (const auto& [name, k] : ActivityKinds()) {
    if (k == kind) return name;
  }
  return "";
}

// One activity: a human line (and its changes, its message), or one JSON object with --json.
void PrintActivity(const Flags& f, const v1::Activity& a, std::ostream& out) {
  const std::string kind = ActivityKindName(a.kind());
  const bool action = !a.action().empty();
  const bool user = a.kind() == v1::ACTIVITY_KIND_USER_JOINED;
  // The last segment of the resource name (sites/{id}, actions/{id}, users/{id}).
  auto last = [](const std::string& name) { return name.substr(name.find('/') + 1); };
  const std::string id = user ? last(a.user()) : action ? last(a.action()) : last(a.site());
  const std::string name = user     ? absl::StrCat(a.user_organisation_name(), ", ", a.user_role())
                           : action ? a.action_name()
                                    : a.site_name();
  if (f.json) {
    std::string changes = "[";
    for (int i = 0; i < a.changes_size(); ++i) {
      if (i > 0) changes += ",";
      changes += JsonObject()
                     .Add("field", a.changes(i).field())
                     .Add("old", a.changes(i).old_value())
                     .Add("new", a.changes(i).new_value())
                     .str();
    }
    changes += "]";
    out << JsonObject()
               .Add("position", a.position())
               .Add("kind", kind)
               .Add(user     ? "user"
                    : action ? "action"
                             : "site",
                    id)
               .Add("name", name)
               .Add("commune", a.territory().city_name())
               .Add("recorded_at", FormatMicros(a.recorded_at_us()))
               .Add("author", a.author_user_id())
               .Add("organisation", a.author_organisation_id())
               .Add("comment", a.comment().text())
               .AddRaw("changes", changes)
               .str()
        << "\n";
    return;
  }
  out << FormatMicros(a.recorded_at_us()).substr(0, 16) << "  " << kind << "  " << id;
  if (!name.empty()) out << " (" << name << ")";
  const std::string& place =
      action || user ? a.territory().departement_code() : a.territory().city_name();
  out << "  " << place << "  " << a.author_user_id() << "\n";
  for (const v1::FieldChange& ch : a.changes()) {
    out << "  " << ch.field() << ": " << (ch.old_value().empty() ? "(vide)" : ch.old_value())
        << " -> " << (ch.new_value().empty() ? "(vide)" : ch.new_value()) << "\n";
  }
  if (a.has_comment()) out << "  « " << a.comment().text() << " »\n";
}

// `sites activity --follow`: WatchActivity, until `limit` activities (0: until the stream ends).
int FollowActivity(const Flags& f, const v1::TerritoryRef& territory,
                   const google::protobuf::RepeatedField<int>& kinds, uint64_t limit,
                   std::ostream& out, std::ostream& err) {
  v1::WatchActivityRequest req;
  *req.mutable_territory() = territory;
  *req.mutable_kinds() = kinds;
  uint64_t after = 0;
  if (f.Has("after")) {
    if (!Uint(f, "after", &after)) return Usage(err, "--after takes a log position");
    req.set_after_position(after);
  } else {
    req.set_from_head(true);
  }
  Client c(f);
  auto ctx = c.Context(/*with_deadline=*/false);
  auto stub = c.sites();
  std::unique_ptr<grpc::ClientReader<v1::WatchActivityResponse>> reader =
      stub.WatchActivity(ctx.get(), req);
  uint64_t shown = 0;
  v1::WatchActivityResponse resp;
  while (reader->Read(&resp)) {
    if (!resp.has_activity()) continue;  // a checkpoint: activity positions are enough here
    PrintActivity(f, resp.activity(), out);
    out.flush();
    if (limit > 0 && ++shown == limit) {
      ctx->TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (limit > 0 && shown == limit) return 0;
  if (!s.ok()) return RpcFailed(err, s);
  return 0;
}

int SitesActivity(const Flags& f, std::ostream& out, std::ostream& err) {
  const bool follow = f.Has("follow");
  uint64_t limit = follow ? 0 : 50;
  if (f.Has("limit") && (!Uint(f, "limit", &limit) || limit == 0)) {
    return Usage(err, "--limit takes a positive number");
  }
  if (follow && f.Has("since")) return Usage(err, "--since does not go with --follow (--after)");
  if (!follow && f.Has("after")) return Usage(err, "--after goes with --follow");
  v1::ListActivityQuery q;
  if (f.Has("departement") && f.Has("commune")) {
    return Usage(err, "give --departement or --commune, not both");
  }
  if (f.Has("departement")) {
    q.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
    q.mutable_territory()->set_code(f.Get("departement"));
  } else if (f.Has("commune")) {
    q.mutable_territory()->set_level(v1::TERRITORY_LEVEL_COMMUNE);
    q.mutable_territory()->set_code(f.Get("commune"));
  }
  for (absl::string_view k : absl::StrSplit(f.Get("kind"), ',', absl::SkipEmpty())) {
    auto it = ActivityKinds().find(std::string(k));
    if (it == ActivityKinds().end()) {
      return Usage(err, absl::StrCat("unknown kind ", k,
                                     " (declared, updated, closed, comment, action-created, "
                                     "action-updated, action-closed, action-comment, "
                                     "user-joined)"));
    }
    q.add_kinds(it->second);
  }
  if (follow) return FollowActivity(f, q.territory(), q.kinds(), limit, out, err);
  if (f.Has("since")) {
    v1::Date d;
    std::optional<absl::CivilDay> day;
    if (!ParseDay(f.Get("since"), &d).ok() || !(day = rb::domain::ToCivilDay(d))) {
      return Usage(err, "--since takes a date YYYY-MM-DD");
    }
    q.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::FromCivil(*day, absl::UTCTimeZone())));
  }
  Client c(f);
  uint64_t shown = 0;
  while (shown < limit) {
    q.set_page_size(static_cast<int>(std::min<uint64_t>(limit - shown, 200)));
    v1::ListActivityResponse page;
    grpc::Status s = c.sites().ListActivity(c.Context().get(), q, &page);
    if (!s.ok()) return RpcFailed(err, s);
    for (const v1::Activity& a : page.activities()) {
      if (shown == limit) break;
      ++shown;
      PrintActivity(f, a, out);
    }
    if (page.next_page_token().empty()) break;
    q.set_page_token(page.next_page_token());
  }
  return 0;
}

int SitesHistory(const Flags& f, std::ostream& out, std::ostream& err) {
  Client c(f);
  v1::GetSiteChangeLogRequest req;
  req.set_name(SiteName(f.positional[2]));
  v1::ChangeLog log;
  grpc::Status s = c.sites().GetSiteChangeLog(c.Context().get(), req, &log);
  if (!s.ok()) return RpcFailed(err, s);
  for (const v1::ChangeLogEntry& e : log.entries()) {
    if (f.json) {
      std::string changes = "[";
      for (int i = 0; i < e.changes_size(); ++i) {
        const auto& ch = e.changes(i);
        if (i > 0) changes += ",";
        changes += JsonObject()
                       .Add("field_key", ch.field_key())
                       .Add("field", ch.field())
                       .Add("old", ch.old_value())
                       .Add("new", ch.new_value())
                       .str();
      }
      changes += "]";
      out << JsonObject()
                 .Add("first_revision", e.first_revision())
                 .Add("last_revision", e.last_revision())
                 .Add("author", e.author_user_id())
                 .Add("organisation", e.author_organisation_id())
                 .Add("role", e.author_role())
                 .Add("valid_at", FormatMicros(e.valid_at_us()))
                 .Add("recorded_at", FormatMicros(e.recorded_at_us()))
                 .Add("reason", e.reason())
                 .AddRaw("changes", changes)
                 .str()
          << "\n";
      continue;
    }
    out << "revision " << e.first_revision();
    if (e.last_revision() != e.first_revision()) out << "-" << e.last_revision();
    out << "  " << FormatMicros(e.valid_at_us()).substr(0, 10) << "  " << e.author_user_id();
    if (!e.author_role().empty()) out << " (" << e.author_role() << ")";
    if (!e.reason().empty()) out << "  « " << e.reason() << " »";
    out << "\n";
    for (const v1::FieldChange& ch : e.changes()) {
      out << "  " << ch.field() << ": " << (ch.old_value().empty() ? "(vide)" : ch.old_value())
          << " -> " << (ch.new_value().empty() ? "(vide)" : ch.new_value()) << "\n";
    }
  }
  return 0;
}

// The closure flags given (--cause, --date, --resorbed, --context) over `closure`;
// INVALID_ARGUMENT naming the flag on a bad value.
absl::Status ClosureFromFlags(const Flags& f, v1::Closure* closure) {
  if (f.Has("cause")) {
    v1::ClosingCause cause{};
    if (absl::Status st = EnumFlag(f, "cause", &cause); !st.ok()) return st;
    closure->set_cause(cause);
  }
  if (f.Has("date")) {
    if (absl::Status st = DayFlag(f, "date", closure->mutable_closed_at()); !st.ok()) return st;
  }
  if (f.Has("resorbed")) {
    const std::string v = f.Get("resorbed");
    if (v != "yes" && v != "no") return absl::InvalidArgumentError("--resorbed takes yes or no");
    closure->set_closed_with_solutions(v == "yes" ? v1::YES : v1::NO);
  }
  if (f.Has("context")) closure->set_context(f.Get("context"));
  return absl::OkStatus();
}

int SitesClose(const Flags& f, std::ostream& out, std::ostream& err) {
  if (!f.Has("cause") || !f.Has("date")) return Usage(err, "sites close needs --cause and --date");
  v1::CloseSiteRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  if (absl::Status st = ClosureFromFlags(f, req.mutable_command()->mutable_closure()); !st.ok()) {
    return Usage(err, std::string(st.message()));
  }
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::CloseSite, req, out, err);
}

int SitesUpdatePopulation(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::vector<std::pair<std::string, std::string>> counts = {
      {"total", "total"},
      {"households", "households"},
      {"minors", "minors"},
      {"minors-0-3", "minors_0_3"},
      {"minors-3-6", "minors_3_6"},
      {"minors-6-12", "minors_6_12"},
      {"minors-12-16", "minors_12_16"},
      {"minors-16-18", "minors_16_18"},
      {"in-school", "minors_in_school"},
      {"females", "total_females"},
      {"girls", "minors_girls"},
  };
  Client c(f);
  v1::GetSiteRequest get;
  get.set_name(SiteName(f.positional[2]));
  v1::Site site;
  grpc::Status s = c.sites().GetSite(c.Context().get(), get, &site);
  if (!s.ok()) return RpcFailed(err, s);
  v1::RecordPopulationRequest req;
  req.set_name(get.name());
  SetWriteOptions(f, req.mutable_options());
  req.mutable_options()->set_expected_revision(site.revision());
  v1::Population* p = req.mutable_command()->mutable_population();
  *p = site.population();
  bool any = false;
  for (const auto& [flag, field] : counts) {
    if (!f.Has(flag)) continue;
    int32_t v = 0;
    if (!absl::SimpleAtoi(f.Get(flag), &v) || v < 0) {
      return Usage(err, absl::StrCat("--", flag, " takes a whole number >= 0"));
    }
    const auto* fd = v1::Population::descriptor()->FindFieldByName(field);
    p->GetReflection()->SetInt32(p, fd, v);
    any = true;
  }
  if (!any) return Usage(err, "sites update-population needs at least one count");
  *req.mutable_command()->mutable_dwellings() = site.dwellings();
  *req.mutable_command()->mutable_origins() = site.origins();
  return SendWrite(f, c, &v1::Sites::Stub::RecordPopulation, req, out, err);
}

int SitesComment(const Flags& f, std::ostream& out, std::ostream& err) {
  if (f.Get("text").empty()) return Usage(err, "sites comment needs --text");
  v1::PostCommentRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  req.mutable_command()->set_text(f.Get("text"));
  for (absl::string_view u : absl::StrSplit(f.Get("to-user"), ',', absl::SkipEmpty())) {
    req.mutable_command()->add_target_user_ids(std::string(u));
  }
  for (absl::string_view o : absl::StrSplit(f.Get("to-organisation"), ',', absl::SkipEmpty())) {
    req.mutable_command()->add_target_organisation_ids(std::string(o));
  }
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::PostComment, req, out, err);
}

// Reads --file into `m` when given; true. On a bad file prints the usage error and returns false.
bool FileFlag(const Flags& f, google::protobuf::Message* m, std::ostream& err) {
  if (!f.Has("file")) return true;
  if (absl::Status st = ReadJsonFile(f.Get("file"), m); !st.ok()) {
    Usage(err, std::string(st.message()));
    return false;
  }
  return true;
}

int SitesCensus(const Flags& f, std::ostream& out, std::ostream& err) {
  if (!f.Has("status") && !f.Has("file"))
    return Usage(err, "sites census needs --status or --file");
  v1::RecordCensusRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  v1::Census* census = req.mutable_command()->mutable_census();
  if (!FileFlag(f, census, err)) return 2;
  if (f.Has("status")) {
    v1::CensusStatus status{};
    if (absl::Status st = EnumFlag(f, "status", &status); !st.ok()) {
      return Usage(err, std::string(st.message()));
    }
    census->set_status(status);
  }
  if (f.Has("date")) {
    if (absl::Status st = DayFlag(f, "date", census->mutable_conducted_at()); !st.ok()) {
      return Usage(err, std::string(st.message()));
    }
  }
  if (f.Has("by")) census->set_conducted_by(f.Get("by"));
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::RecordCensus, req, out, err);
}

// Sends the command `rpc` whose body (`body(req)`) is read from --file (protobuf JSON).
template <typename Req, typename Body>
int SendFileCommand(const Flags& f, const std::string& command, Body body,
                    grpc::Status (v1::Sites::Stub::*rpc)(grpc::ClientContext*, const Req&,
                                                         v1::WriteResult*),
                    std::ostream& out, std::ostream& err) {
  if (!f.Has("file")) return Usage(err, absl::StrCat("sites ", command, " needs --file"));
  Req req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  if (!FileFlag(f, body(req), err)) return 2;
  return SendWrite(f, Client(f), rpc, req, out, err);
}

int SitesLivingConditions(const Flags& f, std::ostream& out, std::ostream& err) {
  return SendFileCommand(
      f, "living-conditions",
      [](v1::AssessLivingConditionsRequest& r) {
        return r.mutable_command()->mutable_living_conditions();
      },
      &v1::Sites::Stub::AssessLivingConditions, out, err);
}

int SitesUpgradeLivingConditions(const Flags& f, std::ostream& out, std::ostream& err) {
  return SendFileCommand(
      f, "upgrade-living-conditions",
      [](v1::UpgradeLivingConditionsRequest& r) {
        return r.mutable_command()->mutable_living_conditions();
      },
      &v1::Sites::Stub::UpgradeLivingConditions, out, err);
}

int SitesImportLivingConditionsV1(const Flags& f, std::ostream& out, std::ostream& err) {
  return SendFileCommand(
      f, "import-living-conditions-v1",
      [](v1::ImportLivingConditionsV1Request& r) {
        return r.mutable_command()->mutable_living_conditions();
      },
      &v1::Sites::Stub::ImportLivingConditionsV1, out, err);
}

int SitesProcedures(const Flags& f, std::ostream& out, std::ostream& err) {
  return SendFileCommand(
      f, "procedures", [](v1::UpdateProceduresRequest& r) { return r.mutable_command(); },
      &v1::Sites::Stub::UpdateProcedures, out, err);
}

int SitesIntervener(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string& verb = f.positional[2];
  if (verb != "add" && verb != "withdraw")
    return Usage(err, "sites intervener takes add or withdraw");
  const std::string name = SiteName(f.positional[3]);
  Client c(f);
  if (verb == "withdraw") {
    for (const char* flag : {"user-organisation", "themes", "other-theme"}) {
      if (f.Has(flag)) return Usage(err, absl::StrCat("--", flag, " is for sites intervener add"));
    }
    v1::WithdrawIntervenerRequest req;
    req.set_name(name);
    SetWriteOptions(f, req.mutable_options());
    req.mutable_command()->set_user_id(f.Get("user"));
    return SendWrite(f, c, &v1::Sites::Stub::WithdrawIntervener, req, out, err);
  }
  if (f.Has("user-organisation") && !f.Has("user")) {
    return Usage(err, "--user-organisation goes with --user");
  }
  v1::DeclareIntervenerRequest req;
  req.set_name(name);
  SetWriteOptions(f, req.mutable_options());
  v1::Intervener* i = req.mutable_command()->mutable_intervener();
  i->set_user_id(f.Get("user"));
  i->set_organisation_id(f.Get("user-organisation"));
  for (absl::string_view t : absl::StrSplit(f.Get("themes"), ',', absl::SkipEmpty())) {
    v1::ActorTheme theme{};
    if (absl::Status st = ParseEnumCode("--themes", std::string(t), &theme); !st.ok()) {
      return Usage(err, std::string(st.message()));
    }
    i->add_themes(theme);
  }
  i->set_other_theme(f.Get("other-theme"));
  return SendWrite(f, c, &v1::Sites::Stub::DeclareIntervener, req, out, err);
}

int SitesModerateComment(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::ModerateCommentRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  req.mutable_command()->set_comment_id(f.positional[3]);
  req.mutable_command()->set_reason(f.Get("reason"));
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::ModerateComment, req, out, err);
}

int SitesPhase(const Flags& f, std::ostream& out, std::ostream& err) {
  const std::string& verb = f.positional[2];
  if (verb != "start" && verb != "complete") {
    return Usage(err, "sites phase takes start or complete");
  }
  v1::ResorptionPhase phase{};
  if (absl::Status st = ParseEnumCode("PHASE", f.positional[4], &phase); !st.ok()) {
    return Usage(err, std::string(st.message()));
  }
  const std::string name = SiteName(f.positional[3]);
  Client c(f);
  if (verb == "start") {
    v1::StartResorptionPhaseRequest req;
    req.set_name(name);
    SetWriteOptions(f, req.mutable_options());
    req.mutable_command()->set_phase(phase);
    return SendWrite(f, c, &v1::Sites::Stub::StartResorptionPhase, req, out, err);
  }
  v1::CompleteResorptionPhaseRequest req;
  req.set_name(name);
  SetWriteOptions(f, req.mutable_options());
  req.mutable_command()->set_phase(phase);
  return SendWrite(f, c, &v1::Sites::Stub::CompleteResorptionPhase, req, out, err);
}

int SitesCorrectClosure(const Flags& f, std::ostream& out, std::ostream& err) {
  if (!f.Has("file") && !f.Has("cause") && !f.Has("date") && !f.Has("resorbed") &&
      !f.Has("context")) {
    return Usage(err, "sites correct-closure needs --file or a closure flag");
  }
  v1::Closure from_file;
  if (!FileFlag(f, &from_file, err)) return 2;
  v1::Closure checked = from_file;  // the flags are checked before the site is read
  if (absl::Status st = ClosureFromFlags(f, &checked); !st.ok()) {
    return Usage(err, std::string(st.message()));
  }
  Client c(f);
  v1::GetSiteRequest get;
  get.set_name(SiteName(f.positional[2]));
  v1::Site site;
  grpc::Status s = c.sites().GetSite(c.Context().get(), get, &site);
  if (!s.ok()) return RpcFailed(err, s);
  v1::CorrectClosureRequest req;
  req.set_name(get.name());
  SetWriteOptions(f, req.mutable_options());
  req.mutable_options()->set_expected_revision(site.revision());
  v1::Closure* closure = req.mutable_command()->mutable_closure();
  *closure = f.Has("file") ? from_file : site.closure();
  (void)ClosureFromFlags(f, closure);
  return SendWrite(f, c, &v1::Sites::Stub::CorrectClosure, req, out, err);
}

int SitesErase(const Flags& f, std::ostream& out, std::ostream& err) {
  v1::EraseSiteRequest req;
  req.set_name(SiteName(f.positional[2]));
  SetWriteOptions(f, req.mutable_options());
  Client c(f);
  return SendWrite(f, c, &v1::Sites::Stub::EraseSite, req, out, err);
}

// The form flags given (UpdateFlags) over `site`, adding the top-level fields they write to
// `fields`; INVALID_ARGUMENT naming the flag on a bad value.
absl::Status ApplyUpdateFlags(const Flags& f, v1::Site* site, std::set<std::string>* fields) {
  for (const auto& [flag, column, field] : UpdateFlags()) {
    if (!f.Has(flag)) continue;
    if (absl::Status st = FindSiteColumn(column)->set(f.Get(flag), site); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", st.message()));
    }
    fields->insert(field);
  }
  return absl::OkStatus();
}

// The parts of an update (`sites update`, `sites correct`) from --file, --fields and the form
// flags: the Site holding them and the field-mask paths to update (top-level fields; the parts of
// the location its flags name, when the file sets no location). False after printing the usage
// error.
bool SiteUpdateFromFlags(const Flags& f, const v1::Site& current, v1::Site* site,
                         std::set<std::string>* fields, std::ostream& err) {
  if (!FileFlag(f, site, err)) return false;
  const auto* descriptor = v1::Site::descriptor();
  if (f.Has("fields")) {
    for (absl::string_view name : absl::StrSplit(f.Get("fields"), ',', absl::SkipEmpty())) {
      if (descriptor->FindFieldByName(std::string(name)) == nullptr) {
        Usage(err, absl::StrCat("--fields: ", name, " is not a field of Site"));
        return false;
      }
      fields->insert(std::string(name));
    }
  } else {
    // The updatable fields the file sets (a dump of `sites show --json` also holds the others).
    const auto& updatable = rb::domain::UpdatableSiteFields();
    std::vector<const google::protobuf::FieldDescriptor*> set;
    site->GetReflection()->ListFields(*site, &set);
    for (const auto* fd : set) {
      if (std::find(updatable.begin(), updatable.end(), fd->name()) != updatable.end()) {
        fields->insert(fd->name());
      }
    }
  }
  // The location flags name parts of the location: each is sent as its own field-mask path, so
  // that the service completes the location from the site it decides against (today's for an
  // update, the site on the corrected date for a correction). A file that sets the location
  // sends it whole.
  const bool whole_location = site->has_location();
  if (absl::Status st = ApplyUpdateFlags(f, site, fields); !st.ok()) {
    Usage(err, std::string(st.message()));
    return false;
  }
  static const std::map<std::string, std::string>* const kLocationPaths =
      new std::map<std::string, std::string>{
          {"commune", "location.address.city_code"},
          {"address", "location.address.label"},
          {"access", "location.address_details"},
          {"lat", "location.address.coordinates.latitude"},
          {"lon", "location.address.coordinates.longitude"},
      };
  if (!whole_location && fields->count("location") > 0) {
    fields->erase("location");
    for (const auto& [flag, path] : *kLocationPaths) {
      if (f.Has(flag)) fields->insert(path);
    }
  }
  site->set_id(current.id());
  if (fields->empty()) {
    Usage(err, absl::StrCat("sites ", f.positional[1], " needs --file or a field flag"));
    return false;
  }
  return true;
}

// `sites update` and `sites correct` (retroactive: --date is the valid date of the correction).
int UpdateOrCorrect(const Flags& f, bool retroactive, std::ostream& out, std::ostream& err) {
  v1::WriteOptions options;
  SetWriteOptions(f, &options);
  if (retroactive) {
    if (!f.Has("date")) return Usage(err, "sites correct needs --date");
    v1::Date date;
    if (absl::Status st = DayFlag(f, "date", &date); !st.ok()) {
      return Usage(err, std::string(st.message()));
    }
    const absl::Time start = absl::FromCivil(*rb::domain::ToCivilDay(date), absl::UTCTimeZone());
    options.mutable_valid_time()->set_seconds(absl::ToUnixSeconds(start));
  }
  // Checks the file and the flags before the site is read.
  {
    v1::Site scratch;
    std::set<std::string> fields;
    if (!SiteUpdateFromFlags(f, v1::Site(), &scratch, &fields, err)) return 2;
  }
  Client c(f);
  v1::GetSiteRequest get;
  get.set_name(SiteName(f.positional[2]));
  v1::Site current;
  grpc::Status s = c.sites().GetSite(c.Context().get(), get, &current);
  if (!s.ok()) return RpcFailed(err, s);
  options.set_expected_revision(current.revision());
  v1::Site site;
  std::set<std::string> fields;
  if (!SiteUpdateFromFlags(f, current, &site, &fields, err)) return 2;
  google::protobuf::FieldMask mask;
  for (const std::string& field : fields) mask.add_paths(field);
  if (retroactive) {
    v1::CorrectRetroactivelyRequest req;
    req.set_name(get.name());
    *req.mutable_options() = options;
    *req.mutable_site() = std::move(site);
    *req.mutable_update_mask() = std::move(mask);
    return SendWrite(f, c, &v1::Sites::Stub::CorrectRetroactively, req, out, err);
  }
  v1::UpdateSiteRequest req;
  req.set_name(get.name());
  *req.mutable_options() = options;
  *req.mutable_site() = std::move(site);
  *req.mutable_update_mask() = std::move(mask);
  return SendWrite(f, c, &v1::Sites::Stub::UpdateSite, req, out, err);
}

int SitesUpdate(const Flags& f, std::ostream& out, std::ostream& err) {
  return UpdateOrCorrect(f, /*retroactive=*/false, out, err);
}

int SitesCorrect(const Flags& f, std::ostream& out, std::ostream& err) {
  return UpdateOrCorrect(f, /*retroactive=*/true, out, err);
}

}  // namespace

bool SiteListRequestFromFlags(const Flags& f, v1::ListSitesRequest* req, std::string* error) {
  v1::SiteFilter* filter = req->mutable_filter();
  for (absl::string_view d : absl::StrSplit(f.Get("departement"), ',', absl::SkipEmpty())) {
    filter->add_departement_codes(std::string(d));
  }
  for (absl::string_view d : absl::StrSplit(f.Get("commune"), ',', absl::SkipEmpty())) {
    filter->add_city_codes(std::string(d));
  }
  const std::string status = f.Get("status", "open");
  if (status == "open") {
    filter->set_state(v1::SITE_STATE_FILTER_OPEN);
  } else if (status == "closed") {
    filter->set_state(v1::SITE_STATE_FILTER_CLOSED);
  } else if (status == "all") {
    filter->set_state(v1::SITE_STATE_FILTER_ALL);
  } else {
    *error = "--status takes open, closed or all";
    return false;
  }
  const std::string sort = f.Get("sort", "update");
  if (sort == "update") {
    req->mutable_sort()->set_field(v1::SITE_SORT_FIELD_LAST_UPDATE);
  } else if (sort == "population") {
    req->mutable_sort()->set_field(v1::SITE_SORT_FIELD_POPULATION);
  } else if (sort == "commune") {
    req->mutable_sort()->set_field(v1::SITE_SORT_FIELD_COMMUNE);
  } else if (sort == "priority") {
    req->mutable_sort()->set_field(v1::SITE_SORT_FIELD_PRIORITY);
  } else {
    *error = "--sort takes update, population, commune or priority";
    return false;
  }
  if (f.Has("asc")) req->mutable_sort()->set_direction(v1::SORT_DIRECTION_ASCENDING);
  return true;
}

grpc::Status ListAllSites(const Client& c, v1::ListSitesRequest req, uint64_t limit,
                          int64_t min_population, uint64_t min_position,
                          std::vector<v1::SiteSummary>* out) {
  req.set_include_site(true);
  req.set_page_size(500);
  ProgressBar bar("sites", std::cerr);
  for (;;) {
    v1::ListSitesQuery q;
    *q.mutable_request() = req;
    q.set_min_position(min_position);
    v1::ListSitesResponse resp;
    grpc::Status s = c.sites().ListSites(c.Context().get(), q, &resp);
    if (!s.ok()) {
      bar.Finish();
      return s;
    }
    for (const v1::SiteSummary& x : resp.sites()) {
      if (min_population > 0 && (!x.has_population() || x.population() < min_population)) {
        continue;
      }
      out->push_back(x);
      if (limit > 0 && out->size() >= limit) break;
    }
    const bool more = !resp.next_page_token().empty() && (limit == 0 || out->size() < limit);
    bar.Update(out->size(), out->size() + (more ? 500 : 0));
    if (!more) break;
    req.set_page_token(resp.next_page_token());
    *req.mutable_reference_date() = resp.reference_date();
  }
  bar.Finish();
  return grpc::Status::OK;
}

std::vector<Command> SiteCommands() {
  const std::vector<std::string> write = {"command-id", "reason"};
  auto with = [&](std::vector<std::string> flags) {
    flags.insert(flags.end(), write.begin(), write.end());
    return flags;
  };
  return {
      {"sites", "declare", kDeclareUsage,
       with({"id", "name", "commune", "address", "access", "lat", "lon", "type", "declared",
             "built"}),
       0, 0, SitesDeclare},
      {"sites", "show", kShowUsage, {}, 1, 1, SitesShow},
      {"sites",
       "list",
       kListUsage,
       {"departement", "commune", "status", "min-population", "sort", "asc", "limit",
        "min-position"},
       0,
       0,
       SitesList},
      {"sites", "history", kHistoryUsage, {}, 1, 1, SitesHistory},
      {"sites", "asof", kAsOfUsage, {"date", "known-at", "min-position"}, 1, 1, SitesAsOf},
      {"sites", "heatwave", kHeatwaveUsage, with({}), 2, 2, SitesHeatwave},
      {"sites", "confirm", kConfirmUsage, with({}), 1, 1, SitesConfirm},
      {"sites",
       "activity",
       kActivityUsage,
       {"departement", "commune", "kind", "since", "limit", "follow", "after"},
       0,
       0,
       SitesActivity},
      {"sites", "close", kCloseUsage, with({"cause", "date", "resorbed", "context"}), 1, 1,
       SitesClose},
      {"sites", "update-population", kUpdatePopulationUsage,
       with({"total", "households", "minors", "minors-0-3", "minors-3-6", "minors-6-12",
             "minors-12-16", "minors-16-18", "in-school", "females", "girls"}),
       1, 1, SitesUpdatePopulation},
      {"sites", "comment", kCommentUsage, with({"text", "to-user", "to-organisation"}), 1, 1,
       SitesComment},
      {"sites", "census", kCensusUsage, with({"status", "date", "by", "file"}), 1, 1, SitesCensus},
      {"sites", "living-conditions", kLivingConditionsUsage, with({"file"}), 1, 1,
       SitesLivingConditions},
      {"sites", "upgrade-living-conditions", kUpgradeLivingConditionsUsage, with({"file"}), 1, 1,
       SitesUpgradeLivingConditions},
      {"sites", "import-living-conditions-v1", kImportLivingConditionsV1Usage, with({"file"}), 1, 1,
       SitesImportLivingConditionsV1},
      {"sites", "procedures", kProceduresUsage, with({"file"}), 1, 1, SitesProcedures},
      {"sites", "intervener", kIntervenerUsage,
       with({"user", "user-organisation", "themes", "other-theme"}), 2, 2, SitesIntervener},
      {"sites", "moderate-comment", kModerateCommentUsage, with({}), 2, 2, SitesModerateComment},
      {"sites", "phase", kPhaseUsage, with({}), 3, 3, SitesPhase},
      {"sites", "correct-closure", kCorrectClosureUsage,
       with({"cause", "date", "resorbed", "context", "file"}), 1, 1, SitesCorrectClosure},
      {"sites", "erase", kEraseUsage, with({}), 1, 1, SitesErase},
      {"sites", "update", kUpdateUsage,
       with({"file", "fields", "name", "commune", "address", "access", "lat", "lon", "type",
             "declared", "built", "target"}),
       1, 1, SitesUpdate},
      {"sites", "correct", kCorrectUsage,
       with({"date", "file", "fields", "name", "commune", "address", "access", "lat", "lon", "type",
             "declared", "built", "target"}),
       1, 1, SitesCorrect},
  };
}

}  // namespace rb::tools
