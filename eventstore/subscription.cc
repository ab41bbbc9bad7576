#include <atomic>

#include "eventstore/event_store_impl.h"

namespace rb::es::internal {
namespace {

// Reads the log from a cursor; when caught up, waits for the head to move. Holds at most one
// batch in memory, so a slow consumer costs nothing but its cursor.
class LogSubscription : public Subscription {
 public:
  LogSubscription(const EventStoreImpl* store, uint64_t from, LogFilter filter)
      : store_(store), next_(from == 0 ? 1 : from), filter_(std::move(filter)) {}

  absl::StatusOr<std::vector<RecordedEvent>> Next(size_t max_events, absl::Time deadline) override {
    if (max_events == 0) max_events = 1;
    // A sparse filter examines many events per returned one: bound the work of one read.
    const size_t max_examined = std::max<size_t>(max_events * 16, 4096);
    while (true) {
      if (cancelled_.load()) return absl::CancelledError("subscription cancelled");
      if (store_->GetHead().position >= next_) {
        auto r = store_->ReadAll(next_, max_events, filter_, max_examined);
        if (!r.ok()) return r.status();
        next_ = r->next_position;
        if (!r->events.empty()) return std::move(r->events);
        if (absl::Now() >= deadline) return std::vector<RecordedEvent>();
        continue;
      }
      absl::MutexLock lock(&store_->head_mu());
      while (store_->GetHeadLocked().position < next_ && !cancelled_.load()) {
        if (store_->head_cv().WaitWithDeadline(&store_->head_mu(), deadline)) {
          return std::vector<RecordedEvent>();
        }
      }
    }
  }

  uint64_t next_position() const override { return next_; }

  void Cancel() override {
    cancelled_.store(true);
    store_->WakeWaiters();
  }

 private:
  const EventStoreImpl* const store_;
  uint64_t next_;
  const LogFilter filter_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

std::unique_ptr<Subscription> EventStoreImpl::Subscribe(uint64_t from, LogFilter filter) const {
  return std::make_unique<LogSubscription>(this, from, std::move(filter));
}

}  // namespace rb::es::internal
