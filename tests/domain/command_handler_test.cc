#include "domain/command_handler.h"

#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "domain/command_fingerprint.h"
#include "domain/events.h"
#include "domain/violations.h"
#include "eventstore/event_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/domain/test_util.h"
#include "tests/testing/temp_dir.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using google::protobuf::util::MessageDifferencer;
using testing::Ctx;
using testing::Declare;
using testing::Now;
using testing::On;

class CommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rb::es::Options options;
    options.sync = false;
    auto store = rb::es::EventStore::Open(options, dir_.path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    handler_ =
        std::make_unique<CommandHandler>(store_.get(), CommandHandlerOptions{.cache_capacity = 4});
  }

  // Folds a site straight from the log, without any cache, by the views' rule (valid order).
  v1::Site FoldFromLog(const std::string& id) {
    auto events = store_->ReadStream(SiteStreamId(id), 0, rb::es::Direction::kForward, 100000);
    EXPECT_TRUE(events.ok());
    std::vector<LoggedSiteEvent> logged;
    for (const auto& r : *events) {
      auto e = DecodeSiteEvent(r);
      EXPECT_TRUE(e.ok()) << e.status();
      logged.push_back({r.position, *e});
    }
    return FoldSiteInValidOrder(std::move(logged));
  }

  // Records `people` on the site, valid at `valid_at_us` (a correction when `reason` is set).
  absl::StatusOr<CommandResult> Count(int people, int64_t valid_at_us, std::string reason = "") {
    auto c = On("1");
    c.set_valid_at_us(valid_at_us);
    if (reason.empty()) {
      c.mutable_record_population()->mutable_population()->set_total(people);
    } else {
      c.set_reason(reason);
      auto* u = c.mutable_correct_retroactively()->mutable_update();
      u->mutable_site()->mutable_population()->set_total(people);
      u->mutable_update_mask()->add_paths("population");
    }
    return handler_->HandleSite(c, Ctx(rb::domain::Role::kLocalAdmin, Now()));
  }

  rb::testing::TempDir dir_;
  std::unique_ptr<rb::es::EventStore> store_;
  std::unique_ptr<CommandHandler> handler_;
};

TEST_F(CommandHandlerTest, DeclarationAppendsToTheSiteStreamWithActorAndReason) {
  auto cmd = Declare("42");
  cmd.set_reason("signalement de la mairie");
  auto r = handler_->HandleSite(cmd, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  EXPECT_EQ(r->revision, 0);
  EXPECT_EQ(r->event_types, std::vector<std::string>{"site.declared"});
  auto events = store_->ReadStream("site-42", 0, rb::es::Direction::kForward, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].metadata.actor_user, "u-1");
  EXPECT_EQ((*events)[0].metadata.actor_role, "local_admin");
  EXPECT_EQ((*events)[0].metadata.reason, "signalement de la mairie");
  EXPECT_EQ((*events)[0].valid_at_us, Now());
  EXPECT_EQ((*events)[0].position, r->first_position);
}

TEST_F(CommandHandlerTest, ARetroactiveCorrectionChangesThePastNotTheCurrentSite) {
  const int64_t day = int64_t{86400} * 1000000;
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx(Role::kLocalAdmin, Now() - 30 * day)).ok());
  ASSERT_TRUE(Count(40, Now() - 20 * day).ok());
  ASSERT_TRUE(Count(50, Now()).ok());

  // 45 from ten days ago: appended; today's count stays the current one.
  auto r = Count(45, Now() - 10 * day, "recomptage");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  auto s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->population().total(), 50);
  EXPECT_EQ(s->updated_at_us(), Now());
  CommandHandler fresh(store_.get());
  auto reloaded = fresh.LoadSite("1");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*reloaded, *s));
  EXPECT_TRUE(MessageDifferencer::Equals(FoldFromLog("1"), *s));

  // Decided against the site on the corrected date: 45 then is no change; 50 then (today's
  // value, but 40 fifteen days ago) is one.
  r = Count(45, Now() - 10 * day, "recomptage");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kNoChange);
  r = Count(50, Now() - 15 * day, "recomptage");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->population().total(), 50);
  EXPECT_TRUE(MessageDifferencer::Equals(FoldFromLog("1"), *s));

  // Before the declaration: refused.
  r = Count(10, Now() - 40 * day, "recomptage");
  EXPECT_TRUE(HasViolation(r.status(), "correction.before_declaration")) << r.status();
}

// Journal commands are dated when they are made: a moderation or an erasure that names an earlier
// date still applies to everything recorded before it.
TEST_F(CommandHandlerTest, JournalCommandsApplyToEverythingRecordedBeforeThem) {
  const int64_t day = int64_t{86400} * 1000000;
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx(Role::kLocalAdmin, Now() - 30 * day)).ok());
  auto post = On("1");
  post.mutable_post_comment()->set_text("Propos injurieux");
  ASSERT_TRUE(handler_->HandleSite(post, Ctx(Role::kLocalAdmin, Now() - 5 * day)).ok());
  auto s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->comments_size(), 1);
  auto moderate = On("1");
  moderate.set_valid_at_us(Now() - 10 * day);
  moderate.mutable_moderate_comment()->set_comment_id(s->comments(0).id());
  moderate.mutable_moderate_comment()->set_reason("injurieux");
  auto r = handler_->HandleSite(moderate, Ctx(Role::kNationalAdmin, Now() - 4 * day));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->comments(0).moderated());
  EXPECT_EQ(s->comments(0).text(), "");

  ASSERT_TRUE(Count(40, Now() - 3 * day).ok());
  auto erase = On("1");
  erase.set_valid_at_us(Now() - 10 * day);
  erase.mutable_erase()->set_reason("doublon");
  ASSERT_TRUE(handler_->HandleSite(erase, Ctx(Role::kNationalAdmin, Now())).ok());
  s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status(), v1::SITE_STATUS_ERASED);
  EXPECT_FALSE(s->population().has_total());
  EXPECT_TRUE(MessageDifferencer::Equals(FoldFromLog("1"), *s));
}

// An ordinary update may not be dated before the site's latest event, even one that is not an
// update (here an owner anonymisation): only an explicit correction changes the past.
TEST_F(CommandHandlerTest, AnUpdateMayNotPrecedeTheLatestEventOfAnyKind) {
  const int64_t day = int64_t{86400} * 1000000;
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx(Role::kLocalAdmin, Now() - 30 * day)).ok());
  auto owner = [&](const std::string& name, int64_t valid_at_us) {
    auto c = On("1");
    c.set_valid_at_us(valid_at_us);
    auto* u = c.mutable_update();
    u->mutable_site()->mutable_ownership()->set_owner_type(v1::OWNER_TYPE_PRIVATE);
    u->mutable_site()->mutable_ownership()->set_owner(name);
    u->mutable_update_mask()->add_paths("ownership");
    return handler_->HandleSite(c, Ctx(Role::kNationalAdmin, Now()));
  };
  ASSERT_TRUE(owner("Dupont", Now() - 20 * day).ok());
  auto anonymise = On("1");
  anonymise.mutable_anonymise_owner()->set_rule("on_request");
  auto r = handler_->HandleSite(anonymise, Ctx(Role::kNationalAdmin, Now() - 5 * day));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  // Between the last update (-20 days) and the anonymisation (-5 days): refused.
  r = owner("Martin", Now() - 10 * day);
  EXPECT_TRUE(HasViolation(r.status(), "valid_at.not_before_last_update")) << r.status();
  // Nor may a correction bring an owner's name back before the anonymisation (it could never be
  // erased); a correction of another part may.
  auto correct_owner = On("1");
  correct_owner.set_valid_at_us(Now() - 10 * day);
  correct_owner.set_reason("propriétaire oublié");
  auto* u = correct_owner.mutable_correct_retroactively()->mutable_update();
  u->mutable_site()->mutable_ownership()->set_owner_type(v1::OWNER_TYPE_PRIVATE);
  u->mutable_site()->mutable_ownership()->set_owner("Martin");
  u->mutable_update_mask()->add_paths("ownership");
  r = handler_->HandleSite(correct_owner, Ctx(Role::kNationalAdmin, Now()));
  EXPECT_TRUE(HasViolation(r.status(), "correction.owner_before_anonymisation")) << r.status();
  r = Count(12, Now() - 10 * day, "comptage oublié");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kAppended);
  r = owner("Martin", Now());
  ASSERT_TRUE(r.ok()) << r.status();
  auto s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ownership().owner(), "Martin");
}

TEST_F(CommandHandlerTest, StaleExpectedRevisionIsAbortedWithTheCurrentRevision) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  auto c = On("1");
  c.mutable_set_heatwave()->set_active(true);
  c.set_expected_revision(0);
  ASSERT_TRUE(handler_->HandleSite(c, Ctx()).ok());
  c.mutable_set_heatwave()->set_active(false);
  auto r = handler_->HandleSite(c, Ctx());  // still expects 0
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(rb::es::CurrentRevisionFrom(r.status()), 1);
}

TEST_F(CommandHandlerTest, RetryWithTheSameCommandIdReturnsTheFirstResult) {
  auto cmd = Declare("1");
  cmd.set_command_id("cmd-1");
  auto first = handler_->HandleSite(cmd, Ctx());
  ASSERT_TRUE(first.ok());
  const uint64_t head = store_->GetHead().position;
  auto again = handler_->HandleSite(cmd, Ctx());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, CommandResult::Outcome::kReplayed);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(again->revision, first->revision);
  // Also for a fresh handler (after a restart): the command id is found in the log.
  CommandHandler restarted(store_.get());
  auto third = restarted.HandleSite(cmd, Ctx());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->outcome, CommandResult::Outcome::kReplayed);
  EXPECT_EQ(store_->GetHead().position, head);

  // The site moved on: a retry naming the revision it read then, or the one it reads now, is
  // still the same command.
  auto heatwave = On("1");
  heatwave.set_command_id("cmd-heatwave");
  heatwave.set_expected_revision(0);
  heatwave.mutable_set_heatwave()->set_active(true);
  auto raised = handler_->HandleSite(heatwave, Ctx());
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_EQ(raised->outcome, CommandResult::Outcome::kAppended);
  ASSERT_TRUE(Count(30, Now()).ok());
  const uint64_t later = store_->GetHead().position;
  for (uint64_t expected : {uint64_t{0}, uint64_t{2}}) {
    heatwave.set_expected_revision(expected);
    auto retry = handler_->HandleSite(heatwave, Ctx());
    ASSERT_TRUE(retry.ok()) << retry.status();
    EXPECT_EQ(retry->outcome, CommandResult::Outcome::kReplayed);
    EXPECT_EQ(retry->first_position, raised->first_position);
    EXPECT_EQ(retry->revision, raised->revision);
  }
  EXPECT_EQ(store_->GetHead().position, later);
}

// The defect this guards against: a set_heatwave sent with the command id of an earlier close
// came back as that close, "replayed", and the heatwave change was silently dropped.
TEST_F(CommandHandlerTest, ACommandIdReusedForADifferentCommandIsRefusedAndAppendsNothing) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  ASSERT_TRUE(handler_->HandleSite(Declare("2"), Ctx()).ok());
  auto close = On("1");
  close.set_command_id("cmd-close");
  *close.mutable_close()->mutable_closure() = testing::ValidClosure();
  auto closed = handler_->HandleSite(close, Ctx());
  ASSERT_TRUE(closed.ok()) << closed.status();
  ASSERT_EQ(closed->outcome, CommandResult::Outcome::kAppended);
  const uint64_t head = store_->GetHead().position;
  const std::string refusal =
      absl::StrCat("command_id: already used for a different command (first used at position ",
                   closed->first_position, "); use a new command id");

  auto heatwave = On("1");
  heatwave.set_command_id("cmd-close");
  heatwave.mutable_set_heatwave()->set_active(true);
  auto other_actor = Ctx();
  other_actor.actor.user_id = "u-2";
  auto other_reason = close;
  other_reason.set_reason("autre chose");
  auto other_site = heatwave;
  other_site.set_site_id("2");
  CommandHandler restarted(store_.get());
  struct Case {
    const char* what;
    CommandHandler* handler;
    v1::SiteCommand command;
    Context ctx;
  };
  for (const Case& c : std::vector<Case>{
           {"another command", handler_.get(), heatwave, Ctx()},
           {"another command, after a restart", &restarted, heatwave, Ctx()},
           {"the same command from another user", handler_.get(), close, other_actor},
           {"the same command with another reason", handler_.get(), other_reason, Ctx()},
           {"a command on another site", handler_.get(), other_site, Ctx()},
       }) {
    auto r = c.handler->HandleSite(c.command, c.ctx);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << c.what << ": " << r.status();
    EXPECT_EQ(r.status().message(), refusal) << c.what;
    EXPECT_EQ(rb::es::ReusedCommandPositionFrom(r.status()), closed->first_position) << c.what;
    EXPECT_EQ(store_->GetHead().position, head) << c.what;
  }
  auto site = handler_->LoadSite("1");
  ASSERT_TRUE(site.ok());
  EXPECT_FALSE(site->heatwave());
  auto again = handler_->HandleSite(close, Ctx());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, CommandResult::Outcome::kReplayed);
  EXPECT_EQ(again->first_position, closed->first_position);

  // Asynchronous commands race: the second one under the id is decided before the first is
  // durable, or after; either way one command is appended once.
  for (bool same : {true, false}) {
    const std::string id = same ? "cmd-race-same" : "cmd-race-other";
    auto first = On("2");
    first.set_command_id(id);
    first.mutable_set_heatwave()->set_active(same);
    auto second = first;
    if (!same) second.mutable_record_population()->mutable_population()->set_total(7);
    const uint64_t before = store_->GetHead().position;
    absl::Mutex mu;
    std::vector<absl::StatusOr<CommandResult>> results;
    auto done = [&](absl::StatusOr<CommandResult> r) {
      absl::MutexLock lock(&mu);
      results.push_back(std::move(r));
    };
    handler_->HandleSiteAsync(first, Ctx(), done);
    handler_->HandleSiteAsync(second, Ctx(), done);
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<absl::StatusOr<CommandResult>>* v) { return v->size() == 2; }, &results));
    int appended = 0, replayed = 0, refused = 0;
    for (const auto& r : results) {
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
        ++refused;
      } else if (r->outcome == CommandResult::Outcome::kAppended) {
        ++appended;
      } else if (r->outcome == CommandResult::Outcome::kReplayed) {
        ++replayed;
        EXPECT_TRUE(r->event_types.empty());
      }
    }
    EXPECT_EQ(appended, 1) << id;
    EXPECT_EQ(replayed, same ? 1 : 0) << id;
    EXPECT_EQ(refused, same ? 0 : 1) << id;
    EXPECT_EQ(store_->GetHead().position, before + 1) << id;
  }
  EXPECT_TRUE(store_->Verify().ok());
}

// Events appended before commands were fingerprinted carry none in their command record: a
// repeat of such an id replays its first result, as it always did.
TEST_F(CommandHandlerTest, ACommandIdFromBeforeFingerprintsStillReplays) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  // What the handler appended then: the events and the command id, no command fingerprint.
  v1::SiteEvent raised;
  raised.set_valid_at_us(Now());
  raised.mutable_heatwave_alert_raised();
  rb::es::AppendRequest old;
  old.stream_id = "site-1";
  old.expected = rb::es::ExpectedRevision::Exactly(0);
  old.command_id = "legacy-heatwave";
  old.metadata.actor_user = "u-1";
  old.metadata.actor_organisation = "o-1";
  old.metadata.actor_role = "local_admin";
  old.metadata.command_id = old.command_id;
  auto data = EncodeSiteEvent(raised);
  ASSERT_TRUE(data.ok());
  old.events.push_back(*data);
  auto first = store_->Append(old);
  ASSERT_TRUE(first.ok()) << first.status();
  auto record = store_->GetCommand("legacy-heatwave");
  ASSERT_TRUE(record.ok() && record->has_value());
  ASSERT_EQ((*record)->kind, rb::es::CommandRecord::FingerprintKind::kAppend);
  const uint64_t head = store_->GetHead().position;

  auto heatwave = On("1");
  heatwave.set_command_id("legacy-heatwave");
  heatwave.mutable_set_heatwave()->set_active(true);
  CommandHandler restarted(store_.get());
  for (CommandHandler* h : {handler_.get(), &restarted}) {
    auto r = h->HandleSite(heatwave, Ctx());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->outcome, CommandResult::Outcome::kReplayed);
    EXPECT_EQ(r->first_position, first->first_position);
    EXPECT_EQ(r->revision, 1);
  }
  // Nothing to compare another command with on that stream: replayed too, as before.
  auto lifted = heatwave;
  lifted.mutable_set_heatwave()->set_active(false);
  auto r = handler_->HandleSite(lifted, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kReplayed);
  EXPECT_EQ(store_->GetHead().position, head);
  // On another stream, the old record's content decides: refused.
  ASSERT_TRUE(handler_->HandleSite(Declare("2"), Ctx()).ok());
  auto elsewhere = heatwave;
  elsewhere.set_site_id("2");
  EXPECT_EQ(handler_->HandleSite(elsewhere, Ctx()).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// Seals as the subject followed by the name, digests as SHA-256(subject || data); a subject in
// `erased` has no key.
class FakeOwnerKeys : public OwnerIdentityCipher {
 public:
  absl::Status Seal(std::string_view subject, std::string_view clear,
                    v1::SealedText* out) override {
    out->set_subject(std::string(subject));
    out->set_sealed(std::string(clear));
    return absl::OkStatus();
  }
  absl::Status Open(const v1::SealedText& sealed, std::string* clear) const override {
    if (erased.count(sealed.subject()) > 0) return absl::FailedPreconditionError("erased");
    *clear = sealed.sealed();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Digest(std::string_view subject, std::string_view data) override {
    if (erased.count(std::string(subject)) > 0) {
      return absl::FailedPreconditionError("the personal data of the site's owners was erased");
    }
    return rb::es::Sha256("key of " + std::string(subject) + ":" + std::string(data));
  }
  std::set<std::string> erased;
};

TEST_F(CommandHandlerTest, CommandsHoldingOwnerNamesAreRecognisedByTheirKeyedFingerprint) {
  FakeOwnerKeys keys;
  CommandHandler handler(store_.get(), CommandHandlerOptions{.owner_cipher = &keys});
  auto declare = Declare("1");
  declare.set_command_id("cmd-declare");
  auto* ownership = declare.mutable_declare()->mutable_site()->mutable_ownership();
  ownership->set_owner_type(v1::OWNER_TYPE_PRIVATE);
  ownership->set_owner("Jeanne Propriétaire");
  auto first = handler.HandleSite(declare, Ctx());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outcome, CommandResult::Outcome::kAppended);
  const uint64_t head = store_->GetHead().position;
  auto record = store_->GetCommand("cmd-declare");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->kind, rb::es::CommandRecord::FingerprintKind::kCommand);
  EXPECT_EQ((*record)->fingerprint, *SiteCommandFingerprint(declare, Ctx().actor, 0, &keys));
  EXPECT_NE((*record)->fingerprint, *SiteCommandFingerprint(declare, Ctx().actor, 0, nullptr));

  auto again = handler.HandleSite(declare, Ctx());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, CommandResult::Outcome::kReplayed);
  auto other = declare;
  other.mutable_declare()->mutable_site()->mutable_ownership()->set_owner("Paul Propriétaire");
  EXPECT_EQ(handler.HandleSite(other, Ctx()).status().code(), absl::StatusCode::kAlreadyExists);

  // Once the owner key is destroyed, the names cannot be compared any more.
  keys.erased.insert("site-1.owner");
  auto after = handler.HandleSite(declare, Ctx());
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(after.status().message()),
              ::testing::HasSubstr("command_id: already used (first used at position 1), and "
                                   "this command's owner names can no longer be compared"));
  EXPECT_EQ(store_->GetHead().position, head);
}

TEST_F(CommandHandlerTest, CommandThatChangesNothingAppendsNothing) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  const uint64_t head = store_->GetHead().position;
  auto c = On("1");
  c.mutable_set_heatwave()->set_active(false);
  auto r = handler_->HandleSite(c, Ctx());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kNoChange);
  EXPECT_EQ(r->revision, 0);
  EXPECT_EQ(store_->GetHead().position, head);
}

TEST_F(CommandHandlerTest, AnotherWriterIsSeenBeforeDeciding) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  CommandHandler other(store_.get());
  auto c = On("1");
  c.mutable_set_heatwave()->set_active(true);
  ASSERT_TRUE(other.HandleSite(c, Ctx()).ok());
  auto r = handler_->HandleSite(c, Ctx());  // cached state is stale; the handler catches up
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CommandResult::Outcome::kNoChange);
  auto s = handler_->LoadSite("1");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->heatwave());
}

// The caller's check runs on the state the command is decided on, brought up to date with
// another writer's events; its error is returned and nothing is appended.
TEST_F(CommandHandlerTest, CheckRunsOnTheStateDecidedOnAndItsErrorAppendsNothing) {
  ASSERT_TRUE(handler_->HandleSite(Declare("1"), Ctx()).ok());
  CommandHandler other(store_.get());
  auto heat = On("1");
  heat.mutable_set_heatwave()->set_active(true);
  ASSERT_TRUE(other.HandleSite(heat, Ctx()).ok());  // the handler's cached state is now stale
  const uint64_t head = store_->GetHead().position;

  auto cool = On("1");
  cool.mutable_set_heatwave()->set_active(false);
  bool seen_heatwave = false;
  std::optional<absl::StatusOr<CommandResult>> out;
  handler_->HandleSiteAsync(
      cool, Ctx(), [&](absl::StatusOr<CommandResult> r) { out = std::move(r); },
      [&](const v1::Site& site, const v1::SiteCommand& command) {
        seen_heatwave = site.heatwave();
        EXPECT_TRUE(command.has_set_heatwave());
        return absl::PermissionDeniedError("not in your territory");
      });
  ASSERT_TRUE(out.has_value());  // refused before any append: on this thread
  EXPECT_EQ(out->status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(seen_heatwave);
  EXPECT_EQ(store_->GetHead().position, head);

  // An accepting check lets the command through.
  std::optional<absl::StatusOr<CommandResult>> done;
  absl::Mutex mu;
  handler_->HandleSiteAsync(
      cool, Ctx(),
      [&](absl::StatusOr<CommandResult> r) {
        absl::MutexLock lock(&mu);
        done = std::move(r);
      },
      [](const v1::Site&, const v1::SiteCommand&) { return absl::OkStatus(); });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](std::optional<absl::StatusOr<CommandResult>>* d) { return d->has_value(); }, &done));
  ASSERT_TRUE(done->ok()) << done->status();
  EXPECT_EQ((*done)->outcome, CommandResult::Outcome::kAppended);
  EXPECT_FALSE(FoldFromLog("1").heatwave());
}

TEST_F(CommandHandlerTest, ActionsHaveTheirOwnStreams) {
  auto r = handler_->HandleAction(testing::CreateAction("7"), Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  auto a = handler_->LoadAction("7");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status(), v1::ACTION_STATUS_OPEN);
  auto info = store_->GetStreamInfo("action-7");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->exists);
}

// Long random sequences of valid and invalid commands over many sites: the log and the handler
// always agree, and a refused command never touches the log.
TEST_F(CommandHandlerTest, RandomCommandSequencesKeepLogAndStateConsistent) {
  std::mt19937 rng(20240615);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  constexpr int kSites = 12;
  int64_t now = Now();
  int appended = 0, refused = 0, unchanged = 0;
  for (int step = 0; step < 1500; ++step) {
    now += 3600LL * 1000000;
    const std::string id = std::to_string(pick(kSites));
    Role role = pick(10) == 0 ? Role::kExternalObserver
                              : (pick(4) == 0 ? Role::kNationalAdmin : Role::kLocalAdmin);
    Context ctx = Ctx(role, now);
    v1::SiteCommand c = On(id);
    switch (pick(10)) {
      case 0:
        c = Declare(id);
        if (pick(3) == 0) c.mutable_declare()->mutable_site()->set_name(std::string(40, 'x'));
        break;
      case 1: {
        auto* p = c.mutable_record_population()->mutable_population();
        p->set_total(pick(50));
        p->set_households(pick(30));
        p->set_minors(pick(30));
        break;
      }
      case 2:
        c.mutable_set_heatwave()->set_active(pick(2) == 0);
        break;
      case 3:
        c.mutable_post_comment()->set_text(pick(4) == 0 ? "" : "Passage sur site");
        break;
      case 4: {
        v1::Closure cl = testing::ValidClosure();
        *cl.mutable_closed_at() = testing::D(2024, 6, 10 + pick(10));
        if (pick(3) == 0) cl.set_cause(v1::CLOSING_CAUSE_OTHER);
        *c.mutable_close()->mutable_closure() = cl;
        break;
      }
      case 5:
        c.mutable_update()->mutable_site()->set_name(std::string(30 + pick(10), 'a' + pick(3)));
        c.mutable_update()->mutable_update_mask()->add_paths("name");
        break;
      case 6:
        c.mutable_confirm_up_to_date();
        break;
      case 7:
        *c.mutable_assess_living_conditions()->mutable_living_conditions() =
            testing::ValidLivingConditions();
        if (pick(2) == 0) {
          c.mutable_assess_living_conditions()
              ->mutable_living_conditions()
              ->mutable_trash()
              ->set_evacuation_is_safe(v1::YES);
        }
        break;
      case 8:
        c.set_valid_at_us(now - 3600LL * 1000000 * pick(100));
        c.mutable_set_heatwave()->set_active(true);
        break;
      default:
        if (pick(8) == 0) {
          c.mutable_erase()->set_reason(pick(2) == 0 ? "doublon" : "");
        } else {
          c.mutable_set_heatwave()->set_active(pick(2) == 0);
        }
        break;
    }
    if (pick(5) == 0) c.set_command_id("c-" + std::to_string(pick(200)));
    const uint64_t head_before = store_->GetHead().position;
    auto r = handler_->HandleSite(c, ctx);
    if (!r.ok()) {
      ++refused;
      EXPECT_EQ(store_->GetHead().position, head_before) << r.status();
    } else if (r->outcome == CommandResult::Outcome::kAppended) {
      ++appended;
      EXPECT_EQ(r->last_position, store_->GetHead().position);
    } else {
      ++unchanged;
      EXPECT_EQ(store_->GetHead().position, head_before);
    }
    if (step % 100 == 99 || step == 1499) {
      for (int s = 0; s < kSites; ++s) {
        auto cached = handler_->LoadSite(std::to_string(s));
        ASSERT_TRUE(cached.ok());
        v1::Site folded = FoldFromLog(std::to_string(s));
        EXPECT_TRUE(MessageDifferencer::Equals(*cached, folded)) << "site " << s;
      }
    }
  }
  // Every kind of outcome occurred.
  EXPECT_GT(appended, 100) << refused << " " << unchanged;
  EXPECT_GT(refused, 100);
  EXPECT_GT(unchanged, 10);
  auto verify = store_->Verify();
  EXPECT_TRUE(verify.ok()) << verify.status();
}

}  // namespace
}  // namespace rb::domain
