// Copyright: the Résorption-bidonvilles data service authors.
//
// Erasure that keeps the history verifiable (docs/access.md, section 8), on a real server over a
// real RocksDB directory: private owners' names are sealed with the site's owner key, the sweep
// anonymises them one year after the closure (injected clock), and afterwards no file of the data
// directory holds the names or the destroyed key, the hash chains verify, and every view reads
// "[anonymisé]". Also: nothing before one year, public owners never, on-request anonymisation by
// national administrators only, and users' personal data after six months of deactivation.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/subject_keys.h"
#include "domain/dates.h"
#include "domain/owner_identity.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"
#include "resorption/v1/admin_service.grpc.pb.h"
#include "resorption/v1/directory_service.grpc.pb.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "services/auth.h"
#include "tests/domain/test_util.h"
#include "tests/services/test_server.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using testing::Ctx;

constexpr char kPrivateOwner[] = "Sentinelle Proprietaire Qx7Kw";
constexpr char kPrivateParcelOwner[] = "Sentinelle Parcelle Zk9Pt";
constexpr char kPreviousOwner[] = "Sentinelle Ancien Wp3Lm";
constexpr char kPublicParcelOwner[] = "Commune de Testville";
constexpr char kPublicOwner[] = "Mairie Sentinelle Pb4Rs";

int64_t Micros(absl::CivilDay day) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(day) + 12 * 3600, absl::UTCTimeZone()));
}

// How the platform writes an erased owner name: "Anonymisé le 05/03/2027".
std::string AnonymisedOn(absl::CivilDay day) {
  return absl::StrFormat("Anonymisé le %02d/%02d/%04d", day.day(), day.month(), day.year());
}

// Sites are closed yesterday (the service's real clock refuses future dates); the sweep's clock
// is injected and moves a year on.
absl::CivilDay Yesterday() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - 1; }

std::unique_ptr<grpc::ClientContext> As(const std::string& user, const std::string& role) {
  auto ctx = Ctx();
  ctx->AddMetadata("x-actor-user", user);
  ctx->AddMetadata("x-actor-organisation", "dihal");
  ctx->AddMetadata("x-actor-role", role);
  return ctx;
}
std::unique_ptr<grpc::ClientContext> Admin() { return As("admin-1", "national_admin"); }

bool AppearsInDirectory(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

v1::Ownership PrivateOwnership(const std::string& owner) {
  v1::Ownership o;
  o.set_owner_type(v1::OWNER_TYPE_PRIVATE);
  o.set_owner(owner);
  v1::ParcelOwner* p = o.add_parcel_owners();
  p->set_name(kPrivateParcelOwner);
  p->set_owner_type(v1::OWNER_TYPE_PRIVATE);
  p->set_active(true);
  v1::ParcelOwner* q = o.add_parcel_owners();
  q->set_name(kPublicParcelOwner);
  q->set_owner_type(v1::OWNER_TYPE_PUBLIC);
  q->set_active(true);
  return o;
}

class OwnerErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sweep_now_.store(Micros(Yesterday()));
    ServerOptions o = testing::TestOptions(server_.data_dir());
    o.erasure.interval = absl::ZeroDuration();  // no background sweep: the test runs it
    o.erasure.now_us = [this] { return sweep_now_.load(); };
    server_.Restart(std::move(o));
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    sites_ = v1::Sites::NewStub(server_.channel());
    admin_ = v1::Admin::NewStub(server_.channel());
    directory_ = v1::Directory::NewStub(server_.channel());
  }

  // Declares `id` with `ownership`, then closes it on 2024-06-01.
  uint64_t DeclareAndClose(const std::string& id, const v1::Ownership& ownership,
                           const std::string& later_owner = "") {
    v1::DeclareSiteRequest declare;
    declare.set_site_id(id);
    *declare.mutable_command() = rb::domain::testing::Declare(id).declare();
    *declare.mutable_command()->mutable_site()->mutable_ownership() = ownership;
    v1::WriteResult w;
    grpc::Status s = sites_->DeclareSite(Admin().get(), declare, &w);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!later_owner.empty()) {
      v1::UpdateSiteRequest update;
      update.set_name("sites/" + id);
      *update.mutable_site()->mutable_ownership() = ownership;
      update.mutable_site()->mutable_ownership()->set_owner(later_owner);
      update.mutable_update_mask()->add_paths("ownership");
      s = sites_->UpdateSite(Admin().get(), update, &w);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    v1::CloseSiteRequest close;
    close.set_name("sites/" + id);
    *close.mutable_command()->mutable_closure() = rb::domain::testing::ValidClosure();
    *close.mutable_command()->mutable_closure()->mutable_closed_at() = rb::domain::ToDate(closed_);
    s = sites_->CloseSite(Admin().get(), close, &w);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return w.position();
  }

  // Runs the sweep `days` days after the closure.
  v1::ErasureSweepReport Sweep(int days) {
    sweep_now_.store(Micros(closed_ + days));
    v1::RunErasureSweepRequest req;
    v1::ErasureSweepReport report;
    grpc::Status s = admin_->RunErasureSweep(Admin().get(), req, &report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return report;
  }

  v1::Site GetSite(const std::string& id) {
    v1::GetSiteRequest get;
    get.set_name("sites/" + id);
    v1::Site site;
    grpc::Status s = sites_->GetSite(Admin().get(), get, &site);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return site;
  }

  // The site as the closed-site list shows it (waits for the view to include `position`).
  v1::Site Listed(const std::string& id, uint64_t position) {
    v1::ListSitesQuery q;
    q.set_min_position(position);
    q.mutable_request()->mutable_filter()->set_state(v1::SITE_STATE_FILTER_ALL);
    q.mutable_request()->set_include_site(true);
    v1::ListSitesResponse page;
    grpc::Status s = sites_->ListSites(Admin().get(), q, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& row : page.sites()) {
      if (row.id() == id) return row.site();
    }
    ADD_FAILURE() << "site " << id << " not listed";
    return {};
  }

  v1::Site AsOf(const std::string& id, const v1::Date& day, uint64_t position) {
    v1::GetSiteAsOfQuery q;
    q.set_name("sites/" + id);
    *q.mutable_valid_date() = day;
    q.set_min_position(position);
    v1::SiteAsOf out;
    grpc::Status s = sites_->GetSiteAsOf(Admin().get(), q, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.site();
  }

  v1::ChangeLog ChangeLog(const std::string& id) {
    v1::GetSiteChangeLogRequest req;
    req.set_name("sites/" + id);
    v1::ChangeLog log;
    grpc::Status s = sites_->GetSiteChangeLog(Admin().get(), req, &log);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return log;
  }

  const absl::CivilDay closed_ = Yesterday();
  std::atomic<int64_t> sweep_now_{0};
  testing::TestServer server_;
  std::unique_ptr<v1::Sites::Stub> sites_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Directory::Stub> directory_;
};

TEST_F(OwnerErasureTest, PrivateOwnerAnonymisedAYearAfterClosureLeavesNoPlaintextAndChainsHold) {
  const uint64_t closed_at =
      DeclareAndClose("priv", PrivateOwnership(kPreviousOwner), kPrivateOwner);
  DeclareAndClose("pub", [] {
    v1::Ownership o;
    o.set_owner_type(v1::OWNER_TYPE_PUBLIC);
    o.set_owner(kPublicOwner);
    return o;
  }());

  // Readers with owner access see the names; the log only holds them sealed.
  v1::Site before = GetSite("priv");
  EXPECT_EQ(before.ownership().owner(), kPrivateOwner);
  ASSERT_EQ(before.ownership().parcel_owners_size(), 2);
  EXPECT_EQ(before.ownership().parcel_owners(0).name(), kPrivateParcelOwner);
  EXPECT_FALSE(before.ownership().has_sealed_owner());
  EXPECT_EQ(Listed("priv", closed_at).ownership().owner(), kPrivateOwner);
  bool saw_previous = false;
  const v1::ChangeLog log_before = ChangeLog("priv");
  for (const auto& e : log_before.entries()) {
    for (const auto& c : e.changes()) {
      saw_previous |= c.new_value().find(kPreviousOwner) != std::string::npos;
    }
  }
  EXPECT_TRUE(saw_previous);
  absl::StatusOr<std::optional<std::string>> key = server_.server().store()->kv().Get(
      std::string(rb::access::kSubjectKeySpace), rb::domain::OwnerKeySubject("priv", 0));
  ASSERT_TRUE(key.ok() && key->has_value());
  const std::string key_bytes = **key;

  // One year (365 days) after the closure: nothing is erased yet.
  v1::ErasureSweepReport early = Sweep(365);
  EXPECT_EQ(early.anonymised_site_ids_size(), 0);
  EXPECT_EQ(GetSite("priv").ownership().owner(), kPrivateOwner);

  // Past the year: the private owner is anonymised, the public one is not.
  v1::ErasureSweepReport report = Sweep(367);
  ASSERT_EQ(report.anonymised_site_ids_size(), 1);
  EXPECT_EQ(report.anonymised_site_ids(0), "priv");
  EXPECT_EQ(Sweep(368).anonymised_site_ids_size(), 0);  // idempotent

  const std::string anonymised = AnonymisedOn(closed_ + 367);
  v1::Site after = GetSite("priv");
  EXPECT_EQ(after.ownership().owner(), anonymised);
  EXPECT_EQ(after.ownership().parcel_owners(0).name(), anonymised);
  EXPECT_EQ(after.ownership().parcel_owners(1).name(), kPublicParcelOwner);
  EXPECT_EQ(after.ownership().owner_type(), v1::OWNER_TYPE_PRIVATE);
  EXPECT_EQ(GetSite("pub").ownership().owner(), kPublicOwner);

  // The anonymisation is an event of the system, shown in the change log.
  v1::ReadStreamRequest read;
  read.set_stream_id("site-priv");
  read.set_direction(v1::DIRECTION_BACKWARD);
  read.set_limit(1);
  v1::ReadStreamResponse last;
  auto events = server_.EventStreamStub();
  grpc::Status rs = events->ReadStream(Admin().get(), read, &last);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  ASSERT_EQ(last.events_size(), 1);
  EXPECT_EQ(last.events(0).type(), "site.owner_identity_anonymised");
  EXPECT_EQ(last.events(0).metadata().actor_user(), "system");
  const uint64_t anonymised_at = last.events(0).position();

  bool saw_anonymisation = false;
  const v1::ChangeLog log_after = ChangeLog("priv");
  for (const auto& e : log_after.entries()) {
    for (const auto& c : e.changes()) {
      EXPECT_EQ(c.old_value().find(kPrivateOwner), std::string::npos);
      EXPECT_EQ(c.new_value().find(kPrivateOwner), std::string::npos);
      EXPECT_EQ(c.new_value().find(kPreviousOwner), std::string::npos);
      EXPECT_EQ(c.new_value().find(kPrivateParcelOwner), std::string::npos);
      if (e.event_types(0) == "site.owner_identity_anonymised") {
        saw_anonymisation = c.field_key() == "ownership.owner" && c.new_value() == anonymised;
        EXPECT_EQ(e.author_user_id(), "system");
      }
    }
  }
  EXPECT_TRUE(saw_anonymisation);
  EXPECT_EQ(Listed("priv", anonymised_at).ownership().owner(), anonymised);
  // The history before the anonymisation reads the erased names as anonymised too.
  v1::Site old = AsOf("priv", rb::domain::ToDate(closed_ + 2), anonymised_at);
  EXPECT_EQ(old.ownership().owner(), anonymised);
  ASSERT_EQ(old.ownership().parcel_owners_size(), 2);
  EXPECT_EQ(old.ownership().parcel_owners(0).name(), anonymised);
  EXPECT_EQ(old.ownership().parcel_owners(1).name(), kPublicParcelOwner);

  // Nothing left on disk: not the names, not the key. The chains still verify.
  server_.server().Shutdown();
  const std::string dir = server_.data_dir();
  EXPECT_FALSE(AppearsInDirectory(dir, kPrivateOwner));
  EXPECT_FALSE(AppearsInDirectory(dir, kPrivateParcelOwner));
  EXPECT_FALSE(AppearsInDirectory(dir, kPreviousOwner));
  EXPECT_FALSE(AppearsInDirectory(dir, key_bytes));
  EXPECT_TRUE(AppearsInDirectory(dir, "site.owner_identity_anonymised"));  // the scan sees the log
  EXPECT_TRUE(AppearsInDirectory(dir, kPublicOwner));  // public owners are not personal data

  auto reopened = rb::es::EventStore::Open({}, dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto verified = (*reopened)->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_GE(verified->events_checked, 8u);
}

TEST_F(OwnerErasureTest, UnknownOwnersAreKeptByTheSweepAndErasedOnRequestByNationalAdmins) {
  v1::Ownership unknown;
  unknown.set_owner_type(v1::OWNER_TYPE_UNKNOWN);
  unknown.set_owner(kPrivateOwner);
  DeclareAndClose("unk", unknown);
  EXPECT_EQ(Sweep(400).anonymised_site_ids_size(), 0);
  EXPECT_EQ(GetSite("unk").ownership().owner(), kPrivateOwner);

  v1::AnonymiseSiteOwnerRequest req;
  req.set_site_id("unk");
  req.set_reason("Demande du propriétaire");
  v1::AnonymiseSiteOwnerResponse resp;
  grpc::Status denied =
      admin_->AnonymiseSiteOwner(As("corres", "direct_collaborator").get(), req, &resp);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetSite("unk").ownership().owner(), kPrivateOwner);

  grpc::Status s = admin_->AnonymiseSiteOwner(Admin().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.anonymised());
  EXPECT_EQ(GetSite("unk").ownership().owner(), AnonymisedOn(closed_ + 400));  // the sweep's day
  s = admin_->AnonymiseSiteOwner(Admin().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resp.anonymised());  // nothing left

  req.set_site_id("nowhere");
  EXPECT_EQ(admin_->AnonymiseSiteOwner(Admin().get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);

  server_.server().Shutdown();
  EXPECT_FALSE(AppearsInDirectory(server_.data_dir(), kPrivateOwner));
  auto reopened = rb::es::EventStore::Open({}, server_.data_dir());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->Verify().ok());
}

TEST_F(OwnerErasureTest, OwnerNamesOfAnOpenSiteStaySealedAndReadersWithoutOwnerAccessSeeNone) {
  v1::DeclareSiteRequest declare;
  declare.set_site_id("open");
  *declare.mutable_command() = rb::domain::testing::Declare("open").declare();
  *declare.mutable_command()->mutable_site()->mutable_ownership() = PrivateOwnership(kPrivateOwner);
  v1::WriteResult w;
  ASSERT_TRUE(sites_->DeclareSite(Admin().get(), declare, &w).ok());
  // An unchanged ownership is no change (the folded state compares the names in clear).
  v1::UpdateSiteRequest same;
  same.set_name("sites/open");
  *same.mutable_site()->mutable_ownership() = PrivateOwnership(kPrivateOwner);
  same.mutable_update_mask()->add_paths("ownership");
  ASSERT_TRUE(sites_->UpdateSite(Admin().get(), same, &w).ok());
  EXPECT_EQ(w.outcome(), v1::WriteResult::OUTCOME_NO_CHANGE);

  v1::GetSiteRequest get;
  get.set_name("sites/open");
  v1::Site site;
  ASSERT_TRUE(sites_->GetSite(As("partner", "collaborator").get(), get, &site).ok());
  EXPECT_TRUE(site.ownership().owner().empty());
  EXPECT_FALSE(site.ownership().has_sealed_owner());
  for (const auto& p : site.ownership().parcel_owners()) {
    EXPECT_TRUE(p.name().empty());
    EXPECT_FALSE(p.has_sealed_name());
  }
  server_.server().Shutdown();
  EXPECT_FALSE(AppearsInDirectory(server_.data_dir(), kPrivateOwner));
  EXPECT_FALSE(AppearsInDirectory(server_.data_dir(), kPrivateParcelOwner));
}

TEST_F(OwnerErasureTest, UsersDeactivatedForSixMonthsAreErasedBySweep) {
  v1::CreateOrganisationRequest org;
  org.set_organisation_id("asso");
  org.set_name("Association du 93");
  org.set_category(v1::ORGANISATION_CATEGORY_ASSOCIATION);
  org.add_territories()->set_level(v1::SCOPE_LEVEL_NATION);
  v1::Organisation created;
  grpc::Status s = directory_->CreateOrganisation(Admin().get(), org, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (const char* id : {"gone", "recent", "active"}) {
    v1::CreateUserRequest user;
    user.set_user_id(id);
    user.set_organisation_id("asso");
    user.set_role(v1::USER_ROLE_ASSOCIATION);
    user.mutable_personal_data()->set_email(std::string(id) + ".sentinel-q8@example.org");
    user.mutable_personal_data()->set_last_name(std::string("Sentinelle") + id);
    v1::User u;
    s = directory_->CreateUser(Admin().get(), user, &u);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  v1::SetUserStatusRequest off;
  off.set_user_id("gone");
  off.set_active(false);
  off.set_reason("départ");
  v1::User u;
  ASSERT_TRUE(directory_->SetUserStatus(Admin().get(), off, &u).ok());

  // The deactivation is recorded now (store clock); the sweep's clock moves on.
  const absl::Time now = absl::Now();
  sweep_now_.store(absl::ToUnixMicros(now + absl::Hours(24 * 30)));
  v1::ErasureSweepReport report;
  ASSERT_TRUE(admin_->RunErasureSweep(Admin().get(), {}, &report).ok());
  EXPECT_EQ(report.erased_user_ids_size(), 0);

  sweep_now_.store(absl::ToUnixMicros(now + absl::Hours(24 * 190)));
  v1::RunErasureSweepRequest dry;
  dry.set_dry_run(true);
  ASSERT_TRUE(admin_->RunErasureSweep(Admin().get(), dry, &report).ok());
  ASSERT_EQ(report.erased_user_ids_size(), 1);
  v1::ListUsersRequest list;
  v1::ListUsersResponse users;
  ASSERT_TRUE(directory_->ListUsers(Admin().get(), list, &users).ok());
  for (const auto& x : users.users()) EXPECT_FALSE(x.erased()) << x.id();  // dry run

  ASSERT_TRUE(admin_->RunErasureSweep(Admin().get(), {}, &report).ok());
  ASSERT_EQ(report.erased_user_ids_size(), 1);
  EXPECT_EQ(report.erased_user_ids(0), "gone");
  ASSERT_TRUE(directory_->ListUsers(Admin().get(), list, &users).ok());
  for (const auto& x : users.users()) EXPECT_EQ(x.erased(), x.id() == "gone") << x.id();

  server_.server().Shutdown();
  EXPECT_FALSE(AppearsInDirectory(server_.data_dir(), "gone.sentinel-q8"));
  EXPECT_FALSE(AppearsInDirectory(server_.data_dir(), "Sentinellegone"));
  auto reopened = rb::es::EventStore::Open({}, server_.data_dir());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// Accounts without a sign-in for six months are deactivated by the sweep (reference §4.4, RGPD
// 2025-06: "account deactivated 6 months after last login"); a sign-in is a call authenticated by
// one of the user's tokens. One injected clock drives authentication and the sweep.
class InactiveAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_.store(absl::ToUnixMicros(absl::Now()));
    ServerOptions o = testing::TestOptions(server_.data_dir());
    o.auth.mode = AuthMode::kRequired;
    o.auth.now_us = [this] { return now_.load(); };
    o.erasure.interval = absl::ZeroDuration();
    o.erasure.now_us = [this] { return now_.load(); };
    server_.Restart(std::move(o));
    ASSERT_TRUE(server_.status().ok()) << server_.status();
    sites_ = v1::Sites::NewStub(server_.channel());
    admin_ = v1::Admin::NewStub(server_.channel());
    directory_ = v1::Directory::NewStub(server_.channel());
    std::ifstream in(server_.data_dir() + "/bootstrap-admin.token");
    std::getline(in, admin_token_);
    ASSERT_EQ(admin_token_.size(), 64u);
  }

  std::unique_ptr<grpc::ClientContext> With(const std::string& token) {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  std::string NewUser(const std::string& id) {
    v1::CreateUserRequest r;
    r.set_user_id(id);
    r.set_organisation_id("asso");
    r.set_role(v1::USER_ROLE_ASSOCIATION);
    r.mutable_personal_data()->set_email(id + "@example.org");
    r.set_activate(true);
    v1::User user;
    grpc::Status s = directory_->CreateUser(With(admin_token_).get(), r, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::IssueTokenRequest req;
    req.set_user_id(id);
    req.set_ttl_seconds(int64_t{2} * 365 * 86400);  // outlives the test's year
    v1::IssueTokenResponse resp;
    s = directory_->IssueToken(With(admin_token_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token();
  }

  // Any call signs in: the status only tells whether the token was accepted.
  bool SignsIn(const std::string& token) {
    v1::ListSitesQuery q;
    v1::ListSitesResponse resp;
    return sites_->ListSites(With(token).get(), q, &resp).error_code() !=
           grpc::StatusCode::UNAUTHENTICATED;
  }

  v1::ErasureSweepReport Sweep(bool dry_run) {
    v1::RunErasureSweepRequest req;
    req.set_dry_run(dry_run);
    v1::ErasureSweepReport report;
    grpc::Status s = admin_->RunErasureSweep(With(admin_token_).get(), req, &report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return report;
  }

  void AdvanceDays(int days) { now_.fetch_add(int64_t{days} * 86'400'000'000); }

  std::atomic<int64_t> now_{0};
  testing::TestServer server_;
  std::unique_ptr<v1::Sites::Stub> sites_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::string admin_token_;
};

TEST_F(InactiveAccountsTest, AccountsWithoutSignInForSixMonthsAreDeactivated) {
  v1::CreateOrganisationRequest org;
  org.set_organisation_id("asso");
  org.set_name("Association du 93");
  org.set_category(v1::ORGANISATION_CATEGORY_ASSOCIATION);
  org.add_territories()->set_level(v1::SCOPE_LEVEL_NATION);
  v1::Organisation created;
  ASSERT_TRUE(directory_->CreateOrganisation(With(admin_token_).get(), org, &created).ok());
  const std::string idle = NewUser("idle");
  const std::string busy = NewUser("busy");
  ASSERT_TRUE(SignsIn(idle));
  ASSERT_TRUE(SignsIn(busy));

  AdvanceDays(100);
  ASSERT_TRUE(SignsIn(busy));
  EXPECT_EQ(Sweep(false).deactivated_user_ids_size(), 0);

  AdvanceDays(90);  // day 190: "idle" last signed in 190 days ago, "busy" 90 days ago
  v1::ErasureSweepReport dry = Sweep(true);
  ASSERT_EQ(dry.deactivated_user_ids_size(), 1);
  EXPECT_EQ(dry.deactivated_user_ids(0), "idle");
  EXPECT_TRUE(SignsIn(idle));  // a dry run changes nothing... and this call is a sign-in

  AdvanceDays(184);  // day 374: 184 days after the sign-in above for "idle", 274 for "busy"
  v1::ErasureSweepReport report = Sweep(false);
  ASSERT_EQ(report.deactivated_user_ids_size(), 2);
  EXPECT_EQ(report.deactivated_user_ids(0), "busy");
  EXPECT_EQ(report.deactivated_user_ids(1), "idle");
  EXPECT_FALSE(SignsIn(idle));
  EXPECT_FALSE(SignsIn(busy));
  EXPECT_TRUE(SignsIn(admin_token_));  // the built-in administrator is exempt

  v1::ListUsersRequest list;
  v1::ListUsersResponse users;
  ASSERT_TRUE(directory_->ListUsers(With(admin_token_).get(), list, &users).ok());
  for (const auto& u : users.users()) {
    if (u.id() == "idle" || u.id() == "busy") {
      EXPECT_EQ(u.status(), v1::USER_STATUS_INACTIVE) << u.id();
    }
  }
  EXPECT_EQ(Sweep(false).deactivated_user_ids_size(), 0);  // once
}

}  // namespace
}  // namespace rb::services
