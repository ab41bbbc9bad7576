// The fingerprint of domain commands: what it covers and ignores, its exact bytes, and the keyed
// digest of the commands holding owner names.
#include "domain/command_fingerprint.h"

#include <set>
#include <string>
#include <vector>

#include "eventstore/event.h"
#include "gtest/gtest.h"
#include "tests/domain/test_util.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using testing::Ctx;
using testing::On;

// Digests as SHA-256(subject || data), and remembers what it was asked.
class FakeCipher : public OwnerIdentityCipher {
 public:
  absl::Status Seal(std::string_view, std::string_view, v1::SealedText*) override {
    return absl::UnimplementedError("not used");
  }
  absl::Status Open(const v1::SealedText&, std::string*) const override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<std::string> Digest(std::string_view subject, std::string_view data) override {
    subjects.emplace_back(subject);
    if (erased.count(std::string(subject)) > 0) {
      return absl::FailedPreconditionError("the personal data was erased");
    }
    return rb::es::Sha256(std::string(subject) + std::string(data));
  }
  std::vector<std::string> subjects;
  std::set<std::string> erased;
};

v1::SiteCommand Heatwave() {
  v1::SiteCommand c = On("42");
  c.set_reason("canicule");
  c.mutable_set_heatwave()->set_active(true);
  return c;
}

std::string Fp(const v1::SiteCommand& c, const Actor& actor = Ctx().actor) {
  absl::StatusOr<std::string> fp = SiteCommandFingerprint(c, actor, 0, nullptr);
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *fp : "";
}

// The bytes are a promise: stored fingerprints must match a retry made by a later build.
TEST(CommandFingerprintTest, IsTheSha256OfTheDocumentedBytes) {
  // SHA-256("resorption.command-fingerprint.v1" lp("site") lp("u-1") lp("o-1") lp("local_admin")
  // lp(0a 02 "42" 2a 08 "canicule" 92 01 02 08 01)), computed independently.
  EXPECT_EQ(rb::es::ToHex(Fp(Heatwave())),
            "7ae14e6a29f86a99e385ca063d7a6bf4a230dfa8914c3694800ca862bd04d183");
}

TEST(CommandFingerprintTest, IgnoresTheCommandIdAndTheExpectedRevision) {
  v1::SiteCommand retry = Heatwave();
  retry.set_command_id("cmd-7");
  retry.set_expected_revision(12);
  EXPECT_EQ(Fp(retry), Fp(Heatwave()));
  // Nor the actor's options, nor the time of the try.
  Context later = Ctx(Role::kLocalAdmin, testing::Now() + 3'600'000'000);
  later.actor.options = {"access_justice"};
  EXPECT_EQ(Fp(Heatwave(), later.actor), Fp(Heatwave()));
}

TEST(CommandFingerprintTest, CoversTheCommandItsReasonValidDateAndActor) {
  std::set<std::string> seen = {Fp(Heatwave())};
  auto differs = [&](const std::string& fp, const char* what) {
    EXPECT_TRUE(seen.insert(fp).second) << what;
  };
  v1::SiteCommand c = Heatwave();
  c.mutable_set_heatwave()->set_active(false);
  differs(Fp(c), "body");
  c = Heatwave();
  c.mutable_close();
  differs(Fp(c), "another command");
  c = Heatwave();
  c.set_reason("autre raison");
  differs(Fp(c), "reason");
  c = Heatwave();
  c.set_valid_at_us(testing::Now());
  differs(Fp(c), "valid date");
  c = Heatwave();
  c.set_site_id("43");
  differs(Fp(c), "site");
  Actor actor = Ctx().actor;
  actor.user_id = "u-2";
  differs(Fp(Heatwave(), actor), "user");
  actor = Ctx().actor;
  actor.organisation_id = "o-2";
  differs(Fp(Heatwave(), actor), "organisation");
  differs(Fp(Heatwave(), Ctx(Role::kNationalAdmin).actor), "role");

  v1::ActionCommand a;
  a.set_action_id("42");
  a.set_reason("canicule");
  differs(ActionCommandFingerprint(a, Ctx().actor), "action");
  v1::ActionCommand b = a;
  b.set_command_id("cmd-7");
  b.set_expected_revision(3);
  EXPECT_EQ(ActionCommandFingerprint(b, Ctx().actor), ActionCommandFingerprint(a, Ctx().actor));
  b.set_reason("autre");
  EXPECT_NE(ActionCommandFingerprint(b, Ctx().actor), ActionCommandFingerprint(a, Ctx().actor));
}

// A command holding a non-public owner's name is digested under the site's owner key; others,
// and public owners' names, are not.
TEST(CommandFingerprintTest, CommandsHoldingOwnerNamesAreDigestedUnderTheOwnerKey) {
  FakeCipher cipher;
  v1::SiteCommand c = On("42");
  auto* update = c.mutable_update();
  update->mutable_site()->mutable_ownership()->set_owner_type(v1::OWNER_TYPE_PRIVATE);
  update->mutable_site()->mutable_ownership()->set_owner("Jeanne Propriétaire");
  update->mutable_update_mask()->add_paths("ownership");
  EXPECT_TRUE(HoldsPersonalOwnerName(c));

  absl::StatusOr<std::string> keyed = SiteCommandFingerprint(c, Ctx().actor, 0, &cipher);
  ASSERT_TRUE(keyed.ok()) << keyed.status();
  EXPECT_EQ(cipher.subjects, std::vector<std::string>{"site-42.owner"});
  EXPECT_NE(*keyed, Fp(c));
  EXPECT_EQ(*SiteCommandFingerprint(c, Ctx().actor, 0, &cipher), *keyed);
  // After an anonymisation, under the new generation's key.
  ASSERT_TRUE(SiteCommandFingerprint(c, Ctx().actor, 2, &cipher).ok());
  EXPECT_EQ(cipher.subjects.back(), "site-42.owner.2");
  // Once the key is destroyed, no fingerprint.
  cipher.erased.insert("site-42.owner");
  EXPECT_EQ(SiteCommandFingerprint(c, Ctx().actor, 0, &cipher).status().code(),
            absl::StatusCode::kFailedPrecondition);

  cipher.subjects.clear();
  update->mutable_site()->mutable_ownership()->set_owner_type(v1::OWNER_TYPE_PUBLIC);
  update->mutable_site()->mutable_ownership()->set_owner("Commune de Saint-Denis");
  EXPECT_FALSE(HoldsPersonalOwnerName(c));
  ASSERT_TRUE(SiteCommandFingerprint(c, Ctx().actor, 0, &cipher).ok());
  ASSERT_TRUE(SiteCommandFingerprint(Heatwave(), Ctx().actor, 0, &cipher).ok());
  EXPECT_TRUE(cipher.subjects.empty());
  EXPECT_EQ(*SiteCommandFingerprint(Heatwave(), Ctx().actor, 0, &cipher), Fp(Heatwave()));

  v1::SiteCommand declare = testing::Declare("7");
  auto* parcel =
      declare.mutable_declare()->mutable_site()->mutable_ownership()->add_parcel_owners();
  parcel->set_owner_type(v1::OWNER_TYPE_UNKNOWN);
  parcel->set_name("Inconnu Dupont");
  EXPECT_TRUE(HoldsPersonalOwnerName(declare));
  v1::SiteCommand correction = On("7");
  *correction.mutable_correct_retroactively()->mutable_update()->mutable_site() =
      declare.declare().site();
  EXPECT_TRUE(HoldsPersonalOwnerName(correction));
}

}  // namespace
}  // namespace rb::domain
