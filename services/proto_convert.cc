// Copyright: the Résorption-bidonvilles data service authors.
#include "services/proto_convert.h"

namespace rb::services {

void MicrosToTimestamp(int64_t micros, google::protobuf::Timestamp* ts) {
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    seconds -= 1;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rest * 1000));
}

int64_t TimestampToMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000 + ts.nanos() / 1000;
}

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
  return ts.seconds() >= -62'135'596'800 && ts.seconds() <= 253'402'300'799 && ts.nanos() >= 0 &&
         ts.nanos() <= 999'999'999;
}

void MetadataToProto(const rb::es::EventMetadata& m, resorption::v1::EventMetadata* out) {
  out->set_actor_user(m.actor_user);
  out->set_actor_organisation(m.actor_organisation);
  out->set_actor_role(m.actor_role);
  out->set_command_id(m.command_id);
  out->set_correlation_id(m.correlation_id);
  out->set_causation_id(m.causation_id);
  out->set_reason(m.reason);
}

rb::es::EventMetadata MetadataFromProto(const resorption::v1::EventMetadata& m) {
  rb::es::EventMetadata out;
  out.actor_user = m.actor_user();
  out.actor_organisation = m.actor_organisation();
  out.actor_role = m.actor_role();
  out.command_id = m.command_id();
  out.correlation_id = m.correlation_id();
  out.causation_id = m.causation_id();
  out.reason = m.reason();
  return out;
}

namespace {

// Lower-case hex of `bytes` written into `out`, reusing its capacity.
void HexInto(const std::string& bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out->resize(bytes.size() * 2);
  char* p = out->data();
  for (unsigned char c : bytes) {
    *p++ = kDigits[c >> 4];
    *p++ = kDigits[c & 0xf];
  }
}

}  // namespace

void EventToProto(const rb::es::RecordedEvent& e, resorption::v1::Event* out) {
  // Every field is assigned (none is merged), so a message reused from an earlier event holds
  // this event only, and its strings and sub-messages keep their allocations.
  out->set_event_id(e.event_id);
  out->set_stream_id(e.stream_id);
  out->set_revision(e.revision);
  out->set_position(e.position);
  out->set_type(e.type);
  out->set_schema_version(e.schema_version);
  MicrosToTimestamp(e.recorded_at_us, out->mutable_recorded_at());
  MicrosToTimestamp(e.valid_at_us, out->mutable_valid_at());
  MetadataToProto(e.metadata, out->mutable_metadata());
  out->set_payload(e.payload);
  out->clear_payload_type_url();
  HexInto(e.stream_hash, out->mutable_stream_hash());
  HexInto(e.log_hash, out->mutable_log_hash());
}

rb::es::LogFilter FilterFromProto(const resorption::v1::LogFilter& f) {
  rb::es::LogFilter out;
  out.type_prefixes.assign(f.type_prefixes().begin(), f.type_prefixes().end());
  out.categories.assign(f.categories().begin(), f.categories().end());
  return out;
}

}  // namespace rb::services
