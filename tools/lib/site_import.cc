// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/site_import.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/dates.h"
#include "domain/site.h"
#include "domain/violations.h"
#include "eventstore/event.h"
#include "tools/lib/csv.h"
#include "tools/lib/site_table.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;

// The column a violation's field path points to: a column that maps this field (or the first one
// of the message the path names, e.g. "living_conditions_v2.water"), else by the paths of the
// declaration "site.*", of the population command "population.*", "dwellings.*", "origins", and
// of the other commands of a line.
std::string ColumnOfViolation(const std::string& field) {
  const SiteColumn* within = nullptr;
  for (const SiteColumn& c : SiteColumns()) {
    if (c.field.empty()) continue;
    if (field == c.field || absl::StartsWith(field, c.field + ".")) return c.header;
    if (within == nullptr && absl::StartsWith(c.field, field + ".")) within = &c;
  }
  if (within != nullptr) return within->header;
  static const auto* paths = new std::vector<std::pair<std::string, std::string>>{
      {"site.location.address.city_code", "Code INSEE"},
      {"site.location.address.label", "Adresse"},
      {"site.location.address.coordinates.latitude", "Latitude"},
      {"site.location.address.coordinates.longitude", "Longitude"},
      {"site.location.address.coordinates", "Latitude"},
      {"site.location.address_details", "Informations d'accès"},
      {"site.location", "Code INSEE"},
      {"site.name", "Appellation du site"},
      {"site.field_type", "Type de site"},
      {"site.built_at", "Date d'installation"},
      {"site.declared_at", "Date de signalement"},
      {"site.reinstallation.comments", "Précisions sur la réinstallation"},
      {"site.reinstallation", "S'agit-il d'une réinstallation ?"},
      {"site.resorption_target", "Objectif de résorption"},
      {"site_id", "Identifiant"},
      {"population.total", "Nombre de personnes"},
      {"population.households", "Nombre de ménages"},
      {"population.minors_in_school", "Enfants inscrits dans un établissement scolaire"},
      {"population.minors_0_3", "Mineurs 0-3 ans"},
      {"population.minors_3_6", "Mineurs 3-6 ans"},
      {"population.minors_6_12", "Mineurs 6-12 ans"},
      {"population.minors_12_16", "Mineurs 12-16 ans"},
      {"population.minors_16_18", "Mineurs 16-18 ans"},
      {"population.minors_girls", "dont filles"},
      {"population.minors", "Nombre de mineurs"},
      {"population.total_females", "dont femmes et filles"},
      {"dwellings", "Caravanes"},
      {"origins", "Origines"},
      {"census.conducted_at", "Date du diagnostic"},
      {"census.conducted_by", "Service en charge du diagnostic"},
      {"census", "Statut du diagnostic social"},
      {"justice.owner_complaint", "Dépôt de plainte par le propriétaire"},
      {"justice.justice_procedure", "Existence d'une procédure judiciaire"},
      {"justice.justice_rendered_at", "Date de la décision"},
      {"justice.justice_rendered_by", "Origine de la décision"},
      {"justice.justice_rendered", "Décision de justice rendue"},
      {"justice.justice_challenged", "Appel en cours"},
      {"justice", "Date de la décision"},
      {"police.requested_at", "Date de la demande du CFP"},
      {"police.granted_at", "Date d'octroi du CFP"},
      {"police.bailiff", "Nom de l'étude d'huissiers"},
      {"police.existing_litigation", "Existence d'un contentieux"},
      {"administrative_order.decision_at", "Date de l'arrêté"},
      {"administrative_order.decision_rendered_by", "Auteur de l'arrêté"},
      {"administrative_order.evacuation_at", "Date de l'évacuation"},
      {"administrative_order", "Procédure administrative prescrivant l'évacuation sous délai"},
      {"insalubrity_order.displayed", "Affichage de l'arrêté d'insalubrité"},
      {"insalubrity_order.order_type", "Type d'arrêté"},
      {"insalubrity_order.order_by", "Auteur de l'arrêté d'insalubrité"},
      {"insalubrity_order.order_at", "Date de l'arrêté d'insalubrité"},
      {"insalubrity_order.parcels", "Parcelles concernées"},
      {"insalubrity_order", "Arrêté d'insalubrité"},
      {"police", "Concours de la force publique"},
      {"close.closure.closed_at", "Date de fermeture"},
      {"close.closure.closed_with_solutions", "Résorbé"},
      {"close.closure.cause", "Cause de fermeture"},
      {"close.closure.context", "Contexte de fermeture"},
  };
  for (const auto& [path, column] : *paths) {
    if (absl::StartsWith(field, path)) return column;
  }
  return "";
}

void AddViolations(int line, const absl::Status& status, std::vector<ImportProblem>* out) {
  std::vector<rb::domain::Violation> violations = rb::domain::ViolationsFrom(status);
  if (violations.empty()) {
    out->push_back({line, "", std::string(status.message())});
    return;
  }
  for (const auto& v : violations) {
    out->push_back({line, ColumnOfViolation(v.field), absl::StrCat(v.message, " (", v.rule, ")")});
  }
}

bool IsPopulationColumn(const SiteColumn& c) { return c.section == "Habitants"; }

bool IsCensusColumn(const SiteColumn& c) { return c.section == "Diagnostic"; }

bool IsProceduresColumn(const SiteColumn& c) { return c.section == "Procédure judiciaire"; }

bool IsLivingConditionsColumn(const SiteColumn& c) {
  return absl::StartsWith(c.field, "living_conditions_v2.");
}

bool IsClosureColumn(const SiteColumn& c) {
  return c.section == "Orientation" || c.header == "Date de fermeture" || c.header == "Résorbé" ||
         c.header == "Cause de fermeture" || c.header == "Contexte de fermeture";
}

}  // namespace

std::string ImportCommandId(const std::string& file_hash, int line, const std::string& kind) {
  return rb::es::ToHex(rb::es::Sha256(absl::StrCat(file_hash, ":", line, ":", kind)));
}

ImportPlan PlanSiteImport(std::string_view file_bytes, const rb::domain::Context& context) {
  ImportPlan plan;
  plan.file_hash = rb::es::ToHex(rb::es::Sha256(std::string(file_bytes)));
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsv(file_bytes);
  if (!records.ok()) {
    plan.problems.push_back({0, "", std::string(records.status().message())});
    return plan;
  }
  if (records->empty()) {
    plan.problems.push_back({1, "", "the file is empty: the first line must name the columns"});
    return plan;
  }
  // Header.
  const CsvRecord& header = records->front();
  std::vector<const SiteColumn*> columns;
  std::set<std::string> seen;
  for (const std::string& raw : header.fields) {
    const std::string name(absl::StripAsciiWhitespace(raw));
    const SiteColumn* c = FindSiteColumn(name);
    if (c == nullptr) {
      plan.problems.push_back({header.line, name, "unknown column"});
    } else if (!seen.insert(name).second) {
      plan.problems.push_back({header.line, name, "column given twice"});
      c = nullptr;
    }
    columns.push_back(c);
  }
  for (const SiteColumn& c : SiteColumns()) {
    if (c.required && !seen.count(c.header)) {
      plan.problems.push_back({header.line, c.header, "required column missing"});
    }
  }
  const SiteColumn* updated = FindSiteColumn("Date de mise à jour");
  // Lines.
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& rec = (*records)[r];
    const size_t before = plan.problems.size();
    if (rec.fields.size() != columns.size()) {
      plan.problems.push_back({rec.line, "",
                               absl::StrCat(rec.fields.size(), " cells where the header names ",
                                            columns.size(), " columns")});
      continue;
    }
    ImportLine line;
    line.line = rec.line;
    v1::Site form;
    bool has_population = false;
    bool has_closure = false;
    bool has_census = false;
    bool has_procedures = false;
    bool has_living_conditions = false;
    std::set<std::string> filled;
    for (size_t j = 0; j < columns.size(); ++j) {
      const SiteColumn* c = columns[j];
      if (c == nullptr) continue;
      const std::string cell(absl::StripAsciiWhitespace(rec.fields[j]));
      if (cell.empty()) continue;
      filled.insert(c->header);
      if (c == updated) {
        v1::Date d;
        if (absl::Status s = ParseDay(cell, &d); !s.ok()) {
          plan.problems.push_back({rec.line, c->header, std::string(s.message())});
        } else {
          line.valid_at_us =
              absl::ToUnixMicros(absl::FromCivil(*rb::domain::ToCivilDay(d), absl::UTCTimeZone()));
        }
        continue;
      }
      if (!c->set) continue;  // computed by the service (territory names, statuses...)
      if (absl::Status s = c->set(cell, &form); !s.ok()) {
        plan.problems.push_back({rec.line, c->header, std::string(s.message())});
      }
      has_population = has_population || IsPopulationColumn(*c);
      has_closure = has_closure || IsClosureColumn(*c);
      has_census = has_census || IsCensusColumn(*c);
      has_procedures = has_procedures || IsProceduresColumn(*c);
      has_living_conditions = has_living_conditions || IsLivingConditionsColumn(*c);
    }
    for (const SiteColumn& c : SiteColumns()) {
      if (c.required && seen.count(c.header) && !filled.count(c.header)) {
        plan.problems.push_back({rec.line, c.header, "required value missing"});
      }
    }
    if (plan.problems.size() != before) continue;
    // The domain rules: a declaration on an empty state, then the population on its result.
    line.site_id = form.id();
    form.clear_id();
    v1::RecordPopulation pop;
    *pop.mutable_population() = form.population();
    *pop.mutable_dwellings() = form.dwellings();
    *pop.mutable_origins() = form.origins();
    form.clear_population();
    form.clear_dwellings();
    form.clear_origins();
    v1::CloseSite close;
    *close.mutable_closure() = form.closure();
    form.clear_closure();
    v1::RecordCensus census;
    *census.mutable_census() = form.census();
    form.clear_census();
    v1::AssessLivingConditions living_conditions;
    *living_conditions.mutable_living_conditions() = form.living_conditions_v2();
    form.clear_living_conditions_v2();
    v1::UpdateProcedures procedures;
    if (form.has_justice()) *procedures.mutable_justice() = form.justice();
    if (form.has_police()) *procedures.mutable_police() = form.police();
    if (form.has_administrative_order()) {
      *procedures.mutable_administrative_order() = form.administrative_order();
    }
    if (form.has_insalubrity_order()) {
      *procedures.mutable_insalubrity_order() = form.insalubrity_order();
    }
    form.clear_justice();
    form.clear_police();
    form.clear_administrative_order();
    form.clear_insalubrity_order();
    rb::domain::Context ctx = context;
    if (line.valid_at_us != 0) ctx.now_us = std::min(ctx.now_us, line.valid_at_us);
    // Each command is decided on the state the previous ones left (the declaration on an empty
    // state); the first refusal is the line's problem.
    v1::Site state;
    auto apply = [&](v1::SiteCommand command) {
      command.set_site_id(line.site_id.empty() ? "import-check" : line.site_id);
      absl::StatusOr<rb::domain::SiteDecision> d = rb::domain::DecideSite(state, command, ctx);
      if (!d.ok()) {
        AddViolations(rec.line, d.status(), &plan.problems);
        return false;
      }
      for (const auto& e : d->events) state = rb::domain::EvolveSite(std::move(state), e);
      return true;
    };
    v1::SiteCommand declare;
    *declare.mutable_declare()->mutable_site() = form;
    if (!apply(std::move(declare))) continue;
    if (has_population) {
      v1::SiteCommand record;
      *record.mutable_record_population() = pop;
      if (!apply(std::move(record))) continue;
      line.population = pop;
    }
    if (has_census) {  // the social diagnostic
      v1::SiteCommand record;
      *record.mutable_record_census() = census;
      if (!apply(std::move(record))) continue;
      line.census = census.census();
    }
    if (has_living_conditions) {  // the answers of the living conditions (format v2)
      v1::SiteCommand assess;
      *assess.mutable_assess_living_conditions() = living_conditions;
      if (!apply(std::move(assess))) continue;
      line.living_conditions = living_conditions.living_conditions();
    }
    if (has_procedures) {  // the judicial procedure and the police assistance
      v1::SiteCommand update;
      *update.mutable_update_procedures() = procedures;
      if (!apply(std::move(update))) continue;
      line.procedures = procedures;
    }
    if (has_closure) {  // a closed site, closed last
      v1::SiteCommand closing;
      *closing.mutable_close() = close;
      if (!apply(std::move(closing))) continue;
      line.closure = close.closure();
    }
    line.declaration = std::move(form);
    plan.lines.push_back(std::move(line));
  }
  return plan;
}

}  // namespace rb::tools
