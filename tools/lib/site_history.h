// Copyright: the Résorption-bidonvilles data service authors.
//
// The auditor's replay of one site: every version of the site, in stream order, with who made
// it (user, organisation, role), when (the declared valid date and the recording time), why
// (reason, command id), the event type and what changed (field, old value -> new value, computed
// by folding the stream with rb::domain::EvolveSite and diffing the states before and after each
// event; the states follow the views' rule, rb::domain::FoldSiteInValidOrder: a retroactive
// correction is diffed against the site on its corrected date, and the final state is the fold
// of the whole stream in valid order). The replay
// also re-computes the site's stream hash chain from the stored bytes.
//
//   rb::es::Options o;
//   o.read_only = true;                                  // works while a server runs
//   auto store = rb::es::EventStore::Open(o, "var/data");
//   absl::StatusOr<rb::tools::SiteHistory> h = rb::tools::ReplaySite(**store, "42");
//   if (!h.ok()) return h.status();     // NOT_FOUND, DATA_LOSS naming the bad revision/position
//   for (const rb::tools::SiteVersion& v : h->versions) rb::tools::PrintVersion(v, std::cout);
//
// Thread-safe (reads only).
#ifndef RB_TOOLS_LIB_SITE_HISTORY_H_
#define RB_TOOLS_LIB_SITE_HISTORY_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"
#include "resorption/v1/site.pb.h"
#include "tools/lib/diff.h"

namespace rb::tools {

struct SiteVersion {
  uint64_t revision = 0;  // stream revision of the event that made this version
  uint64_t position = 0;  // its position in the global log
  std::string event_id;
  std::string event_type;  // "site.population_recorded"
  uint32_t schema_version = 1;
  std::string actor_user;
  std::string actor_organisation;
  std::string actor_role;      // platform role id, "local_admin"
  int64_t valid_at_us = 0;     // the date the author declared
  int64_t recorded_at_us = 0;  // when the service recorded it
  std::string reason;
  std::string command_id;
  std::vector<FieldChange> changes;  // folded state before -> after this event
  std::string stream_hash_hex;       // verified stream chain hash after this event
};

struct SiteHistory {
  std::string site_id;
  std::vector<SiteVersion> versions;
  resorption::v1::Site final_state;
};

// Replays the stream "site-<site_id>". Errors: NOT_FOUND when the site has no event; DATA_LOSS
// when the stream's hash chain or revision sequence does not match the stored bytes (the message
// names the revision and the log position); the decoding errors of rb::domain::DecodeSiteEvent;
// the store's read errors.
absl::StatusOr<SiteHistory> ReplaySite(const rb::es::EventStore& store, const std::string& site_id);

// Re-computes the hash chain of one stream. Returns the number of events checked. DATA_LOSS
// names the first revision (and position) whose stored bytes do not match its hash.
absl::StatusOr<uint64_t> VerifyStreamChain(const rb::es::EventStore& store,
                                           const std::string& stream_id);

// Human rendering: a heading line per version, then one indented line per change.
void PrintVersion(const SiteVersion& version, std::ostream& out);
// One JSON object (no trailing newline).
std::string VersionJson(const std::string& site_id, const SiteVersion& version);

// "2024-06-15 12:00:00 UTC".
std::string FormatMicros(int64_t us);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_SITE_HISTORY_H_
