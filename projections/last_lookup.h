// Copyright: the Résorption-bidonvilles data service authors.
//
// LastLookup: the entry a batch state found last for a key, so that the next lookup of the same
// key skips the table. The events of one site come in runs (a command's events, a stream's
// history): a batch keyed by site then hashes and probes once per run rather than once per event.
//
//   if (Entry* e = last_.Find(id)) return e;
//   auto it = sites_.find(id);
//   if (it != sites_.end()) return last_.Remember(id, &it->second);
//
// The remembered entry must stay where it is while remembered: use it over a pointer-stable
// table (node_hash_map, std::map), or Forget before the table moves its entries.
#ifndef RB_PROJECTIONS_LAST_LOOKUP_H_
#define RB_PROJECTIONS_LAST_LOOKUP_H_

#include <string>
#include <string_view>

namespace rb::proj {

template <typename Entry>
class LastLookup {
 public:
  // The entry remembered for `key`; nullptr when the last lookup was of another key (or none).
  Entry* Find(std::string_view key) const {
    return entry_ != nullptr && key_ == key ? entry_ : nullptr;
  }
  // Remembers `entry` for `key` and returns it.
  Entry* Remember(std::string_view key, Entry* entry) {
    key_.assign(key.data(), key.size());
    entry_ = entry;
    return entry;
  }
  void Forget() { entry_ = nullptr; }

 private:
  std::string key_;  // keeps its capacity from one key to the next
  Entry* entry_ = nullptr;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_LAST_LOOKUP_H_
