// Copyright: the Résorption-bidonvilles data service authors.
//
// LiveStream: the life cycle of a server-streaming call that follows the log
// (EventStream.Subscribe, Sites.WatchActivity). It alternates between producing messages (reading
// the store) and waiting, parked in a SubscriptionHub without a thread, for the log to grow. A
// subclass says what comes next (Advance); this class makes the hand-overs between gRPC's
// reactions, the hub's wake-ups and the client's cancellation safe.
//
//   class TailReactor final : public LiveStream<v1::TailResponse> {
//    public:
//     TailReactor(SubscriptionHub* hub, ...) : LiveStream(hub) { Start(); }
//    private:
//     Step Advance(bool tick) override {
//       if (/* something to send */) return Step::Write(&message_);
//       return Step::WaitFor(next_position_);
//     }
//     grpc::Status Closing() override { return {grpc::StatusCode::UNAVAILABLE, "..."}; }
//   };
//
// States: pumping (in Advance, on a gRPC or hub thread), writing (one message in flight), parked
// (in the hub, no thread), finished. Exactly one holds at a time, so reads, writes and wake-ups
// never overlap; a mutex makes the hand-overs (and OnCancel) atomic. The call ends with CANCELLED
// when the client cancels or the stream breaks, with Closing() when the hub closes (the server
// shuts down), or with the status Advance returns.
//
// Thread safety: Advance and Closing run with the reactor's lock held, one at a time.
#ifndef RB_SERVICES_LIVE_STREAM_H_
#define RB_SERVICES_LIVE_STREAM_H_

#include <cstdint>
#include <mutex>
#include <optional>

#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "services/subscription_hub.h"

namespace rb::services {

template <typename Response>
class LiveStream : public grpc::ServerWriteReactor<Response>, public Parked {
 public:
  void Wake(bool tick) final { Pump(tick); }

  void OnWriteDone(bool ok) final {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok) cancelled_ = true;  // the stream broke: the client is gone
    }
    Pump(false);
  }

  void OnCancel() final {
    std::unique_lock<std::mutex> lock(mu_);
    cancelled_ = true;
    if (hub_->Unpark(this)) FinishLocked(lock, grpc::Status::CANCELLED);
  }

  void OnDone() final {
    hub_->Forget(this);
    Ended();
    delete this;
  }

 protected:
  // What comes next: a message to write, the status to end the call with, or the log position to
  // wait for (the hub wakes the stream when the head reaches it, or on its tick).
  struct Step {
    const Response* write = nullptr;
    std::optional<grpc::Status> end;
    uint64_t wait_for = 0;

    // `message` must stay valid until the next Advance.
    static Step Write(const Response* message) {
      Step s;
      s.write = message;
      return s;
    }
    static Step End(grpc::Status status) {
      Step s;
      s.end = std::move(status);
      return s;
    }
    static Step WaitFor(uint64_t position) {
      Step s;
      s.wait_for = position;
      return s;
    }
  };

  // `hub` is not owned and must outlive the call.
  explicit LiveStream(SubscriptionHub* hub) : hub_(hub) {}
  ~LiveStream() override = default;

  // Starts the stream: call once, at the end of the subclass's constructor.
  void Start() { Pump(false); }
  // Ends the call at once with `status` (a refused request), instead of Start.
  void Refuse(const grpc::Status& status) {
    std::unique_lock<std::mutex> lock(mu_);
    FinishLocked(lock, status);
  }

  // Never called while a write is in flight or while parked. `tick`: woken by the hub's periodic
  // tick (time for a checkpoint), not by the log's growth.
  virtual Step Advance(bool tick) = 0;
  // The status the call ends with when the server shuts down (saying where to resume).
  virtual grpc::Status Closing() = 0;
  // Runs once when the call is over, just before the reactor is deleted.
  virtual void Ended() {}

 private:
  void Pump(bool tick) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (finished_) return;
      if (cancelled_) return FinishLocked(lock, grpc::Status::CANCELLED);
      if (hub_->closing()) return FinishLocked(lock, Closing());
      Step step = Advance(tick);
      if (step.end.has_value()) return FinishLocked(lock, *step.end);
      if (step.write != nullptr) {
        lock.unlock();  // a reaction may run inline
        this->StartWrite(step.write);
        return;
      }
      switch (hub_->Park(this, step.wait_for)) {
        case SubscriptionHub::ParkResult::kParked:
          return;
        case SubscriptionHub::ParkResult::kClosed:
          return FinishLocked(lock, Closing());
        case SubscriptionHub::ParkResult::kRetry:
          tick = false;
          continue;
      }
    }
  }

  // Finishes once, outside the lock.
  void FinishLocked(std::unique_lock<std::mutex>& lock, const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    lock.unlock();
    this->Finish(status);
  }

  SubscriptionHub* const hub_;
  std::mutex mu_;
  bool cancelled_ = false;
  bool finished_ = false;
};

}  // namespace rb::services

#endif  // RB_SERVICES_LIVE_STREAM_H_
