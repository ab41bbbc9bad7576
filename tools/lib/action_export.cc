// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/action_export.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "domain/dates.h"
#include "domain/geo.h"
#include "domain/labels.h"
#include "tools/lib/csv.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

// The finance types in the export's order, with the headings of the planned and spent amounts.
struct FinanceColumns {
  v1::FinanceType type;
  const char* planned;
  const char* spent;
};

const FinanceColumns kFinances[] = {
    {v1::FINANCE_TYPE_STATE, "Financement étatique hors crédits dédiés",
     "Dépense sur financement étatique hors crédits dédiés"},
    {v1::FINANCE_TYPE_DEDICATED, "Crédits dédiés à la résorption des bidonvilles",
     "Dépense sur crédits dédiés à la résorption des bidonvilles"},
    {v1::FINANCE_TYPE_LOCAL_AUTHORITY, "Cofinancement collectivité territoriale",
     "Dépense sur cofinancement collectivité territoriale"},
    {v1::FINANCE_TYPE_EUROPEAN, "Financement européen", "Dépense sur financement européen"},
    {v1::FINANCE_TYPE_PRIVATE, "Financement privé", "Dépense sur financement privé"},
    {v1::FINANCE_TYPE_OTHER, "Autre financement", "Dépense sur autre financement"},
};

std::string Day(const v1::Date& d) {
  if (rb::domain::IsEmptyDate(d)) return "";
  return absl::StrFormat("%02d/%02d/%04d", d.day(), d.month(), d.year());
}

std::string Day(absl::CivilDay d) {
  return absl::StrFormat("%02d/%02d/%04d", d.day(), d.month(), d.year());
}

std::string DayOfMicros(int64_t us) {
  if (us == 0) return "";
  return Day(absl::ToCivilDay(absl::FromUnixMicros(us), absl::UTCTimeZone()));
}

std::string Euros(int64_t cents) {
  const uint64_t magnitude =
      cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  return absl::StrFormat("%s%d.%02d", cents < 0 ? "-" : "", magnitude / 100, magnitude % 100);
}

const v1::ActionIndicators* IndicatorsOf(const v1::Action& a, int year) {
  for (const v1::ActionIndicators& i : a.indicators()) {
    if (i.year() == year) return &i;
  }
  return nullptr;
}

// The value of indicator `field` (an ActionIndicators field name); "" when not filled.
std::string IndicatorValue(const v1::ActionIndicators& ind, absl::string_view field) {
  const google::protobuf::FieldDescriptor* f =
      v1::ActionIndicators::descriptor()->FindFieldByName(std::string(field));
  const google::protobuf::Reflection* r = ind.GetReflection();
  if (f == nullptr || !r->HasField(ind, f)) return "";
  return absl::StrCat(r->GetInt32(ind, f));
}

const v1::ActionFinances* FinancesOf(const v1::Action& a, int year) {
  for (const v1::ActionFinances& f : a.finances()) {
    if (f.year() == year) return &f;
  }
  return nullptr;
}

// Planned and spent amounts of one type in one year; nullopt without a line of that type.
struct Amounts {
  int64_t planned = 0;
  int64_t spent = 0;
};
std::optional<Amounts> AmountsOf(const v1::ActionFinances* f, v1::FinanceType type) {
  if (f == nullptr) return std::nullopt;
  std::optional<Amounts> out;
  for (const v1::FinanceLine& l : f->lines()) {
    if (l.type() != type) continue;
    if (!out.has_value()) out.emplace();
    out->planned += l.amount_cents();
    out->spent += l.real_amount_cents();
  }
  return out;
}

// Financed by the dedicated credits ("DIHAL") that year: a planned amount > 0.
bool DedicatedFinancing(const v1::Action& a, int year) {
  std::optional<Amounts> d = AmountsOf(FinancesOf(a, year), v1::FINANCE_TYPE_DEDICATED);
  return d.has_value() && d->planned > 0;
}

// The platform's order of départements: 2A and 2B between 19 and 21, overseas (3 digits) last.
std::string DepartementOrderKey(std::string_view code) {
  if (code == "2A") return "020a";
  if (code == "2B") return "020b";
  return absl::StrCat(code.size() < 3 ? "0" : "", std::string(code));
}

std::vector<ActionColumn> Columns(bool finances) {
  std::vector<ActionColumn> c;
  auto add = [&](const std::string& section, const std::string& header,
                 CellKind kind = CellKind::kText) {
    c.push_back({section, header, kind});
  };
  for (const char* h : {"Département", "Code région", "Région", "ID action", "Opérateur principal",
                        "Nom du projet", "Date de lancement/début", "Date de fin (prévue)", "Lieu",
                        "Champs d'intervention", "Objectifs de l'action"}) {
    add("ACTION", h);
  }
  add("OPÉRATEURS", "Opérateurs");
  for (const rb::domain::IndicatorHeading& i : rb::domain::IndicatorHeadings()) {
    add(std::string(i.section), std::string(i.heading), CellKind::kCount);
  }
  if (finances) {
    for (const FinanceColumns& f : kFinances) {
      add("FINANCEMENT", f.planned, CellKind::kEuros);
      add("FINANCEMENT", f.spent, CellKind::kEuros);
    }
  }
  add("COMMENTAIRES", "Commentaires");
  add("COMMENTAIRES", "Dernier commentaire");
  add("COMMENTAIRES", "Date du dernier commentaire");
  add("MISE À JOUR", "Action mise à jour le");
  add("MISE À JOUR", "Indicateurs mis à jour le");
  return c;
}

std::vector<std::string> Row(const v1::Action& a, int year, bool finances) {
  const auto& geo = rb::domain::geo::Geography::Get();
  const std::string& dep_code = a.details().departement_code();
  const auto* dep = geo.FindDepartement(dep_code);
  const auto* region = dep != nullptr ? geo.FindRegion(dep->region) : nullptr;
  std::vector<std::string> operators;
  for (const v1::ActionMember& m : a.operators()) {
    const std::string& who = m.organisation_id().empty() ? m.user_id() : m.organisation_id();
    if (std::find(operators.begin(), operators.end(), who) == operators.end()) {
      operators.push_back(who);
    }
  }
  std::vector<std::string> topics;
  for (int t : a.details().topics()) {
    topics.emplace_back(rb::domain::FrenchLabel(static_cast<v1::ActionTopic>(t)));
  }
  std::vector<std::string> r = {
      dep != nullptr ? std::string(dep->name) : dep_code,
      region != nullptr ? std::string(region->code) : "",
      region != nullptr ? std::string(region->name) : "",
      a.id(),
      operators.empty() ? "" : operators.front(),
      a.details().name(),
      Day(a.details().started_at()),
      Day(a.details().ended_at()),
      std::string(rb::domain::FrenchLabel(a.details().location().type())),
      absl::StrJoin(topics, ", "),
      a.details().goals(),
      absl::StrJoin(operators, "\n"),
  };
  const v1::ActionIndicators* ind = IndicatorsOf(a, year);
  for (const rb::domain::IndicatorHeading& h : rb::domain::IndicatorHeadings()) {
    r.push_back(ind != nullptr ? IndicatorValue(*ind, h.field) : "");
  }
  if (finances) {
    const v1::ActionFinances* fin = a.finances_hidden() ? nullptr : FinancesOf(a, year);
    for (const FinanceColumns& f : kFinances) {
      std::optional<Amounts> amounts = AmountsOf(fin, f.type);
      r.push_back(amounts.has_value() ? Euros(amounts->planned) : "");
      r.push_back(amounts.has_value() ? Euros(amounts->spent) : "");
    }
  }
  // The journal, oldest first; moderated messages are left out.
  std::vector<const v1::Comment*> comments;
  for (const v1::Comment& c : a.comments()) {
    if (!c.moderated()) comments.push_back(&c);
  }
  std::stable_sort(comments.begin(), comments.end(), [](const auto* x, const auto* y) {
    return x->posted_at_us() < y->posted_at_us();
  });
  std::vector<std::string> texts;
  for (const v1::Comment* c : comments) {
    texts.push_back(absl::StrCat(DayOfMicros(c->posted_at_us()), " : ", c->text()));
  }
  r.push_back(absl::StrJoin(texts, "\n\n"));
  r.push_back(comments.empty() ? "" : comments.back()->text());
  r.push_back(comments.empty() ? "" : DayOfMicros(comments.back()->posted_at_us()));
  r.push_back(DayOfMicros(a.updated_at_us()));
  r.push_back(ind != nullptr ? DayOfMicros(ind->updated_at_us()) : "");
  return r;
}

std::vector<std::string> Titles(const std::vector<const v1::Action*>& actions,
                                const std::string& scope, const ActionExportOptions& o) {
  std::vector<std::string> t = {absl::StrCat("Actions de l'année ", o.year), scope,
                                "Extraction de la plateforme Résorption bidonvilles",
                                absl::StrCat("à la date du ", Day(o.today))};
  // The campaign of the dedicated credits: the current and the previous year only.
  if (o.year == o.today.year() || o.year == o.today.year() - 1) {
    // Updated within the 90 days up to the end of the extraction's day.
    const int64_t since_us = absl::ToUnixMicros(absl::FromCivil(o.today - 90, absl::UTCTimeZone()));
    const int64_t until_us = absl::ToUnixMicros(absl::FromCivil(o.today + 1, absl::UTCTimeZone()));
    int financed = 0, updated = 0;
    for (const v1::Action* a : actions) {
      if (a->finances_hidden() || !DedicatedFinancing(*a, o.year)) continue;
      ++financed;
      const v1::ActionIndicators* ind = IndicatorsOf(*a, o.year);
      if (ind != nullptr && ind->updated_at_us() >= since_us && ind->updated_at_us() < until_us) {
        ++updated;
      }
    }
    const std::string share =
        financed == 0 ? "N/A" : absl::StrCat((updated * 200 + financed) / (2 * financed), "%");
    t.push_back(absl::StrFormat(
        "%d actions financées par la DIHAL sur %d ont été mises à jour il y a moins de 3 mois (%s)",
        updated, financed, share));
  }
  return t;
}

}  // namespace

absl::StatusOr<ActionExport> BuildActionExport(const std::vector<v1::Action>& actions,
                                               const ActionExportOptions& options) {
  if (options.year < 2000 || options.year > 2100) {
    return absl::InvalidArgumentError(
        absl::StrCat("year: ", options.year, " is not a year between 2000 and 2100"));
  }
  std::vector<const v1::Action*> kept;
  bool finances = false;
  if (options.dedicated_only && !actions.empty() &&
      std::all_of(actions.begin(), actions.end(),
                  [](const v1::Action& a) { return a.finances_hidden(); })) {
    return absl::PermissionDeniedError(
        "dedicated_only: the finances of these actions are not visible to you, so their "
        "financing by the dedicated credits is not either");
  }
  for (const v1::Action& a : actions) {
    if (options.dedicated_only && !DedicatedFinancing(a, options.year)) continue;
    kept.push_back(&a);
    finances |= !a.finances_hidden();
  }
  if (kept.empty()) return absl::NotFoundError("no action to export");
  std::stable_sort(kept.begin(), kept.end(),
                   [](const v1::Action* x, const v1::Action* y) { return x->id() < y->id(); });

  ActionExport e;
  e.columns = Columns(finances);
  std::map<std::string, std::vector<const v1::Action*>> by_departement;  // by order key
  for (const v1::Action* a : kept) {
    by_departement[DepartementOrderKey(a->details().departement_code())].push_back(a);
  }
  const auto& geo = rb::domain::geo::Geography::Get();
  for (const auto& [key, list] : by_departement) {
    const std::string& code = list.front()->details().departement_code();
    const auto* dep = geo.FindDepartement(code);
    ActionSheet s;
    s.name = absl::StrCat("Dépt ", code);
    s.titles = Titles(
        list,
        absl::StrCat("Département ", code, " - ", dep != nullptr ? std::string(dep->name) : ""),
        options);
    for (const v1::Action* a : list) s.rows.push_back(Row(*a, options.year, finances));
    e.sheets.push_back(std::move(s));
  }
  ActionSheet all;
  all.name = "Tous";
  all.titles = Titles(kept, "Toutes les actions", options);
  for (const v1::Action* a : kept) all.rows.push_back(Row(*a, options.year, finances));
  e.sheets.push_back(std::move(all));
  return e;
}

std::string ActionExportCsv(const ActionExport& e) {
  std::vector<std::string> headers;
  for (const ActionColumn& c : e.columns) headers.push_back(c.header);
  std::string out = CsvLine(headers);
  if (!e.sheets.empty()) {
    for (const std::vector<std::string>& row : e.sheets.back().rows) out += CsvLine(row);
  }
  return out;
}

}  // namespace rb::tools
