// Copyright: the Résorption-bidonvilles data service authors.
//
// The import of site spreadsheets kept by local actors, in the CSV layout of the site export
// (tools/lib/site_table.h): reading and validating every line locally, and the deterministic
// command ids that make a second import of the same file append nothing.
//
//   rb::domain::Context ctx;  ctx.now_us = ...;  ctx.actor = ...;
//   rb::tools::ImportPlan plan = rb::tools::PlanSiteImport(file_bytes, ctx);
//   for (const auto& p : plan.problems) std::cerr << p.line << " " << p.column << " " << p.reason;
//   for (const auto& l : plan.lines) {
//     DeclareSite(l.site_id, l.declaration, ImportCommandId(plan.file_hash, l.line, "declare"));
//     if (l.population.has_value()) RecordPopulation(...ImportCommandId(..., "population"));
//     if (l.census.has_value()) RecordCensus(...ImportCommandId(..., "census"));
//     if (l.living_conditions.has_value())
//       AssessLivingConditions(...ImportCommandId(..., "living_conditions"));
//     if (l.procedures.has_value()) UpdateProcedures(...ImportCommandId(..., "procedures"));
//     if (l.closure.has_value()) CloseSite(...ImportCommandId(..., "close"));
//   }
//
// Every line is checked: the CSV syntax, the header (unknown columns, missing required columns),
// each cell (numbers, dates, enumerations, commune code known to domain/geo.h), then the domain
// rules themselves: rb::domain::DecideSite on an empty state for the declaration and on the
// declared site for the population (so the population rules of the Context apply), then for the
// social diagnostic (a Diagnostic column filled), then for the living conditions (a column of
// their answers filled: AssessLivingConditions, format v2), then for the judicial procedure and the
// police assistance (a Procédure judiciaire column filled), and on the result for the closure (a
// line with a closure or orientation column filled: Date de fermeture, Résorbé, Cause de fermeture,
// Contexte de fermeture, the Orientation columns). Thread-safe (pure functions).
#ifndef RB_TOOLS_LIB_SITE_IMPORT_H_
#define RB_TOOLS_LIB_SITE_IMPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/context.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_commands.pb.h"

namespace rb::tools {

struct ImportProblem {
  int line = 0;        // 1-based line of the file (1 is the header)
  std::string column;  // the column header; empty for a whole-line or file problem
  std::string reason;
};

struct ImportLine {
  int line = 0;
  std::string site_id;               // the "Identifiant" cell; empty: the service picks one
  resorption::v1::Site declaration;  // what DeclareSite carries (no population)
  std::optional<resorption::v1::RecordPopulation> population;  // when any count is filled
  // When a Diagnostic column is filled: the social diagnostic (RecordCensus), after the population.
  std::optional<resorption::v1::Census> census;
  // When a column of the living conditions' answers is filled: their assessment in format v2
  // (AssessLivingConditions), after the diagnostic.
  std::optional<resorption::v1::LivingConditionsV2> living_conditions;
  // When a Procédure judiciaire column is filled: the judicial procedure and the police
  // assistance (UpdateProcedures), after the living conditions.
  std::optional<resorption::v1::UpdateProcedures> procedures;
  // When a closure or orientation column is filled: the site is closed (CloseSite) last.
  std::optional<resorption::v1::Closure> closure;
  int64_t valid_at_us = 0;  // "Date de mise à jour" at 00:00 UTC; 0 when the cell is empty
};

struct ImportPlan {
  std::string file_hash;  // hex SHA-256 of the file's bytes
  std::vector<ImportLine> lines;
  std::vector<ImportProblem> problems;  // in line order; the import runs only when empty
};

ImportPlan PlanSiteImport(std::string_view file_bytes, const rb::domain::Context& context);

// hex SHA-256 of "<file_hash>:<line>:<kind>" (kind: "declare", "population", "census",
// "living_conditions", "procedures", "close").
std::string ImportCommandId(const std::string& file_hash, int line, const std::string& kind);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_SITE_IMPORT_H_
