// Copyright: the Résorption-bidonvilles data service authors.
//
// SiteVersionLog: the per-site version index shared by the `history` and `series` projections,
// kept in the projection's own key spaces through a ViewWriter (and read back through a
// ViewReader). A site's *versions* are its events ordered by the bitemporal key
// (valid_at_us, position); the state "on valid date V as known at log position P" is the fold,
// in key order, of the versions with valid_at_us <= V and position <= P.
//
//   rb::proj::views::SiteVersionLog log({.sites = "sites", .snapshots = "snapshots"});
//   // In Projection::Apply, for a site event, with a SiteVersionLog::Batch kept in the
//   // projection's batch state (projection.h):
//   absl::StatusOr<rb::proj::views::SiteVersionLog::Change> c =
//       log.Add(writer, batch, recorded, event);
//   // c->states(): the folded state after each re-folded version (key order);
//   // c->before_city_code: the commune of the state just before the first of them.
//   // In BatchState::Flush: batch.Flush(writer) writes each changed site record once.
//
// The versions themselves are not copied: the index keeps each version's log position, and a
// re-fold (a retroactive event, a query before the tail) reads the events back from the log
// (ViewWriter::ReadEvent, EventStore::ReadEvent) and decodes them as the projection did.
//
// Key spaces (names chosen by the owner; `snapshots` may be empty to keep no snapshots):
//   sites    : <site id> -> SiteVersionIndex (history_query.proto): every version key, the
//              snapshot list and the tail (fold of every version)
//   snapshots: VersionKey -> Site, the fold of every version up to that key, written every
//              `snapshot_every` versions; deleted when a retroactive version is inserted before
//              them (and rewritten by the re-fold).
// Deterministic; thread-compatible (no state besides options).
#ifndef RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_
#define RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "eventstore/event.h"
#include "google/protobuf/arena.h"
#include "projections/batch_arena.h"
#include "projections/last_lookup.h"
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
  std::string sites = "sites";
  std::string snapshots;  // empty: no snapshots
  // A snapshot every this many versions (in key order).
  uint32_t snapshot_every = 64;
};

class SiteVersionLog {
 public:
  explicit SiteVersionLog(SiteVersionLogOptions options) : options_(std::move(options)) {}

  // The site records a batch changed, typed: Add reads a site's record from the store once per
  // batch and keeps it here; Flush writes each changed record once. The records written are the
  // same as writing the record at every Add, whatever the batch boundaries (the last write of a
  // key wins). Owned by the projection's BatchState; not thread-safe.
  class Batch {
   public:
    // Writes each record changed since the last Flush (deterministic bytes), then forgets them.
    void Flush(ViewWriter& writer);
    // Approximate memory held, in bytes.
    size_t ApproximateBytes() const { return bytes_; }

   private:
    friend class SiteVersionLog;
    struct Entry {
      resorption::v1::SiteVersionIndex* index = nullptr;  // on arena_
      size_t bytes = 0;                                   // charged to bytes_
    };
    std::string space_;  // the log's `sites` space, set by Add
    // The records and their folded states, freed at once by Flush (no destruction per field).
    google::protobuf::Arena arena_{BatchArenaOptions()};
    absl::flat_hash_map<std::string, Entry> sites_;
    // Each site of sites_ and its record, in the order the sites came: the records were made in
    // that order on the arena, which Flush then reads ahead.
    std::vector<std::pair<std::string, const resorption::v1::SiteVersionIndex*>> order_;
    // The site of the last Add and its entry: consecutive events of one site (a command's, a
    // stream read in order) skip the lookup. Set again after every insertion into sites_, which
    // may move the entries.
    LastLookup<Entry> last_;
    size_t bytes_ = 0;
  };

  struct Change {
    // Index of the inserted version in key order; == old version count for an append.
    size_t inserted_at = 0;
    bool retroactive = false;  // inserted before the last version
    // The commune (territory city code) of the state before version `inserted_at`.
    std::string before_city_code;
    // The state after each re-folded version from `inserted_at` on, but the last; the last one is
    // the site's tail, `*last`.
    std::vector<resorption::v1::Site> earlier_states;
    // Valid only until the next Add or Flush on the same batch.
    const resorption::v1::Site* last = nullptr;
    // Of each re-folded version (earlier_states, then last); inline for an append (one version).
    absl::InlinedVector<int64_t, 2> valid_at_us;

    size_t size() const { return earlier_states.size() + 1; }
    const resorption::v1::Site& state(size_t i) const {
      return i < earlier_states.size() ? earlier_states[i] : *last;
    }
  };

  // Records `event` (decoded from `recorded`) as a version of its site, re-folds what the
  // insertion changed (reading the later versions back from the log), writes the snapshots, and
  // keeps the updated site record in `batch` (written by Batch::Flush). Errors: DATA_LOSS for an
  // undecodable stored record, or a version missing from the log or not of this site; storage
  // errors.
  absl::StatusOr<Change> Add(ViewWriter& writer, Batch& batch,
                             const rb::es::RecordedEvent& recorded,
                             const resorption::v1::SiteEvent& event) const;

  // As Add, on a version index the caller keeps and stores itself (inside its own per-site
  // record): `index` is the site's index as of the event before (empty for a new site), updated
  // in place. Change::last points into `index` (valid until it next changes). On error `index`
  // may be left half-updated: the caller discards the batch.
  absl::StatusOr<Change> AddTo(ViewWriter& writer, resorption::v1::SiteVersionIndex& index,
                               const rb::es::RecordedEvent& recorded,
                               const resorption::v1::SiteEvent& event) const;

 private:
  SiteVersionLogOptions options_;
};

// Parses a stored `sites` record; false when it does not parse or its two version lists differ
// in length.
bool ParseSiteVersionIndex(std::string_view bytes, resorption::v1::SiteVersionIndex* index);

// The event at `position` of the log, decoded (and upcast) as a version of site `site_id`.
// DATA_LOSS when it is missing or belongs to another stream. `read` is ViewWriter::ReadEvent or
// EventStore::ReadEvent.
absl::StatusOr<resorption::v1::SiteEvent> ReadVersion(
    absl::FunctionRef<absl::StatusOr<rb::es::RecordedEvent>(uint64_t)> read,
    std::string_view site_id, uint64_t position);

// The site id of a site event's stream ("site-42" -> "42"); empty for another category.
std::string SiteIdOfStream(std::string_view stream_id);
// As SiteIdOfStream, without a copy: a view into `stream_id`.
std::string_view SiteIdViewOfStream(std::string_view stream_id);

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_HISTORY_VERSIONS_H_
