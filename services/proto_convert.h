// Copyright: the Résorption-bidonvilles data service authors.
//
// Conversions between the event store's value types and the resorption.v1 messages.
//
//   resorption::v1::Event proto;
//   rb::services::EventToProto(recorded, &proto);
//
// Times: microseconds since the epoch <-> google.protobuf.Timestamp (floor for negatives).
// Hashes: raw bytes -> lower-case hex.
#ifndef RB_SERVICES_PROTO_CONVERT_H_
#define RB_SERVICES_PROTO_CONVERT_H_

#include <cstdint>

#include "eventstore/event.h"
#include "eventstore/event_store.h"
#include "google/protobuf/timestamp.pb.h"
#include "resorption/v1/event_stream.pb.h"

namespace rb::services {

void MicrosToTimestamp(int64_t micros, google::protobuf::Timestamp* ts);
int64_t TimestampToMicros(const google::protobuf::Timestamp& ts);
// True when seconds and nanos are within google.protobuf.Timestamp's documented range.
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

void MetadataToProto(const rb::es::EventMetadata& m, resorption::v1::EventMetadata* out);
rb::es::EventMetadata MetadataFromProto(const resorption::v1::EventMetadata& m);
// Assigns every field of *out (a message reused from an earlier event keeps its allocations).
void EventToProto(const rb::es::RecordedEvent& e, resorption::v1::Event* out);
rb::es::LogFilter FilterFromProto(const resorption::v1::LogFilter& f);

}  // namespace rb::services

#endif  // RB_SERVICES_PROTO_CONVERT_H_
