#include "domain/events.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "domain/upcasters.h"
#include "gtest/gtest.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
namespace pb = google::protobuf;

std::string ReadFixture(const std::string& name) {
  const char* src = std::getenv("RB_SOURCE_DIR");
  std::string dir = src ? std::string(src) : std::string(".");
  std::ifstream in(dir + "/tests/domain/fixtures/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return absl::HexStringToBytes(absl::StripAsciiWhitespace(ss.str()));
}

TEST(EventCatalogueTest, EveryEventHasAUniqueDottedTypeAndAVersion) {
  std::set<std::string> types;
  for (const auto& list : {SiteEventTypes(), ActionEventTypes()}) {
    for (const EventTypeInfo& t : list) {
      EXPECT_TRUE(types.insert(t.type).second) << t.type;
      EXPECT_GE(t.schema_version, 1u);
      EXPECT_EQ(CurrentSchemaVersion(t.type), t.schema_version);
    }
  }
  EXPECT_TRUE(types.count("site.declared"));
  EXPECT_TRUE(types.count("site.living_conditions_upgraded_to_v2"));
  EXPECT_TRUE(types.count("action.indicators_recorded"));
  EXPECT_EQ(CurrentSchemaVersion("site.closed"), 2u);
  EXPECT_EQ(CurrentSchemaVersion("site.row_changed"), 0u);
}

TEST(EventCodecTest, EverySiteEventRoundTripsThroughTheLogFormat) {
  const pb::OneofDescriptor* body = v1::SiteEvent::descriptor()->FindOneofByName("body");
  for (int i = 0; i < body->field_count(); ++i) {
    v1::SiteEvent e;
    e.set_valid_at_us(1700000000000000 + i);
    e.set_actor_user_id("u-9");
    e.set_actor_organisation_id("o-9");
    e.GetReflection()->MutableMessage(&e, body->field(i));  // set the (empty) body
    absl::StatusOr<rb::es::EventData> data = EncodeSiteEvent(e);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->type, "site." + body->field(i)->name());
    rb::es::RecordedEvent r;
    r.type = data->type;
    r.schema_version = data->schema_version;
    r.payload = data->payload;
    r.valid_at_us = data->valid_at_us;
    r.metadata.actor_user = "u-9";
    r.metadata.actor_organisation = "o-9";
    absl::StatusOr<v1::SiteEvent> back = DecodeSiteEvent(r);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->SerializeAsString(), e.SerializeAsString()) << data->type;
  }
}

TEST(EventCodecTest, ActionEventsRoundTrip) {
  v1::ActionEvent e;
  e.set_valid_at_us(5);
  e.mutable_indicators_recorded()->mutable_indicators()->set_year(2024);
  e.mutable_indicators_recorded()->mutable_indicators()->set_nombre_personnes(3);
  auto data = EncodeActionEvent(e);
  ASSERT_TRUE(data.ok());
  rb::es::RecordedEvent r;
  r.type = data->type;
  r.schema_version = data->schema_version;
  r.payload = data->payload;
  r.valid_at_us = 5;
  auto back = DecodeActionEvent(r);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->indicators_recorded().indicators().nombre_personnes(), 3);
}

TEST(EventCodecTest, UnknownTypesNewerVersionsAndGarbageAreErrors) {
  rb::es::RecordedEvent r;
  r.type = "site.row_changed";
  EXPECT_EQ(DecodeSiteEvent(r).status().code(), absl::StatusCode::kFailedPrecondition);
  r.type = "site.renamed";
  r.schema_version = 9;
  EXPECT_EQ(DecodeSiteEvent(r).status().code(), absl::StatusCode::kFailedPrecondition);
  r.schema_version = 1;
  r.payload = "\xff\xff\xff";
  EXPECT_EQ(DecodeSiteEvent(r).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(EncodeSiteEvent(v1::SiteEvent()).status().code(), absl::StatusCode::kInvalidArgument);
}

// A recorded event of `data`, at `position`, by u-9 of o-9.
rb::es::RecordedEvent Recorded(const rb::es::EventData& data, uint64_t position) {
  rb::es::RecordedEvent r;
  r.position = position;
  r.type = data.type;
  r.schema_version = data.schema_version;
  r.payload = data.payload;
  r.valid_at_us = data.valid_at_us;
  r.metadata.actor_user = "u-9";
  r.metadata.actor_organisation = "o-9";
  return r;
}

TEST(SharedDecodingTest, AttachedEnvelopesEqualTheDecodedOnesAndAreBorrowed) {
  v1::SiteEvent site;
  site.set_valid_at_us(7);
  site.mutable_population_recorded()->mutable_population()->set_total(12);
  v1::ActionEvent action;
  action.set_valid_at_us(8);
  action.mutable_indicators_recorded()->mutable_indicators()->set_year(2024);
  std::vector<rb::es::RecordedEvent> events = {Recorded(*EncodeSiteEvent(site), 1),
                                               Recorded(*EncodeActionEvent(action), 2)};
  rb::es::RecordedEvent other;  // not a site or action event
  other.type = "directory.user_created";
  other.payload = "x";
  events.push_back(other);
  rb::es::RecordedEvent garbage = Recorded(*EncodeSiteEvent(site), 4);
  garbage.payload = "\xff\xff\xff";
  events.push_back(garbage);

  EXPECT_GT(AttachDecodedEnvelopes(events), 0u);
  ASSERT_NE(events[0].decoded, nullptr);
  ASSERT_NE(events[1].decoded, nullptr);
  EXPECT_EQ(events[2].decoded, nullptr);
  EXPECT_EQ(events[3].decoded, nullptr);

  absl::StatusOr<Decoded<v1::SiteEvent>> s = ViewSiteEvent(events[0]);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(&**s, events[0].decoded.get());  // borrowed, not decoded again
  EXPECT_EQ((*s)->SerializeAsString(), DecodeSiteEvent(events[0])->SerializeAsString());
  EXPECT_EQ((*s)->actor_user_id(), "u-9");
  EXPECT_EQ((*s)->population_recorded().population().total(), 12);
  absl::StatusOr<Decoded<v1::ActionEvent>> a = ViewActionEvent(events[1]);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(&**a, events[1].decoded.get());
  EXPECT_EQ((*a)->SerializeAsString(), DecodeActionEvent(events[1])->SerializeAsString());

  // A copy of the event keeps its envelope alive after the others are gone.
  rb::es::RecordedEvent kept = events[0];
  events.clear();
  absl::StatusOr<Decoded<v1::SiteEvent>> again = ViewSiteEvent(kept);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->population_recorded().population().total(), 12);
}

TEST(SharedDecodingTest, WithoutAnAttachedEnvelopeTheEventIsDecodedWithTheSameErrors) {
  v1::SiteEvent site;
  site.set_valid_at_us(7);
  site.mutable_population_recorded()->mutable_population()->set_total(12);
  rb::es::RecordedEvent r = Recorded(*EncodeSiteEvent(site), 1);
  absl::StatusOr<Decoded<v1::SiteEvent>> s = ViewSiteEvent(r);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->SerializeAsString(), DecodeSiteEvent(r)->SerializeAsString());
  // An envelope of the other kind is not used: the event is decoded (and is no action event).
  std::vector<rb::es::RecordedEvent> one = {r};
  AttachDecodedEnvelopes(one);
  EXPECT_EQ(ViewActionEvent(one[0]).status().code(), absl::StatusCode::kFailedPrecondition);
  r.payload = "\xff\xff\xff";
  EXPECT_EQ(ViewSiteEvent(r).status().code(), absl::StatusCode::kDataLoss);
  r.type = "site.row_changed";
  EXPECT_EQ(ViewSiteEvent(r).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(UpcasterTest, StoredSiteClosedV1BytesReadAsTheFiveCurrentSolutions) {
  const std::string bytes = ReadFixture("site_closed_v1.hex");
  ASSERT_FALSE(bytes.empty());
  rb::es::RecordedEvent r;
  r.type = "site.closed";
  r.schema_version = 1;
  r.payload = bytes;
  absl::StatusOr<v1::SiteEvent> e = DecodeSiteEvent(r);
  ASSERT_TRUE(e.ok()) << e.status();
  const v1::Closure& c = e->closed().closure();
  EXPECT_EQ(c.cause(), v1::CLOSING_CAUSE_RESORBED);
  EXPECT_EQ(c.closed_at().year(), 2021);
  EXPECT_EQ(c.closed_at().month(), 6);
  EXPECT_EQ(c.closed_at().day(), 15);
  EXPECT_EQ(c.closed_with_solutions(), v1::YES);
  ASSERT_EQ(c.solutions_size(), 3);
  EXPECT_EQ(c.solutions(0).solution(), v1::CLOSING_SOLUTION_TEMPORARY_SHELTER);
  EXPECT_EQ(c.solutions(0).people(), 10);
  EXPECT_EQ(c.solutions(0).households(), 3);
  // CHRS (5/2) + dispositif dédié (4/1) are summed.
  EXPECT_EQ(c.solutions(1).solution(), v1::CLOSING_SOLUTION_LONG_TERM_ADAPTED);
  EXPECT_EQ(c.solutions(1).people(), 9);
  EXPECT_EQ(c.solutions(1).households(), 3);
  EXPECT_EQ(c.solutions(2).solution(), v1::CLOSING_SOLUTION_NONE);
  EXPECT_EQ(c.solutions(2).people(), 7);
}

TEST(UpcasterTest, EveryOldClosingSolutionMapsToACurrentOne) {
  for (int i = 1; i < v1::ClosingSolutionV1_descriptor()->value_count(); ++i) {
    auto old = static_cast<v1::ClosingSolutionV1>(i);
    EXPECT_NE(RemapClosingSolutionV1(old), v1::CLOSING_SOLUTION_UNSPECIFIED);
  }
}

TEST(UpcasterTest, CurrentVersionPassesThroughAndMissingStepsAreErrors) {
  auto same = UpcastPayload("site.renamed", 1, "abc", 1);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "abc");
  EXPECT_EQ(UpcastPayload("site.renamed", 1, "", 2).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(UpcastPayload("site.closed", 1, "\xff", 2).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(DeterministicBytesTest, AreTheCanonicalEncodingAndParseBack) {
  v1::SiteEvent e;
  EXPECT_EQ(DeterministicBytes(e), "");
  e.mutable_population_recorded()->mutable_population()->set_total(5);
  e.mutable_population_recorded()->add_origins(v1::SOCIAL_ORIGIN_EUROPEAN);
  e.set_actor_user_id(std::string(300, 'u'));  // longer than one small buffer
  const std::string bytes = DeterministicBytes(e);
  // Without map fields, the deterministic encoding is the field-order one.
  EXPECT_EQ(bytes, e.SerializeAsString());
  EXPECT_EQ(bytes, DeterministicBytes(e));
  v1::SiteEvent back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  EXPECT_EQ(back.population_recorded().population().total(), 5);
  EXPECT_EQ(back.actor_user_id().size(), 300u);
}

}  // namespace
}  // namespace rb::domain
