// Copyright: the Résorption-bidonvilles data service authors.
#include "services/subscription_hub.h"

#include <chrono>
#include <vector>

namespace rb::services {

SubscriptionHub::SubscriptionHub(rb::es::EventStore* store, absl::Duration tick)
    : store_(store), tick_(tick) {}

SubscriptionHub::~SubscriptionHub() { Stop(); }

void SubscriptionHub::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  head_ = store_->GetHead().position;
  listener_id_ = store_->AddHeadListener([this](uint64_t position) {
    std::lock_guard<std::mutex> l(mu_);
    if (position > head_) {
      head_ = position;
      head_changed_ = true;
      cv_.notify_all();
    }
  });
  worker_ = std::thread([this] { Loop(); });
  worker_id_ = worker_.get_id();
}

SubscriptionHub::ParkResult SubscriptionHub::Park(Parked* p, uint64_t next_position) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return ParkResult::kClosed;
  if (head_ >= next_position) return ParkResult::kRetry;
  parked_[p] = next_position;
  return ParkResult::kParked;
}

bool SubscriptionHub::Unpark(Parked* p) {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.erase(p) > 0;
}

void SubscriptionHub::Forget(Parked* p) {
  std::unique_lock<std::mutex> lock(mu_);
  parked_.erase(p);
  if (std::this_thread::get_id() == worker_id_) return;
  cv_.wait(lock, [&] { return waking_.count(p) == 0; });
}

void SubscriptionHub::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closing_ = true;
  cv_.notify_all();
}

bool SubscriptionHub::closing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closing_;
}

uint64_t SubscriptionHub::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_;
}

void SubscriptionHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    closing_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  store_->RemoveHeadListener(listener_id_);
  worker_.join();
}

void SubscriptionHub::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next_tick = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(tick_);
  for (;;) {
    cv_.wait_until(lock, next_tick,
                   [&] { return stopping_ || head_changed_ || (closing_ && !parked_.empty()); });
    bool tick = std::chrono::steady_clock::now() >= next_tick;
    if (tick) next_tick = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(tick_);
    // Collect the subscribers to wake: all of them on a tick or when closing, otherwise those
    // whose awaited position is now in the log.
    std::vector<Parked*> wake;
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (tick || closing_ || it->second <= head_) {
        wake.push_back(it->first);
        waking_.insert(it->first);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
    head_changed_ = false;
    bool tick_only = tick && !closing_;
    lock.unlock();
    for (Parked* p : wake) {
      p->Wake(tick_only);
      std::lock_guard<std::mutex> l(mu_);
      waking_.erase(p);
      cv_.notify_all();
    }
    lock.lock();
    if (stopping_ && parked_.empty()) return;
  }
}

}  // namespace rb::services
