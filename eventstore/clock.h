// Copyright: the Résorption-bidonvilles data service authors.
//
// An injectable time source, so that tests control time without sleeping.
//
//   rb::es::ManualClock clock(1'700'000'000'000'000);
//   options.clock = &clock;
//   clock.Advance(absl::Hours(1));
#ifndef RB_EVENTSTORE_CLOCK_H_
#define RB_EVENTSTORE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace rb::es {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowMicros() = 0;
  // The process-wide system clock.
  static Clock* System();
};

// A clock that only moves when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t now_us) : now_us_(now_us) {}
  int64_t NowMicros() override { return now_us_.load(); }
  void Set(int64_t now_us) { now_us_.store(now_us); }
  void Advance(absl::Duration d) { now_us_ += absl::ToInt64Microseconds(d); }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace rb::es

#endif  // RB_EVENTSTORE_CLOCK_H_
