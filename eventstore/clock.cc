#include "eventstore/clock.h"

#include "absl/time/clock.h"

namespace rb::es {
namespace {

class SystemClock : public Clock {
 public:
  int64_t NowMicros() override { return absl::ToUnixMicros(absl::Now()); }
};

}  // namespace

Clock* Clock::System() {
  static SystemClock* clock = new SystemClock();
  return clock;
}

}  // namespace rb::es
