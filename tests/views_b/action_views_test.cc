#include "projections/views/action_views.h"

#include "tests/views_b/views_fixture.h"

namespace rb::views_b_testing {
namespace {

using rb::domain::testing::CreateAction;

v1::ActionCommand Finances(const std::string& id, int year, int64_t dedicated, int64_t spent,
                           int64_t state) {
  v1::ActionCommand c;
  c.set_action_id(id);
  auto* f = c.mutable_record_finances()->mutable_finances();
  f->set_year(year);
  auto* l = f->add_lines();
  l->set_type(v1::FINANCE_TYPE_DEDICATED);
  l->set_amount_cents(dedicated);
  l->set_real_amount_cents(spent);
  auto* s = f->add_lines();
  s->set_type(v1::FINANCE_TYPE_STATE);
  s->set_amount_cents(state);
  return c;
}

v1::ActionCommand People(const std::string& id, int year, int people) {
  v1::ActionCommand c;
  c.set_action_id(id);
  c.mutable_record_indicators()->mutable_indicators()->set_year(year);
  c.mutable_record_indicators()->mutable_indicators()->set_nombre_personnes(people);
  return c;
}

TEST_F(ViewsTest, ActionViewsAggregatePerDepartementAndTopicAndLinkSites) {
  Action(CreateAction("a1"));  // departement 93, housing, on site "1"
  v1::ActionCommand a2 = CreateAction("a2");
  a2.mutable_create()->mutable_details()->set_departement_code("94");
  a2.mutable_create()->mutable_details()->add_topics(v1::ACTION_TOPIC_HEALTH);
  a2.mutable_create()->mutable_details()->mutable_location()->set_type(
      v1::ACTION_LOCATION_TYPE_OTHER);
  a2.mutable_create()->mutable_details()->mutable_location()->clear_site_ids();
  a2.mutable_create()->mutable_details()->mutable_location()->set_other("Accueil de jour");
  Action(a2);
  Action(Finances("a1", 2023, 100000, 50000, 2000));
  Action(Finances("a1", 2023, 120000, 60000, 2000));  // replaces 2023
  Action(People("a1", 2023, 12));
  Action(People("a2", 2023, 5));
  Action(People("a2", 2024, 7));
  CatchUp();

  rb::proj::views::ActionQuery q(engine_.get());
  v1::ActionAggregatesRequest r;
  r.set_year(2023);
  r.set_grouping(v1::ACTION_GROUPING_DEPARTEMENT);
  absl::StatusOr<v1::ActionAggregatesResponse> by_dep = q.Aggregates(r);
  ASSERT_TRUE(by_dep.ok()) << by_dep.status();
  ASSERT_EQ(by_dep->aggregates_size(), 2);
  const v1::ActionAggregate& d93 = by_dep->aggregates(0);
  EXPECT_EQ(d93.departement_code(), "93");
  EXPECT_EQ(d93.actions(), 1);
  EXPECT_EQ(d93.indicators().nombre_personnes(), 12);
  ASSERT_EQ(d93.finances_size(), 6);
  EXPECT_EQ(d93.finances(v1::FINANCE_TYPE_DEDICATED - 1).amount_cents(), 120000);
  EXPECT_EQ(d93.finances(v1::FINANCE_TYPE_DEDICATED - 1).real_amount_cents(), 60000);
  EXPECT_EQ(d93.finances(v1::FINANCE_TYPE_STATE - 1).amount_cents(), 2000);
  EXPECT_EQ(by_dep->aggregates(1).departement_code(), "94");
  EXPECT_EQ(by_dep->aggregates(1).indicators().nombre_personnes(), 5);

  r.set_grouping(v1::ACTION_GROUPING_TOPIC);
  absl::StatusOr<v1::ActionAggregatesResponse> by_topic = q.Aggregates(r);
  ASSERT_TRUE(by_topic.ok());
  ASSERT_EQ(by_topic->aggregates_size(), 2);
  EXPECT_EQ(by_topic->aggregates(0).topic(), v1::ACTION_TOPIC_HEALTH);
  EXPECT_EQ(by_topic->aggregates(0).indicators().nombre_personnes(), 5);
  EXPECT_EQ(by_topic->aggregates(1).topic(), v1::ACTION_TOPIC_HOUSING);
  EXPECT_EQ(by_topic->aggregates(1).actions(), 2);
  EXPECT_EQ(by_topic->aggregates(1).indicators().nombre_personnes(), 17);

  absl::StatusOr<v1::SiteActions> site1 = q.ForSite("1");
  ASSERT_TRUE(site1.ok());
  EXPECT_TRUE(site1->has_action());
  EXPECT_TRUE(site1->has_dedicated_financing());
  ASSERT_EQ(site1->dedicated_financing_years_size(), 1);
  EXPECT_EQ(site1->dedicated_financing_years(0), 2023);
  absl::StatusOr<v1::SiteActions> site2 = q.ForSite("2");
  ASSERT_TRUE(site2.ok());
  EXPECT_FALSE(site2->has_action());
  EXPECT_FALSE(site2->has_dedicated_financing());

  absl::StatusOr<v1::Action> a1 = q.GetAction("a1");
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->status(), v1::ACTION_STATUS_OPEN);
  EXPECT_EQ(q.GetAction("zz").status().code(), absl::StatusCode::kNotFound);
}

v1::ActionCommand CloseAction(const std::string& id) {
  v1::ActionCommand c;
  c.set_action_id(id);
  *c.mutable_close()->mutable_closed_at() = D(2024, 5, 1);
  return c;
}

// Only open actions count for a site, as in the site list (filter, signal, priority score): a
// closed action and its dedicated credits no longer make the site "with an action".
TEST_F(ViewsTest, ClosingAnActionRemovesItFromItsSitesActions) {
  Action(CreateAction("a1"));  // on site "1"
  Action(Finances("a1", 2023, 100000, 0, 0));
  Action(CreateAction("a3"));  // also on site "1", without dedicated credits
  CatchUp();
  rb::proj::views::ActionQuery q(engine_.get());
  absl::StatusOr<v1::SiteActions> site = q.ForSite("1");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(std::vector<std::string>(site->action_ids().begin(), site->action_ids().end()),
            (std::vector<std::string>{"a1", "a3"}));
  EXPECT_TRUE(site->has_dedicated_financing());

  Action(CloseAction("a1"));
  CatchUp();
  site = q.ForSite("1");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(std::vector<std::string>(site->action_ids().begin(), site->action_ids().end()),
            std::vector<std::string>{"a3"});
  EXPECT_TRUE(site->has_action());
  EXPECT_FALSE(site->has_dedicated_financing());
  EXPECT_EQ(site->dedicated_financing_years_size(), 0);

  Action(CloseAction("a3"));
  CatchUp();
  site = q.ForSite("1");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->action_ids_size(), 0);
  EXPECT_FALSE(site->has_action());
  EXPECT_FALSE(site->has_dedicated_financing());
  // The closed actions themselves are still read, listed and aggregated.
  absl::StatusOr<v1::Action> a1 = q.GetAction("a1");
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->status(), v1::ACTION_STATUS_CLOSED);
}

}  // namespace
}  // namespace rb::views_b_testing
