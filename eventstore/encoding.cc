#include "eventstore/encoding.h"

#include <openssl/evp.h>

#include <cstring>

namespace rb::es::internal {

void PutFixed64BE(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
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
void EncodeEventBody(const RecordedEvent& e, std::string* dst) {
  dst->push_back(static_cast<char>(kEventRecordVersion));
  PutFixed64BE(dst, static_cast<uint64_t>(e.recorded_at_us));
  PutFixed64BE(dst, static_cast<uint64_t>(e.valid_at_us));
  PutFixed64BE(dst, e.revision);
  PutVarint64(dst, e.schema_version);
  PutLengthPrefixed(dst, e.event_id);
  PutLengthPrefixed(dst, e.stream_id);
  PutLengthPrefixed(dst, e.type);
  PutLengthPrefixed(dst, e.metadata.actor_user);
  PutLengthPrefixed(dst, e.metadata.actor_organisation);
  PutLengthPrefixed(dst, e.metadata.actor_role);
  PutLengthPrefixed(dst, e.metadata.command_id);
  PutLengthPrefixed(dst, e.metadata.correlation_id);
  PutLengthPrefixed(dst, e.metadata.causation_id);
  PutLengthPrefixed(dst, e.metadata.reason);
  PutLengthPrefixed(dst, e.payload);
}

std::string EncodeEventRecord(const RecordedEvent& e) {
  std::string v;
  v.reserve(64 + e.payload.size() + e.stream_id.size() + e.type.size() + 2 * kHashBytes + 64);
  EncodeEventBody(e, &v);
  v.append(e.stream_hash);
  v.append(e.log_hash);
  return v;
}

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
  e->event_id.assign(f[0]);
  e->stream_id.assign(f[1]);
  e->type.assign(f[2]);
  e->metadata.actor_user.assign(f[3]);
  e->metadata.actor_organisation.assign(f[4]);
  e->metadata.actor_role.assign(f[5]);
  e->metadata.command_id.assign(f[6]);
  e->metadata.correlation_id.assign(f[7]);
  e->metadata.causation_id.assign(f[8]);
  e->metadata.reason.assign(f[9]);
  e->payload.assign(f[10]);
  const char* hashes = value.data() + value.size() - 2 * kHashBytes;
  e->stream_hash.assign(hashes, kHashBytes);
  e->log_hash.assign(hashes + kHashBytes, kHashBytes);
  return absl::OkStatus();
}

bool PeekRecordedAt(std::string_view value, int64_t* recorded_at_us) {
  if (value.size() < 9) return false;
  *recorded_at_us = static_cast<int64_t>(DecodeFixed64BE(value.data() + 1));
  return true;
}

std::string Sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string ContentHash(uint64_t position, std::string_view body) {
  std::string buf;
  buf.reserve(8 + body.size());
  PutFixed64BE(&buf, position);
  buf.append(body);
  return Sha256(buf);
}

std::string ChainHash(std::string_view previous, std::string_view content_hash) {
  std::string buf;
  buf.reserve(previous.size() + content_hash.size());
  buf.append(previous);
  buf.append(content_hash);
  return Sha256(buf);
}

}  // namespace rb::es::internal
