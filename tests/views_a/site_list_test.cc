// The site_list view and its query against hand-computed expectations, on scenarios built with
// real commands, a real store and the projection engine.
#include "projections/views/site_list.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "domain/events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/view_hash.h"
#include "projections/views/site_filter.h"
#include "tests/views_a/fixture.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using ::rb::views::testing::D;
using ::rb::views::testing::Day;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class SiteListTest : public ::rb::views::testing::ViewsFixture {
 protected:
  // Five sites:
  //   1 Saint-Denis (93, 11)  30 people, 10 minors  updated 2024-05-01  action "sur site"
  //   2 Montreuil   (93, 11) 120 people, 50 minors  updated 2024-05-20  heatwave, bad water
  //   3 Bordeaux    (33, 75)   8 people              updated 2023-10-01  (out of date)
  //   4 Saint-Denis (93, 11) closed 2024-06-01, resorbed
  //   5 Toulouse    (31, 76)  60 people, European    updated 2024-04-01  justice + police granted
  void Scenario() {
    Declare("1", "93066", "Les Lilas", Day(2023, 6, 1));
    Declare("2", "93048", "Mont Fleuri", Day(2023, 6, 1));
    Declare("3", "33063", "Quai des Chartrons", Day(2023, 6, 1));
    Declare("4", "93066", "Pleyel", Day(2023, 6, 1));
    Declare("5", "31555", "Ginestous", Day(2023, 6, 1));
    Population("3", 8, 0, Day(2023, 10, 1));
    Population("5", 60, 20, Day(2024, 3, 1));
    {
      pb::SiteCommand c = rb::domain::testing::On("5");
      c.mutable_record_population()->mutable_population()->set_total(60);
      c.mutable_record_population()->mutable_population()->set_minors(20);
      c.mutable_record_population()->mutable_population()->set_households(15);
      c.mutable_record_population()->add_origins(pb::SOCIAL_ORIGIN_EUROPEAN);
      Site(c, Day(2024, 3, 15));
      pb::SiteCommand p = rb::domain::testing::On("5");
      p.mutable_update_procedures()->mutable_justice()->set_justice_procedure(pb::YES);
      p.mutable_update_procedures()->mutable_justice()->set_owner_complaint(pb::YES);
      p.mutable_update_procedures()->mutable_justice()->set_justice_rendered(pb::NO);
      p.mutable_update_procedures()->mutable_police()->set_status(pb::POLICE_STATUS_GRANTED);
      *p.mutable_update_procedures()->mutable_police()->mutable_requested_at() = D(2024, 2, 1);
      *p.mutable_update_procedures()->mutable_police()->mutable_granted_at() = D(2024, 3, 1);
      Site(p, Day(2024, 4, 1));
    }
    Population("1", 30, 10, Day(2024, 5, 1));
    Population("2", 120, 50, Day(2024, 5, 10));
    {
      pb::SiteCommand c = rb::domain::testing::On("2");
      pb::LivingConditionsV2 lc = rb::domain::testing::ValidLivingConditions();
      lc.mutable_water()->set_access_type(pb::WATER_ACCESS_TYPE_FIRE_HYDRANT);
      lc.mutable_water()->clear_is_public();
      lc.mutable_water()->clear_is_local();
      lc.mutable_water()->clear_is_close();
      *c.mutable_assess_living_conditions()->mutable_living_conditions() = lc;
      Site(c, Day(2024, 5, 15));
      pb::SiteCommand h = rb::domain::testing::On("2");
      h.mutable_set_heatwave()->set_active(true);
      Site(h, Day(2024, 5, 20));
    }
    {
      pb::SiteCommand c = rb::domain::testing::On("4");
      *c.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
      Site(c, Day(2024, 6, 1));
    }
    Action(rb::domain::testing::CreateAction("a1"));  // lists site 1
    Sync();
  }

  std::vector<std::string> Ids(const pb::ListSitesRequest& req) {
    SiteListQuery q(engine_.get());
    absl::StatusOr<pb::ListSitesResponse> r = q.List(req);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    if (!r.ok()) return ids;
    for (const auto& s : r->sites()) ids.push_back(s.id());
    return ids;
  }

  std::vector<std::string> Filtered(const pb::SiteFilter& f) {
    pb::ListSitesRequest req;
    *req.mutable_filter() = f;
    req.set_page_size(100);
    std::vector<std::string> ids = Ids(req);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

TEST_F(SiteListTest, DefaultListIsOpenSitesByLastUpdateDescending) {
  Scenario();
  EXPECT_THAT(Ids({}), ElementsAre("2", "1", "5", "3"));
}

TEST_F(SiteListTest, EachFilterAlone) {
  Scenario();
  pb::SiteFilter f;
  f.add_departement_codes("93");
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2"));
  f.Clear();
  f.add_region_codes("76");
  EXPECT_THAT(Filtered(f), ElementsAre("5"));
  f.Clear();
  f.add_epci_codes("200054781");
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2"));
  f.Clear();
  f.add_city_codes("93066");
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  f.Clear();
  f.add_city_codes("93066");
  f.add_departement_codes("93");  // overlapping territories: each site once
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2"));
  f.Clear();
  f.set_state(pb::SITE_STATE_FILTER_CLOSED);
  EXPECT_THAT(Filtered(f), ElementsAre("4"));
  f.set_state(pb::SITE_STATE_FILTER_ALL);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "3", "4", "5"));
  f.Clear();
  f.add_population(pb::POPULATION_BUCKET_10_TO_50);
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  f.Clear();
  f.add_population(pb::POPULATION_BUCKET_MORE_THAN_100);
  f.add_population(pb::POPULATION_BUCKET_LESS_THAN_10);
  EXPECT_THAT(Filtered(f), ElementsAre("2", "3"));
  f.Clear();
  f.set_heatwave(true);
  EXPECT_THAT(Filtered(f), ElementsAre("2"));
  f.Clear();
  f.set_out_of_date(true);
  EXPECT_THAT(Filtered(f), ElementsAre("3"));
  f.Clear();
  f.add_origins(pb::ORIGIN_FILTER_EUROPEAN_ONLY);
  EXPECT_THAT(Filtered(f), ElementsAre("5"));
  f.Clear();
  f.add_origins(pb::ORIGIN_FILTER_UNKNOWN);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "3"));
  f.Clear();
  f.add_justice_procedure(pb::YES);
  EXPECT_THAT(Filtered(f), ElementsAre("5"));
  f.Clear();
  f.add_police_status(pb::POLICE_STATUS_GRANTED);
  EXPECT_THAT(Filtered(f), ElementsAre("5"));
  f.Clear();
  f.set_has_action(true);
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  f.set_has_action(false);
  EXPECT_THAT(Filtered(f), ElementsAre("2", "3", "5"));
  f.Clear();
  auto* lc = f.add_living_conditions();
  lc->set_domain(pb::LIVING_CONDITIONS_DOMAIN_WATER);
  lc->add_statuses(pb::DOMAIN_STATUS_BAD);
  EXPECT_THAT(Filtered(f), ElementsAre("2"));
  f.Clear();
  f.set_state(pb::SITE_STATE_FILTER_CLOSED);
  f.add_closing_causes(pb::CLOSING_CAUSE_RESORBED);
  f.add_closing_years(2024);
  EXPECT_THAT(Filtered(f), ElementsAre("4"));
  f.clear_closing_years();
  f.add_closing_years(2023);
  EXPECT_THAT(Filtered(f), ElementsAre());
  f.Clear();
  f.add_field_types(pb::FIELD_TYPE_BUILDING);
  EXPECT_THAT(Filtered(f), ElementsAre());
  f.Clear();
  f.set_text_prefix("saint-d");  // commune name
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  f.set_text_prefix("Fleuri");  // a word of the name
  EXPECT_THAT(Filtered(f), ElementsAre("2"));
  f.set_text_prefix("leuri");  // not a word start
  EXPECT_THAT(Filtered(f), ElementsAre());
}

// The resorption target (years, or any / none) and the site type, on the scenario with targets
// 2025 for sites 1 and 5, 2026 for site 2, none for 3 and the closed 4; site 3 is a building
// ("Immeuble bâti"), the others land ("Terrain").
// The index holds national and departemental ranges only: a region, an EPCI or a commune is
// listed from the ranges of the departements its sites lie in, then matched on its own code.
TEST_F(SiteListTest, TerritoriesAcrossDepartementsAndUnknownCodes) {
  Scenario();
  // CC Usses et Rhône lies in the Ain (01) and in Haute-Savoie (74).
  Declare("6", "01010", "Anglefort", Day(2023, 6, 1));
  Declare("7", "74029", "Bassy", Day(2023, 6, 1));
  Declare("8", "01053", "Bourg", Day(2023, 6, 1));  // Ain, another EPCI
  Sync();
  pb::SiteFilter f;
  f.add_epci_codes("200070852");
  EXPECT_THAT(Filtered(f), ElementsAre("6", "7"));
  f.Clear();
  f.add_region_codes("84");  // Auvergne-Rhône-Alpes
  EXPECT_THAT(Filtered(f), ElementsAre("6", "7", "8"));
  f.Clear();
  f.add_region_codes("11");
  f.add_region_codes("75");
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "3"));
  f.Clear();
  f.add_city_codes("93048");  // Montreuil, beside Saint-Denis in the same departement
  EXPECT_THAT(Filtered(f), ElementsAre("2"));
  f.Clear();
  f.add_city_codes("74029");
  f.add_departement_codes("31");
  EXPECT_THAT(Filtered(f), ElementsAre("5", "7"));
  // Codes no site was recorded under match nothing.
  for (auto add : {+[](pb::SiteFilter& g) { g.add_city_codes("99999"); },
                   +[](pb::SiteFilter& g) { g.add_epci_codes("000000000"); },
                   +[](pb::SiteFilter& g) { g.add_region_codes("00"); }}) {
    f.Clear();
    add(f);
    EXPECT_THAT(Filtered(f), ElementsAre());
  }
  // A page token walks the departement ranges of a region in order, each site once.
  pb::ListSitesRequest req;
  req.mutable_filter()->add_region_codes("84");
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_COMMUNE);
  req.set_page_size(2);
  SiteListQuery q(engine_.get());
  absl::StatusOr<pb::ListSitesResponse> first = q.List(req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->sites_size(), 2);
  EXPECT_EQ(first->sites(0).id(), "6");  // Anglefort
  EXPECT_EQ(first->sites(1).id(), "7");  // Bassy
  req.set_page_token(first->next_page_token());
  absl::StatusOr<pb::ListSitesResponse> second = q.List(req);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->sites_size(), 1);
  EXPECT_EQ(second->sites(0).id(), "8");  // Bourg-en-Bresse
  EXPECT_TRUE(second->next_page_token().empty());
}

// A site is listed under the codes it was recorded with, even when the embedded geography no
// longer agrees (EPCI memberships change every year): here a site recorded in the Jura under an
// EPCI that the geography places in the Ain and Haute-Savoie.
TEST_F(SiteListTest, TerritoriesFollowTheSitesOwnCodesNotTodaysGeography) {
  Scenario();
  pb::SiteEvent e;
  auto* d = e.mutable_declared();
  d->set_site_id("9");
  d->set_name("Ancien périmètre");
  d->set_field_type(pb::FIELD_TYPE_LAND);
  auto* t = d->mutable_location()->mutable_territory();
  t->set_city_code("39300");
  t->set_city_name("Lons-le-Saunier");
  t->set_epci_code("200070852");
  t->set_departement_code("39");
  t->set_region_code("27");
  d->mutable_location()->mutable_address()->set_label("Route");
  d->mutable_location()->mutable_address()->set_city_code("39300");
  AppendSiteEvent("9", e, Day(2024, 6, 2));
  Sync();
  pb::SiteFilter f;
  f.add_epci_codes("200070852");
  EXPECT_THAT(Filtered(f), ElementsAre("9"));
  f.Clear();
  f.add_region_codes("27");
  EXPECT_THAT(Filtered(f), ElementsAre("9"));
  f.Clear();
  f.add_city_codes("39300");
  EXPECT_THAT(Filtered(f), ElementsAre("9"));
  f.Clear();
  f.add_departement_codes("01");
  EXPECT_THAT(Filtered(f), ElementsAre());
}

TEST_F(SiteListTest, ResorptionTargetAndSiteTypeFiltersKeepTheMatchingSites) {
  Scenario();
  auto update = [&](const std::string& id, const std::string& path, pb::Site site) {
    pb::SiteCommand c = rb::domain::testing::On(id);
    *c.mutable_update()->mutable_site() = std::move(site);
    c.mutable_update()->mutable_update_mask()->add_paths(path);
    Site(c, Day(2024, 6, 2));
  };
  pb::Site target;
  target.set_resorption_target(2025);
  update("1", "resorption_target", target);
  update("5", "resorption_target", target);
  target.set_resorption_target(2026);
  update("2", "resorption_target", target);
  pb::Site building;
  building.set_field_type(pb::FIELD_TYPE_BUILDING);
  update("3", "field_type", building);
  Sync();

  pb::SiteFilter f;
  f.add_resorption_target_years(2025);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "5"));
  f.add_resorption_target_years(2026);  // one of the years
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "5"));
  f.clear_resorption_target_years();
  f.add_resorption_target_years(2027);
  EXPECT_THAT(Filtered(f), ElementsAre());
  f.Clear();
  f.add_resorption_target_years(2025);
  f.add_departement_codes("93");  // and the other conditions
  EXPECT_THAT(Filtered(f), ElementsAre("1"));

  f.Clear();
  f.set_has_resorption_target(true);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "5"));
  f.set_has_resorption_target(false);
  EXPECT_THAT(Filtered(f), ElementsAre("3"));
  f.set_state(pb::SITE_STATE_FILTER_ALL);  // the closed site has none either
  EXPECT_THAT(Filtered(f), ElementsAre("3", "4"));

  f.Clear();
  f.add_field_types(pb::FIELD_TYPE_BUILDING);
  EXPECT_THAT(Filtered(f), ElementsAre("3"));
  f.clear_field_types();
  f.add_field_types(pb::FIELD_TYPE_LAND);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "5"));
  f.add_field_types(pb::FIELD_TYPE_BUILDING);  // one of the types
  EXPECT_THAT(Filtered(f), ElementsAre("1", "2", "3", "5"));
  f.clear_field_types();
  f.add_field_types(pb::FIELD_TYPE_LAND);
  f.set_state(pb::SITE_STATE_FILTER_CLOSED);
  EXPECT_THAT(Filtered(f), ElementsAre("4"));
}

TEST_F(SiteListTest, ActionFinancedByDedicatedCreditsIsFlaggedAndClosingTheActionUnflags) {
  Scenario();
  pb::SiteFilter f;
  f.set_has_dedicated_financing(true);
  EXPECT_THAT(Filtered(f), ElementsAre());
  pb::ActionCommand fin;
  fin.set_action_id("a1");
  auto* y = fin.mutable_record_finances()->mutable_finances();
  y->set_year(2024);
  auto* line = y->add_lines();
  line->set_type(pb::FINANCE_TYPE_DEDICATED);
  line->set_amount_cents(5'000'000);
  Action(fin);
  Sync();
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  pb::ActionCommand close;
  close.set_action_id("a1");
  *close.mutable_close()->mutable_closed_at() = D(2024, 6, 10);
  Action(close);
  Sync();
  EXPECT_THAT(Filtered(f), ElementsAre());
  f.Clear();
  f.set_has_action(true);
  EXPECT_THAT(Filtered(f), ElementsAre());
}

TEST_F(SiteListTest, SortsInBothDirections) {
  Scenario();
  pb::ListSitesRequest req;
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_POPULATION);
  EXPECT_THAT(Ids(req), ElementsAre("2", "5", "1", "3"));
  req.mutable_sort()->set_direction(pb::SORT_DIRECTION_ASCENDING);
  EXPECT_THAT(Ids(req), ElementsAre("3", "1", "5", "2"));
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_COMMUNE);
  req.mutable_sort()->clear_direction();  // commune: ascending by default
  EXPECT_THAT(Ids(req),
              ElementsAre("3", "2", "1", "5"));  // Bordeaux, Montreuil, St-Denis, Toulouse
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_LAST_UPDATE);
  req.mutable_sort()->set_direction(pb::SORT_DIRECTION_ASCENDING);
  EXPECT_THAT(Ids(req), ElementsAre("3", "5", "1", "2"));
}

// SITE_SORT_FIELD_POPULATION: "unknown last", whatever the direction, and across pages.
TEST_F(SiteListTest, PopulationSortPutsSitesWithoutACountLastInBothDirections) {
  Scenario();
  Declare("6", "93066", "Sans recensement", Day(2024, 5, 5));
  Declare("7", "33063", "Sans recensement non plus", Day(2024, 5, 6));
  Sync();
  pb::ListSitesRequest req;
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_POPULATION);
  EXPECT_THAT(Ids(req), ElementsAre("2", "5", "1", "3", "7", "6"));
  req.mutable_sort()->set_direction(pb::SORT_DIRECTION_ASCENDING);
  EXPECT_THAT(Ids(req), ElementsAre("3", "1", "5", "2", "6", "7"));
  // Territory ranges merged: 93 and 33.
  req.mutable_filter()->add_departement_codes("93");
  req.mutable_filter()->add_departement_codes("33");
  EXPECT_THAT(Ids(req), ElementsAre("3", "1", "2", "6", "7"));
  req.mutable_filter()->Clear();

  // Pages of every size give the same order, the cursor moving into the sites without a count.
  for (int size = 1; size <= 6; ++size) {
    SCOPED_TRACE(size);
    req.set_page_size(size);
    req.clear_page_token();
    SiteListQuery q(engine_.get());
    std::vector<std::string> paged;
    for (int pages = 0; pages < 10; ++pages) {
      absl::StatusOr<pb::ListSitesResponse> page = q.List(req);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& s : page->sites()) paged.push_back(s.id());
      if (page->next_page_token().empty()) break;
      req.set_page_token(page->next_page_token());
    }
    EXPECT_THAT(paged, ElementsAre("3", "1", "5", "2", "6", "7"));
  }
}

TEST_F(SiteListTest, PrioritySortPutsTheUrgentSiteFirstAndPaginates) {
  Scenario();
  pb::ListSitesRequest req;
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_PRIORITY);
  SiteListQuery q(engine_.get());
  absl::StatusOr<pb::ListSitesResponse> all = q.List(req);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->sites_size(), 4);
  EXPECT_EQ(all->sites(0).id(), "2");  // bad water, heatwave, 50 minors, no action
  for (int i = 1; i < all->sites_size(); ++i) {
    EXPECT_GE(all->sites(i - 1).signals().priority_score(),
              all->sites(i).signals().priority_score());
  }
  // Two pages of two give the same order.
  req.set_page_size(2);
  absl::StatusOr<pb::ListSitesResponse> p1 = q.List(req);
  ASSERT_TRUE(p1.ok());
  ASSERT_FALSE(p1->next_page_token().empty());
  req.set_page_token(p1->next_page_token());
  absl::StatusOr<pb::ListSitesResponse> p2 = q.List(req);
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_TRUE(p2->next_page_token().empty());
  std::vector<std::string> paged;
  for (const auto& s : p1->sites()) paged.push_back(s.id());
  for (const auto& s : p2->sites()) paged.push_back(s.id());
  std::vector<std::string> whole;
  for (const auto& s : all->sites()) whole.push_back(s.id());
  EXPECT_EQ(paged, whole);
}

TEST_F(SiteListTest, ReferenceDateDefaultsToTheLatestValidDateAndCanBeGiven) {
  Scenario();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  absl::StatusOr<pb::ListSitesResponse> r = q.List(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reference_date().year(), 2024);
  EXPECT_EQ(r->reference_date().month(), 6);
  EXPECT_EQ(r->reference_date().day(), 1);  // the closure of site 4, the latest site event
  EXPECT_FALSE(r->sites(0).signals().out_of_date());
  req.mutable_reference_date()->set_year(2025);
  req.mutable_reference_date()->set_month(1);
  req.mutable_reference_date()->set_day(1);
  req.mutable_filter()->set_out_of_date(true);
  r = q.List(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sites_size(), 4);  // every open site is out of date by then
}

TEST_F(SiteListTest, PaginationIsStableWhileSitesAreInsertedAndUpdated) {
  // 30 sites in 93 with distinct populations 10, 20, ..., 300.
  for (int i = 0; i < 30; ++i) {
    const std::string id = absl::StrCat("s", i);
    Declare(id, i % 2 ? "93066" : "93048", absl::StrCat("Site ", i), Day(2024, 1, 1));
    Population(id, 10 * (i + 1), 0, Day(2024, 2, 1));
  }
  Sync();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  req.mutable_filter()->add_departement_codes("93");
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_POPULATION);
  req.set_page_size(7);
  std::vector<std::string> seen;
  int round = 0;
  while (true) {
    absl::StatusOr<pb::ListSitesResponse> page = q.List(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& s : page->sites()) seen.push_back(s.id());
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
    // Between pages: new sites above, inside and below the cursor, and updates of other fields.
    for (int k = 0; k < 3; ++k) {
      const std::string id = absl::StrCat("n", round, "_", k);
      Declare(id, "93066", "Nouveau", Day(2024, 3, 1));
      Population(id, 5 + 100 * k + round, 0, Day(2024, 3, 2));
    }
    pb::SiteCommand h = rb::domain::testing::On(absl::StrCat("s", 29 - round * 3));
    h.mutable_set_heatwave()->set_active(true);
    Site(h, Day(2024, 4, 1));
    Sync();
    ++round;
  }
  std::set<std::string> originals;
  for (const std::string& id : seen) {
    if (id[0] == 's') {
      EXPECT_TRUE(originals.insert(id).second) << "repeated " << id;
    }
  }
  EXPECT_EQ(originals.size(), 30u);
  // Among the original rows the order is the population order.
  std::vector<std::string> order;
  for (const std::string& id : seen) {
    if (id[0] == 's') order.push_back(id);
  }
  for (int i = 0; i < 30; ++i) EXPECT_EQ(order[i], absl::StrCat("s", 29 - i));
}

TEST_F(SiteListTest, GetReturnsTheWholeSiteAndNotFoundForUnknown) {
  Scenario();
  SiteListQuery q(engine_.get());
  absl::StatusOr<pb::SiteSummary> s = q.Get("5");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->site().justice().justice_procedure(), pb::YES);
  EXPECT_EQ(s->territory().departement_code(), "31");
  EXPECT_EQ(s->population(), 60);
  EXPECT_EQ(q.Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SiteListTest, BadRequestsAreInvalidArgument) {
  Scenario();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  req.set_page_token("???");
  EXPECT_EQ(q.List(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.Clear();
  req.set_page_size(1);
  absl::StatusOr<pb::ListSitesResponse> p = q.List(req);
  ASSERT_TRUE(p.ok());
  req.set_page_token(p->next_page_token());
  req.mutable_sort()->set_field(pb::SITE_SORT_FIELD_POPULATION);  // token of another sort
  EXPECT_EQ(q.List(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.Clear();
  req.set_page_size(-1);
  EXPECT_EQ(q.List(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SiteListTest, ReadersWithoutJusticeAccessSeeNeitherProceduresNorTheirPriorityPoints) {
  Scenario();
  SiteListQuery q(engine_.get());
  absl::StatusOr<pb::SiteSummary> full = q.Get("5");
  ASSERT_TRUE(full.ok());
  absl::StatusOr<pb::SiteSummary> restricted = q.Get("5", std::nullopt, Visibility{});
  ASSERT_TRUE(restricted.ok());
  EXPECT_FALSE(restricted->site().has_justice());
  EXPECT_FALSE(restricted->site().has_police());
  EXPECT_EQ(restricted->signals().priority_score(), full->signals().priority_score() - 20);
  for (const auto& f : restricted->signals().priority_factors()) {
    EXPECT_NE(f.code(), "police_granted");
  }
  pb::ListSitesRequest req;
  req.mutable_filter()->add_police_status(pb::POLICE_STATUS_GRANTED);
  EXPECT_EQ(q.List(req, Visibility{}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(q.List(req, Visibility::All()).ok());
}

TEST_F(SiteListTest, FiltersOnTheEvacuationOrderAndTheInsalubrityOrder) {
  Scenario();
  // 1: an administrative evacuation order; 2: an insalubrity order (RHI); 3: neither, both
  // answered "non"; 5: not filled (its judicial procedure does not count).
  {
    pb::SiteCommand c = rb::domain::testing::On("1");
    auto* a = c.mutable_update_procedures()->mutable_administrative_order();
    a->set_evacuation_under_time_limit(pb::YES);
    *a->mutable_decision_at() = D(2024, 5, 2);
    a->set_decision_rendered_by("Préfecture de la Seine-Saint-Denis");
    Site(c, Day(2024, 5, 3));
    pb::SiteCommand i = rb::domain::testing::On("2");
    i.mutable_update_procedures()->mutable_insalubrity_order()->set_insalubrity_order(pb::YES);
    i.mutable_update_procedures()->mutable_insalubrity_order()->set_order_type(
        "Arrêté de mise en sécurité");
    Site(i, Day(2024, 5, 21));
    pb::SiteCommand n = rb::domain::testing::On("3");
    n.mutable_update_procedures()->mutable_administrative_order()->set_evacuation_under_time_limit(
        pb::NO);
    n.mutable_update_procedures()->mutable_insalubrity_order()->set_insalubrity_order(pb::NO);
    Site(n, Day(2023, 10, 2));
    Sync();
  }
  pb::SiteFilter f;
  f.add_administrative_order(pb::YES);
  EXPECT_THAT(Filtered(f), ElementsAre("1"));
  f.Clear();
  f.add_administrative_order(pb::NO);
  EXPECT_THAT(Filtered(f), ElementsAre("3"));
  f.Clear();
  f.add_administrative_order(pb::TRI_STATE_UNSPECIFIED);  // not filled
  EXPECT_THAT(Filtered(f), ElementsAre("2", "5"));
  f.Clear();
  f.add_insalubrity_order(pb::YES);
  EXPECT_THAT(Filtered(f), ElementsAre("2"));
  f.add_insalubrity_order(pb::NO);  // alternatives
  EXPECT_THAT(Filtered(f), ElementsAre("2", "3"));
  f.Clear();
  f.add_insalubrity_order(pb::TRI_STATE_UNSPECIFIED);
  EXPECT_THAT(Filtered(f), ElementsAre("1", "5"));
  f.Clear();
  f.add_administrative_order(pb::YES);  // both conditions must hold
  f.add_insalubrity_order(pb::YES);
  EXPECT_THAT(Filtered(f), ElementsAre());
  f.Clear();
  f.set_state(pb::SITE_STATE_FILTER_ALL);  // the closed site 4 was never filled
  f.add_insalubrity_order(pb::TRI_STATE_UNSPECIFIED);
  f.add_administrative_order(pb::TRI_STATE_UNSPECIFIED);
  EXPECT_THAT(Filtered(f), ElementsAre("4", "5"));

  // The full record answers as the index does (the list at a past date filters full sites).
  SiteListQuery q(engine_.get());
  absl::StatusOr<pb::SiteSummary> one = q.Get("1");
  absl::StatusOr<pb::SiteSummary> two = q.Get("2");
  ASSERT_TRUE(one.ok() && two.ok());
  f.Clear();
  f.add_administrative_order(pb::YES);
  EXPECT_TRUE(MatchesSiteFilter(one->site(), f, absl::CivilDay(2024, 6, 15)));
  EXPECT_FALSE(MatchesSiteFilter(two->site(), f, absl::CivilDay(2024, 6, 15)));
  f.Clear();
  f.add_insalubrity_order(pb::YES);
  EXPECT_FALSE(MatchesSiteFilter(one->site(), f, absl::CivilDay(2024, 6, 15)));
  EXPECT_TRUE(MatchesSiteFilter(two->site(), f, absl::CivilDay(2024, 6, 15)));
}

TEST_F(SiteListTest, OrderFiltersNeedJusticeAccess) {
  Scenario();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  req.mutable_filter()->add_administrative_order(pb::YES);
  absl::StatusOr<pb::ListSitesResponse> denied = q.List(req, Visibility{});
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(),
            "filter.administrative_order: require access to justice data");
  EXPECT_TRUE(q.List(req, Visibility::All()).ok());
  req.mutable_filter()->Clear();
  req.mutable_filter()->add_insalubrity_order(pb::NO);
  req.mutable_filter()->add_police_status(pb::POLICE_STATUS_GRANTED);
  denied = q.List(req, Visibility{});
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(),
            "filter.police_status, filter.insalubrity_order: require access to justice data");
  EXPECT_TRUE(q.List(req, Visibility::All()).ok());
  // Unknown values are refused like those of the other filters.
  req.mutable_filter()->Clear();
  req.mutable_filter()->add_insalubrity_order(static_cast<pb::TriState>(9));
  EXPECT_EQ(q.List(req, Visibility::All()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SiteListTest, RowsFromTheIndexEqualRowsFromTheFullRecord) {
  Scenario();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  req.mutable_filter()->set_state(pb::SITE_STATE_FILTER_ALL);
  absl::StatusOr<pb::ListSitesResponse> light = q.List(req);
  req.set_include_site(true);
  absl::StatusOr<pb::ListSitesResponse> full = q.List(req);
  ASSERT_TRUE(light.ok() && full.ok());
  ASSERT_EQ(light->sites_size(), 5);
  ASSERT_EQ(full->sites_size(), 5);
  for (int i = 0; i < 5; ++i) {
    pb::SiteSummary without_site = full->sites(i);
    without_site.clear_site();
    EXPECT_EQ(light->sites(i).DebugString(), without_site.DebugString());
  }
}

TEST_F(SiteListTest, PageTokenIsRefusedForAnotherFilter) {
  Scenario();
  SiteListQuery q(engine_.get());
  pb::ListSitesRequest req;
  req.set_page_size(1);
  absl::StatusOr<pb::ListSitesResponse> p = q.List(req);
  ASSERT_TRUE(p.ok());
  req.set_page_token(p->next_page_token());
  EXPECT_TRUE(q.List(req).ok());
  req.mutable_filter()->set_heatwave(true);
  EXPECT_EQ(q.List(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SiteListTest, RebuildGivesTheSameViewsAsLiveProcessing) {
  Scenario();
  absl::StatusOr<rb::proj::ViewReader> live = engine_->Reader(SiteListProjection::kName);
  ASSERT_TRUE(live.ok());
  absl::StatusOr<std::string> live_hash = rb::proj::HashViews(*live);
  ASSERT_TRUE(live_hash.ok());
  ASSERT_TRUE(engine_->Rebuild(SiteListProjection::kName).ok());
  ASSERT_TRUE(
      engine_->WaitForRebuild(SiteListProjection::kName, absl::Now() + absl::Seconds(30)).ok());
  absl::StatusOr<rb::proj::ViewReader> rebuilt = engine_->Reader(SiteListProjection::kName);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_NE(rebuilt->generation(), live->generation());
  absl::StatusOr<std::string> rebuilt_hash = rb::proj::HashViews(*rebuilt);
  ASSERT_TRUE(rebuilt_hash.ok());
  EXPECT_EQ(*live_hash, *rebuilt_hash);
}

TEST_F(SiteListTest, MatchesSiteFilterWorksOnAFoldedSiteAlone) {
  pb::Site site;
  site.set_status(pb::SITE_STATUS_OPEN);
  site.mutable_location()->mutable_territory()->set_departement_code("93");
  site.mutable_population()->set_total(12);
  pb::SiteFilter f;
  f.add_departement_codes("93");
  f.add_population(pb::POPULATION_BUCKET_10_TO_50);
  EXPECT_TRUE(MatchesSiteFilter(site, f, absl::CivilDay(2024, 1, 1)));
  f.set_has_action(true);
  EXPECT_FALSE(MatchesSiteFilter(site, f, absl::CivilDay(2024, 1, 1)));
  EXPECT_TRUE(MatchesSiteFilter(site, f, absl::CivilDay(2024, 1, 1), {.has_action = true}));
}

}  // namespace
}  // namespace rb::views
