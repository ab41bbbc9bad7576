// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/deterministic_ids.h"

#include "absl/strings/str_format.h"

namespace rb::tools {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string UuidV4(uint64_t hi, uint64_t lo) {
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

std::string DeterministicIds::NextId() {
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hi = SplitMix64(&state_);
    lo = SplitMix64(&state_);
  }
  return UuidV4(hi, lo);
}

absl::StatusOr<rb::es::AppendResult> DeterministicIds::Append(const rb::es::AppendRequest& req) {
  rb::es::AppendRequest copy = req;
  for (rb::es::EventData& e : copy.events) {
    if (e.event_id.empty()) e.event_id = NextId();
  }
  return store_->Append(copy);
}

}  // namespace rb::tools
