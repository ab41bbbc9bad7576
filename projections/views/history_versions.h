// Copyright: the Résorption-bidonvilles data service authors.
//
// SiteVersionLog: the per-site version index shared by the `history` and `series` projections,
// kept in the projection's own key spaces through a ViewWriter (and read back through a
// ViewReader). A site's *versions* are its events ordered by the bitemporal key
// (valid_at_us, position); the state "on valid date V as known at log position P" is the fold,
// in key order, of the versions with valid_at_us <= V and position <= P.
//
//   rb::proj::views::SiteVersionLog log({.versions = "versions", .sites = "sites",
//                                        .snapshots = "snapshots"});
//   // In Projection::Apply, for a site event:
//   absl::StatusOr<rb::proj::views::SiteVersionLog::Change> c = log.Add(writer, recorded, event);
//   // c->states: the folded state after each re-folded version (key order), c->before: the
//   // state just before the first of them, c->index: the site's updated record.
//
// Key spaces (names chosen by the owner; `snapshots` may be empty to keep no snapshots):
//   versions : <site id> 0x00 <valid_at u64 BE, sign bit flipped> <position u64 BE>
//              -> SiteEvent, deterministic bytes (already upcast)
//   sites    : <site id> -> SiteVersionIndex (history_query.proto): every version key, the
//              snapshot list and the tail (fold of every version)
//   snapshots: same key as versions -> Site, the fold of every version up to that key, written
//              every `snapshot_every` versions; deleted when a retroactive version is inserted
//              before them (and rewritten by the re-fold).
// Deterministic; thread-compatible (no state besides options).
#ifndef RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_
#define RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "eventstore/event.h"
#include "projections/projection.h"
#include "resorption/v1/history_query.pb.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::proj::views {

// 8-byte order-preserving encodings.
void AppendOrderedInt64(std::string* out, int64_t v);
void AppendBigEndian64(std::string* out, uint64_t v);
uint64_t ReadBigEndian64(std::string_view in);

// <site id> 0x00 <valid_at> <position>
std::string VersionKey(std::string_view site_id, int64_t valid_at_us, uint64_t position);

struct SiteVersionLogOptions {
  std::string versions = "versions";
  std::string sites = "sites";
  std::string snapshots;  // empty: no snapshots
  // A snapshot every this many versions (in key order).
  uint32_t snapshot_every = 64;
};

class SiteVersionLog {
 public:
  explicit SiteVersionLog(SiteVersionLogOptions options) : options_(std::move(options)) {}

  struct Change {
    // Index of the inserted version in key order; == old version count for an append.
    size_t inserted_at = 0;
    bool retroactive = false;  // inserted before the last version
    // The state before version `inserted_at`, and after each version from `inserted_at` on.
    resorption::v1::Site before;
    std::vector<resorption::v1::Site> states;
    std::vector<int64_t> valid_at_us;        // of each version in `states`
    resorption::v1::SiteVersionIndex index;  // the record after the change
  };

  // Records `event` (decoded from `recorded`) as a version of its site, re-folds what the
  // insertion changed, writes the record, the version and the snapshots. Errors: DATA_LOSS for an
  // undecodable stored record or version; storage errors.
  absl::StatusOr<Change> Add(ViewWriter& writer, const rb::es::RecordedEvent& recorded,
                             const resorption::v1::SiteEvent& event) const;

 private:
  SiteVersionLogOptions options_;
};

// The site id of a site event's stream ("site-42" -> "42"); empty for another category.
std::string SiteIdOfStream(std::string_view stream_id);

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_
