// The change log of sites and actions: labels, formats, sensitivities, grouping by version.
#include "projections/views/changelog.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/views_a/fixture.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using ::rb::views::testing::D;
using ::rb::views::testing::Day;

class ChangeLogTest : public ::rb::views::testing::ViewsFixture {
 protected:
  // Each command is recorded one second after the previous one.
  void Tick() { clock_.Advance(absl::Seconds(1)); }

  const pb::FieldChange* Find(const pb::ChangeLogEntry& e, const std::string& key) {
    for (const auto& c : e.changes()) {
      if (c.field_key() == key) return &c;
    }
    return nullptr;
  }
};

TEST(ChangeLogFormatTest, FrenchDatesAndLists) {
  EXPECT_EQ(FormatFrenchDate(D(2024, 2, 1)), "01 février 2024");
  EXPECT_EQ(FormatFrenchDate(D(2023, 12, 25)), "25 décembre 2023");
  EXPECT_EQ(FormatFrenchDate(pb::Date()), "");
  EXPECT_EQ(JoinFrench({}), "");
  EXPECT_EQ(JoinFrench({"a"}), "a");
  EXPECT_EQ(JoinFrench({"a", "b"}), "a et b");
  EXPECT_EQ(JoinFrench({"a", "b", "c"}), "a, b et c");
}

TEST(ChangeLogFormatTest, DiffFormatsValuesWithFrenchLabels) {
  pb::Site a, b;
  a.mutable_population()->set_total(30);
  b.mutable_population()->set_total(45);
  b.set_heatwave(true);
  b.add_origins(pb::SOCIAL_ORIGIN_FRENCH);
  b.add_origins(pb::SOCIAL_ORIGIN_EUROPEAN);
  b.add_origins(pb::SOCIAL_ORIGIN_OTHER);
  b.set_field_type(pb::FIELD_TYPE_BUILDING);
  b.mutable_reinstallation()->set_is_reinstallation(pb::UNKNOWN);
  *b.mutable_built_at() = D(2023, 1, 10);
  b.mutable_ownership()->set_owner("SNCF Réseau");
  b.set_updated_at_us(123);  // bookkeeping: not a change
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  ASSERT_EQ(d.size(), 7u);
  EXPECT_EQ(d[0].field_key(), "field_type");
  EXPECT_EQ(d[0].field(), "Type de site");
  EXPECT_EQ(d[0].new_value(), "Immeuble bâti");
  EXPECT_EQ(d[1].field_key(), "ownership.owner");
  EXPECT_EQ(d[1].sensitivity(), pb::SENSITIVITY_OWNER);
  EXPECT_EQ(d[2].field(), "Date d'installation");
  EXPECT_EQ(d[2].old_value(), "");
  EXPECT_EQ(d[2].new_value(), "10 janvier 2023");
  EXPECT_EQ(d[3].field(), "S'agit-il d'une réinstallation ?");
  EXPECT_EQ(d[3].new_value(), "inconnu");
  EXPECT_EQ(d[4].field(), "Alerte canicule");
  EXPECT_EQ(d[4].old_value(), "non");
  EXPECT_EQ(d[4].new_value(), "oui");
  EXPECT_EQ(d[5].field(), "Nombre de personnes");
  EXPECT_EQ(d[5].old_value(), "30");
  EXPECT_EQ(d[5].new_value(), "45");
  EXPECT_EQ(d[6].field(), "Origines");
  EXPECT_EQ(d[6].new_value(),
            "Ressortissants français, Ressortissants européens et Ressortissants "
            "extracommunautaires");
}

TEST(ChangeLogFormatTest, StatusIsNamedForItsSubject) {
  pb::Site open_site, closed_site;
  open_site.set_status(pb::SITE_STATUS_OPEN);
  closed_site.set_status(pb::SITE_STATUS_CLOSED);
  std::vector<pb::FieldChange> site = DiffSites(open_site, closed_site);
  ASSERT_EQ(site.size(), 1u);
  EXPECT_EQ(site[0].field(), "Statut du site");
  pb::Action open_action, closed_action;
  open_action.set_status(pb::ACTION_STATUS_OPEN);
  closed_action.set_status(pb::ACTION_STATUS_CLOSED);
  std::vector<pb::FieldChange> action = DiffActions(open_action, closed_action);
  ASSERT_EQ(action.size(), 1u);
  EXPECT_EQ(action[0].field_key(), "status");
  EXPECT_EQ(action[0].field(), "Statut de l'action");
}

TEST(ChangeLogFormatTest, UpgradeFromV1ToV2IsOnePseudoChange) {
  pb::Site a, b;
  a.set_living_conditions_version(1);
  a.mutable_living_conditions_v1()->set_access_to_water(pb::YES);
  b.set_living_conditions_version(2);
  b.mutable_living_conditions_v2()->mutable_electricity()->set_access(pb::NO);
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].field(), "Conditions de vie");
  EXPECT_EQ(d[0].old_value(), "Ancien format");
  EXPECT_EQ(d[0].new_value(), "Nouveau format");
}

TEST(ChangeLogFormatTest, OldFormatLivingConditionsHaveFrenchLabels) {
  pb::Site a, b;
  a.set_living_conditions_version(1);
  b.set_living_conditions_version(1);
  a.mutable_living_conditions_v1()->set_water_potable(pb::NO);
  b.mutable_living_conditions_v1()->set_water_potable(pb::YES);
  b.mutable_living_conditions_v1()->set_water_distance(pb::WATER_DISTANCE_V1_20_50);
  b.mutable_living_conditions_v1()->set_electricity_type(pb::ELECTRICITY_TYPE_V1_NO);
  b.mutable_living_conditions_v1()->set_sanitary_number(3);
  b.mutable_living_conditions_v1()->set_fire_prevention_site_accessible(pb::UNKNOWN);
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].field_key(), "living_conditions_v1.water_potable");
  EXPECT_EQ(d[0].field(), "Eau potable");
  EXPECT_EQ(d[0].old_value(), "non");
  EXPECT_EQ(d[0].new_value(), "oui");
  EXPECT_EQ(d[1].field(), "Distance du point d'eau");
  EXPECT_EQ(d[1].new_value(), "20 à 50 mètres");
  EXPECT_EQ(d[2].field(), "Accès à l'électricité");
  EXPECT_EQ(d[2].new_value(), "Non");
  EXPECT_EQ(d[3].field(), "Nombre de toilettes");
  EXPECT_EQ(d[3].new_value(), "3");
  EXPECT_EQ(d[4].field(), "Site accessible aux secours");
  EXPECT_EQ(d[4].new_value(), "inconnu");

  // Every field of the old format has its own label, none the raw field name.
  pb::Site base;
  base.set_living_conditions_version(1);
  const google::protobuf::Descriptor* v1 = pb::LivingConditionsV1::descriptor();
  for (int i = 0; i < v1->field_count(); ++i) {
    pb::Site c = base;
    const google::protobuf::FieldDescriptor* f = v1->field(i);
    const google::protobuf::Reflection* r = c.living_conditions_v1().GetReflection();
    pb::LivingConditionsV1* lc = c.mutable_living_conditions_v1();
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
        r->SetEnumValue(lc, f, 2);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(lc, f, 1);
        break;
      default:
        r->SetString(lc, f, "texte");
    }
    std::vector<pb::FieldChange> one = DiffSites(base, c);
    ASSERT_EQ(one.size(), 1u) << f->name();
    EXPECT_EQ(one[0].field_key(), "living_conditions_v1." + f->name());
    EXPECT_EQ(one[0].field().find(f->name()), std::string::npos) << one[0].field();
    EXPECT_EQ(one[0].field().find("ancien format"), std::string::npos) << one[0].field();
  }
}

TEST(ChangeLogFormatTest, ClosingSolutionCountsAgreeInNumber) {
  pb::Site a, b;
  pb::ClosingSolutionOutcome* one = b.mutable_closure()->add_solutions();
  one->set_solution(pb::CLOSING_SOLUTION_HOUSING);
  one->set_people(1);
  one->set_households(1);
  pb::ClosingSolutionOutcome* more = b.mutable_closure()->add_solutions();
  more->set_solution(pb::CLOSING_SOLUTION_TEMPORARY_SHELTER);
  more->set_people(4);
  more->set_households(0);
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  const pb::FieldChange* solutions = nullptr;
  for (const pb::FieldChange& c : d) {
    if (c.field_key() == "closure.solutions") solutions = &c;
  }
  ASSERT_NE(solutions, nullptr);
  EXPECT_EQ(solutions->new_value(),
            "Logement : 1 personne, 1 ménage et Mise à l'abri temporaire (quelques jours ou "
            "semaines) : 4 personnes, 0 ménage");
}

TEST(ChangeLogFormatTest, IntervenersReadAsUserOrganisationAndThemes) {
  pb::Site a, b;
  pb::Intervener* first = b.add_interveners();
  first->set_user_id("u-12");
  first->set_organisation_id("org-3");
  first->add_themes(pb::ACTOR_THEME_HEALTH);
  first->add_themes(pb::ACTOR_THEME_OTHER);
  first->set_other_theme("veille sanitaire");
  pb::Intervener* second = b.add_interveners();
  second->set_user_id("u-40");
  second->set_organisation_id("asso-7");
  second->add_themes(pb::ACTOR_THEME_HOUSING);
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].field(), "Intervenants");
  EXPECT_EQ(d[0].old_value(), "");
  EXPECT_EQ(d[0].new_value(),
            "u-12 (org-3) : Santé et Autre (veille sanitaire) et u-40 (asso-7) : Logement");
  EXPECT_EQ(d[0].sensitivity(), pb::SENSITIVITY_PERSONAL);
}

TEST(ChangeLogFormatTest, ParcelOwnersReadAsOwnerTypeAndNameNeverTheSealedName) {
  pb::Site a, b;
  pb::ParcelOwner* company = b.mutable_ownership()->add_parcel_owners();
  company->set_name("SNCF Réseau");
  company->set_owner_type(pb::OWNER_TYPE_PUBLIC);
  company->set_active(true);
  pb::ParcelOwner* person = b.mutable_ownership()->add_parcel_owners();
  person->set_name("Jean Dupont");
  person->set_owner_type(pb::OWNER_TYPE_PRIVATE);
  person->set_active(false);
  std::vector<pb::FieldChange> d = DiffSites(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].field_key(), "ownership.parcel_owners");
  EXPECT_EQ(d[0].field(), "Propriétaires des parcelles");
  EXPECT_EQ(d[0].new_value(), "Public : SNCF Réseau et Privé : Jean Dupont (inactif)");
  EXPECT_EQ(d[0].sensitivity(), pb::SENSITIVITY_OWNER);

  // A name still sealed (the reader's query could not open it) shows only the owner type.
  pb::Site c;
  pb::ParcelOwner* sealed = c.mutable_ownership()->add_parcel_owners();
  sealed->set_owner_type(pb::OWNER_TYPE_PRIVATE);
  sealed->set_active(true);
  sealed->mutable_sealed_name()->set_subject("site-1.owner");
  sealed->mutable_sealed_name()->set_sealed("CIPHERTEXT-BYTES");
  d = DiffSites(a, c);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].new_value(), "Privé");
}

TEST_F(ChangeLogTest, SiteHistoryHasAuthorDatesReasonAndHidesJusticeFromReadersWithoutAccess) {
  Declare("1", "93066", "Les Lilas", Day(2023, 6, 1));
  Tick();
  Population("1", 30, 10, Day(2024, 1, 5));
  Tick();
  pb::SiteCommand p = rb::domain::testing::On("1");
  p.mutable_update_procedures()->mutable_justice()->set_justice_procedure(pb::YES);
  p.mutable_update_procedures()->mutable_justice()->set_justice_rendered(pb::NO);
  Site(p, Day(2024, 2, 1));
  Tick();
  pb::SiteCommand c = rb::domain::testing::On("1");
  *c.mutable_close()->mutable_closure() = rb::domain::testing::ValidClosure();
  c.set_reason("Relogement des familles");
  Site(c, Day(2024, 6, 1));

  ChangeLogQuery q(store_.get());
  absl::StatusOr<pb::ChangeLog> all = q.ForSite("1", Visibility::All());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->entries_size(), 4);
  const pb::ChangeLogEntry& declared = all->entries(0);
  EXPECT_EQ(declared.author_user_id(), "u-1");
  EXPECT_EQ(declared.author_organisation_id(), "o-1");
  EXPECT_EQ(declared.author_role(), "national_admin");
  EXPECT_EQ(declared.valid_at_us(), Day(2023, 6, 1));
  EXPECT_EQ(declared.recorded_at_us(), Day(2024, 6, 15));
  ASSERT_NE(Find(declared, "name"), nullptr);
  EXPECT_EQ(Find(declared, "name")->new_value(), "Les Lilas");
  EXPECT_EQ(Find(declared, "status")->new_value(), "Ouvert");
  EXPECT_EQ(Find(declared, "declared_at")->new_value(), "01 février 2023");

  const pb::ChangeLogEntry& population = all->entries(1);
  EXPECT_EQ(population.valid_at_us(), Day(2024, 1, 5));
  EXPECT_EQ(population.recorded_at_us(), Day(2024, 6, 15) + 1'000'000);
  EXPECT_EQ(Find(population, "population.total")->field(), "Nombre de personnes");
  EXPECT_EQ(Find(population, "population.total")->old_value(), "");
  EXPECT_EQ(Find(population, "population.total")->new_value(), "30");

  const pb::ChangeLogEntry& justice = all->entries(2);
  ASSERT_EQ(justice.changes_size(), 2);
  EXPECT_EQ(justice.changes(0).field(), "Existence d'une procédure judiciaire");
  EXPECT_EQ(justice.changes(0).new_value(), "oui");
  EXPECT_EQ(justice.changes(0).sensitivity(), pb::SENSITIVITY_JUSTICE);

  const pb::ChangeLogEntry& closure = all->entries(3);
  EXPECT_EQ(closure.reason(), "Relogement des familles");
  EXPECT_EQ(Find(closure, "status")->old_value(), "Ouvert");
  EXPECT_EQ(Find(closure, "status")->new_value(), "Fermé");
  EXPECT_EQ(Find(closure, "closure.cause")->new_value(), "Résorption progressive du site");
  EXPECT_EQ(Find(closure, "closure.closed_at")->new_value(), "01 juin 2024");
  EXPECT_EQ(Find(closure, "closure.closed_with_solutions")->new_value(), "oui");
  EXPECT_EQ(Find(closure, "closure.solutions")->new_value(), "Logement : 10 personnes, 3 ménages");

  // Without justice access the procedure's version disappears: no visible change left.
  absl::StatusOr<pb::ChangeLog> restricted = q.ForSite("1", Visibility{});
  ASSERT_TRUE(restricted.ok());
  ASSERT_EQ(restricted->entries_size(), 3);
  for (const auto& e : restricted->entries()) {
    for (const auto& ch : e.changes()) EXPECT_EQ(ch.sensitivity(), pb::SENSITIVITY_NONE);
  }
}

// A closure recorded before 2022 is stored as `site.closed` v1 (the six closing solutions of
// 2019): the change log reads it through the upcaster and names the five current solutions, the
// counts of the old ones that map to the same new one summed.
TEST_F(ChangeLogTest, AnOldFormatClosureShowsTheCurrentClosingSolutions) {
  pb::SiteCommand declare = rb::domain::testing::Declare("1");
  *declare.mutable_declare()->mutable_site()->mutable_built_at() = D(2020, 11, 1);
  *declare.mutable_declare()->mutable_site()->mutable_declared_at() = D(2021, 1, 10);
  Site(declare, Day(2021, 1, 10));
  Tick();
  pb::SiteCommand count = rb::domain::testing::On("1");
  count.mutable_record_population()->mutable_population()->set_total(20);
  count.mutable_record_population()->mutable_population()->set_households(10);
  Site(count, Day(2021, 2, 1));
  Tick();
  pb::SiteClosedV1 old;
  old.set_cause(pb::CLOSING_CAUSE_RESORBED);
  *old.mutable_closed_at() = D(2021, 6, 15);
  old.set_closed_with_solutions(pb::YES);
  auto solution = [&](pb::ClosingSolutionV1 value, int people, int households) {
    pb::SiteClosedV1::Solution* o = old.add_solutions();
    o->set_solution(value);
    o->set_people(people);
    o->set_households(households);
  };
  solution(pb::CLOSING_SOLUTION_V1_EMERGENCY_SHELTER, 5, 2);
  solution(pb::CLOSING_SOLUTION_V1_INTEGRATION_SHELTER, 5, 2);
  solution(pb::CLOSING_SOLUTION_V1_DEDICATED_SCHEME, 4, 1);
  solution(pb::CLOSING_SOLUTION_V1_TERRITORIAL_INTEGRATION, 1, 1);
  solution(pb::CLOSING_SOLUTION_V1_ORDINARY_OR_ADAPTED_HOUSING, 3, 2);
  solution(pb::CLOSING_SOLUTION_V1_SOCIAL_WATCH_OR_NONE, 2, 2);
  rb::es::AppendRequest req;
  req.stream_id = "site-1";
  req.metadata.actor_user = "u-2";
  req.metadata.actor_organisation = "o-2";
  req.metadata.actor_role = "local_admin";
  req.metadata.reason = "Fermeture enregistrée en 2021";
  req.events.push_back(rb::es::EventData{.type = "site.closed",
                                         .schema_version = 1,
                                         .valid_at_us = Day(2021, 6, 15),
                                         .payload = old.SerializeAsString()});
  ASSERT_TRUE(store_->Append(req).ok());

  ChangeLogQuery q(store_.get());
  absl::StatusOr<pb::ChangeLog> log = q.ForSite("1", Visibility::All());
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->entries_size(), 3);
  const pb::ChangeLogEntry& closure = log->entries(2);
  EXPECT_EQ(closure.author_user_id(), "u-2");
  EXPECT_EQ(closure.author_organisation_id(), "o-2");
  EXPECT_EQ(closure.reason(), "Fermeture enregistrée en 2021");
  EXPECT_EQ(closure.valid_at_us(), Day(2021, 6, 15));
  ASSERT_NE(Find(closure, "status"), nullptr);
  EXPECT_EQ(Find(closure, "status")->new_value(), "Fermé");
  EXPECT_EQ(Find(closure, "closure.cause")->new_value(), "Résorption progressive du site");
  EXPECT_EQ(Find(closure, "closure.closed_at")->new_value(), "15 juin 2021");
  EXPECT_EQ(Find(closure, "closure.closed_with_solutions")->new_value(), "oui");
  const pb::FieldChange* solutions = Find(closure, "closure.solutions");
  ASSERT_NE(solutions, nullptr);
  EXPECT_EQ(solutions->field(), "Orientation des ménages");
  EXPECT_EQ(solutions->old_value(), "");
  EXPECT_EQ(solutions->new_value(),
            "Mise à l'abri temporaire (quelques jours ou semaines) : 5 personnes, 2 ménages, "
            "Hébergement ou logement adapté longue durée avec accompagnement, dont espace "
            "temporaire d'insertion : 10 personnes, 4 ménages, Logement : 3 personnes, 2 ménages "
            "et Aucune : 2 personnes, 2 ménages");
}

TEST_F(ChangeLogTest, VersionsWithoutVisibleChangeAreSkipped) {
  Declare("1", "93066", "Les Lilas", Day(2023, 6, 1));
  Tick();
  pb::SiteCommand c = rb::domain::testing::On("1");
  c.mutable_confirm_up_to_date();
  Site(c, Day(2024, 1, 1));
  ChangeLogQuery q(store_.get());
  absl::StatusOr<pb::ChangeLog> log = q.ForSite("1", Visibility::All());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->entries_size(), 1);
  absl::StatusOr<pb::ChangeLog> none = q.ForSite("unknown", Visibility::All());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->entries_size(), 0);
}

TEST_F(ChangeLogTest, ActionHistoryHidesFinancesWithoutAccess) {
  Action(rb::domain::testing::CreateAction("a1"));
  Tick();
  pb::ActionCommand fin;
  fin.set_action_id("a1");
  auto* y = fin.mutable_record_finances()->mutable_finances();
  y->set_year(2024);
  auto* line = y->add_lines();
  line->set_type(pb::FINANCE_TYPE_DEDICATED);
  line->set_amount_cents(150'000);
  line->set_real_amount_cents(100'050);
  Action(fin);
  Tick();
  pb::ActionCommand ind;
  ind.set_action_id("a1");
  ind.mutable_record_indicators()->mutable_indicators()->set_year(2024);
  ind.mutable_record_indicators()->mutable_indicators()->set_nombre_personnes(40);
  Action(ind);

  ChangeLogQuery q(store_.get());
  absl::StatusOr<pb::ChangeLog> all = q.ForAction("a1", Visibility::All());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->entries_size(), 3);
  const pb::ChangeLogEntry& created = all->entries(0);
  ASSERT_NE(Find(created, "details.name"), nullptr);
  EXPECT_EQ(Find(created, "details.name")->field(), "Nom de l'action");
  EXPECT_EQ(Find(created, "details.topics")->new_value(), "Logement");
  EXPECT_EQ(Find(created, "details.started_at")->new_value(), "01 mars 2022");
  EXPECT_EQ(Find(created, "managers")->sensitivity(), pb::SENSITIVITY_PERSONAL);
  const pb::ChangeLogEntry& finances = all->entries(1);
  ASSERT_EQ(finances.changes_size(), 1);
  EXPECT_EQ(finances.changes(0).field(), "Financements 2024");
  EXPECT_EQ(finances.changes(0).new_value(),
            "Crédits dédiés à la résorption des bidonvilles : 1 500,00 € prévus, 1 000,50 € "
            "dépensés");
  EXPECT_EQ(finances.changes(0).sensitivity(), pb::SENSITIVITY_FINANCES);
  const pb::ChangeLogEntry& indicators = all->entries(2);
  ASSERT_NE(Find(indicators, "indicators.2024.nombre_personnes"), nullptr);
  EXPECT_EQ(Find(indicators, "indicators.2024.nombre_personnes")->new_value(), "40");
  // The platform's heading, as in the actions export.
  EXPECT_EQ(Find(indicators, "indicators.2024.nombre_personnes")->field(),
            "Indicateurs 2024 : Nombre total de personnes concernées par l'action");

  absl::StatusOr<pb::ChangeLog> restricted = q.ForAction("a1", Visibility{});
  ASSERT_TRUE(restricted.ok());
  EXPECT_EQ(restricted->entries_size(), 2);  // the finances version is skipped
}

}  // namespace
}  // namespace rb::views
