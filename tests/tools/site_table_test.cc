// Copyright: the Résorption-bidonvilles data service authors.
//
// The export table's action columns of the Site section, and its Intervenants and Orientation
// sections (the platform's export sections of the same names, reference §5.1).
#include "tools/lib/site_table.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rb::tools {
namespace {

namespace v1 = resorption::v1;
using ::testing::ElementsAre;

// The cells of the CSV's second line, by header.
std::map<std::string, std::string> Cells(const std::vector<SiteRow>& rows) {
  const std::vector<const SiteColumn*> columns = ExportColumns(rows);
  std::map<std::string, std::string> out;
  for (const SiteColumn* c : columns) out[c->header] = c->get(rows[0]);
  return out;
}

TEST(SiteTableTest, IntervenersAreListedWithTheirThemes) {
  SiteRow row;
  row.site.set_id("s-1");
  row.site.set_status(v1::SITE_STATUS_OPEN);
  v1::Intervener* a = row.site.add_interveners();
  a->set_user_id("u-7");
  a->set_organisation_id("asso-93");
  a->add_themes(v1::ACTOR_THEME_HEALTH);
  a->add_themes(v1::ACTOR_THEME_OTHER);
  a->set_other_theme("Aide alimentaire");
  v1::Intervener* b = row.site.add_interveners();
  b->set_user_id("u-8");
  b->set_organisation_id("ddets-93");
  std::map<std::string, std::string> cells = Cells({row});
  const std::string listed = cells["Intervenants"];
  std::vector<std::string> parts = absl::StrSplit(listed, "; ");
  ASSERT_EQ(parts.size(), 2u) << listed;
  EXPECT_THAT(parts[0], ::testing::StartsWith("asso-93 (u-7) : "));
  EXPECT_THAT(parts[0], ::testing::EndsWith(", Aide alimentaire"));
  EXPECT_EQ(parts[1], "ddets-93 (u-8)");
  EXPECT_EQ(cells["Nombre d'intervenants"], "2");
  EXPECT_EQ(cells["Intervenant de ma structure"], "");  // the exporter's organisation unknown
  row.viewer_organisation_id = "ddets-93";
  EXPECT_EQ(Cells({row})["Intervenant de ma structure"], "Oui");
  row.viewer_organisation_id = "mairie-93066";
  EXPECT_EQ(Cells({row})["Intervenant de ma structure"], "Non");
}

TEST(SiteTableTest, OrientationGivesPeopleAndHouseholdsPerClosingSolutionOfClosedSites) {
  SiteRow row;
  row.site.set_id("s-2");
  row.site.set_status(v1::SITE_STATUS_CLOSED);
  v1::ClosingSolutionOutcome* housing = row.site.mutable_closure()->add_solutions();
  housing->set_solution(v1::CLOSING_SOLUTION_HOUSING);
  housing->set_people(12);
  housing->set_households(4);
  housing->set_message("Bailleur social");
  v1::ClosingSolutionOutcome* none = row.site.mutable_closure()->add_solutions();
  none->set_solution(v1::CLOSING_SOLUTION_NONE);
  none->set_people(3);

  std::vector<std::string> orientation;
  for (const SiteColumn* c : ExportColumns({row})) {
    if (c->section == "Orientation") orientation.push_back(c->header);
  }
  ASSERT_EQ(orientation.size(), 15u);  // 5 solutions x (personnes, ménages, précisions)
  std::map<std::string, std::string> cells = Cells({row});
  int filled = 0;
  for (const std::string& h : orientation) {
    if (cells[h].empty()) continue;
    ++filled;
    EXPECT_TRUE(cells[h] == "12" || cells[h] == "4" || cells[h] == "Bailleur social" ||
                cells[h] == "3")
        << h << " = " << cells[h];
  }
  EXPECT_EQ(filled, 4);  // housing: people, households, message; none: people

  // An open site has no orientation, whatever its last closure said.
  row.site.set_status(v1::SITE_STATUS_OPEN);
  cells = Cells({row});
  for (const std::string& h : orientation) EXPECT_EQ(cells[h], "") << h;
}

// The platform's two action columns, in the Site section between the reinstallation and the
// resorption target; read-only (the import ignores them).
TEST(SiteTableTest, ActionColumnsSayWhetherAnActionAndADedicatedFinancingListTheSite) {
  const std::string action = "Le site fait-il l’objet d’une action ?";
  const std::string financed =
      "Le site fait-il l’objet d’une action financée l’année correspondant à la date "
      "d’extraction ?";
  SiteRow row;
  row.site.set_id("s-5");
  std::vector<std::string> site_section;
  for (const SiteColumn* c : ExportColumns({row})) {
    if (c->section == "Site") site_section.push_back(c->header);
  }
  const auto at = std::find(site_section.begin(), site_section.end(), action);
  ASSERT_NE(at, site_section.end());
  ASSERT_GE(at - site_section.begin(), 1);
  ASSERT_LE(at + 2, site_section.end() - 1);
  EXPECT_EQ(*(at - 1), "Précisions sur la réinstallation");
  EXPECT_EQ(*(at + 1), financed);
  EXPECT_EQ(*(at + 2), "Objectif de résorption");
  ASSERT_NE(FindSiteColumn(action), nullptr);
  EXPECT_FALSE(FindSiteColumn(action)->set);
  ASSERT_NE(FindSiteColumn(financed), nullptr);
  EXPECT_FALSE(FindSiteColumn(financed)->set);

  // No action.
  std::map<std::string, std::string> cells = Cells({row});
  EXPECT_EQ(cells[action], "non");
  EXPECT_EQ(cells[financed], "non");
  // An action, not financed by the dedicated credits.
  row.signals.set_has_action(true);
  cells = Cells({row});
  EXPECT_EQ(cells[action], "oui");
  EXPECT_EQ(cells[financed], "non");
  // An action financed by the dedicated credits, not in the year of the extraction.
  row.signals.set_has_dedicated_financing(true);
  cells = Cells({row});
  EXPECT_EQ(cells[action], "oui");
  EXPECT_EQ(cells[financed], "non");
  // ... in the year of the extraction.
  row.financed_in_extraction_year = true;
  cells = Cells({row});
  EXPECT_EQ(cells[action], "oui");
  EXPECT_EQ(cells[financed], "oui");
  // A row that knows no action (the list at a past date): empty, not "non".
  row.signals.Clear();
  row.actions_known = false;
  row.financed_in_extraction_year = false;
  cells = Cells({row});
  EXPECT_EQ(cells[action], "");
  EXPECT_EQ(cells[financed], "");
}

TEST(SiteTableTest, CommentsNewestFirstWithoutModeratedOnesAndTheLastDate) {
  SiteRow row;
  row.site.set_id("s-4");
  auto add = [&](const std::string& text, int64_t at_us, bool moderated) {
    v1::Comment* c = row.site.add_comments();
    c->set_text(text);
    c->set_author_user_id("u-1");
    c->set_author_organisation_id("asso");
    c->set_posted_at_us(at_us);
    c->set_moderated(moderated);
  };
  add("Premier passage", 1'704'110'400'000'000, false);        // 2024-01-01T12:00Z
  add("", 1'706'788'800'000'000, true);                        // 2024-02-01, moderated
  add("Incendie d'une cabane", 1'709'294'400'000'000, false);  // 2024-03-01
  std::map<std::string, std::string> cells = Cells({row});
  EXPECT_EQ(
      cells["Commentaires"],
      "01/03/2024 asso (u-1) : Incendie d'une cabane\n01/01/2024 asso (u-1) : Premier passage");
  EXPECT_EQ(cells["Date du dernier commentaire"], "01/03/2024");
}

TEST(SiteTableTest, SectionsFollowThePlatformOrder) {
  SiteRow row;
  row.site.set_id("s-3");
  std::vector<std::string> sections;
  for (const SiteColumn* c : ExportColumns({row})) {
    if (sections.empty() || sections.back() != c->section) sections.push_back(c->section);
  }
  EXPECT_THAT(sections, ElementsAre("Localisation", "Site", "Habitants", "Conditions de vie",
                                    "Diagnostic", "Intervenants", "Orientation", "Mise à jour"));
}

}  // namespace
}  // namespace rb::tools
