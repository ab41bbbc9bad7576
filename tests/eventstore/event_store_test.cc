#include "eventstore/event_store.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace rb::es {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14

EventData Ev(std::string type, std::string payload = "p") {
  EventData e;
  e.type = std::move(type);
  e.payload = std::move(payload);
  return e;
}

AppendRequest Req(std::string stream, ExpectedRevision expected, std::vector<EventData> events,
                  std::string command_id = "") {
  AppendRequest r;
  r.stream_id = std::move(stream);
  r.expected = expected;
  r.events = std::move(events);
  r.command_id = std::move(command_id);
  r.metadata.actor_user = "user-1";
  r.metadata.reason = "test";
  return r;
}

// A data directory opened by RocksDB itself, every column family with default options; closed
// when destroyed.
class RawDirectory {
 public:
  RawDirectory(const std::string& path, bool read_only) {
    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &names).ok()) return;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    const rocksdb::Status s =
        read_only
            ? rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, families, &handles_, &db_)
            : rocksdb::DB::Open(rocksdb::Options(), path, families, &handles_, &db_);
    if (!s.ok()) db_ = nullptr;
  }
  ~RawDirectory() {
    if (db_ == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }
  RawDirectory(const RawDirectory&) = delete;
  RawDirectory& operator=(const RawDirectory&) = delete;

  bool ok() const { return db_ != nullptr; }
  rocksdb::DB* db() const { return db_; }
  const std::vector<rocksdb::ColumnFamilyHandle*>& families() const { return handles_; }
  // The family named `name`; nullptr when none.
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const {
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Options o;
    o.clock = &clock_;
    auto s = EventStore::Open(o, path());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::string path() const { return dir_.path() + "/db"; }
  // A second, read-only store on the same directory.
  absl::StatusOr<std::unique_ptr<EventStore>> OpenReadOnly() const {
    Options ro;
    ro.read_only = true;
    return EventStore::Open(ro, path());
  }

  rb::testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendAssignsPositionsRevisionsAndMetadata) {
  auto r = store_->Append(Req("site-1", ExpectedRevision::NoStream(), {Ev("a"), Ev("b")}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 1u);
  EXPECT_EQ(r->last_position, 2u);
  EXPECT_EQ(r->stream_revision, 1u);
  auto r2 = store_->Append(Req("site-2", ExpectedRevision::Any(), {Ev("c")}));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->first_position, 3u);
  EXPECT_EQ(r2->stream_revision, 0u);

  auto events = store_->ReadStream("site-1", 0, Direction::kForward, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  const RecordedEvent& e = (*events)[1];
  EXPECT_EQ(e.type, "b");
  EXPECT_EQ(e.revision, 1u);
  EXPECT_EQ(e.position, 2u);
  EXPECT_EQ(e.recorded_at_us, kT0);
  EXPECT_EQ(e.valid_at_us, kT0);  // defaults to the recorded time
  EXPECT_EQ(e.metadata.actor_user, "user-1");
  EXPECT_EQ(e.metadata.reason, "test");
  EXPECT_EQ(e.event_id.size(), 36u);
  EXPECT_EQ(e.event_id[14], '4');  // UUID version 4
  EXPECT_EQ(e.stream_hash.size(), 32u);
  EXPECT_EQ(e.log_hash.size(), 32u);
  EXPECT_EQ(e.Category(), "site");
}

TEST_F(EventStoreTest, ValidAtIsKeptAsDeclared) {
  EventData e = Ev("a");
  e.valid_at_us = kT0 - 86'400'000'000LL;
  ASSERT_TRUE(store_->Append(Req("site-1", ExpectedRevision::Any(), {e})).ok());
  auto events = store_->ReadStream("site-1", 0, Direction::kForward, 1);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].valid_at_us, kT0 - 86'400'000'000LL);
  EXPECT_EQ((*events)[0].recorded_at_us, kT0);
}

TEST_F(EventStoreTest, RecordedAtNeverDecreasesWhenTheClockGoesBack) {
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok());
  clock_.Set(kT0 - 1'000'000);
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("b")})).ok());
  auto events = store_->ReadStream("s-1", 0, Direction::kForward, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_GE((*events)[1].recorded_at_us, (*events)[0].recorded_at_us);
}

TEST_F(EventStoreTest, ExpectedRevisionModes) {
  EXPECT_EQ(store_->Append(Req("s-1", ExpectedRevision::StreamExists(), {Ev("a")})).status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::NoStream(), {Ev("a")})).ok());
  EXPECT_EQ(store_->Append(Req("s-1", ExpectedRevision::NoStream(), {Ev("a")})).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->Append(Req("s-1", ExpectedRevision::StreamExists(), {Ev("b")})).ok());
  EXPECT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Exactly(1), {Ev("c")})).ok());
  EXPECT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("d")})).ok());
  auto info = store_->GetStreamInfo("s-1");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->exists);
  EXPECT_EQ(info->last_revision, 3u);
}

TEST_F(EventStoreTest, AppendFailsWithAbortedWhenExpectedRevisionIsStaleAndTellsCurrentRevision) {
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a"), Ev("b")})).ok());
  auto r = store_->Append(Req("s-1", ExpectedRevision::Exactly(0), {Ev("c")}));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(r.status().message(), HasSubstr("current revision is 1"));
  EXPECT_EQ(CurrentRevisionFrom(r.status()), 1);
  auto absent = store_->Append(Req("s-9", ExpectedRevision::Exactly(0), {Ev("c")}));
  EXPECT_EQ(CurrentRevisionFrom(absent.status()), -1);
  EXPECT_EQ(store_->GetHead().position, 2u);  // nothing appended
}

TEST_F(EventStoreTest, IdempotentRetryReturnsFirstResultBeforeAndAfterReopen) {
  auto req = Req("s-1", ExpectedRevision::NoStream(), {Ev("a")}, "cmd-1");
  auto first = store_->Append(req);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  auto again = store_->Append(req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->first_position, first->first_position);
  Reopen();
  auto after = store_->Append(req);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->replayed);
  EXPECT_EQ(after->last_position, first->last_position);
  EXPECT_EQ(store_->GetHead().position, 1u);
}

TEST_F(EventStoreTest, SameCommandIdWithDifferentContentIsAnError) {
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a", "x")}, "cmd-1")).ok());
  auto r = store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a", "y")}, "cmd-1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.status().message(),
            "command_id: already used for a different command (first used at position 1); use a "
            "new command id");
  EXPECT_EQ(ReusedCommandPositionFrom(r.status()), 1u);
  EXPECT_EQ(store_->GetHead().position, 1u);
  // Another stream is a different request too.
  r = store_->Append(Req("s-2", ExpectedRevision::Any(), {Ev("a", "x")}, "cmd-1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->GetHead().position, 1u);
  EXPECT_FALSE(ReusedCommandPositionFrom(absl::AlreadyExistsError("other")).has_value());
}

TEST_F(EventStoreTest, BadInputIsRefusedWithInvalidArgumentAndChangesNothing) {
  struct Case {
    AppendRequest req;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Req("", ExpectedRevision::Any(), {Ev("a")}), "stream_id"});
  cases.push_back({Req(std::string(300, 'x'), ExpectedRevision::Any(), {Ev("a")}), "stream_id"});
  cases.push_back({Req("with space", ExpectedRevision::Any(), {Ev("a")}), "stream_id"});
  cases.push_back({Req("s-1", ExpectedRevision::Any(), {}), "events"});
  cases.push_back({Req("s-1", ExpectedRevision::Any(), {Ev("")}), "events[0].type"});
  cases.push_back(
      {Req("s-1", ExpectedRevision::Any(), {Ev("a", std::string(2 << 20, 'x'))}), "events[0]"});
  EventData bad_id = Ev("a");
  bad_id.event_id = "not-a-uuid";
  cases.push_back({Req("s-1", ExpectedRevision::Any(), {bad_id}), "events[0].event_id"});
  EventData bad_schema = Ev("a");
  bad_schema.schema_version = 0;
  cases.push_back({Req("s-1", ExpectedRevision::Any(), {bad_schema}), "schema_version"});
  cases.push_back({Req("s-1", ExpectedRevision::Any(), {Ev("a")}, "has space"), "command_id"});
  AppendRequest short_fingerprint = Req("s-1", ExpectedRevision::Any(), {Ev("a")}, "cmd-1");
  short_fingerprint.command_fingerprint = "too short";
  cases.push_back({short_fingerprint, "command_fingerprint: must be 32 bytes"});
  AppendRequest fingerprint_without_id = Req("s-1", ExpectedRevision::Any(), {Ev("a")});
  fingerprint_without_id.command_fingerprint = std::string(32, 'f');
  cases.push_back({fingerprint_without_id, "command_fingerprint: only meaningful with"});
  for (const auto& c : cases) {
    auto r = store_->Append(c.req);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(r.status().message(), HasSubstr(c.field));
  }
  EXPECT_EQ(store_->GetHead().position, 0u);
}

TEST_F(EventStoreTest, ClientEventIdIsKept) {
  EventData e = Ev("a");
  e.event_id = "123e4567-e89b-42d3-a456-426614174000";
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {e})).ok());
  auto events = store_->ReadStream("s-1", 0, Direction::kForward, 1);
  EXPECT_EQ((*events)[0].event_id, e.event_id);
}

TEST_F(EventStoreTest, RacingWritersWithTheSameExpectedRevisionNeverBothWin) {
  constexpr int kThreads = 8;
  constexpr int kRevisions = 50;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int rev = -1; rev < kRevisions - 1;) {
        ExpectedRevision exp =
            rev < 0 ? ExpectedRevision::NoStream() : ExpectedRevision::Exactly(rev);
        auto r = store_->Append(Req("race-1", exp, {Ev("t" + std::to_string(t))}));
        if (r.ok()) {
          ++wins;
          rev = static_cast<int>(r->stream_revision);
        } else {
          ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted);
          rev = static_cast<int>(*CurrentRevisionFrom(r.status()));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), kRevisions);
  auto events = store_->ReadStream("race-1", 0, Direction::kForward, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<size_t>(kRevisions));
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].revision, i);
    EXPECT_EQ((*events)[i].position, i + 1);  // no gaps in the log either
  }
  EXPECT_TRUE(store_->Verify().ok());
}

TEST_F(EventStoreTest, ConcurrentAppendsAreAllDurableAndContiguous) {
  constexpr int kThreads = 16, kPer = 40;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> positions;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        auto r = store_->Append(Req("s-" + std::to_string(t), ExpectedRevision::Any(), {Ev("a")}));
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> l(mu);
        positions.insert(r->first_position);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(positions.size(), static_cast<size_t>(kThreads * kPer));
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), static_cast<uint64_t>(kThreads * kPer));
  Reopen();
  EXPECT_EQ(store_->GetHead().position, static_cast<uint64_t>(kThreads * kPer));
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams_checked, static_cast<uint64_t>(kThreads));
}

TEST_F(EventStoreTest, ReadsStreamForwardAndBackward) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev(std::to_string(i))})).ok());
    ASSERT_TRUE(store_->Append(Req("s-2", ExpectedRevision::Any(), {Ev("other")})).ok());
  }
  auto fwd = store_->ReadStream("s-1", 2, Direction::kForward, 2);
  ASSERT_EQ(fwd->size(), 2u);
  EXPECT_EQ((*fwd)[0].type, "2");
  EXPECT_EQ((*fwd)[1].type, "3");
  auto bwd = store_->ReadStream("s-1", UINT64_MAX, Direction::kBackward, 3);
  ASSERT_EQ(bwd->size(), 3u);
  EXPECT_EQ((*bwd)[0].type, "4");
  EXPECT_EQ((*bwd)[2].type, "2");
  EXPECT_TRUE(store_->ReadStream("s-9", 0, Direction::kForward, 10)->empty());
  EXPECT_FALSE(store_->GetStreamInfo("s-9")->exists);
  // "s-1" must not see "s-10".
  ASSERT_TRUE(store_->Append(Req("s-10", ExpectedRevision::Any(), {Ev("x")})).ok());
  EXPECT_EQ(store_->ReadStream("s-1", 0, Direction::kForward, 100)->size(), 5u);
  EXPECT_EQ(store_->GetStreamInfo("s-1")->last_revision, 4u);
}

TEST_F(EventStoreTest, ReadAllFiltersByTypePrefixAndCategory) {
  ASSERT_TRUE(store_->Append(Req("site-1", ExpectedRevision::Any(), {Ev("site.declared")})).ok());
  ASSERT_TRUE(
      store_->Append(Req("action-1", ExpectedRevision::Any(), {Ev("action.created")})).ok());
  ASSERT_TRUE(store_->Append(Req("site-2", ExpectedRevision::Any(), {Ev("site.closed")})).ok());
  LogFilter by_type;
  by_type.type_prefixes = {"site."};
  auto r = store_->ReadAll(1, 10, by_type);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[1].position, 3u);
  EXPECT_TRUE(r->end_of_log);
  LogFilter by_cat;
  by_cat.categories = {"action"};
  r = store_->ReadAll(1, 10, by_cat);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].stream_id, "action-1");
  // Limits and resumption.
  r = store_->ReadAll(1, 2, LogFilter());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->next_position, 3u);
  auto back = store_->ReadAllBackward(UINT64_MAX, 2, LogFilter());
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_EQ(back->events[0].position, 3u);
}

TEST_F(EventStoreTest, HeadAndPositionAtOrBeforeFollowRecordedTime) {
  EXPECT_EQ(store_->GetHead().position, 0u);
  EXPECT_EQ(store_->GetHead().log_hash, std::string(32, '\0'));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok());
    clock_.Advance(absl::Seconds(10));
  }
  Head h = store_->GetHead();
  EXPECT_EQ(h.position, 10u);
  auto last = store_->ReadStream("s-1", 9, Direction::kForward, 1);
  EXPECT_EQ(h.log_hash, (*last)[0].log_hash);
  EXPECT_EQ(*store_->PositionAtOrBefore(kT0 - 1), 0u);
  EXPECT_EQ(*store_->PositionAtOrBefore(kT0), 1u);
  EXPECT_EQ(*store_->PositionAtOrBefore(kT0 + 35'000'000), 4u);
  EXPECT_EQ(*store_->PositionAtOrBefore(kT0 + 1'000'000'000), 10u);
}

TEST_F(EventStoreTest, WaitForPositionReturnsOnAppendOrDeadline) {
  EXPECT_EQ(store_->WaitForPosition(1, absl::Now()), 0u);
  std::thread writer(
      [&] { ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok()); });
  EXPECT_EQ(store_->WaitForPosition(1, absl::Now() + absl::Seconds(30)), 1u);
  writer.join();
}

TEST_F(EventStoreTest, HeadListenersHearEveryDurableBatch) {
  std::atomic<uint64_t> heard{0};
  uint64_t id = store_->AddHeadListener([&](uint64_t p) { heard = p; });
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a"), Ev("b")})).ok());
  EXPECT_EQ(heard.load(), 2u);
  store_->RemoveHeadListener(id);
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("c")})).ok());
  EXPECT_EQ(heard.load(), 2u);
}

TEST_F(EventStoreTest, VerifyNamesTheFirstTamperedPosition) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store_
                    ->Append(Req("site-" + std::to_string(i % 3), ExpectedRevision::Any(),
                                 {Ev("site.updated", "payload " + std::to_string(i))}))
                    .ok());
  }
  auto ok = store_->Verify();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->events_checked, 20u);
  EXPECT_EQ(ok->head_hash, store_->GetHead().log_hash);
  store_.reset();

  // Flip one byte of the payload of position 13, keeping RocksDB's own checksums valid, as an
  // adversary with write access to the directory would.
  {
    RawDirectory raw(path(), /*read_only=*/false);
    ASSERT_TRUE(raw.ok());
    rocksdb::ColumnFamilyHandle* events = raw.family("events");
    ASSERT_NE(events, nullptr);
    std::string key(8, '\0');
    key[7] = 13;
    std::string value;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), events, key, &value).ok());
    size_t at = value.find("payload 12");
    ASSERT_NE(at, std::string::npos);
    value[at + 8] ^= 0x01;
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), events, key, value).ok());
  }
  Reopen();
  auto bad = store_->Verify();
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("position 13"));
}

// Opens the directory with RocksDB directly (every column family), for storage-format checks.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, cfs, &handles_, &db_).ok());
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete db_;
  }
  rocksdb::DB* db() { return db_; }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }
  // Number of keys of `name` that start with `prefix`.
  int Count(const std::string& name, const std::string& prefix) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(name)));
    int n = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
    return n;
  }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

std::vector<std::string> Types(const absl::StatusOr<std::vector<RecordedEvent>>& events) {
  std::vector<std::string> out;
  if (!events.ok()) return {"error: " + events.status().ToString()};
  for (const auto& e : *events) out.push_back(e.type);
  return out;
}

// A forward read past a stream's last revision (a cached aggregate asking what is new) finds the
// events appended since, once their index entries are written too, and after a reopen.
TEST_F(EventStoreTest, ReadingPastAStreamsHeadFindsWhatIsAppendedLater) {
  auto append = [&](const std::string& stream, const std::string& type) {
    ASSERT_TRUE(store_->Append(Req(stream, ExpectedRevision::Any(), {Ev(type)})).ok());
  };
  auto others = [&] {  // later batches carry the index entries of earlier ones
    for (int i = 0; i < 4; ++i) append("s-2", "x");
  };
  for (const char* t : {"0", "1", "2"}) append("s-1", t);
  others();
  EXPECT_TRUE(store_->ReadStream("s-1", 3, Direction::kForward, 10)->empty());
  append("s-1", "3");
  others();
  EXPECT_THAT(Types(store_->ReadStream("s-1", 3, Direction::kForward, 10)),
              ::testing::ElementsAre("3"));
  EXPECT_TRUE(store_->ReadStream("s-1", 4, Direction::kForward, 10)->empty());
  Reopen();
  EXPECT_TRUE(store_->ReadStream("s-1", 4, Direction::kForward, 10)->empty());
  append("s-1", "4");
  others();
  EXPECT_THAT(Types(store_->ReadStream("s-1", 3, Direction::kForward, 10)),
              ::testing::ElementsAre("3", "4"));
}

// The stream index is written behind the log. With the indexer held back (as when a crash comes
// before it wrote), every read that goes through the index must still see every acknowledged
// event, and the next open must complete the index from the log.
TEST_F(EventStoreTest, StreamIndexBehindTheLogLosesNothing) {
  // Revisions 0..2 of s-1 indexed normally, then 3..6 of s-1 and 0..1 of s-2 left unindexed.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev(std::to_string(i))})).ok());
  }
  store_.reset();
  Options paused;
  paused.clock = &clock_;
  paused.pause_stream_indexer_for_testing = true;
  auto held = EventStore::Open(paused, path());
  ASSERT_TRUE(held.ok()) << held.status();
  store_ = std::move(*held);
  for (int i = 3; i < 7; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev(std::to_string(i))})).ok());
    if (i < 5) {
      ASSERT_TRUE(store_->Append(Req("s-2", ExpectedRevision::Any(), {Ev("b")})).ok());
    }
  }
  auto check = [&](EventStore& s, const std::string& when) {
    SCOPED_TRACE(when);
    EXPECT_THAT(Types(s.ReadStream("s-1", 0, Direction::kForward, 100)),
                ::testing::ElementsAre("0", "1", "2", "3", "4", "5", "6"));
    EXPECT_THAT(Types(s.ReadStream("s-1", 2, Direction::kForward, 3)),
                ::testing::ElementsAre("2", "3", "4"));
    EXPECT_THAT(Types(s.ReadStream("s-1", 5, Direction::kForward, 10)),
                ::testing::ElementsAre("5", "6"));
    EXPECT_THAT(Types(s.ReadStream("s-1", UINT64_MAX, Direction::kBackward, 5)),
                ::testing::ElementsAre("6", "5", "4", "3", "2"));
    EXPECT_THAT(Types(s.ReadStream("s-1", 4, Direction::kBackward, 10)),
                ::testing::ElementsAre("4", "3", "2", "1", "0"));
    EXPECT_THAT(Types(s.ReadStream("s-1", 1, Direction::kBackward, 10)),
                ::testing::ElementsAre("1", "0"));
    EXPECT_THAT(Types(s.ReadStream("s-2", 0, Direction::kForward, 10)),
                ::testing::ElementsAre("b", "b"));
    EXPECT_TRUE(s.ReadStream("s-1", 7, Direction::kForward, 10)->empty());
    auto info = s.GetStreamInfo("s-1");
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->exists);
    EXPECT_EQ(info->last_revision, 6u);
    EXPECT_EQ(s.GetStreamInfo("s-2")->last_revision, 1u);
    auto v = s.Verify();
    EXPECT_TRUE(v.ok()) << v.status();
  };
  check(*store_, "indexer held back");
  // Expected revisions are checked against the unindexed head too.
  EXPECT_EQ(store_->Append(Req("s-1", ExpectedRevision::Exactly(5), {Ev("x")})).status().code(),
            absl::StatusCode::kAborted);
  Options ro;
  ro.read_only = true;
  auto reader = EventStore::Open(ro, path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  check(**reader, "read-only open while the index lags");
  reader->reset();

  store_.reset();  // the held-back entries are never written: as after a crash
  {
    RawDb raw(path());
    EXPECT_EQ(raw.Count("streams", std::string("s-1") + '\0'), 3);
    EXPECT_EQ(raw.Count("streams", std::string("s-2") + '\0'), 0);
  }
  Reopen();
  check(*store_, "after reopen");
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Exactly(6), {Ev("7")})).ok());
  store_.reset();
  {
    RawDb raw(path());
    EXPECT_EQ(raw.Count("streams", std::string("s-1") + '\0'), 8);
    EXPECT_EQ(raw.Count("streams", std::string("s-2") + '\0'), 2);
    std::string through;
    ASSERT_TRUE(
        raw.db()
            ->Get(rocksdb::ReadOptions(), raw.cf("default"), "stream_index_through", &through)
            .ok());
    ASSERT_EQ(through.size(), 8u);
    EXPECT_EQ(static_cast<uint8_t>(through[7]), 10u);  // positions 1..10 are indexed
  }
}

// The index is written behind the log by its own thread while appends go on: whatever the
// interleaving, an append's own writer, once acknowledged, finds its revision through every read
// that uses the index, and another thread finds every revision acknowledged before it looked.
TEST_F(EventStoreTest, AcknowledgedRevisionsAreFoundThroughTheIndexWhileItIsWritten) {
  constexpr int kWriters = 6, kPer = 150;
  std::vector<std::atomic<int64_t>> acked(kWriters);
  for (auto& a : acked) a = -1;
  std::atomic<bool> done{false};
  std::atomic<int> reader_checks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      const std::string stream = "w-" + std::to_string(t);
      for (int i = 0; i < kPer; ++i) {
        auto r = store_->Append(Req(stream, ExpectedRevision::Any(), {Ev(std::to_string(i))}));
        ASSERT_TRUE(r.ok()) << r.status();
        const uint64_t rev = r->stream_revision;
        acked[t] = static_cast<int64_t>(rev);
        auto info = store_->GetStreamInfo(stream);
        ASSERT_TRUE(info.ok());
        ASSERT_GE(info->last_revision, rev);
        auto fwd = store_->ReadStream(stream, rev, Direction::kForward, 1);
        ASSERT_TRUE(fwd.ok());
        ASSERT_EQ(fwd->size(), 1u) << stream << " revision " << rev;
        ASSERT_EQ((*fwd)[0].position, r->last_position);
        auto bwd = store_->ReadStream(stream, rev, Direction::kBackward, 2);
        ASSERT_TRUE(bwd.ok());
        ASSERT_EQ(bwd->size(), rev == 0 ? 1u : 2u);
        ASSERT_EQ((*bwd)[0].revision, rev);
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      for (int t = 0; t < kWriters; ++t) {
        const int64_t seen = acked[t];  // acknowledged before the reads below start
        if (seen < 0) continue;
        auto all = store_->ReadStream("w-" + std::to_string(t), 0, Direction::kForward, 1000);
        ASSERT_TRUE(all.ok());
        ASSERT_GE(static_cast<int64_t>(all->size()), seen + 1);
        for (size_t i = 0; i < all->size(); ++i) ASSERT_EQ((*all)[i].revision, i);
        ++reader_checks;
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_GT(reader_checks.load(), 0);
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->events_checked, static_cast<uint64_t>(kWriters * kPer));
}

TEST_F(EventStoreTest, FormatVersionOneIsUpgradedAtOpen) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev(std::to_string(i))})).ok());
  }
  store_.reset();
  {
    // A version-1 directory: the same data, no index position.
    RawDb raw(path());
    ASSERT_TRUE(
        raw.db()->Put(rocksdb::WriteOptions(), raw.cf("default"), "format_version", "1").ok());
    ASSERT_TRUE(
        raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("default"), "stream_index_through").ok());
  }
  Options ro;
  ro.read_only = true;
  auto reader = EventStore::Open(ro, path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(Types((*reader)->ReadStream("s-1", 0, Direction::kForward, 10)).size(), 3u);
  reader->reset();
  Reopen();
  EXPECT_THAT(Types(store_->ReadStream("s-1", 0, Direction::kForward, 10)),
              ::testing::ElementsAre("0", "1", "2"));
  EXPECT_TRUE(store_->Verify().ok());
  store_.reset();
  RawDb raw(path());
  std::string version;
  ASSERT_TRUE(
      raw.db()->Get(rocksdb::ReadOptions(), raw.cf("default"), "format_version", &version).ok());
  EXPECT_EQ(version, "3");
}

// A version-2 directory: its command records hold the store's fingerprints (no kind byte). It is
// read as it is, upgraded to version 3 at the first read-write open without rewriting anything,
// and its command ids still replay the same request and refuse another one.
TEST_F(EventStoreTest, FormatVersionTwoIsUpgradedAtOpenAndItsCommandIdsStillReplay) {
  auto first = store_->Append(Req("s-1", ExpectedRevision::NoStream(), {Ev("a")}, "old-1"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("b")})).ok());
  store_.reset();
  std::string through;
  {
    RawDb raw(path());
    ASSERT_TRUE(
        raw.db()->Put(rocksdb::WriteOptions(), raw.cf("default"), "format_version", "2").ok());
    ASSERT_TRUE(
        raw.db()
            ->Get(rocksdb::ReadOptions(), raw.cf("default"), "stream_index_through", &through)
            .ok());
  }
  Options ro;
  ro.read_only = true;
  auto reader = EventStore::Open(ro, path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto legacy = (*reader)->GetCommand("old-1");
  ASSERT_TRUE(legacy.ok() && legacy->has_value()) << legacy.status();
  EXPECT_EQ((*legacy)->kind, CommandRecord::FingerprintKind::kAppend);
  EXPECT_EQ((*legacy)->result.first_position, 1u);
  reader->reset();
  {
    RawDb raw(path());
    std::string version;
    ASSERT_TRUE(
        raw.db()->Get(rocksdb::ReadOptions(), raw.cf("default"), "format_version", &version).ok());
    EXPECT_EQ(version, "2");  // a read-only open changes nothing
  }

  Reopen();
  auto again = store_->Append(Req("s-1", ExpectedRevision::NoStream(), {Ev("a")}, "old-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->first_position, first->first_position);
  // A writer that now fingerprints its requests: the old record still compares the content.
  AppendRequest fingerprinted = Req("s-1", ExpectedRevision::NoStream(), {Ev("a")}, "old-1");
  fingerprinted.command_fingerprint = std::string(32, 'f');
  again = store_->Append(fingerprinted);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  auto other = store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("other")}, "old-1"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReusedCommandPositionFrom(other.status()), 1u);
  EXPECT_EQ(store_->GetHead().position, 2u);
  EXPECT_TRUE(store_->Verify().ok());
  store_.reset();
  RawDb raw(path());
  std::string version, through_after, record;
  ASSERT_TRUE(
      raw.db()->Get(rocksdb::ReadOptions(), raw.cf("default"), "format_version", &version).ok());
  EXPECT_EQ(version, "3");
  ASSERT_TRUE(
      raw.db()
          ->Get(rocksdb::ReadOptions(), raw.cf("default"), "stream_index_through", &through_after)
          .ok());
  EXPECT_GE(through_after, through);  // big-endian: byte order is numeric order
  ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("commands"), "old-1", &record).ok());
  EXPECT_EQ(record.size(), 56u);  // not rewritten
}

TEST_F(EventStoreTest, ReadEventReturnsTheEventAtAPositionAndNotFoundOutsideTheLog) {
  ASSERT_TRUE(store_->Append(Req("site-1", ExpectedRevision::NoStream(), {Ev("a"), Ev("b")})).ok());
  ASSERT_TRUE(store_->Append(Req("site-2", ExpectedRevision::NoStream(), {Ev("c", "q")})).ok());
  absl::StatusOr<RecordedEvent> e = store_->ReadEvent(3);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->position, 3u);
  EXPECT_EQ(e->stream_id, "site-2");
  EXPECT_EQ(e->type, "c");
  EXPECT_EQ(e->payload, "q");
  EXPECT_EQ(store_->ReadEvent(2)->type, "b");
  EXPECT_EQ(store_->ReadEvent(0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ReadEvent(4).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EventStoreTest, ReadIntoOverwritesABufferInPlaceWithTheEventsScanAllSees) {
  ASSERT_TRUE(store_->Append(Req("site-1", ExpectedRevision::NoStream(), {Ev("a", "pa")})).ok());
  AppendRequest second = Req("site-2", ExpectedRevision::NoStream(), {Ev("b", "pb"), Ev("c")});
  second.metadata.actor_user.clear();  // an empty field overwrites a full one
  second.metadata.reason.clear();
  ASSERT_TRUE(store_->Append(second).ok());
  std::vector<RecordedEvent> scanned;
  ASSERT_TRUE(store_
                  ->ScanAll(1, LogFilter(), 10,
                            [&](const RecordedEvent& e) {
                              scanned.push_back(e);
                              return true;
                            })
                  .ok());
  ASSERT_EQ(scanned.size(), 3u);

  // A buffer holding other events (and an attached decoding) is overwritten whole.
  std::vector<RecordedEvent> buffer(2);
  for (RecordedEvent& e : buffer) {
    e = scanned[0];
    e.metadata.causation_id = "stale";
    e.decoded = std::make_shared<google::protobuf::Empty>();
  }
  absl::StatusOr<size_t> n = store_->ReadInto(2, std::span(buffer));
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 2u);
  for (size_t i = 0; i < 2; ++i) {
    const RecordedEvent& got = buffer[i];
    const RecordedEvent& want = scanned[i + 1];
    EXPECT_EQ(got.position, want.position);
    EXPECT_EQ(got.stream_id, want.stream_id);
    EXPECT_EQ(got.revision, want.revision);
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.payload, want.payload);
    EXPECT_EQ(got.metadata.actor_user, "");
    EXPECT_EQ(got.metadata.reason, "");
    EXPECT_EQ(got.metadata.causation_id, "");
    EXPECT_EQ(got.log_hash, want.log_hash);
    EXPECT_EQ(got.stream_hash, want.stream_hash);
    EXPECT_EQ(got.recorded_at_us, want.recorded_at_us);
    EXPECT_EQ(got.decoded, nullptr);
  }
  // Fewer at the end of the log, none beyond it; position 0 reads from the first event.
  std::vector<RecordedEvent> three(3);
  EXPECT_EQ(*store_->ReadInto(3, std::span(three)), 1u);
  EXPECT_EQ(three[0].type, "c");
  EXPECT_EQ(*store_->ReadInto(4, std::span(three)), 0u);
  EXPECT_EQ(*store_->ReadInto(0, std::span(three)), 3u);
  EXPECT_EQ(three[0].payload, "pa");
}

TEST_F(EventStoreTest, UnknownFutureFormatVersionIsRefusedAtOpen) {
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path(), &names).ok());
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path(), cfs, &handles, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[0], "format_version", "99").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto s = EventStore::Open(Options(), path());
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("version 99"));
}

TEST_F(EventStoreTest, ReadOnlyOpenSeesDataWhileWriterIsOpenAndRefusesAppends) {
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok());
  auto reader = OpenReadOnly();
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->GetHead().position, 1u);
  EXPECT_TRUE((*reader)->Verify().ok());
  EXPECT_EQ((*reader)->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EventStoreTest, CheckpointIsAVerifiableCopy) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok());
  }
  ASSERT_TRUE(store_->Checkpoint(dir_.path() + "/copy").ok());
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("later")})).ok());
  auto copy = EventStore::Open(Options(), dir_.path() + "/copy");
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ((*copy)->GetHead().position, 5u);
  EXPECT_TRUE((*copy)->Verify().ok());
}

TEST_F(EventStoreTest, CompactLogLeavesNoOverlappingTablesAndKeepsEveryEvent) {
  // Three rounds of appends, each flushed by a checkpoint: three overlapping level-0 tables in
  // each space the appends write (below the automatic compaction's trigger of four).
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(
          store_->Append(Req("s-" + std::to_string(i), ExpectedRevision::Any(), {Ev("a")})).ok());
    }
    ASSERT_TRUE(store_->Checkpoint(dir_.path() + "/copy" + std::to_string(round)).ok());
  }
  // The level-0 tables of each space of the data directory, read by RocksDB itself.
  auto level0_tables = [&]() {
    std::map<std::string, std::string> out;
    RawDirectory raw(path(), /*read_only=*/true);
    EXPECT_TRUE(raw.ok());
    for (rocksdb::ColumnFamilyHandle* h : raw.families()) {
      raw.db()->GetProperty(h, "rocksdb.num-files-at-level0", &out[h->GetName()]);
    }
    return out;
  };
  std::map<std::string, std::string> before = level0_tables();
  EXPECT_EQ(before["events"], "3");
  EXPECT_EQ(before["streams"], "3");

  ASSERT_TRUE(store_->CompactLog().ok());
  store_.reset();
  for (const auto& [space, tables] : level0_tables()) EXPECT_EQ(tables, "0") << space;

  Reopen();
  EXPECT_EQ(store_->GetHead().position, 12u);
  EXPECT_TRUE(store_->Verify().ok());
  auto s1 = store_->ReadStream("s-1", 0, Direction::kForward, 10);
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(s1->size(), 3u);
  EXPECT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Exactly(2), {Ev("b")})).ok());
}

TEST_F(EventStoreTest, CompactLogIsRefusedReadOnlyAndAfterClose) {
  ASSERT_TRUE(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).ok());
  auto reader = OpenReadOnly();
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->CompactLog().code(), absl::StatusCode::kFailedPrecondition);
  store_->Close();
  EXPECT_EQ(store_->CompactLog().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EventStoreTest, AppendAfterCloseIsUnavailable) {
  store_->Close();
  EXPECT_EQ(store_->Append(Req("s-1", ExpectedRevision::Any(), {Ev("a")})).status().code(),
            absl::StatusCode::kUnavailable);
}

// Collects the outcomes of asynchronous appends, in completion order.
class Completions {
 public:
  EventStore::AppendCallback Add(int tag) {
    return [this, tag](absl::StatusOr<AppendResult> r) {
      absl::MutexLock lock(&mu_);
      outcomes_.emplace_back(tag, std::move(r));
    };
  }
  // Waits until `n` outcomes arrived and returns them.
  std::vector<std::pair<int, absl::StatusOr<AppendResult>>> Wait(size_t n) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    mu_.Await(absl::Condition(this, &Completions::Ready));
    return outcomes_;
  }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcomes_.size() >= want_; }

  absl::Mutex mu_;
  size_t want_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<int, absl::StatusOr<AppendResult>>> outcomes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(EventStoreTest, AsyncAppendsCompleteOnceEachDurableContiguousAndVerifiable) {
  constexpr int kAppends = 500;
  Completions done;
  for (int i = 0; i < kAppends; ++i) {
    store_->AppendAsync(Req("async-" + std::to_string(i % 7), ExpectedRevision::Any(), {Ev("a")}),
                        done.Add(i));
  }
  auto outcomes = done.Wait(kAppends);
  ASSERT_EQ(outcomes.size(), static_cast<size_t>(kAppends));
  std::set<int> tags;
  std::set<uint64_t> positions;
  for (auto& [tag, r] : outcomes) {
    ASSERT_TRUE(r.ok()) << r.status();
    tags.insert(tag);
    positions.insert(r->first_position);
  }
  EXPECT_EQ(tags.size(), static_cast<size_t>(kAppends));  // each callback ran exactly once
  EXPECT_EQ(*positions.rbegin(), static_cast<uint64_t>(kAppends));
  EXPECT_EQ(positions.size(), static_cast<size_t>(kAppends));
  Reopen();
  EXPECT_EQ(store_->GetHead().position, static_cast<uint64_t>(kAppends));
  EXPECT_TRUE(store_->Verify().ok());
}

TEST_F(EventStoreTest, AsyncAndBlockingAppendsShareTheLogAndTheExpectedRevisionRules) {
  Completions done;
  // Twenty asynchronous appends all expecting "no stream": exactly one wins.
  for (int i = 0; i < 20; ++i) {
    store_->AppendAsync(Req("contended", ExpectedRevision::NoStream(), {Ev("a")}), done.Add(i));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE(
            store_->Append(Req("blocking-" + std::to_string(t), ExpectedRevision::Any(), {Ev("b")}))
                .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto outcomes = done.Wait(20);
  int wins = 0;
  for (auto& [tag, r] : outcomes) {
    if (r.ok()) {
      ++wins;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
      EXPECT_EQ(CurrentRevisionFrom(r.status()), 0);
    }
  }
  EXPECT_EQ(wins, 1);
  EXPECT_EQ(store_->GetHead().position, 101u);
  EXPECT_TRUE(store_->Verify().ok());
}

TEST_F(EventStoreTest, AsyncAppendReportsBadInputAndIdempotentRetries) {
  Completions done;
  store_->AppendAsync(Req("", ExpectedRevision::Any(), {Ev("a")}), done.Add(0));
  store_->AppendAsync(Req("s", ExpectedRevision::Any(), {Ev("a")}, "cmd-1"), done.Add(1));
  auto first = done.Wait(2);
  ASSERT_EQ(first[0].first, 0);  // refused before queueing, on the caller's thread
  EXPECT_EQ(first[0].second.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(first[1].second.ok());
  store_->AppendAsync(Req("s", ExpectedRevision::Any(), {Ev("a")}, "cmd-1"), done.Add(2));
  store_->AppendAsync(Req("s", ExpectedRevision::Any(), {Ev("other")}, "cmd-1"), done.Add(3));
  auto all = done.Wait(4);
  for (auto& [tag, r] : all) {
    if (tag == 2) {
      ASSERT_TRUE(r.ok());
      EXPECT_TRUE(r->replayed);
      EXPECT_EQ(r->first_position, first[1].second->first_position);
    }
    if (tag == 3) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
    }
  }
  EXPECT_EQ(store_->GetHead().position, 1u);
}

// A writer's fingerprint decides what a retry is: the same fingerprint replays the first result
// whatever the events (a command decided again yields other dates and ids), another one is
// refused; before and after a restart, and within one group commit.
TEST_F(EventStoreTest, CommandFingerprintTellsARetryFromAReusedCommandId) {
  const std::string close(32, 'c');
  const std::string heatwave(32, 'h');
  AppendRequest first =
      Req("site-1", ExpectedRevision::NoStream(), {Ev("site.closed", "x")}, "cmd-1");
  first.command_fingerprint = close;
  auto appended = store_->Append(first);
  ASSERT_TRUE(appended.ok()) << appended.status();

  auto check = [&](const std::string& when) {
    AppendRequest retry =
        Req("site-1", ExpectedRevision::Exactly(7), {Ev("site.closed", "decided again")}, "cmd-1");
    retry.command_fingerprint = close;
    auto r = store_->Append(retry);
    ASSERT_TRUE(r.ok()) << when << ": " << r.status();
    EXPECT_TRUE(r->replayed) << when;
    EXPECT_EQ(r->first_position, appended->first_position) << when;
    EXPECT_EQ(r->stream_revision, appended->stream_revision) << when;

    AppendRequest other =
        Req("site-1", ExpectedRevision::Exactly(0), {Ev("site.heatwave_alert_raised")}, "cmd-1");
    other.command_fingerprint = heatwave;
    r = store_->Append(other);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << when;
    EXPECT_THAT(r.status().message(),
                HasSubstr("command_id: already used for a different command (first used at "
                          "position 1)"))
        << when;
    EXPECT_EQ(ReusedCommandPositionFrom(r.status()), 1u) << when;
    // The very bytes of the first append, without a fingerprint: a different request.
    AppendRequest raw = first;
    raw.command_fingerprint.clear();
    EXPECT_EQ(store_->Append(raw).status().code(), absl::StatusCode::kAlreadyExists) << when;

    auto record = store_->GetCommand("cmd-1");
    ASSERT_TRUE(record.ok() && record->has_value()) << when;
    EXPECT_EQ((*record)->kind, CommandRecord::FingerprintKind::kCommand) << when;
    EXPECT_EQ((*record)->fingerprint, close) << when;
    EXPECT_EQ((*record)->result.first_position, 1u) << when;
    EXPECT_EQ((*record)->result.last_position, 1u) << when;
    EXPECT_EQ((*record)->result.stream_revision, 0u) << when;
    EXPECT_EQ(store_->GetHead().position, 1u) << when;
  };
  check("before a restart");
  Reopen();
  check("after a restart");
  auto unknown = store_->GetCommand("never-used");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());

  // Three appends under one new id queued at once (one group commit when they meet there): the
  // first is appended, the same command replayed, the other refused.
  Completions done;
  for (int i = 0; i < 3; ++i) {
    AppendRequest r = Req("site-2", ExpectedRevision::Any(), {Ev("e", std::to_string(i))}, "cmd-2");
    r.command_fingerprint = i < 2 ? close : heatwave;
    store_->AppendAsync(std::move(r), done.Add(i));
  }
  auto outcomes = done.Wait(3);
  std::sort(outcomes.begin(), outcomes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_TRUE(outcomes[0].second.ok()) << outcomes[0].second.status();
  EXPECT_FALSE(outcomes[0].second->replayed);
  ASSERT_TRUE(outcomes[1].second.ok()) << outcomes[1].second.status();
  EXPECT_TRUE(outcomes[1].second->replayed);
  EXPECT_EQ(outcomes[1].second->first_position, outcomes[0].second->first_position);
  EXPECT_EQ(outcomes[2].second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->GetHead().position, 2u);
  EXPECT_TRUE(store_->Verify().ok());

  // The records as stored: fingerprint, first and last position, revision, and the kind byte 1
  // for a writer's fingerprint; the store's own fingerprint has no kind byte (as in version 2).
  ASSERT_TRUE(store_->Append(Req("s-3", ExpectedRevision::Any(), {Ev("a")}, "cmd-3")).ok());
  store_.reset();
  RawDb raw(path());
  std::string v;
  ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("commands"), "cmd-1", &v).ok());
  EXPECT_EQ(
      v, close + std::string("\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\1", 16) + std::string(8, '\0') + "\1");
  ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("commands"), "cmd-3", &v).ok());
  EXPECT_EQ(v.size(), 56u);
  EXPECT_EQ(v.substr(32),
            std::string("\0\0\0\0\0\0\0\3\0\0\0\0\0\0\0\3", 16) + std::string(8, '\0'));
}

TEST_F(EventStoreTest, AsyncAppendAfterCloseIsUnavailable) {
  Completions done;
  store_->AppendAsync(Req("s-1", ExpectedRevision::Any(), {Ev("a")}), done.Add(0));
  store_->Close();  // waits for the queued append
  store_->AppendAsync(Req("s-1", ExpectedRevision::Any(), {Ev("a")}), done.Add(1));
  auto outcomes = done.Wait(2);
  EXPECT_TRUE(outcomes[0].second.ok());
  EXPECT_EQ(outcomes[1].second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rb::es
