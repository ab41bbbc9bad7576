// resorption-audit against a real event store written through the domain's command handler.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/command_handler.h"
#include "domain/dates.h"
#include "eventstore/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/run_tool.h"
#include "tools/lib/site_history.h"

namespace rb::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunTool;
namespace v1 = resorption::v1;

int64_t Micros(int y, int m, int d, int h = 12) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone()));
}

rb::domain::Context Ctx(const std::string& user, const std::string& org, int64_t now,
                        rb::domain::Role role = rb::domain::Role::kLocalAdmin) {
  rb::domain::Context c;
  c.now_us = now;
  c.actor.user_id = user;
  c.actor.organisation_id = org;
  c.actor.role = role;
  return c;
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.path() + "/data";
    rb::es::ManualClock clock(Micros(2024, 3, 5, 9));
    rb::es::Options o;
    o.sync = false;
    o.clock = &clock;
    auto store = rb::es::EventStore::Open(o, data_);
    ASSERT_TRUE(store.ok()) << store.status();
    rb::domain::CommandHandler handler(store->get());

    v1::SiteCommand declare;
    declare.set_site_id("42");
    declare.set_command_id("cmd-declare");
    declare.set_reason("Signalement par la mairie");
    declare.set_valid_at_us(Micros(2024, 3, 1));
    auto* s = declare.mutable_declare()->mutable_site();
    s->set_name("Les Lilas");
    s->mutable_location()->mutable_address()->set_label("12 rue des Lilas 93200 Saint-Denis");
    s->mutable_location()->mutable_address()->set_city_code("93066");
    s->mutable_location()->mutable_address()->mutable_coordinates()->set_latitude(48.936);
    s->mutable_location()->mutable_address()->mutable_coordinates()->set_longitude(2.357);
    s->set_field_type(v1::FIELD_TYPE_LAND);
    *s->mutable_built_at() = rb::domain::ToDate(absl::CivilDay(2023, 1, 10));
    *s->mutable_declared_at() = rb::domain::ToDate(absl::CivilDay(2024, 2, 20));
    s->mutable_population()->set_total(25);
    auto r = handler.HandleSite(declare, Ctx("u-pref", "o-prefecture-93", Micros(2024, 3, 1)));
    ASSERT_TRUE(r.ok()) << r.status();

    clock.Set(Micros(2024, 6, 20, 16));
    v1::SiteCommand count;
    count.set_site_id("42");
    count.set_command_id("cmd-count");
    count.set_reason("Recensement de juin");
    count.set_valid_at_us(Micros(2024, 6, 18));
    count.mutable_record_population()->mutable_population()->set_total(31);
    count.mutable_record_population()->mutable_population()->set_minors(8);
    r = handler.HandleSite(
        count, Ctx("u-asso", "o-asso", Micros(2024, 6, 18), rb::domain::Role::kAssociation));
    ASSERT_TRUE(r.ok()) << r.status();
    count_position_ = r->last_position;

    clock.Set(Micros(2024, 9, 2, 10));
    v1::SiteCommand other;  // another site, so that the log has more than one stream
    other = declare;
    other.set_site_id("43");
    other.set_command_id("cmd-declare-43");
    r = handler.HandleSite(other, Ctx("u-pref", "o-prefecture-93", Micros(2024, 9, 1)));
    ASSERT_TRUE(r.ok()) << r.status();
    (*store)->Close();
  }

  // Rewrites the stored reason of the event at `position` in a copy of the data directory, as an
  // adversary with write access would: RocksDB's own checksums stay valid.
  std::string TamperedCopy(uint64_t position) {
    std::string copy = tmp_.path() + "/tampered";
    std::filesystem::copy(data_, copy, std::filesystem::copy_options::recursive);
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), copy, &names).ok());
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), copy, cfs, &handles, &raw).ok());
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "events") events = h;
    }
    std::string key(8, '\0');
    for (int i = 0; i < 8; ++i) key[7 - i] = static_cast<char>((position >> (8 * i)) & 0xff);
    std::string value;
    EXPECT_TRUE(raw->Get(rocksdb::ReadOptions(), events, key, &value).ok());
    size_t at = value.find("Recensement de juin");
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) value[at] = 'X';  // same length: the record still decodes
    EXPECT_TRUE(raw->Put(rocksdb::WriteOptions(), events, key, value).ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
    return copy;
  }

  rb::testing::TempDir tmp_;
  std::string data_;
  uint64_t count_position_ = 0;
};

TEST_F(AuditTest, SiteReplayPrintsEveryVersionWithAuthorDatesReasonAndChanges) {
  auto run = RunTool("resorption-audit", {"--data-dir=" + data_, "site", "42"}, tmp_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("version 1 (revision 0"));
  EXPECT_THAT(run.out, HasSubstr("site.declared"));
  EXPECT_THAT(run.out, HasSubstr("u-pref (organisation o-prefecture-93, rôle local_admin)"));
  EXPECT_THAT(run.out, HasSubstr("name: (vide) -> Les Lilas"));
  EXPECT_THAT(run.out, HasSubstr("field_type: (vide) -> Terrain"));
  EXPECT_THAT(run.out, HasSubstr("motif      Signalement par la mairie"));
  EXPECT_THAT(run.out, HasSubstr("commande   cmd-declare"));
  // The recount: who, the declared date and the recording time, why, what changed.
  EXPECT_THAT(run.out, HasSubstr("site.population_recorded"));
  EXPECT_THAT(run.out, HasSubstr("u-asso (organisation o-asso, rôle association)"));
  EXPECT_THAT(run.out, HasSubstr("date       2024-06-18 12:00:00 UTC (date déclarée)"));
  EXPECT_THAT(run.out, HasSubstr("enregistré 2024-06-20 16:00:00 UTC"));
  EXPECT_THAT(run.out, HasSubstr("motif      Recensement de juin"));
  EXPECT_THAT(run.out, HasSubstr("population.total: 25 -> 31"));
  EXPECT_THAT(run.out, HasSubstr("population.minors: (vide) -> 8"));
  EXPECT_THAT(run.out, HasSubstr("stream hash chain intact"));
  EXPECT_THAT(run.out, Not(HasSubstr("43")));
}

TEST_F(AuditTest, SiteReplayAsJsonPrintsOneObjectPerVersion) {
  auto run =
      RunTool("resorption-audit", {"--data-dir=" + data_, "site", "42", "--json"}, tmp_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines;
  std::stringstream ss(run.out);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  auto history = [&] {
    rb::es::Options o;
    o.read_only = true;
    auto store = rb::es::EventStore::Open(o, data_);
    return ReplaySite(**store, "42");
  }();
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(lines.size(), history->versions.size());
  for (const std::string& line : lines) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
  }
  EXPECT_THAT(lines.back(), HasSubstr(R"("type":"site.population_recorded")"));
  EXPECT_THAT(lines.back(), HasSubstr(R"("actor_user":"u-asso")"));
  EXPECT_THAT(lines.back(), HasSubstr(R"("reason":"Recensement de juin")"));
  EXPECT_THAT(lines.back(), HasSubstr(R"({"field":"population.total","old":"25","new":"31"})"));
}

// A correction of April recorded after June's count: its version shows April's change (25 -> 28),
// and the replay ends on June's count, not on the corrected past.
TEST_F(AuditTest, SiteReplayShowsACorrectionAgainstTheSiteOnItsDate) {
  {
    rb::es::ManualClock clock(Micros(2024, 10, 1, 9));
    rb::es::Options o;
    o.sync = false;
    o.clock = &clock;
    auto store = rb::es::EventStore::Open(o, data_);
    ASSERT_TRUE(store.ok()) << store.status();
    rb::domain::CommandHandler handler(store->get());
    v1::SiteCommand c;
    c.set_site_id("42");
    c.set_reason("Comptage d'avril retrouvé");
    c.set_valid_at_us(Micros(2024, 4, 15));
    auto* u = c.mutable_correct_retroactively()->mutable_update();
    u->mutable_site()->mutable_population()->set_total(28);
    u->mutable_update_mask()->add_paths("population");
    auto r = handler.HandleSite(
        c, Ctx("u-admin", "o-dihal", Micros(2024, 10, 1), rb::domain::Role::kNationalAdmin));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->outcome, rb::domain::CommandResult::Outcome::kAppended);
    (*store)->Close();
  }
  rb::es::Options o;
  o.read_only = true;
  auto store = rb::es::EventStore::Open(o, data_);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<SiteHistory> h = ReplaySite(**store, "42");
  ASSERT_TRUE(h.ok()) << h.status();
  const SiteVersion& last = h->versions.back();
  EXPECT_EQ(last.event_type, "site.population_recorded");
  EXPECT_EQ(last.reason, "Comptage d'avril retrouvé");
  bool total = false;
  for (const FieldChange& c : last.changes) {
    if (c.field != "population.total") continue;
    total = true;
    EXPECT_EQ(c.old_value, "25");
    EXPECT_EQ(c.new_value, "28");
  }
  EXPECT_TRUE(total);
  EXPECT_EQ(h->final_state.population().total(), 31);
  EXPECT_EQ(h->final_state.population().minors(), 8);
}

TEST_F(AuditTest, VerifyAndHeadReportAnIntactLog) {
  auto verify = RunTool("resorption-audit", {"--data-dir=" + data_, "verify"}, tmp_.path());
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("intact: "));
  auto head = RunTool("resorption-audit", {"--data-dir=" + data_, "head"}, tmp_.path());
  ASSERT_EQ(head.exit_code, 0) << head.err;
  rb::es::Options o;
  o.read_only = true;
  auto store = rb::es::EventStore::Open(o, data_);
  ASSERT_TRUE(store.ok());
  const std::string hash = rb::es::ToHex((*store)->GetHead().log_hash);
  EXPECT_THAT(head.out, HasSubstr(hash));
  EXPECT_THAT(verify.out, HasSubstr(hash));
}

TEST_F(AuditTest, WorksWhileAWriterHasTheDirectoryOpen) {
  auto writer = rb::es::EventStore::Open(rb::es::Options(), data_);
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto run = RunTool("resorption-audit", {"--data-dir=" + data_, "verify"}, tmp_.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(AuditTest, TamperingIsDetectedNamedAndExitsNonZero) {
  const std::string copy = TamperedCopy(count_position_);
  const std::string pos = "position " + std::to_string(count_position_);

  auto verify = RunTool("resorption-audit", {"--data-dir=" + copy, "verify"}, tmp_.path());
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_THAT(verify.err, HasSubstr("ALTERED"));
  EXPECT_THAT(verify.err, HasSubstr(pos));

  auto site = RunTool("resorption-audit", {"--data-dir=" + copy, "site", "42"}, tmp_.path());
  EXPECT_EQ(site.exit_code, 1);
  EXPECT_THAT(site.err, HasSubstr("ALTERED"));
  EXPECT_THAT(site.err, HasSubstr("revision 2 (" + pos + ")"));

  // The other site's chain is untouched.
  auto other = RunTool("resorption-audit", {"--data-dir=" + copy, "site", "43"}, tmp_.path());
  EXPECT_EQ(other.exit_code, 0) << other.err;
  // The original is intact.
  auto original = RunTool("resorption-audit", {"--data-dir=" + data_, "verify"}, tmp_.path());
  EXPECT_EQ(original.exit_code, 0) << original.err;
}

TEST_F(AuditTest, UnknownSiteAndUsageErrorsHaveTheirExitCodes) {
  auto missing = RunTool("resorption-audit", {"--data-dir=" + data_, "site", "999"}, tmp_.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("site 999 has no event"));
  EXPECT_EQ(RunTool("resorption-audit", {"--data-dir=" + data_}, tmp_.path()).exit_code, 2);
  EXPECT_EQ(RunTool("resorption-audit", {"frobnicate"}, tmp_.path()).exit_code, 2);
  EXPECT_EQ(RunTool("resorption-audit", {"--bogus", "verify"}, tmp_.path()).exit_code, 2);
  auto help = RunTool("resorption-audit", {"--help"}, tmp_.path());
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: resorption-audit"));
}

}  // namespace
}  // namespace rb::tools
