// Copyright: the Résorption-bidonvilles data service authors.
//
// SubscriptionHub: wakes idle live subscribers when the log grows, without a thread per
// subscriber. A subscriber that has caught up parks itself with the position it waits for; the
// hub's one worker thread wakes it when the head reaches that position (the event store's head
// listener signals the worker), and wakes every parked subscriber once per tick so they can send
// periodic checkpoints.
//
//   rb::services::SubscriptionHub hub(store, absl::Seconds(1));
//   hub.Start();
//   switch (hub.Park(subscriber, next_position)) { ... }  // inside the subscriber
//   hub.Close();  // shutdown: every parked subscriber is woken, later Park calls get kClosed
//   hub.Stop();
//
// Thread safety: all methods are thread-safe. Wake() is called on the hub's worker thread, never
// with the hub's lock held.
#ifndef RB_SERVICES_SUBSCRIPTION_HUB_H_
#define RB_SERVICES_SUBSCRIPTION_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/time.h"
#include "eventstore/event_store.h"

namespace rb::services {

class Parked {
 public:
  virtual ~Parked() = default;
  // Called on the hub thread once the subscriber was unparked: `tick` is true for the periodic
  // wake-up, false when the head reached the awaited position or the hub closes.
  virtual void Wake(bool tick) = 0;
};

class SubscriptionHub {
 public:
  // `store` is not owned and must outlive the hub.
  SubscriptionHub(rb::es::EventStore* store, absl::Duration tick);
  ~SubscriptionHub();

  // Registers the head listener and starts the worker.
  void Start();

  enum class ParkResult { kParked, kRetry, kClosed };
  // Parks `p` until the head reaches `next_position`. kRetry: the head is already there (read
  // again); kClosed: the hub is closing (finish the call).
  ParkResult Park(Parked* p, uint64_t next_position);
  // Removes `p` if parked; true when it was (the caller now owns the wake-up).
  bool Unpark(Parked* p);
  // Removes `p` for good, waiting for a Wake(p) in progress on another thread to return.
  void Forget(Parked* p);

  // Wakes every parked subscriber; later Park calls return kClosed. Idempotent.
  void Close();
  bool closing() const;
  // Close(), then stops the worker and removes the head listener. Idempotent.
  void Stop();

  uint64_t head() const;

 private:
  void Loop();

  rb::es::EventStore* const store_;
  const absl::Duration tick_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Parked*, uint64_t> parked_;
  std::set<Parked*> waking_;
  uint64_t head_ = 0;
  bool head_changed_ = false;
  bool closing_ = false;
  bool stopping_ = false;
  bool started_ = false;
  uint64_t listener_id_ = 0;
  std::thread worker_;
  std::thread::id worker_id_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_SUBSCRIPTION_HUB_H_
