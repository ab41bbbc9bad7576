// The yearly export of the actions (tools/lib/action_export.h) on hand-made actions: sheets in
// the platform's order of départements, the title lines and the share of DIHAL-financed actions
// updated less than three months ago, finance columns only for their readers, the filters.
#include "tools/lib/action_export.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

int64_t Micros(absl::CivilDay d) {
  return absl::ToUnixMicros(absl::FromCivil(d, absl::UTCTimeZone())) + 3600000000;
}

v1::Action Action(const std::string& id, const std::string& departement) {
  v1::Action a;
  a.set_id(id);
  a.mutable_details()->set_name("Action " + id);
  a.mutable_details()->set_departement_code(departement);
  a.mutable_details()->mutable_started_at()->set_year(2024);
  a.mutable_details()->mutable_started_at()->set_month(1);
  a.mutable_details()->mutable_started_at()->set_day(15);
  return a;
}

// Planned `dedicated` cents of dedicated credits in `year`, and indicators updated on `updated`.
void Finance(v1::Action& a, int year, int64_t dedicated, absl::CivilDay updated) {
  v1::ActionFinances* f = a.add_finances();
  f->set_year(year);
  v1::FinanceLine* l = f->add_lines();
  l->set_type(v1::FINANCE_TYPE_DEDICATED);
  l->set_amount_cents(dedicated);
  l->set_real_amount_cents(dedicated / 2);
  v1::ActionIndicators* i = a.add_indicators();
  i->set_year(year);
  i->set_nombre_personnes(20);
  i->set_nombre_menages(0);
  i->set_updated_at_us(Micros(updated));
}

size_t Column(const ActionExport& e, const std::string& header) {
  for (size_t i = 0; i < e.columns.size(); ++i) {
    if (e.columns[i].header == header) return i;
  }
  return e.columns.size();
}

class ActionExportTest : public ::testing::Test {
 protected:
  ActionExportTest() {
    // Updated 14 days before the extraction; updated 136 days before; not financed.
    fresh_ = Action("a-1", "93");
    Finance(fresh_, 2025, 1500000, absl::CivilDay(2026, 1, 1));
    stale_ = Action("a-2", "2A");
    Finance(stale_, 2025, 250050, absl::CivilDay(2025, 9, 1));
    unfinanced_ = Action("a-3", "01");
    overseas_ = Action("a-4", "974");
    options_.year = 2025;
    options_.today = absl::CivilDay(2026, 1, 15);
  }

  std::vector<v1::Action> All() const { return {fresh_, stale_, unfinanced_, overseas_}; }

  v1::Action fresh_, stale_, unfinanced_, overseas_;
  ActionExportOptions options_;
};

TEST_F(ActionExportTest, OneSheetPerDepartementInThePlatformOrderThenTous) {
  absl::StatusOr<ActionExport> e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  std::vector<std::string> names;
  for (const ActionSheet& s : e->sheets) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("Dépt 01", "Dépt 2A", "Dépt 93", "Dépt 974", "Tous"));
  ASSERT_EQ(e->sheets.back().rows.size(), 4u);
  EXPECT_EQ(e->sheets[2].rows.size(), 1u);
  EXPECT_EQ(e->sheets[2].rows[0][Column(*e, "ID action")], "a-1");
  EXPECT_EQ(e->sheets[2].rows[0][Column(*e, "Département")], "Seine-Saint-Denis");
  EXPECT_EQ(e->sheets[2].rows[0][Column(*e, "Région")], "Île-de-France");
  EXPECT_EQ(e->sheets[2].rows[0][Column(*e, "Date de lancement/début")], "15/01/2024");
}

TEST_F(ActionExportTest, TitlesCountTheDihalFinancedActionsUpdatedLessThanThreeMonthsAgo) {
  absl::StatusOr<ActionExport> e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(
      e->sheets.back().titles,
      ElementsAre("Actions de l'année 2025", "Toutes les actions",
                  "Extraction de la plateforme Résorption bidonvilles", "à la date du 15/01/2026",
                  "1 actions financées par la DIHAL sur 2 ont été mises à jour il y a "
                  "moins de 3 mois (50%)"));
  EXPECT_EQ(e->sheets[2].titles[1], "Département 93 - Seine-Saint-Denis");
  EXPECT_THAT(e->sheets[0].titles.back(), HasSubstr("0 actions financées par la DIHAL sur 0"));
  EXPECT_THAT(e->sheets[0].titles.back(), HasSubstr("(N/A)"));
  // An extraction made before the update does not count it.
  options_.today = absl::CivilDay(2025, 12, 31);
  e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->sheets.back().titles.back(), HasSubstr("0 actions financées par la DIHAL sur 2"));
  // Outside the campaign (the current and the previous year): no such line.
  options_.today = absl::CivilDay(2027, 3, 1);
  e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->sheets.back().titles.size(), 4u);
}

TEST_F(ActionExportTest, CellsShowTheYearsIndicatorsAndFinances) {
  absl::StatusOr<ActionExport> e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  const std::vector<std::string>& a1 = e->sheets.back().rows[0];
  EXPECT_EQ(a1[Column(*e, "Nombre total de personnes concernées par l'action")], "20");
  EXPECT_EQ(a1[Column(*e, "Nombre de ménages")], "0");  // recorded as 0
  EXPECT_EQ(a1[Column(*e, "Nombre de femmes")], "");    // not recorded
  EXPECT_EQ(a1[Column(*e, "Crédits dédiés à la résorption des bidonvilles")], "15000.00");
  EXPECT_EQ(a1[Column(*e, "Dépense sur crédits dédiés à la résorption des bidonvilles")],
            "7500.00");
  EXPECT_EQ(a1[Column(*e, "Financement européen")], "");
  EXPECT_EQ(a1[Column(*e, "Indicateurs mis à jour le")], "01/01/2026");
  // Another year: the 2025 figures are not shown.
  options_.year = 2024;
  e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->sheets.back().rows[0][Column(*e, "Nombre de ménages")], "");
  EXPECT_EQ(e->sheets.back().rows[0][Column(*e, "Crédits dédiés à la résorption des bidonvilles")],
            "");
}

TEST_F(ActionExportTest, FinanceColumnsOnlyWhenTheReaderSeesSomeFinances) {
  std::vector<v1::Action> hidden = All();
  for (v1::Action& a : hidden) {
    a.clear_finances();
    a.set_finances_hidden(true);
  }
  absl::StatusOr<ActionExport> e = BuildActionExport(hidden, options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(std::count_if(e->columns.begin(), e->columns.end(),
                          [](const ActionColumn& c) { return c.section == "FINANCEMENT"; }),
            0);
  // One action readable: the columns are there, empty for the others.
  hidden[0] = fresh_;
  e = BuildActionExport(hidden, options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(std::count_if(e->columns.begin(), e->columns.end(),
                          [](const ActionColumn& c) { return c.section == "FINANCEMENT"; }),
            12);
  const size_t dedicated = Column(*e, "Crédits dédiés à la résorption des bidonvilles");
  EXPECT_EQ(e->sheets.back().rows[0][dedicated], "15000.00");
  EXPECT_EQ(e->sheets.back().rows[1][dedicated], "");
}

TEST_F(ActionExportTest, DedicatedOnlyKeepsTheActionsFinancedThatYear) {
  options_.dedicated_only = true;
  absl::StatusOr<ActionExport> e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->sheets.back().rows.size(), 2u);
  EXPECT_EQ(e->sheets.back().rows[0][Column(*e, "ID action")], "a-1");
  EXPECT_EQ(e->sheets.back().rows[1][Column(*e, "ID action")], "a-2");
  options_.year = 2024;
  EXPECT_EQ(BuildActionExport(All(), options_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ActionExportTest, DedicatedOnlyNeedsFinancesTheReaderSees) {
  std::vector<v1::Action> hidden = All();
  for (v1::Action& a : hidden) {
    a.clear_finances();
    a.set_finances_hidden(true);
  }
  options_.dedicated_only = true;
  absl::Status s = BuildActionExport(hidden, options_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("dedicated_only"));
}

TEST_F(ActionExportTest, RefusesAnEmptyExportAndABadYear) {
  EXPECT_EQ(BuildActionExport({}, options_).status().code(), absl::StatusCode::kNotFound);
  options_.year = 1999;
  absl::Status s = BuildActionExport(All(), options_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("year"));
}

TEST_F(ActionExportTest, CsvIsTheTousTableWithItsHeadings) {
  absl::StatusOr<ActionExport> e = BuildActionExport(All(), options_);
  ASSERT_TRUE(e.ok()) << e.status();
  const std::string csv = ActionExportCsv(*e);
  EXPECT_EQ(csv.rfind("Département,Code région,Région,ID action,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);  // headings + 4 actions
  EXPECT_THAT(csv, Not(HasSubstr("Actions de l'année")));
}

}  // namespace
}  // namespace rb::tools
