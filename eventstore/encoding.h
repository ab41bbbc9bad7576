// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: byte encodings of the storage format (docs/storage-format.md). Not a public header.
#ifndef RB_EVENTSTORE_ENCODING_H_
#define RB_EVENTSTORE_ENCODING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "eventstore/event.h"

namespace rb::es::internal {

inline constexpr uint32_t kFormatVersion = 3;
// Version 1 wrote the stream index in the same batch as the events; version 2 writes it behind
// the log and records how far it got (stream_index_through); version 3 adds the command records
// holding a writer's fingerprint (AppendRequest::command_fingerprint). Older directories are
// upgraded at the first read-write open: nothing of theirs is rewritten.
inline constexpr uint32_t kFirstUpgradableFormatVersion = 1;
inline constexpr uint32_t kStreamIndexThroughFormatVersion = 2;
inline constexpr uint8_t kEventRecordVersion = 1;
inline constexpr size_t kHashBytes = 32;

void PutFixed64BE(std::string* dst, uint64_t v);
// Writes v big-endian into dst[0..8).
void EncodeFixed64BE(char* dst, uint64_t v);
uint64_t DecodeFixed64BE(const char* p);
void PutVarint64(std::string* dst, uint64_t v);
// Reads a varint from *in and advances it; false when truncated.
bool GetVarint64(std::string_view* in, uint64_t* v);
void PutLengthPrefixed(std::string* dst, std::string_view s);
bool GetLengthPrefixed(std::string_view* in, std::string_view* s);

// Key of the `events` column family: the position, big-endian (8 bytes).
std::string PositionKey(uint64_t position);
// Key of the `streams` column family: stream id, 0x00, revision big-endian.
std::string StreamKey(std::string_view stream_id, uint64_t revision);

// The fields of an event's hashed body, borrowed from wherever they live.
struct EventBodyFields {
  int64_t recorded_at_us = 0;
  int64_t valid_at_us = 0;
  uint64_t revision = 0;
  uint32_t schema_version = 0;
  std::string_view event_id;
  std::string_view stream_id;
  std::string_view type;
  const EventMetadata* metadata = nullptr;  // its command_id is ignored: see below
  std::string_view command_id;
  std::string_view payload;
};

// Encodes everything of an event except position and hashes (the hashed "body").
void EncodeEventBody(const EventBodyFields& f, std::string* dst);
void EncodeEventBody(const RecordedEvent& e, std::string* dst);
// Full value of the `events` column family: body followed by stream_hash and log_hash.
std::string EncodeEventRecord(const RecordedEvent& e);
// Decodes a value of the `events` column family. DATA_LOSS when malformed.
absl::Status DecodeEventRecord(uint64_t position, std::string_view value, RecordedEvent* e);
// Reads recorded_at from an encoded record without decoding the rest.
bool PeekRecordedAt(std::string_view value, int64_t* recorded_at_us);

// SHA-256 of (position, body): the event's content hash.
std::string ContentHash(uint64_t position, std::string_view body);
// SHA-256 of (previous chain hash, content hash).
std::string ChainHash(std::string_view previous, std::string_view content_hash);
// The same, into out[0..kHashBytes) (no allocation; out may not overlap the inputs).
void ContentHashTo(uint64_t position, std::string_view body, char* out);
void ChainHashTo(std::string_view previous, std::string_view content_hash, char* out);
std::string Sha256(std::string_view data);

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_ENCODING_H_
