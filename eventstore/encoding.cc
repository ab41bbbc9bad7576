#include "eventstore/encoding.h"

// The event log hashes every event three times on the append path (content and two chains), and
// OpenSSL 3's EVP layer costs more per call than hashing a chain link's 64 bytes. Its SHA256_*
// functions are deprecated (not removed) in 3.x and run the same SHA-NI code without the dispatch.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>
#include <initializer_list>

namespace rb::es::internal {

void EncodeFixed64BE(char* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    dst[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

void PutFixed64BE(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64BE(buf, v);
  dst->append(buf, 8);
}

uint64_t DecodeFixed64BE(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint64_t n;
  if (!GetVarint64(in, &n) || n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

std::string PositionKey(uint64_t position) {
  std::string k;
  k.reserve(8);
  PutFixed64BE(&k, position);
  return k;
}

std::string StreamKey(std::string_view stream_id, uint64_t revision) {
  std::string k;
  k.reserve(stream_id.size() + 9);
  k.append(stream_id.data(), stream_id.size());
  k.push_back('\0');
  PutFixed64BE(&k, revision);
  return k;
}

// Body layout (record version 1):
//   u8 record_version | fixed64BE recorded_at | fixed64BE valid_at | fixed64BE revision |
//   varint schema_version | lp event_id | lp stream_id | lp type | lp actor_user |
//   lp actor_organisation | lp actor_role | lp command_id | lp correlation_id | lp causation_id |
//   lp reason | lp payload
void EncodeEventBody(const EventBodyFields& f, std::string* dst) {
  const EventMetadata& m = *f.metadata;
  dst->reserve(dst->size() + 40 + f.event_id.size() + f.stream_id.size() + f.type.size() +
               m.actor_user.size() + m.actor_organisation.size() + m.actor_role.size() +
               f.command_id.size() + m.correlation_id.size() + m.causation_id.size() +
               m.reason.size() + f.payload.size() + 2 * kHashBytes);
  dst->push_back(static_cast<char>(kEventRecordVersion));
  PutFixed64BE(dst, static_cast<uint64_t>(f.recorded_at_us));
  PutFixed64BE(dst, static_cast<uint64_t>(f.valid_at_us));
  PutFixed64BE(dst, f.revision);
  PutVarint64(dst, f.schema_version);
  PutLengthPrefixed(dst, f.event_id);
  PutLengthPrefixed(dst, f.stream_id);
  PutLengthPrefixed(dst, f.type);
  PutLengthPrefixed(dst, m.actor_user);
  PutLengthPrefixed(dst, m.actor_organisation);
  PutLengthPrefixed(dst, m.actor_role);
  PutLengthPrefixed(dst, f.command_id);
  PutLengthPrefixed(dst, m.correlation_id);
  PutLengthPrefixed(dst, m.causation_id);
  PutLengthPrefixed(dst, m.reason);
  PutLengthPrefixed(dst, f.payload);
}

void EncodeEventBody(const RecordedEvent& e, std::string* dst) {
  EncodeEventBody(EventBodyFields{.recorded_at_us = e.recorded_at_us,
                                  .valid_at_us = e.valid_at_us,
                                  .revision = e.revision,
                                  .schema_version = e.schema_version,
                                  .event_id = e.event_id,
                                  .stream_id = e.stream_id,
                                  .type = e.type,
                                  .metadata = &e.metadata,
                                  .command_id = e.metadata.command_id,
                                  .payload = e.payload},
                  dst);
}

std::string EncodeEventRecord(const RecordedEvent& e) {
  std::string v;
  v.reserve(64 + e.payload.size() + e.stream_id.size() + e.type.size() + 2 * kHashBytes + 64);
  EncodeEventBody(e, &v);
  v.append(e.stream_hash);
  v.append(e.log_hash);
  return v;
}

namespace {

// `*s` = `v`. A string read into again (a reused event) mostly gets bytes of the length it holds
// (ids, hashes, types): those are copied over its own, without the general assignment's checks.
inline void AssignBytes(std::string* s, std::string_view v) {
  if (s->size() == v.size()) {
    if (!v.empty()) std::memcpy(s->data(), v.data(), v.size());
  } else {
    s->assign(v.data(), v.size());
  }
}

}  // namespace

absl::Status DecodeEventRecord(uint64_t position, std::string_view value, RecordedEvent* e) {
  const size_t kFixed = 1 + 8 + 8 + 8;
  if (value.size() < kFixed + 2 * kHashBytes) {
    return absl::DataLossError("event record at position " + std::to_string(position) +
                               " is truncated");
  }
  if (static_cast<uint8_t>(value[0]) != kEventRecordVersion) {
    return absl::DataLossError("event record at position " + std::to_string(position) +
                               " has unknown record version " +
                               std::to_string(static_cast<uint8_t>(value[0])));
  }
  e->position = position;
  e->recorded_at_us = static_cast<int64_t>(DecodeFixed64BE(value.data() + 1));
  e->valid_at_us = static_cast<int64_t>(DecodeFixed64BE(value.data() + 9));
  e->revision = DecodeFixed64BE(value.data() + 17);
  std::string_view in = value.substr(kFixed, value.size() - kFixed - 2 * kHashBytes);
  uint64_t schema;
  std::string_view f[11];
  bool ok = GetVarint64(&in, &schema);
  for (int i = 0; ok && i < 11; ++i) ok = GetLengthPrefixed(&in, &f[i]);
  if (!ok || !in.empty()) {
    return absl::DataLossError("event record at position " + std::to_string(position) +
                               " is malformed");
  }
  e->schema_version = static_cast<uint32_t>(schema);
  AssignBytes(&e->event_id, f[0]);
  AssignBytes(&e->stream_id, f[1]);
  AssignBytes(&e->type, f[2]);
  AssignBytes(&e->metadata.actor_user, f[3]);
  AssignBytes(&e->metadata.actor_organisation, f[4]);
  AssignBytes(&e->metadata.actor_role, f[5]);
  AssignBytes(&e->metadata.command_id, f[6]);
  AssignBytes(&e->metadata.correlation_id, f[7]);
  AssignBytes(&e->metadata.causation_id, f[8]);
  AssignBytes(&e->metadata.reason, f[9]);
  AssignBytes(&e->payload, f[10]);
  const char* hashes = value.data() + value.size() - 2 * kHashBytes;
  AssignBytes(&e->stream_hash, std::string_view(hashes, kHashBytes));
  AssignBytes(&e->log_hash, std::string_view(hashes + kHashBytes, kHashBytes));
  return absl::OkStatus();
}

bool PeekRecordedAt(std::string_view value, int64_t* recorded_at_us) {
  if (value.size() < 9) return false;
  *recorded_at_us = static_cast<int64_t>(DecodeFixed64BE(value.data() + 1));
  return true;
}

namespace {

void Sha256Into(std::initializer_list<std::string_view> parts, char* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (std::string_view p : parts) SHA256_Update(&ctx, p.data(), p.size());
  SHA256_Final(reinterpret_cast<unsigned char*>(out), &ctx);
}

std::string Sha256Of(std::initializer_list<std::string_view> parts) {
  std::string out(kHashBytes, '\0');
  Sha256Into(parts, out.data());
  return out;
}

}  // namespace

std::string Sha256(std::string_view data) { return Sha256Of({data}); }

std::string ContentHash(uint64_t position, std::string_view body) {
  char pos[8];
  EncodeFixed64BE(pos, position);
  return Sha256Of({std::string_view(pos, 8), body});
}

std::string ChainHash(std::string_view previous, std::string_view content_hash) {
  return Sha256Of({previous, content_hash});
}

void ContentHashTo(uint64_t position, std::string_view body, char* out) {
  char pos[8];
  EncodeFixed64BE(pos, position);
  Sha256Into({std::string_view(pos, 8), body}, out);
}

void ChainHashTo(std::string_view previous, std::string_view content_hash, char* out) {
  Sha256Into({previous, content_hash}, out);
}

}  // namespace rb::es::internal
