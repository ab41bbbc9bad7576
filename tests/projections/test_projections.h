// Copyright: the Résorption-bidonvilles data service authors.
//
// Small generic projections and helpers for the engine's tests.
//   CategoryCounts  events per stream category, plus a "_total" key (a fold on its own writes).
//   LastType        the last event type and revision of each stream.
//   StreamDigest    per stream, a running FNV-1a digest over the events in order: any
//                   event applied twice, skipped or reordered changes it.
//   Poisoned        counts events, fails on type "test.poison".
// A Gate makes a projection's Apply block on a chosen event type until the test opens it.
#ifndef RB_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_
#define RB_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/projection.h"

namespace rb::proj::testing {

// Blocks Apply calls of a given event type until opened.
class Gate {
 public:
  void Open() {
    absl::MutexLock l(&mu_);
    open_ = true;
  }
  // Called from Apply.
  void Pass() {
    absl::MutexLock l(&mu_);
    ++arrived_;
    mu_.Await(absl::Condition(&open_));
  }
  // Waits until some Apply call is blocked at (or passed) the gate.
  bool WaitArrived(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return arrived_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
};

inline absl::StatusOr<uint64_t> GetCount(ViewWriter& w, std::string_view space,
                                         std::string_view key) {
  absl::StatusOr<std::optional<std::string>> old = w.Get(space, key);
  if (!old.ok()) return old.status();
  uint64_t n = 0;
  if (old->has_value() && !absl::SimpleAtoi(**old, &n)) {
    return absl::DataLossError("count is not a number");
  }
  return n;
}

inline absl::Status Increment(ViewWriter& w, std::string_view space, std::string_view key) {
  absl::StatusOr<uint64_t> n = GetCount(w, space, key);
  if (!n.ok()) return n.status();
  w.Put(space, key, absl::StrCat(*n + 1));
  return absl::OkStatus();
}

// The example of projection.h, plus a total. Version 2 also counts per event type, so that its
// views differ from version 1's.
class CategoryCounts : public Projection {
 public:
  explicit CategoryCounts(uint32_t version = 1, Gate* gate = nullptr)
      : version_(version), gate_(gate) {}
  std::string name() const override { return "category_counts"; }
  uint32_t version() const override { return version_; }
  std::vector<std::string> spaces() const override { return {"counts"}; }
  absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
    if (gate_ != nullptr && e.type == "test.gate") gate_->Pass();
    if (absl::Status s = Increment(w, "counts", e.Category()); !s.ok()) return s;
    if (version_ >= 2) {
      if (absl::Status s = Increment(w, "counts", absl::StrCat("type:", e.type)); !s.ok()) {
        return s;
      }
    }
    return Increment(w, "counts", "_total");
  }

 private:
  const uint32_t version_;
  Gate* const gate_;
};

class LastType : public Projection {
 public:
  std::string name() const override { return "last_type"; }
  uint32_t version() const override { return 1; }
  std::vector<std::string> spaces() const override { return {"last"}; }
  absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
    w.Put("last", e.stream_id, absl::StrCat(e.type, "@", e.revision));
    return absl::OkStatus();
  }
};

class StreamDigest : public Projection {
 public:
  std::string name() const override { return "stream_digest"; }
  uint32_t version() const override { return 1; }
  std::vector<std::string> spaces() const override { return {"digest", "seen"}; }
  absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
    absl::StatusOr<std::optional<std::string>> old = w.Get("digest", e.stream_id);
    if (!old.ok()) return old.status();
    uint64_t h = 1469598103934665603ull;
    if (old->has_value() && !absl::SimpleAtoi(**old, &h)) return absl::DataLossError("digest");
    for (char c : absl::StrCat(e.event_id, "|", e.type, "|", e.position)) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    w.Put("digest", e.stream_id, absl::StrCat(h));
    // Stream ids seen, with the revision seen first and last: checks read-your-own-writes too.
    absl::StatusOr<std::optional<std::string>> seen = w.Get("seen", e.stream_id);
    if (!seen.ok()) return seen.status();
    if (!seen->has_value() && e.revision != 0) {
      return absl::InternalError(
          absl::StrCat("stream ", e.stream_id, " seen first at revision ", e.revision));
    }
    w.Put("seen", e.stream_id, absl::StrCat(e.revision));
    return absl::OkStatus();
  }
};

class Poisoned : public Projection {
 public:
  std::string name() const override { return "poisoned"; }
  uint32_t version() const override { return 1; }
  std::vector<std::string> spaces() const override { return {"counts"}; }
  absl::Status Apply(const rb::es::RecordedEvent& e, ViewWriter& w) const override {
    if (absl::Status s = Increment(w, "counts", "_total"); !s.ok()) return s;
    if (e.type == "test.poison") {
      return absl::InvalidArgumentError(absl::StrCat("cannot digest event ", e.event_id));
    }
    return absl::OkStatus();
  }
};

// Appends `n` events of `type`, one per append, to `stream`. Returns the last position.
inline uint64_t AppendEvents(rb::es::EventStore& store, const std::string& stream,
                             const std::string& type, int n) {
  uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    rb::es::AppendRequest req;
    req.stream_id = stream;
    req.events.push_back(rb::es::EventData{.type = type, .payload = absl::StrCat("p", i)});
    absl::StatusOr<rb::es::AppendResult> r = store.Append(req);
    if (!r.ok()) return 0;
    last = r->last_position;
  }
  return last;
}

// Appends `n` events spread over `streams` streams of categories "site" and "action", in
// appends of up to 100 events. Returns the last position.
inline uint64_t AppendMany(rb::es::EventStore& store, int n, int streams = 20) {
  uint64_t last = 0;
  int i = 0;
  while (i < n) {
    rb::es::AppendRequest req;
    const int s = (i / 100) % streams;
    req.stream_id = absl::StrCat(s % 2 == 0 ? "site-" : "action-", s);
    for (int k = 0; k < 100 && i < n; ++k, ++i) {
      req.events.push_back(rb::es::EventData{.type = absl::StrCat("test.kind", i % 3),
                                             .payload = absl::StrCat("payload-", i)});
    }
    absl::StatusOr<rb::es::AppendResult> r = store.Append(req);
    if (!r.ok()) return 0;
    last = r->last_position;
  }
  return last;
}

}  // namespace rb::proj::testing

#endif  // RB_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_
