// Copyright: the Résorption-bidonvilles data service authors.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "access/audit.h"
#include "access/crypto.h"
#include "access/directory_store.h"
#include "access/subject_keys.h"
#include "access/token_store.h"
#include "domain/owner_identity.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace rb::access {
namespace {

namespace v1 = resorption::v1;
constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kNow = 1'717'200'000'000'000;  // 2024-06-01T00:00:00Z

TEST(Crypto, SealsAndOpensWithTheSameKeyAndSubjectOnly) {
  const std::string key = NewKey();
  auto sealed = Seal(key, "Marie Curie", "user-1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("Marie"), std::string::npos);
  EXPECT_EQ(*Open(key, *sealed, "user-1"), "Marie Curie");
  EXPECT_EQ(Open(key, *sealed, "user-2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(NewKey(), *sealed, "user-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231, test case 2.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_NE(NewToken(), NewToken());
  EXPECT_EQ(NewToken().size(), 64u);
}

class StoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = rb::es::EventStore::Open({}, path_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  rb::testing::TempDir dir_;
  std::string path_ = dir_.path() + "/data";
  std::unique_ptr<rb::es::EventStore> store_;
};

TEST_F(StoresTest, TokensAreStoredHashedAndExpireAndRevoke) {
  TokenStore tokens(&store_->kv());
  ASSERT_TRUE(tokens.Init().ok());
  auto issued = tokens.Issue("camille", kNow, absl::Hours(24), "admin", "laptop");
  ASSERT_TRUE(issued.ok());
  auto who = tokens.Lookup(issued->token, kNow + 1);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->user_id(), "camille");
  EXPECT_EQ(who->token_id(), Hex(Sha256(issued->token)).substr(0, 16));

  EXPECT_EQ(tokens.Lookup(issued->token, kNow + kDay).status().code(),
            absl::StatusCode::kUnauthenticated);  // expired
  EXPECT_EQ(tokens.Lookup(NewToken(), kNow).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens.Lookup("short", kNow).status().code(), absl::StatusCode::kUnauthenticated);

  ASSERT_TRUE(tokens.Revoke(issued->record.token_id(), kNow + 2).ok());
  EXPECT_EQ(tokens.Lookup(issued->token, kNow + 3).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens.Revoke("0000000000000000", kNow).status().code(), absl::StatusCode::kNotFound);

  auto a = tokens.Issue("dominique", kNow, absl::ZeroDuration(), "admin", "");
  auto b = tokens.Issue("dominique", kNow, absl::ZeroDuration(), "admin", "");
  EXPECT_TRUE(tokens.Lookup(a->token, kNow + 1000 * kDay).ok());  // never expires
  EXPECT_EQ(*tokens.RevokeAllOf("dominique", kNow), 2);
  EXPECT_FALSE(tokens.Lookup(b->token, kNow).ok());
}

// Reads every file of the data directory (SST, WAL, MANIFEST...) and looks for `needle`.
bool AppearsInDirectory(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST_F(StoresTest, AKeyDestroyedWithATimeLeavesOnlyThatTime) {
  SubjectKeys keys(&store_->kv());
  ASSERT_TRUE(keys.Init().ok());
  absl::StatusOr<std::string> sealed = keys.Seal("site-9.owner", "Jeanne Propriétaire");
  ASSERT_TRUE(sealed.ok());
  constexpr int64_t kErasedAt = 1'767'268'800'000'000;  // 2026-01-01T12:00:00Z
  ASSERT_TRUE(keys.Destroy("site-9.owner", kErasedAt).ok());
  ASSERT_TRUE(keys.Destroy("site-9.owner", kErasedAt + 86'400'000'000).ok());  // keeps the first
  EXPECT_FALSE(*keys.Exists("site-9.owner"));
  absl::StatusOr<std::string> opened = keys.Open("site-9.owner", *sealed);
  ASSERT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  auto at = opened.status().GetPayload(rb::domain::kErasedAtPayload);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(std::string(*at), std::to_string(kErasedAt));
  EXPECT_EQ(rb::domain::AnonymisedOwnerText(kErasedAt), "Anonymisé le 01/01/2026");
  EXPECT_EQ(rb::domain::AnonymisedOwnerText(0), "Anonymisé");
  // Destroyed without a time: no tombstone, no time.
  ASSERT_TRUE(keys.Seal("user-3", "x").ok());
  ASSERT_TRUE(keys.Destroy("user-3").ok());
  EXPECT_FALSE(keys.Open("user-3", *sealed).status().GetPayload(rb::domain::kErasedAtPayload));
  // Sealing again after the erasure makes a new key, which opens.
  absl::StatusOr<std::string> again = keys.Seal("site-9.owner", "Nouveau");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*keys.Open("site-9.owner", *again), "Nouveau");
}

// The keyed digests of personal data (the fingerprints of commands holding owner names): stable
// for one subject, different for another, keyed by a key derived from the subject's (never the
// key itself), and impossible once the key is destroyed, which no digest brings back.
TEST_F(StoresTest, DigestsAreKeyedByTheSubjectAndEndWithItsKey) {
  SubjectKeys keys(&store_->kv());
  ASSERT_TRUE(keys.Init().ok());
  EXPECT_FALSE(*keys.Exists("site-9.owner"));
  absl::StatusOr<std::string> a = keys.Digest("site-9.owner", "Jeanne Propriétaire");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size(), 32u);
  EXPECT_TRUE(*keys.Exists("site-9.owner"));  // made on first use, as by Seal
  EXPECT_EQ(*keys.Digest("site-9.owner", "Jeanne Propriétaire"), *a);
  EXPECT_NE(*keys.Digest("site-9.owner", "Jeanne Proprietaire"), *a);
  EXPECT_NE(*keys.Digest("site-10.owner", "Jeanne Propriétaire"), *a);
  EXPECT_NE(*a, Sha256("Jeanne Propriétaire"));
  // The sealed bytes made with the same key still open: Digest did not replace it.
  absl::StatusOr<std::string> sealed = keys.Seal("site-9.owner", "Jeanne Propriétaire");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*keys.Open("site-9.owner", *sealed), "Jeanne Propriétaire");

  constexpr int64_t kErasedAt = 1'767'268'800'000'000;
  ASSERT_TRUE(keys.Destroy("site-9.owner", kErasedAt).ok());
  absl::StatusOr<std::string> after = keys.Digest("site-9.owner", "Jeanne Propriétaire");
  ASSERT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  auto at = after.status().GetPayload(rb::domain::kErasedAtPayload);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(std::string(*at), std::to_string(kErasedAt));
  EXPECT_FALSE(*keys.Exists("site-9.owner"));  // the tombstone stays
}

TEST_F(StoresTest, AfterErasureThePlaintextIsNowhereOnDiskAndTheLogStillVerifies) {
  SubjectKeys keys(&store_->kv());
  ASSERT_TRUE(keys.Init().ok());
  DirectoryStore directory(store_.get(), &keys);
  Principal admin;
  admin.user_id = "admin";
  admin.role = Role::kNationalAdmin;
  v1::CreateOrganisationRequest org;
  org.set_organisation_id("asso");
  org.set_name("Association du 93");
  org.set_category(v1::ORGANISATION_CATEGORY_ASSOCIATION);
  org.add_territories()->set_level(v1::SCOPE_LEVEL_NATION);
  ASSERT_TRUE(directory.CreateOrganisation(org, admin).ok());
  v1::CreateUserRequest user;
  user.set_user_id("u-42");
  user.set_organisation_id("asso");
  user.set_role(v1::USER_ROLE_ASSOCIATION);
  user.mutable_personal_data()->set_email("zoe.quintard-unique@example.org");
  user.mutable_personal_data()->set_last_name("Quintardunique");
  ASSERT_TRUE(directory.CreateUser(user, admin).ok());
  ASSERT_TRUE(directory.EraseUser("u-42", admin).ok());
  store_->Close();
  store_.reset();

  EXPECT_FALSE(AppearsInDirectory(path_, "zoe.quintard-unique"));
  EXPECT_FALSE(AppearsInDirectory(path_, "Quintardunique"));
  EXPECT_TRUE(AppearsInDirectory(path_, "user.erased"));  // the search does see the log

  auto reopened = rb::es::EventStore::Open({}, path_);
  ASSERT_TRUE(reopened.ok());
  auto report = (*reopened)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GE(report->events_checked, 4u);
}

TEST_F(StoresTest, AuditRecordsArePerDayStreamsOfTheHashChainedLog) {
  AuditLog audit(store_.get());
  Principal reader;
  reader.user_id = "camille";
  reader.organisation_id = "pref-93";
  reader.role = Role::kDirectCollaborator;
  v1::AuditRecord r;
  r.set_what(std::string(kAuditRestrictedRead));
  r.set_target("site-42");
  r.add_fields("justice");
  ASSERT_TRUE(audit.Record(reader, r, kNow + 5).ok());
  v1::AuditRecord raw;
  raw.set_what(std::string(kAuditRawLogRead));
  raw.set_target("log");
  ASSERT_TRUE(audit.Record(reader, raw, kNow + kDay).ok());
  EXPECT_EQ(AuditStreamId(kNow), "audit-2024-06-01");

  auto day = audit.List("2024-06-01");
  ASSERT_TRUE(day.ok()) << day.status();
  ASSERT_EQ(day->size(), 1u);
  EXPECT_EQ((*day)[0].user_id(), "camille");
  EXPECT_EQ((*day)[0].role(), v1::USER_ROLE_DIRECT_COLLABORATOR);
  EXPECT_EQ((*day)[0].fields(0), "justice");
  EXPECT_EQ((*day)[0].at_us(), kNow + 5);
  EXPECT_EQ(audit.List("2024-06-02")->size(), 1u);
  EXPECT_EQ(audit.List("yesterday").status().code(), absl::StatusCode::kInvalidArgument);
  auto events = store_->ReadStream("audit-2024-06-01", 0, rb::es::Direction::kForward, 10);
  EXPECT_EQ((*events)[0].type, "audit.restricted_read");
  EXPECT_TRUE(audit.Record(reader, {}, kNow).code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rb::access
