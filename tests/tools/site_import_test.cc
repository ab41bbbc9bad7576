// Copyright: the Résorption-bidonvilles data service authors.
//
// The spreadsheet import's closures, social diagnostics and procedures: a line whose closure or
// orientation columns are filled is closed after its declaration, one whose Diagnostic or
// Procédure judiciaire columns are filled records them, with the domain's rules checked before
// anything is sent.
#include "tools/lib/site_import.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using ::testing::HasSubstr;

rb::domain::Context Ctx() {
  rb::domain::Context ctx;
  ctx.now_us = absl::ToUnixMicros(absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone()));
  ctx.actor.user_id = "u-1";
  ctx.actor.organisation_id = "o-1";
  ctx.actor.role = rb::domain::Role::kNationalAdmin;
  return ctx;
}

std::string L(auto value) { return std::string(rb::domain::FrenchLabel(value)); }

// A header with the required columns, the closure columns and the housing orientation.
std::string Header() {
  const std::string housing = L(v1::CLOSING_SOLUTION_HOUSING);
  return absl::StrCat(
      "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
      "Nombre de personnes,Date de fermeture,Résorbé,Cause de fermeture,Contexte de fermeture,",
      housing, " : personnes,", housing, " : ménages,", housing, " : précisions\n");
}

// The plan's problems, one "LINE COLUMN: reason" per line.
std::string Problems(const ImportPlan& plan) {
  std::vector<std::string> got;
  for (const ImportProblem& p : plan.problems) {
    got.push_back(absl::StrCat(p.line, " ", p.column, ": ", p.reason));
  }
  return absl::StrJoin(got, "\n");
}

TEST(SiteImportTest, ClosureColumnsCloseTheSiteAfterItsDeclaration) {
  const std::string csv =
      absl::StrCat(Header(), "93066,Rue A,48.93,2.35,Terrain,2024-01-10,20,2025-03-15,", L(v1::YES),
                   ",", L(v1::CLOSING_CAUSE_RESORBED), ",,12,4,Bailleur social\n",
                   "93066,Rue B,48.94,2.36,Terrain,2024-01-11,8,,,,,,,\n");
  ImportPlan plan = PlanSiteImport(csv, Ctx());
  ASSERT_TRUE(plan.problems.empty()) << plan.problems[0].column << ": " << plan.problems[0].reason;
  ASSERT_EQ(plan.lines.size(), 2u);
  const ImportLine& closed = plan.lines[0];
  ASSERT_TRUE(closed.closure.has_value());
  EXPECT_EQ(closed.closure->cause(), v1::CLOSING_CAUSE_RESORBED);
  EXPECT_EQ(closed.closure->closed_with_solutions(), v1::YES);
  EXPECT_EQ(closed.closure->closed_at().year(), 2025);
  EXPECT_EQ(closed.closure->closed_at().month(), 3);
  EXPECT_EQ(closed.closure->closed_at().day(), 15);
  ASSERT_EQ(closed.closure->solutions_size(), 1);
  EXPECT_EQ(closed.closure->solutions(0).solution(), v1::CLOSING_SOLUTION_HOUSING);
  EXPECT_EQ(closed.closure->solutions(0).people(), 12);
  EXPECT_EQ(closed.closure->solutions(0).households(), 4);
  EXPECT_EQ(closed.closure->solutions(0).message(), "Bailleur social");
  // The declaration itself carries no closure; the population is its own command.
  EXPECT_FALSE(closed.declaration.has_closure());
  ASSERT_TRUE(closed.population.has_value());
  EXPECT_EQ(closed.population->population().total(), 20);
  // An open site's empty closure columns close nothing.
  EXPECT_FALSE(plan.lines[1].closure.has_value());
}

TEST(SiteImportTest, ClosureRulesAreReportedByColumnAndNothingIsPlanned) {
  const std::string csv = absl::StrCat(Header(),
                                       // "Autre" without its context.
                                       "93066,Rue A,48.93,2.35,Terrain,2024-01-10,20,2025-03-15,",
                                       L(v1::NO), ",", L(v1::CLOSING_CAUSE_OTHER), ",,,,\n",
                                       // Closed before it was declared.
                                       "93066,Rue B,48.94,2.36,Terrain,2024-01-11,8,2023-12-31,",
                                       L(v1::NO), ",", L(v1::CLOSING_CAUSE_UNKNOWN), ",,,,\n",
                                       // An unknown cause.
                                       "93066,Rue C,48.95,2.37,Terrain,2024-01-12,8,2025-01-01,",
                                       L(v1::NO), ",Départ volontaire,,,,\n",
                                       // More households than people oriented; no cause at all.
                                       "93066,Rue D,48.96,2.38,Terrain,2024-01-13,8,2025-01-01,",
                                       L(v1::YES), ",,,3,5,\n");
  ImportPlan plan = PlanSiteImport(csv, Ctx());
  EXPECT_TRUE(plan.lines.empty());
  const std::string all = Problems(plan);
  EXPECT_THAT(all, HasSubstr("2 Contexte de fermeture: "));
  EXPECT_THAT(all, HasSubstr("(closure.context_required)"));
  EXPECT_THAT(all, HasSubstr("3 Date de fermeture: "));
  EXPECT_THAT(all, HasSubstr("(closure.closed_at_after_declared_at)"));
  EXPECT_THAT(all, HasSubstr("4 Cause de fermeture: \"Départ volontaire\" is not one of: "));
  EXPECT_THAT(all, HasSubstr("5 Cause de fermeture: "));
  EXPECT_THAT(all, HasSubstr("(closure.cause_required)"));
  EXPECT_THAT(all, HasSubstr("(closure.households_le_people)"));
}

TEST(SiteImportTest, DiagnosticColumnsRecordTheSocialDiagnostic) {
  const std::string head =
      "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
      "Statut du diagnostic social,Date du diagnostic,Service en charge du diagnostic\n";
  const std::string csv =
      absl::StrCat(head, "93066,Rue A,48.93,2.35,Terrain,2024-01-10,", L(v1::CENSUS_STATUS_DONE),
                   ",2025-02-03,Opérateur MOUS\n",
                   // Done, but neither when nor by whom.
                   "93066,Rue B,48.94,2.36,Terrain,2024-01-11,", L(v1::CENSUS_STATUS_DONE), ",,\n",
                   "93066,Rue C,48.95,2.37,Terrain,2024-01-12,,,\n");
  ImportPlan plan = PlanSiteImport(csv, Ctx());
  ASSERT_EQ(plan.lines.size(), 2u);
  ASSERT_TRUE(plan.lines[0].census.has_value());
  EXPECT_EQ(plan.lines[0].census->status(), v1::CENSUS_STATUS_DONE);
  EXPECT_EQ(plan.lines[0].census->conducted_by(), "Opérateur MOUS");
  EXPECT_EQ(plan.lines[0].census->conducted_at().month(), 2);
  EXPECT_FALSE(plan.lines[0].declaration.has_census());
  EXPECT_FALSE(plan.lines[1].census.has_value());  // line 4: nothing filled
  const std::string all = Problems(plan);
  EXPECT_THAT(all, HasSubstr("3 Service en charge du diagnostic: "));
  EXPECT_THAT(all, HasSubstr("(census.by_required)"));
  EXPECT_THAT(all, HasSubstr("3 Date du diagnostic: "));
  EXPECT_THAT(all, HasSubstr("(census.date_required)"));
}

TEST(SiteImportTest, ProcedureColumnsUpdateTheProceduresAfterTheDiagnostic) {
  const std::string head =
      "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
      "Dépôt de plainte par le propriétaire,Existence d'une procédure judiciaire,"
      "Décision de justice rendue,Date de la décision,Origine de la décision,Appel en cours,"
      "Concours de la force publique,Date de la demande du CFP,Date d'octroi du CFP,"
      "Nom de l'étude d'huissiers\n";
  const std::string yes = L(v1::YES), no = L(v1::NO);
  const std::string csv = absl::StrCat(
      head, "93066,Rue A,48.93,2.35,Terrain,2024-01-10,", yes, ",", yes, ",", yes,
      ",2025-02-03,TJ de Bobigny,", no, ",", L(v1::POLICE_STATUS_GRANTED),
      ",2025-03-01,2025-04-01,Étude Martin\n",
      // A decision without a procedure (so neither its date nor its origin).
      "93066,Rue B,48.94,2.36,Terrain,2024-01-11,,", no, ",", yes, ",2025-02-03,,,,,,\n",
      // Police assistance granted with no request date.
      "93066,Rue C,48.95,2.37,Terrain,2024-01-12,,", yes, ",,,,,", L(v1::POLICE_STATUS_GRANTED),
      ",,2025-04-01,\n",
      // A decision with no origin.
      "93066,Rue F,48.95,2.37,Terrain,2024-01-12,,", yes, ",", yes, ",2025-02-03,,,,,,\n",
      // Nothing filled: no command.
      "93066,Rue D,48.96,2.38,Terrain,2024-01-13,,,,,,,,,,\n",
      // Not a value of the list.
      "93066,Rue E,48.97,2.39,Terrain,2024-01-14,Peut-être,,,,,,,,,\n");
  ImportPlan plan = PlanSiteImport(csv, Ctx());
  ASSERT_EQ(plan.lines.size(), 2u);
  const ImportLine& a = plan.lines[0];
  ASSERT_TRUE(a.procedures.has_value());
  EXPECT_EQ(a.procedures->justice().owner_complaint(), v1::YES);
  EXPECT_EQ(a.procedures->justice().justice_procedure(), v1::YES);
  EXPECT_EQ(a.procedures->justice().justice_rendered(), v1::YES);
  EXPECT_EQ(a.procedures->justice().justice_rendered_at().month(), 2);
  EXPECT_EQ(a.procedures->justice().justice_rendered_by(), "TJ de Bobigny");
  EXPECT_EQ(a.procedures->justice().justice_challenged(), v1::NO);
  EXPECT_EQ(a.procedures->police().status(), v1::POLICE_STATUS_GRANTED);
  EXPECT_EQ(a.procedures->police().requested_at().month(), 3);
  EXPECT_EQ(a.procedures->police().granted_at().month(), 4);
  EXPECT_EQ(a.procedures->police().bailiff(), "Étude Martin");
  EXPECT_FALSE(a.declaration.has_justice());
  EXPECT_FALSE(a.declaration.has_police());
  EXPECT_FALSE(plan.lines[1].procedures.has_value());  // line 6: nothing filled
  const std::string all = Problems(plan);
  EXPECT_THAT(all, HasSubstr("3 Décision de justice rendue: "));
  EXPECT_THAT(all, HasSubstr("(justice.rendered_without_procedure)"));
  EXPECT_THAT(all, HasSubstr("3 Date de la décision: "));
  EXPECT_THAT(all, HasSubstr("(justice.decision_details_without_decision)"));
  EXPECT_THAT(all, HasSubstr("4 Date de la demande du CFP: "));
  EXPECT_THAT(all, HasSubstr("(police.requested_at_required)"));
  EXPECT_THAT(all, HasSubstr("5 Origine de la décision: "));
  EXPECT_THAT(all, HasSubstr("(justice.rendered_by_required)"));
  EXPECT_THAT(all,
              HasSubstr("7 Dépôt de plainte par le propriétaire: \"Peut-être\" is not one of: "));
}

// The action columns are computed by the service: a file that has them (as the export writes
// them, or any other value) is read without them.
TEST(SiteImportTest, ActionColumnsAreReadOnlyAndIgnored) {
  const std::string csv =
      "Code INSEE,Adresse,Latitude,Longitude,Type de site,Date de signalement,"
      "Le site fait-il l’objet d’une action ?,Le site fait-il l’objet d’une action financée "
      "l’année correspondant à la date d’extraction ?\n"
      "93066,Rue A,48.93,2.35,Terrain,2024-01-10,oui,non\n"
      "93066,Rue B,48.94,2.36,Terrain,2024-01-11,,peut-être\n";
  ImportPlan plan = PlanSiteImport(csv, Ctx());
  ASSERT_TRUE(plan.problems.empty()) << Problems(plan);
  ASSERT_EQ(plan.lines.size(), 2u);
  for (const ImportLine& line : plan.lines) {
    // A declaration alone: nothing else to record.
    EXPECT_FALSE(line.population.has_value());
    EXPECT_FALSE(line.census.has_value());
    EXPECT_FALSE(line.living_conditions.has_value());
    EXPECT_FALSE(line.procedures.has_value());
    EXPECT_FALSE(line.closure.has_value());
  }
  EXPECT_EQ(plan.lines[0].declaration.location().address().label(), "Rue A");
  EXPECT_EQ(plan.lines[1].declaration.location().address().label(), "Rue B");
}

}  // namespace
}  // namespace rb::tools
