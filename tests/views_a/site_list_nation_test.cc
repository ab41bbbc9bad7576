// The site list of the whole nation (no territory filter). The index holds departement ranges only
// (site_list version 6): a nation-wide listing merges the ranges of every departement where a site
// was ever indexed. Orders in both directions, page tokens across departements while sites are
// added and moved, a departement with closed sites only, sites without a count or without a
// departement.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "domain/events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/views/site_list.h"
#include "tests/views_a/fixture.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using ::rb::views::testing::D;
using ::rb::views::testing::Day;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> Reversed(std::vector<std::string> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

class SiteListNationTest : public ::rb::views::testing::ViewsFixture {
 protected:
  // Ten open sites in eight departements (population, last update):
  //   n1  Marseille (13)        40  2024-03-01
  //   n2  Lille (59)            15  2024-01-10
  //   n3  Lyon (69)             -   2023-12-01
  //   n4  Bordeaux (33)         90  2024-02-15
  //   n5  Saint-Denis (93)      25  2024-04-20
  //   n6  Bassy (74)            60  2024-01-25
  //   n7  Anglefort (01)        -   2024-05-05
  //   n8  Toulouse (31)         70  2024-03-20
  //   n9  Montreuil (93)        40  2024-02-01
  //   n10 Bourg-en-Bresse (01)   5  2023-11-11
  void EightDepartements() {
    struct Row {
      const char* id;
      const char* city;
      int population;  // 0: no count
      int64_t updated;
    };
    const Row rows[] = {
        {"n1", "13055", 40, Day(2024, 3, 1)},  {"n2", "59350", 15, Day(2024, 1, 10)},
        {"n3", "69123", 0, Day(2023, 12, 1)},  {"n4", "33063", 90, Day(2024, 2, 15)},
        {"n5", "93066", 25, Day(2024, 4, 20)}, {"n6", "74029", 60, Day(2024, 1, 25)},
        {"n7", "01010", 0, Day(2024, 5, 5)},   {"n8", "31555", 70, Day(2024, 3, 20)},
        {"n9", "93048", 40, Day(2024, 2, 1)},  {"n10", "01053", 5, Day(2023, 11, 11)},
    };
    for (const Row& r : rows) {
      if (r.population == 0) {
        Declare(r.id, r.city, absl::StrCat("Site ", r.id), r.updated);
      } else {
        Declare(r.id, r.city, absl::StrCat("Site ", r.id), Day(2023, 6, 1));
        Population(r.id, r.population, 0, r.updated);
      }
    }
    Sync();
  }

  // Moves a site to `city` (its territory, departement included, follows the commune).
  void Move(const std::string& id, const std::string& city, int64_t valid_at_us) {
    pb::SiteCommand c = rb::domain::testing::On(id);
    auto* a = c.mutable_update()->mutable_site()->mutable_location()->mutable_address();
    a->set_label(absl::StrCat("Chemin ", city));
    a->set_city_code(city);
    a->mutable_coordinates()->set_latitude(46.5);
    a->mutable_coordinates()->set_longitude(2.5);
    c.mutable_update()->mutable_update_mask()->add_paths("location");
    Site(c, valid_at_us);
  }

  void Close(const std::string& id, int day_of_june) {
    pb::SiteCommand c = rb::domain::testing::On(id);
    *c.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
    *c.mutable_close()->mutable_closure()->mutable_closed_at() = D(2024, 6, day_of_june);
    Site(c, Day(2024, 6, day_of_june));
  }

  pb::ListSitesResponse List(const pb::ListSitesRequest& req) {
    SiteListQuery q(engine_.get());
    absl::StatusOr<pb::ListSitesResponse> r = q.List(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : pb::ListSitesResponse();
  }

  std::vector<std::string> Ids(const pb::ListSitesRequest& req) {
    std::vector<std::string> ids;
    const pb::ListSitesResponse page = List(req);
    for (const auto& s : page.sites()) ids.push_back(s.id());
    return ids;
  }

  // Every page of `req` (page size `size`), following the page tokens.
  std::vector<std::string> Paged(pb::ListSitesRequest req, int size) {
    req.set_page_size(size);
    req.clear_page_token();
    std::vector<std::string> ids;
    for (int pages = 0; pages < 100; ++pages) {
      pb::ListSitesResponse page = List(req);
      for (const auto& s : page.sites()) ids.push_back(s.id());
      if (page.next_page_token().empty()) return ids;
      req.set_page_token(page.next_page_token());
    }
    ADD_FAILURE() << "more than 100 pages";
    return ids;
  }

  static pb::ListSitesRequest Sorted(pb::SiteSortField field, pb::SortDirection direction) {
    pb::ListSitesRequest req;
    req.mutable_sort()->set_field(field);
    req.mutable_sort()->set_direction(direction);
    req.set_page_size(100);
    return req;
  }
};

TEST_F(SiteListNationTest, IndexHoldsThreeDepartementKeysPerSite) {
  pb::Site site;
  site.set_id("s1");
  site.set_status(pb::SITE_STATUS_OPEN);
  site.mutable_location()->mutable_territory()->set_departement_code("93");
  site.mutable_location()->mutable_territory()->set_region_code("11");
  std::vector<std::string> keys = SiteIndexKeys(site);
  ASSERT_EQ(keys.size(), 3u);
  const std::string open_93("d93\0o", 5);
  for (const std::string& k : keys) EXPECT_TRUE(k.starts_with(open_93)) << k;
  EXPECT_EQ(keys[0][5], 'c');
  EXPECT_EQ(keys[1][5], 'p');
  EXPECT_EQ(keys[2][5], 'u');
  site.set_status(pb::SITE_STATUS_CLOSED);
  for (const std::string& k : SiteIndexKeys(site)) {
    EXPECT_TRUE(k.starts_with(std::string("d93\0c", 5))) << k;
  }
}

TEST_F(SiteListNationTest, NationMergesEveryDepartementInEachSortAndDirection) {
  EightDepartements();
  const std::vector<std::string> by_update = {"n7", "n5", "n8", "n1", "n4",
                                              "n9", "n6", "n2", "n3", "n10"};
  // Equal populations (n1, n9) in id order, reversed descending; without a count last.
  const std::vector<std::string> by_population_descending = {"n4", "n8", "n6",  "n9", "n1",
                                                             "n5", "n2", "n10", "n7", "n3"};
  const std::vector<std::string> by_population_ascending = {"n10", "n2", "n5", "n1", "n9",
                                                            "n6",  "n8", "n4", "n3", "n7"};
  // Anglefort, Bassy, Bordeaux, Bourg-en-Bresse, Lille, Lyon, Marseille, Montreuil, Saint-Denis,
  // Toulouse.
  const std::vector<std::string> by_commune = {"n7", "n6", "n4", "n10", "n2",
                                               "n3", "n1", "n9", "n5",  "n8"};
  struct Case {
    pb::SiteSortField field;
    pb::SortDirection direction;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {pb::SITE_SORT_FIELD_LAST_UPDATE, pb::SORT_DIRECTION_DESCENDING, by_update},
      {pb::SITE_SORT_FIELD_LAST_UPDATE, pb::SORT_DIRECTION_ASCENDING, Reversed(by_update)},
      {pb::SITE_SORT_FIELD_POPULATION, pb::SORT_DIRECTION_DESCENDING, by_population_descending},
      {pb::SITE_SORT_FIELD_POPULATION, pb::SORT_DIRECTION_ASCENDING, by_population_ascending},
      {pb::SITE_SORT_FIELD_COMMUNE, pb::SORT_DIRECTION_ASCENDING, by_commune},
      {pb::SITE_SORT_FIELD_COMMUNE, pb::SORT_DIRECTION_DESCENDING, Reversed(by_commune)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(
        absl::StrCat(pb::SiteSortField_Name(c.field), " ", pb::SortDirection_Name(c.direction)));
    const pb::ListSitesRequest req = Sorted(c.field, c.direction);
    EXPECT_THAT(Ids(req), ElementsAreArray(c.expected));
    // Pages of every size give the same rows, each once.
    for (int size = 1; size <= 4; ++size) {
      SCOPED_TRACE(size);
      EXPECT_THAT(Paged(req, size), ElementsAreArray(c.expected));
    }
  }
  // The default order: last update, descending.
  EXPECT_THAT(Ids({}), ElementsAreArray(by_update));

  // By priority: every open site once, by score (descending, then ascending), then by id.
  for (pb::SortDirection direction :
       {pb::SORT_DIRECTION_DESCENDING, pb::SORT_DIRECTION_ASCENDING}) {
    SCOPED_TRACE(pb::SortDirection_Name(direction));
    const pb::ListSitesRequest req = Sorted(pb::SITE_SORT_FIELD_PRIORITY, direction);
    const pb::ListSitesResponse all = List(req);
    std::vector<std::string> ids;
    for (const auto& s : all.sites()) ids.push_back(s.id());
    EXPECT_THAT(ids, UnorderedElementsAreArray(by_update));
    for (int i = 1; i < all.sites_size(); ++i) {
      const int before = all.sites(i - 1).signals().priority_score();
      const int after = all.sites(i).signals().priority_score();
      if (before == after) {
        EXPECT_LT(all.sites(i - 1).id(), all.sites(i).id());
      } else if (direction == pb::SORT_DIRECTION_DESCENDING) {
        EXPECT_GT(before, after);
      } else {
        EXPECT_LT(before, after);
      }
    }
    for (int size = 1; size <= 4; ++size) {
      SCOPED_TRACE(size);
      EXPECT_EQ(Paged(req, size), ids);
    }
  }
}

// Page tokens are cursors over the merged departement ranges: between pages, sites are declared
// (in departements that had none, too) and moved from one departement to another (their
// population, the sort key, unchanged); every original site still comes exactly once, in order.
TEST_F(SiteListNationTest, PagesAcrossDepartementsAreCompleteWhileSitesAreAddedAndMoved) {
  const char* const cities[] = {"93066", "33063", "31555", "13055", "59350", "69123"};
  for (int i = 0; i < 24; ++i) {
    const std::string id = absl::StrCat("s", i);
    Declare(id, cities[i % 6], absl::StrCat("Site ", i), Day(2024, 1, 1));
    Population(id, 10 * (i + 1), 0, Day(2024, 2, 1));
  }
  Sync();
  const char* const elsewhere[] = {"01010", "74029", "01053", "93048", "33063", "13055"};
  int moves = 0;
  int declared = 0;
  for (pb::SortDirection direction :
       {pb::SORT_DIRECTION_DESCENDING, pb::SORT_DIRECTION_ASCENDING}) {
    SCOPED_TRACE(pb::SortDirection_Name(direction));
    std::vector<std::string> expected;
    for (int i = 0; i < 24; ++i) expected.push_back(absl::StrCat("s", i));
    if (direction == pb::SORT_DIRECTION_DESCENDING) std::reverse(expected.begin(), expected.end());

    pb::ListSitesRequest req = Sorted(pb::SITE_SORT_FIELD_POPULATION, direction);
    req.set_page_size(5);
    std::vector<std::string> seen;
    std::set<std::string> moved;
    for (int pages = 0; pages < 50; ++pages) {
      pb::ListSitesResponse page = List(req);
      for (const auto& s : page.sites()) seen.push_back(s.id());
      if (page.next_page_token().empty()) break;
      req.set_page_token(page.next_page_token());
      // Between pages: new sites above, inside and below the cursor, one of them where no site
      // was ever indexed; an original site already listed and one not yet listed move to another
      // departement.
      for (int k = 0; k < 3; ++k) {
        const std::string id = absl::StrCat("new", declared++);
        Declare(id, k == 0 ? elsewhere[declared % 6] : cities[declared % 6], "Nouveau",
                Day(2024, 3, 1));
        Population(id, 5 + 100 * k + declared, 0, Day(2024, 3, 2));
      }
      std::vector<std::string> pending;
      for (const std::string& id : expected) {
        if (std::find(seen.begin(), seen.end(), id) == seen.end()) pending.push_back(id);
      }
      const std::string listed = seen[seen.size() / 2];
      ++moves;
      Move(listed, elsewhere[moves % 6], Day(2024, 4, 1) + moves);
      moved.insert(listed);
      if (!pending.empty()) {
        const std::string later = pending[pending.size() / 2];
        ++moves;
        Move(later, elsewhere[moves % 6], Day(2024, 4, 1) + moves);
        moved.insert(later);
      }
      Sync();
    }
    std::vector<std::string> originals;
    for (const std::string& id : seen) {
      if (id[0] == 's') originals.push_back(id);
    }
    EXPECT_THAT(originals, ElementsAreArray(expected));
    EXPECT_GE(moved.size(), 4u);
    std::set<std::string> distinct(seen.begin(), seen.end());
    EXPECT_EQ(distinct.size(), seen.size()) << "a row came twice";
  }
}

TEST_F(SiteListNationTest, SiteMovedToAnotherDepartementIsListedOnceNationally) {
  Declare("a", "93066", "A", Day(2024, 1, 1));
  Declare("b", "33063", "B", Day(2024, 1, 2));
  Declare("m", "93048", "M", Day(2024, 1, 3));
  Population("m", 12, 2, Day(2024, 1, 4));
  Sync();
  auto expect_once = [&](const std::string& departement) {
    SCOPED_TRACE(departement);
    for (pb::SiteSortField field : {pb::SITE_SORT_FIELD_LAST_UPDATE, pb::SITE_SORT_FIELD_POPULATION,
                                    pb::SITE_SORT_FIELD_COMMUNE, pb::SITE_SORT_FIELD_PRIORITY}) {
      for (pb::SortDirection direction :
           {pb::SORT_DIRECTION_DESCENDING, pb::SORT_DIRECTION_ASCENDING}) {
        for (pb::SiteStateFilter state : {pb::SITE_STATE_FILTER_OPEN, pb::SITE_STATE_FILTER_ALL}) {
          pb::ListSitesRequest req = Sorted(field, direction);
          req.mutable_filter()->set_state(state);
          const pb::ListSitesResponse r = List(req);
          int found = 0;
          for (const auto& s : r.sites()) {
            if (s.id() != "m") continue;
            ++found;
            EXPECT_EQ(s.territory().departement_code(), departement);
          }
          EXPECT_EQ(found, 1) << pb::SiteSortField_Name(field);
          EXPECT_EQ(r.sites_size(), 3);
        }
      }
    }
    pb::ListSitesRequest req;
    req.mutable_filter()->add_departement_codes(departement);
    EXPECT_THAT(Ids(req), ::testing::Contains("m"));
  };
  expect_once("93");
  Move("m", "33063", Day(2024, 2, 1));  // to Bordeaux, beside b
  Sync();
  expect_once("33");
  pb::ListSitesRequest in_93;
  in_93.mutable_filter()->add_departement_codes("93");
  EXPECT_THAT(Ids(in_93), ElementsAre("a"));
  Move("m", "74029", Day(2024, 3, 1));  // where no site was ever indexed
  Sync();
  expect_once("74");
  Move("m", "93066", Day(2024, 4, 1));  // back: the 33 and 74 ranges stay, empty of m
  Sync();
  expect_once("93");
  pb::ListSitesRequest in_74;
  in_74.mutable_filter()->add_departement_codes("74");
  EXPECT_THAT(Ids(in_74), ElementsAre());
}

TEST_F(SiteListNationTest, DepartementWithClosedSitesOnly) {
  Declare("o1", "93066", "O1", Day(2024, 1, 1));
  Declare("o2", "33063", "O2", Day(2024, 1, 2));
  Declare("o3", "59350", "O3", Day(2024, 1, 3));
  Declare("c1", "13055", "C1", Day(2024, 1, 4));  // Marseille: closed sites only
  Declare("c2", "13055", "C2", Day(2024, 1, 5));
  Declare("c3", "59350", "C3", Day(2024, 1, 6));
  Close("c1", 3);
  Close("c2", 2);
  Close("c3", 4);
  Sync();
  pb::ListSitesRequest req;  // open sites, last update descending
  EXPECT_THAT(Ids(req), ElementsAre("o3", "o2", "o1"));
  req.mutable_filter()->set_state(pb::SITE_STATE_FILTER_CLOSED);
  EXPECT_THAT(Ids(req), ElementsAre("c3", "c1", "c2"));
  EXPECT_THAT(Paged(req, 1), ElementsAre("c3", "c1", "c2"));
  req.mutable_filter()->set_state(pb::SITE_STATE_FILTER_ALL);
  EXPECT_THAT(Ids(req), ElementsAre("c3", "c1", "c2", "o3", "o2", "o1"));
  EXPECT_THAT(Paged(req, 2), ElementsAre("c3", "c1", "c2", "o3", "o2", "o1"));
  req.mutable_filter()->clear_state();
  req.mutable_filter()->add_departement_codes("13");
  EXPECT_THAT(Ids(req), ElementsAre());
  pb::ListSitesRequest priority =
      Sorted(pb::SITE_SORT_FIELD_PRIORITY, pb::SORT_DIRECTION_DESCENDING);
  EXPECT_THAT(Ids(priority), ::testing::UnorderedElementsAre("o1", "o2", "o3"));
}

// SITE_SORT_FIELD_POPULATION ascending: the sites without a count come after every counted site
// of every departement, and pages walk into them.
TEST_F(SiteListNationTest, PopulationAscendingKeepsSitesWithoutACountLastAcrossDepartements) {
  EightDepartements();
  Declare("x1", "33063", "Sans recensement", Day(2024, 5, 1));
  Declare("x2", "59350", "Sans recensement", Day(2024, 5, 2));
  Declare("c1", "13055", "Fermé sans recensement", Day(2024, 5, 3));
  Declare("c2", "31555", "Fermé recensé", Day(2024, 5, 3));
  Population("c2", 500, 0, Day(2024, 5, 4));
  Close("c1", 5);
  Close("c2", 6);
  Sync();
  pb::ListSitesRequest req = Sorted(pb::SITE_SORT_FIELD_POPULATION, pb::SORT_DIRECTION_ASCENDING);
  const std::vector<std::string> open = {"n10", "n2", "n5", "n1", "n9", "n6",
                                         "n8",  "n4", "n3", "n7", "x1", "x2"};
  EXPECT_THAT(Ids(req), ElementsAreArray(open));
  for (int size = 1; size <= 5; ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(Paged(req, size), ElementsAreArray(open));
  }
  // Open and closed: both states' ranges merged, the closed site without a count among the last.
  req.mutable_filter()->set_state(pb::SITE_STATE_FILTER_ALL);
  const std::vector<std::string> all = {"n10", "n2", "n5", "n1", "n9", "n6", "n8",
                                        "n4",  "c2", "c1", "n3", "n7", "x1", "x2"};
  EXPECT_THAT(Ids(req), ElementsAreArray(all));
  for (int size = 1; size <= 5; ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(Paged(req, size), ElementsAreArray(all));
  }
  // Descending, they are last too.
  req.mutable_sort()->set_direction(pb::SORT_DIRECTION_DESCENDING);
  EXPECT_THAT(Ids(req), ElementsAre("c2", "n4", "n8", "n6", "n9", "n1", "n5", "n2", "n10", "x2",
                                    "x1", "n7", "n3", "c1"));
}

// A site recorded without a departement code (a territory outside the embedded geography) has
// its own range, and the nation lists it.
TEST_F(SiteListNationTest, SitesWithoutADepartementAreListedNationally) {
  Declare("a", "93066", "A", Day(2024, 1, 1));
  Population("a", 20, 0, Day(2024, 1, 2));
  pb::SiteEvent e;
  auto* d = e.mutable_declared();
  d->set_site_id("z");
  d->set_name("Hors géographie");
  d->set_field_type(pb::FIELD_TYPE_LAND);
  d->mutable_location()->mutable_territory()->set_city_name("Inconnue");
  d->mutable_location()->mutable_address()->set_label("Route");
  AppendSiteEvent("z", e, Day(2024, 2, 1));
  Sync();
  EXPECT_THAT(Ids({}), ElementsAre("z", "a"));
  EXPECT_THAT(Ids(Sorted(pb::SITE_SORT_FIELD_POPULATION, pb::SORT_DIRECTION_ASCENDING)),
              ElementsAre("a", "z"));
  EXPECT_THAT(Ids(Sorted(pb::SITE_SORT_FIELD_COMMUNE, pb::SORT_DIRECTION_ASCENDING)),
              ElementsAre("z", "a"));  // "inconnue" before "saint denis"
  EXPECT_THAT(Paged({}, 1), ElementsAre("z", "a"));
  pb::ListSitesRequest in_93;
  in_93.mutable_filter()->add_departement_codes("93");
  EXPECT_THAT(Ids(in_93), ElementsAre("a"));
}

}  // namespace
}  // namespace rb::views
