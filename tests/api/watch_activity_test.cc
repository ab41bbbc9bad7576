// Sites.WatchActivity over a real server: the activity feed as a live stream, oldest first, with
// the reader's own visibility, checkpoints to resume from, and an end at the server's shutdown.
// Every read has the call's deadline: a stream that stops sending fails the test, never hangs it.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/api/activity_fixture.h"

namespace rb::services::testing {
namespace {

namespace v1 = resorption::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Summary(const std::vector<v1::Activity>& activities) {
  std::vector<std::string> out;
  for (const v1::Activity& a : activities) {
    out.push_back(absl::StrCat(a.site().empty() ? a.action() : a.site(), " ",
                               v1::ActivityKind_Name(a.kind())));
  }
  return out;
}

void ExpectSameActivities(const std::vector<v1::Activity>& watched,
                          const std::vector<v1::Activity>& listed) {
  ASSERT_EQ(watched.size(), listed.size());
  for (size_t i = 0; i < watched.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(watched[i], listed[i]))
        << "activity " << i << "\nwatched: " << watched[i].ShortDebugString()
        << "\nlisted: " << listed[i].ShortDebugString();
  }
}

int JusticeChanges(const v1::Activity& a) {
  int n = 0;
  for (const v1::FieldChange& c : a.changes()) n += c.sensitivity() == v1::SENSITIVITY_JUSTICE;
  return n;
}

class WatchActivityTest : public ActivityFixture {
 protected:
  std::unique_ptr<Watch> Start(const Actor& actor, const v1::WatchActivityRequest& req = {}) {
    return std::make_unique<Watch>(*sites_, ApiServer::Ctx(actor), req);
  }

  // ListActivity's whole feed, oldest first.
  std::vector<v1::Activity> ListedOldestFirst(const Actor& actor) {
    v1::ListActivityQuery q;
    q.set_page_size(200);
    v1::ListActivityResponse resp;
    grpc::Status s = sites_->ListActivity(ApiServer::Ctx(actor).get(), q, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(resp.next_page_token().empty());
    return {resp.activities().rbegin(), resp.activities().rend()};
  }

  // The error a request ends with, before any message.
  grpc::Status Refusal(const v1::WatchActivityRequest& req, const Actor& actor = kNational) {
    std::unique_ptr<Watch> watch = Start(actor, req);
    EXPECT_FALSE(watch->Next().has_value());
    return watch->Finish();
  }

  v1::WriteResult Population(const std::string& site, int total) {
    v1::RecordPopulationRequest req;
    req.set_name("sites/" + site);
    req.mutable_command()->mutable_population()->set_total(total);
    v1::WriteResult w;
    grpc::Status s = sites_->RecordPopulation(ApiServer::Ctx(kNational).get(), req, &w);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return w;
  }

  v1::WriteResult Comment(const std::string& site, const std::string& text) {
    v1::PostCommentRequest req;
    req.set_name("sites/" + site);
    req.mutable_command()->set_text(text);
    v1::WriteResult w;
    grpc::Status s = sites_->PostComment(ApiServer::Ctx(kNational).get(), req, &w);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return w;
  }

  // One command, two changes on lilas: its population (public) and a justice procedure
  // (restricted), two events of one version.
  v1::WriteResult PopulationAndProcedure(int total) {
    v1::UpdateSiteRequest req;
    req.set_name("sites/lilas");
    req.mutable_site()->mutable_population()->set_total(total);
    req.mutable_site()->mutable_justice()->set_owner_complaint(v1::YES);
    req.mutable_site()->mutable_justice()->set_justice_procedure(v1::YES);
    req.mutable_update_mask()->add_paths("population");
    req.mutable_update_mask()->add_paths("justice");
    v1::WriteResult w;
    grpc::Status s = sites_->UpdateSite(ApiServer::Ctx(kNational).get(), req, &w);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_GE(w.event_types_size(), 2);
    return w;
  }
};

TEST_F(WatchActivityTest, TheHistoryOldestFirstAsListedThenWhatIsRecordedLive) {
  std::unique_ptr<Watch> watch = Start(kNational);
  uint64_t caught_up_at = 0;
  const std::vector<v1::Activity> history = watch->UntilCaughtUp(&caught_up_at);
  EXPECT_THAT(Summary(history), ElementsAre("sites/lilas ACTIVITY_KIND_SITE_DECLARED",
                                            "sites/halage ACTIVITY_KIND_SITE_DECLARED",
                                            "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                            "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                            "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                            "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                            "sites/halage ACTIVITY_KIND_SITE_CLOSED"));
  ExpectSameActivities(history, ListedOldestFirst(kNational));
  EXPECT_EQ(caught_up_at, server_.head());

  // Recorded after the stream caught up: it arrives on the open stream.
  const uint64_t position = Comment("halage", "Les familles sont parties.").position();
  std::optional<v1::Activity> live = watch->NextActivity();
  ASSERT_TRUE(live.has_value()) << watch->Finish().error_message();
  EXPECT_EQ(live->kind(), v1::ACTIVITY_KIND_SITE_COMMENT);
  EXPECT_EQ(live->site(), "sites/halage");
  EXPECT_EQ(live->site_name(), "Chemin du Halage");
  EXPECT_EQ(live->comment().text(), "Les familles sont parties.");
  EXPECT_EQ(live->position(), position);
  EXPECT_TRUE(MessageDifferencer::Equals(*live, ListedOldestFirst(kNational).back()));
  watch->Cancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchActivityTest, FromTheHeadOnlyWhatIsRecordedAfterTheCall) {
  v1::WatchActivityRequest req;
  req.set_from_head(true);
  std::unique_ptr<Watch> watch = Start(kNational, req);
  uint64_t caught_up_at = 0;
  EXPECT_THAT(watch->UntilCaughtUp(&caught_up_at), IsEmpty());
  EXPECT_EQ(caught_up_at, server_.head());
  Population("lilas", 60);
  std::optional<v1::Activity> live = watch->NextActivity();
  ASSERT_TRUE(live.has_value()) << watch->Finish().error_message();
  EXPECT_EQ(live->kind(), v1::ACTIVITY_KIND_SITE_UPDATED);
  ASSERT_FALSE(live->changes().empty());
  EXPECT_EQ(live->changes(0).new_value(), "60");
}

TEST_F(WatchActivityTest, AReaderWithoutTheJusticeOptionDoesNotSeeTheProcedure) {
  // In the history: the procedure-only update and the message to o-9 are not shown.
  std::unique_ptr<Watch> plain = Start(kCollaborator);
  const std::vector<v1::Activity> history = plain->UntilCaughtUp();
  EXPECT_THAT(Summary(history), ElementsAre("sites/lilas ACTIVITY_KIND_SITE_DECLARED",
                                            "sites/halage ACTIVITY_KIND_SITE_DECLARED",
                                            "sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                            "sites/lilas ACTIVITY_KIND_SITE_COMMENT",
                                            "sites/halage ACTIVITY_KIND_SITE_CLOSED"));
  ExpectSameActivities(history, ListedOldestFirst(kCollaborator));
  for (const v1::Activity& a : history) EXPECT_EQ(JusticeChanges(a), 0) << a.ShortDebugString();
  Actor justice = kCollaborator;
  justice.options = "access_justice";
  std::unique_ptr<Watch> allowed = Start(justice);
  const std::vector<v1::Activity> all = allowed->UntilCaughtUp();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_GT(JusticeChanges(all[4]), 0);

  // Live, one update changing both: the population only, for the reader without the option.
  PopulationAndProcedure(45);
  std::optional<v1::Activity> update = plain->NextActivity();
  ASSERT_TRUE(update.has_value()) << plain->Finish().error_message();
  EXPECT_EQ(update->kind(), v1::ACTIVITY_KIND_SITE_UPDATED);
  EXPECT_EQ(JusticeChanges(*update), 0) << update->ShortDebugString();
  ASSERT_EQ(update->changes_size(), 1) << update->ShortDebugString();
  EXPECT_EQ(update->changes(0).field(), "Nombre de personnes");
  EXPECT_EQ(update->changes(0).new_value(), "45");
  std::optional<v1::Activity> full = allowed->NextActivity();
  ASSERT_TRUE(full.has_value()) << allowed->Finish().error_message();
  EXPECT_EQ(full->position(), update->position());
  EXPECT_GT(JusticeChanges(*full), 0) << full->ShortDebugString();
}

TEST_F(WatchActivityTest, ResumingAfterACheckpointMissesAndRepeatsNothing) {
  std::unique_ptr<Watch> first = Start(kNational);
  uint64_t checkpoint = 0;
  EXPECT_EQ(first->UntilCaughtUp(&checkpoint).size(), 7u);
  first->Cancel();
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // Recorded while no stream is open.
  Population("lilas", 50);
  Comment("halage", "Rendez-vous jeudi.");
  v1::WatchActivityRequest resume;
  resume.set_after_position(checkpoint);
  const std::vector<v1::Activity> later = Start(kNational, resume)->UntilCaughtUp();
  EXPECT_THAT(Summary(later), ElementsAre("sites/lilas ACTIVITY_KIND_SITE_UPDATED",
                                          "sites/halage ACTIVITY_KIND_SITE_COMMENT"));
  const std::vector<v1::Activity> listed = ListedOldestFirst(kNational);
  ASSERT_EQ(listed.size(), 9u);
  ExpectSameActivities(later, {listed[7], listed[8]});

  // An activity's position is a resume point too: after the third, the six that follow.
  resume.set_after_position(listed[2].position());
  ExpectSameActivities(Start(kNational, resume)->UntilCaughtUp(),
                       {listed.begin() + 3, listed.end()});
}

TEST_F(WatchActivityTest, CheckpointsFollowWhatTheReaderDoesNotSee) {
  // The collaborator does not read the message to o-9: the stream's position still moves past
  // it, and resuming there gives what follows.
  std::unique_ptr<Watch> watch = Start(kCollaborator);
  uint64_t caught_up_at = 0;
  watch->UntilCaughtUp(&caught_up_at);
  v1::PostCommentRequest hidden;
  hidden.set_name("sites/lilas");
  hidden.mutable_command()->set_text("Pour la préfecture.");
  hidden.mutable_command()->add_target_organisation_ids("o-9");
  v1::WriteResult w;
  ASSERT_TRUE(sites_->PostComment(ApiServer::Ctx(kNational).get(), hidden, &w).ok());
  // Nothing to send: a checkpoint at the next tick, past the hidden message.
  std::optional<v1::WatchActivityResponse> m = watch->Next();
  ASSERT_TRUE(m.has_value()) << watch->Finish().error_message();
  ASSERT_TRUE(m->has_checkpoint()) << m->ShortDebugString();
  EXPECT_EQ(m->checkpoint().position(), w.position());
  EXPECT_TRUE(m->checkpoint().caught_up());
  EXPECT_GT(m->checkpoint().position(), caught_up_at);

  const uint64_t visible = Comment("lilas", "Réunion en mairie.").position();
  v1::WatchActivityRequest resume;
  resume.set_after_position(m->checkpoint().position());
  std::unique_ptr<Watch> resumed = Start(kCollaborator, resume);
  std::optional<v1::Activity> next = resumed->NextActivity();
  ASSERT_TRUE(next.has_value()) << resumed->Finish().error_message();
  EXPECT_EQ(next->position(), visible);
  EXPECT_EQ(next->comment().text(), "Réunion en mairie.");
}

TEST_F(WatchActivityTest, APositionInsideAVersionResumesWithThatVersion) {
  const v1::WriteResult w = PopulationAndProcedure(47);
  ASSERT_LT(w.first_position(), w.position());
  v1::WatchActivityRequest inside;
  inside.set_after_position(w.first_position());
  const std::vector<v1::Activity> from = Start(kNational, inside)->UntilCaughtUp();
  ASSERT_EQ(from.size(), 1u);
  EXPECT_EQ(from[0].position(), w.position());
  EXPECT_EQ(from[0].changes_size(), ListedOldestFirst(kNational).back().changes_size());
  EXPECT_GT(JusticeChanges(from[0]), 0);
  // After its last event: nothing.
  inside.set_after_position(w.position());
  EXPECT_THAT(Start(kNational, inside)->UntilCaughtUp(), IsEmpty());
}

TEST_F(WatchActivityTest, TheTerritoryAndKindsOfTheRequestFilter) {
  v1::WatchActivityRequest nantes;
  nantes.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  nantes.mutable_territory()->set_code("44");
  std::unique_ptr<Watch> in44 = Start(kNational, nantes);
  EXPECT_THAT(Summary(in44->UntilCaughtUp()),
              ElementsAre("sites/halage ACTIVITY_KIND_SITE_DECLARED",
                          "sites/halage ACTIVITY_KIND_SITE_CLOSED"));

  v1::WatchActivityRequest comments;
  comments.add_kinds(v1::ACTIVITY_KIND_SITE_COMMENT);
  std::unique_ptr<Watch> watch = Start(kNational, comments);
  const std::vector<v1::Activity> history = watch->UntilCaughtUp();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].comment().text(), "Passage sur site ce matin.");
  EXPECT_EQ(history[1].comment().text(), "Pour la DDETS seulement.");

  // Live: an update of the 93 is neither a comment nor in the 44; a message on a site of the 93
  // is a comment, not in the 44; a message on a site of the 44 is both.
  Population("lilas", 70);
  Comment("lilas", "Visite de la PMI.");
  Comment("halage", "Nettoyage du terrain.");
  std::optional<v1::Activity> comment = watch->NextActivity();
  ASSERT_TRUE(comment.has_value()) << watch->Finish().error_message();
  EXPECT_EQ(comment->comment().text(), "Visite de la PMI.");
  comment = watch->NextActivity();
  ASSERT_TRUE(comment.has_value()) << watch->Finish().error_message();
  EXPECT_EQ(comment->comment().text(), "Nettoyage du terrain.");
  std::optional<v1::Activity> nantes_live = in44->NextActivity();
  ASSERT_TRUE(nantes_live.has_value()) << in44->Finish().error_message();
  EXPECT_EQ(nantes_live->site(), "sites/halage");
  EXPECT_EQ(nantes_live->comment().text(), "Nettoyage du terrain.");
}

TEST_F(WatchActivityTest, BadRequestsNameTheFieldAndTheRule) {
  v1::WatchActivityRequest kind;
  kind.add_kinds(v1::ACTIVITY_KIND_SITE_COMMENT);
  kind.add_kinds(static_cast<v1::ActivityKind>(42));
  grpc::Status s = Refusal(kind);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_details(), HasSubstr("kinds[1]"));
  EXPECT_THAT(s.error_details(), HasSubstr("must be a known activity kind"));

  v1::WatchActivityRequest territory;
  territory.mutable_territory()->set_level(v1::TERRITORY_LEVEL_DEPARTEMENT);
  s = Refusal(territory);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_details(), HasSubstr("territory.code"));

  v1::WatchActivityRequest both;
  both.set_from_head(true);
  both.set_after_position(3);
  s = Refusal(both);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_details(), HasSubstr("after_position"));
  EXPECT_THAT(s.error_details(), HasSubstr("must be 0 when from_head is set"));

  v1::WatchActivityRequest beyond;
  beyond.set_after_position(server_.head() + 1);
  s = Refusal(beyond);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("after_position"));

  // Without an actor: as ListActivity.
  v1::ListActivityResponse listed;
  const grpc::Status list =
      sites_->ListActivity(ApiServer::Ctx(Actor{.user = ""}).get(), {}, &listed);
  s = Refusal({}, Actor{.user = ""});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_code(), list.error_code());
  EXPECT_EQ(s.error_message(), list.error_message());
}

TEST_F(WatchActivityTest, TheServerShutdownEndsAnOpenStream) {
  std::unique_ptr<Watch> watch = Start(kNational);
  uint64_t caught_up_at = 0;
  EXPECT_EQ(watch->UntilCaughtUp(&caught_up_at).size(), 7u);
  // The stream waits for the log to grow: the shutdown wakes and ends it with the position to
  // resume after (it is not left to be cancelled when the grace period runs out).
  server_.server().Shutdown();
  EXPECT_FALSE(watch->Next().has_value());
  const grpc::Status s = watch->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("resume after position ", caught_up_at)));
}

}  // namespace
}  // namespace rb::services::testing
