// Copyright: the Résorption-bidonvilles data service authors.
//
// The event catalogue: type strings, schema versions, and the mapping between in-memory events
// (SiteEvent / ActionEvent envelopes) and the log's EventData / RecordedEvent.
//
//   resorption::v1::SiteEvent e;  // from DecideSite
//   absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(e);
//   // data->type == "site.population_recorded", data->schema_version == 1,
//   // data->payload == deterministic bytes of the PopulationRecorded message.
//   ...
//   absl::StatusOr<resorption::v1::SiteEvent> back = rb::domain::DecodeSiteEvent(recorded);
//   // Older schema versions are upcast on the way (see upcasters.h).
//
// The type of an event is "<category>.<name of its oneof field>" in the envelope, e.g. the field
// `closed` of SiteEvent is "site.closed". Stateless and thread-safe.
#ifndef RB_DOMAIN_EVENTS_H_
#define RB_DOMAIN_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventstore/event.h"
#include "google/protobuf/message.h"
#include "resorption/v1/action_events.pb.h"
#include "resorption/v1/site_events.pb.h"

namespace rb::domain {

struct EventTypeInfo {
  std::string type;             // "site.closed"
  uint32_t schema_version = 1;  // current version written by this build
  std::string message_name;     // full protobuf name of the payload, "resorption.v1.SiteClosed"
};

// Every site / action event type, in envelope field order.
std::vector<EventTypeInfo> SiteEventTypes();
std::vector<EventTypeInfo> ActionEventTypes();

// The type string of an envelope's body; empty when no body is set.
std::string SiteEventType(const resorption::v1::SiteEvent& event);
std::string ActionEventType(const resorption::v1::ActionEvent& event);

// Current schema version of `type`; 0 when the type is unknown.
uint32_t CurrentSchemaVersion(absl::string_view type);

// Serializes a message with deterministic field and map ordering.
std::string DeterministicBytes(const google::protobuf::Message& message);
// As DeterministicBytes, written at `out`, which has room for `size` bytes: `size` is what
// message.ByteSizeLong() returned last (its cached sizes are those written). Returns the end.
// For callers assembling one encoding from several messages.
char* DeterministicBytesTo(const google::protobuf::Message& message, size_t size, char* out);

// Envelope -> log. INVALID_ARGUMENT when no body is set. valid_at_us is copied; the author goes
// in the append's metadata (the caller's job).
absl::StatusOr<rb::es::EventData> EncodeSiteEvent(const resorption::v1::SiteEvent& event);
absl::StatusOr<rb::es::EventData> EncodeActionEvent(const resorption::v1::ActionEvent& event);

// Log -> envelope, upcasting older schema versions. valid_at_us and the author come from the
// recorded event. Errors: FAILED_PRECONDITION for an unknown type or a schema version newer than
// this build knows; DATA_LOSS for a payload that does not parse.
absl::StatusOr<resorption::v1::SiteEvent> DecodeSiteEvent(const rb::es::RecordedEvent& recorded);
absl::StatusOr<resorption::v1::ActionEvent> DecodeActionEvent(
    const rb::es::RecordedEvent& recorded);

// An envelope decoded from a recorded event: borrowed from the event when a reader attached its
// decoding (RecordedEvent::decoded), else decoded and owned. A borrowed one lives as long as the
// recorded event, or a copy of it, holds it. Cheap to move.
template <typename Envelope>
class Decoded {
 public:
  explicit Decoded(const Envelope* borrowed) : borrowed_(borrowed) {}
  explicit Decoded(Envelope owned) : owned_(std::move(owned)) {}
  const Envelope& operator*() const { return borrowed_ != nullptr ? *borrowed_ : *owned_; }
  const Envelope* operator->() const { return &**this; }

 private:
  std::optional<Envelope> owned_;
  const Envelope* borrowed_ = nullptr;
};

// As DecodeSiteEvent / DecodeActionEvent (the same envelope, the same errors), without decoding
// again an event whose decoding a reader attached. For consumers that only read the envelope,
// such as projections.
absl::StatusOr<Decoded<resorption::v1::SiteEvent>> ViewSiteEvent(
    const rb::es::RecordedEvent& recorded);
absl::StatusOr<Decoded<resorption::v1::ActionEvent>> ViewActionEvent(
    const rb::es::RecordedEvent& recorded);

// Decodes the site and action events among `events` as DecodeSiteEvent / DecodeActionEvent do,
// on one arena they share, and attaches each envelope to its event (RecordedEvent::decoded) for
// the consumers that read the same events (ViewSiteEvent, ViewActionEvent). Events of other
// categories and events that do not decode get nothing: their consumers decode them and report
// the error. Returns the bytes the arena holds.
size_t AttachDecodedEnvelopes(std::span<rb::es::RecordedEvent> events);

}  // namespace rb::domain

#endif  // RB_DOMAIN_EVENTS_H_
