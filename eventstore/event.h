// Copyright: the Résorption-bidonvilles data service authors.
//
// Value types of the event log: what a writer proposes (EventData) and what the log stores and
// returns (RecordedEvent). The log knows nothing of sites or actions: a payload is opaque bytes.
//
//   rb::es::EventData e;
//   e.type = "site.declared";
//   e.schema_version = 1;
//   e.payload = serialized_bytes;
//
// Times are microseconds since the Unix epoch (UTC). Positions start at 1; position 0 means
// "before the first event". Revisions in a stream start at 0.
#ifndef RB_EVENTSTORE_EVENT_H_
#define RB_EVENTSTORE_EVENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace rb::es {

// Who did it and why; copied onto every event of one append.
struct EventMetadata {
  std::string actor_user;          // user id of the author
  std::string actor_organisation;  // organisation id of the author
  std::string actor_role;          // role the author acted in
  std::string command_id;          // client-chosen idempotency key (also set on AppendRequest)
  std::string correlation_id;      // groups events caused by one user request
  std::string causation_id;        // the event or command that caused these events
  std::string reason;              // free text: why the change was made

  bool operator==(const EventMetadata&) const = default;
};

// An event proposed for appending.
struct EventData {
  std::string event_id;         // UUID; empty: the store generates a random (v4) one
  std::string type;             // e.g. "site.declared"; non-empty, at most 128 bytes
  uint32_t schema_version = 1;  // version of the payload schema, >= 1
  int64_t valid_at_us = 0;      // business date the writer declares; 0: the recorded time
  std::string payload;          // opaque bytes
};

// An event as stored in the log.
struct RecordedEvent {
  std::string event_id;
  std::string stream_id;
  uint64_t revision = 0;  // 0-based index in its stream
  uint64_t position = 0;  // 1-based index in the global log
  std::string type;
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;  // server clock, never decreasing along positions
  int64_t valid_at_us = 0;     // declared business date
  EventMetadata metadata;
  std::string payload;
  std::string stream_hash;  // SHA-256 chaining the stream's previous event (32 bytes)
  std::string log_hash;     // SHA-256 chaining the log's previous event (32 bytes)
  // The payload already decoded, attached by a reader above the store so that the consumers of
  // one read share a single decoding (the projection engine's catch-up cache does it, see
  // projections/catch_up_cache.h). The store never sets it; nullptr: decode `payload` yourself.
  // Not part of the stored event.
  std::shared_ptr<const google::protobuf::Message> decoded;

  // "site-42" -> "site": the part before the first '-', or the whole id.
  std::string Category() const;
};

// Returns the stream category of `stream_id` (the part before the first '-').
std::string StreamCategory(const std::string& stream_id);

// Lower-case hexadecimal of arbitrary bytes (for hashes).
std::string ToHex(const std::string& bytes);

// SHA-256 of `bytes` (32 raw bytes), the hash the log's chains use.
std::string Sha256(const std::string& bytes);

}  // namespace rb::es

#endif  // RB_EVENTSTORE_EVENT_H_
