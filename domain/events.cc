// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/events.h"

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/upcasters.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace rb::domain {
namespace {

namespace pb = google::protobuf;

// Types whose current schema version is above 1.
struct VersionOverride {
  absl::string_view type;
  uint32_t version;
};
constexpr VersionOverride kVersions[] = {
    {"site.closed", 2},
};

uint32_t VersionOf(absl::string_view type) {
  for (const auto& v : kVersions) {
    if (v.type == type) return v.version;
  }
  return 1;
}

const pb::OneofDescriptor* Body(const pb::Descriptor* envelope) {
  return envelope->FindOneofByName("body");
}

std::vector<EventTypeInfo> TypesOf(const pb::Descriptor* envelope, absl::string_view category) {
  std::vector<EventTypeInfo> out;
  const pb::OneofDescriptor* body = Body(envelope);
  for (int i = 0; i < body->field_count(); ++i) {
    const pb::FieldDescriptor* f = body->field(i);
    std::string type = absl::StrCat(category, ".", f->name());
    uint32_t v = VersionOf(type);
    out.push_back({std::move(type), v, f->message_type()->full_name()});
  }
  return out;
}

std::string TypeOf(const pb::Message& envelope, absl::string_view category) {
  const pb::FieldDescriptor* f =
      envelope.GetReflection()->GetOneofFieldDescriptor(envelope, Body(envelope.GetDescriptor()));
  if (f == nullptr) return "";
  return absl::StrCat(category, ".", f->name());
}

absl::StatusOr<rb::es::EventData> Encode(const pb::Message& envelope, absl::string_view category,
                                         int64_t valid_at_us) {
  const pb::FieldDescriptor* f =
      envelope.GetReflection()->GetOneofFieldDescriptor(envelope, Body(envelope.GetDescriptor()));
  if (f == nullptr) return absl::InvalidArgumentError("event without body");
  rb::es::EventData data;
  data.type = absl::StrCat(category, ".", f->name());
  data.schema_version = VersionOf(data.type);
  data.valid_at_us = valid_at_us;
  data.payload = DeterministicBytes(envelope.GetReflection()->GetMessage(envelope, f));
  return data;
}

// What decoding an event type needs, looked up once per event: the envelope's body field (its
// number tags the payload inside the envelope) and the type's current schema version.
struct BodyInfo {
  const pb::FieldDescriptor* field = nullptr;
  uint32_t version = 1;
  // The envelope holding the field: asking a message for it goes through its descriptors'
  // once-initialisation check at every call.
  const pb::Descriptor* envelope = nullptr;
};

// The descriptor of envelope type `Envelope`, looked up once.
template <typename Envelope>
const pb::Descriptor* EnvelopeDescriptor() {
  static const pb::Descriptor* const descriptor = Envelope::descriptor();
  return descriptor;
}

using BodyEntry = std::pair<const std::string, BodyInfo>;

// Every type of both envelopes ("site.declared" -> SiteEvent.declared), built once and never
// changed (its entries stay where they are); nullptr for an unknown type.
const BodyEntry* FindBody(absl::string_view type) {
  static const auto* bodies = [] {
    auto* m = new absl::flat_hash_map<std::string, BodyInfo>();
    const std::pair<const pb::Message*, const char*> envelopes[] = {
        {&resorption::v1::SiteEvent::default_instance(), "site"},
        {&resorption::v1::ActionEvent::default_instance(), "action"}};
    for (const auto& [envelope, category] : envelopes) {
      const pb::OneofDescriptor* body = Body(envelope->GetDescriptor());
      for (int i = 0; i < body->field_count(); ++i) {
        const pb::FieldDescriptor* f = body->field(i);
        std::string name = absl::StrCat(category, ".", f->name());
        const uint32_t version = VersionOf(name);
        (*m)[std::move(name)] = BodyInfo{f, version, envelope->GetDescriptor()};
      }
    }
    return m;
  }();
  auto it = bodies->find(type);
  return it == bodies->end() ? nullptr : &*it;
}

void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

template <typename Envelope>
absl::Status Decode(const rb::es::RecordedEvent& recorded, absl::string_view category,
                    Envelope* envelope) {
  if (recorded.type.size() <= category.size() || recorded.type[category.size()] != '.' ||
      !absl::StartsWith(recorded.type, category)) {
    return absl::FailedPreconditionError(
        absl::StrCat("not a ", category, " event: ", recorded.type));
  }
  // Events come in runs of one type (a site's updates, a chunk of imports): the last type's
  // entry is kept per thread, its name compared before any hashing.
  thread_local const BodyEntry* last = nullptr;
  if (last == nullptr || last->first != recorded.type) last = FindBody(recorded.type);
  const BodyInfo* info = last != nullptr ? &last->second : nullptr;
  if (info == nullptr || info->envelope != EnvelopeDescriptor<Envelope>()) {
    return absl::FailedPreconditionError(absl::StrCat("unknown event type ", recorded.type));
  }
  std::optional<std::string> upcast;
  if (recorded.schema_version != info->version) {  // the common case: no upcast
    absl::StatusOr<std::string> payload =
        UpcastPayload(recorded.type, recorded.schema_version, recorded.payload, info->version);
    if (!payload.ok()) return payload.status();
    upcast = *std::move(payload);
  }
  const std::string& payload = upcast.has_value() ? *upcast : recorded.payload;
  // The payload is the body's encoding: prefixed with the body field's tag and length, it is the
  // envelope's, which the envelope's generated parser reads into place (on the envelope's arena,
  // if any) without going through reflection to make and attach the body.
  thread_local std::string wire;
  wire.clear();
  PutVarint32(&wire, (static_cast<uint32_t>(info->field->number()) << 3) | 2);
  PutVarint32(&wire, static_cast<uint32_t>(payload.size()));
  wire.append(payload);
  if (payload.size() > std::numeric_limits<int32_t>::max() ||
      !envelope->ParsePartialFromArray(wire.data(), static_cast<int>(wire.size())) ||
      envelope->body_case() != static_cast<int>(info->field->number())) {
    return absl::DataLossError(absl::StrCat(recorded.type, " at position ", recorded.position,
                                            ": payload does not parse"));
  }
  return absl::OkStatus();
}

// Sets the envelope's fields that come from the recorded event rather than its payload. Empty
// authors (events appended by the system) are left unset: the same message, without an
// allocation per field.
template <typename Envelope>
void SetRecorded(const rb::es::RecordedEvent& recorded, Envelope* e) {
  e->set_valid_at_us(recorded.valid_at_us);
  if (!recorded.metadata.actor_user.empty()) e->set_actor_user_id(recorded.metadata.actor_user);
  if (!recorded.metadata.actor_organisation.empty()) {
    e->set_actor_organisation_id(recorded.metadata.actor_organisation);
  }
}

}  // namespace

std::string DeterministicBytes(const pb::Message& message) {
  // Sized once, then written in place (no growth of the string while serializing).
  const size_t size = message.ByteSizeLong();
  std::string out(size, '\0');
  DeterministicBytesTo(message, size, out.data());
  return out;
}

char* DeterministicBytesTo(const pb::Message& message, size_t size, char* out) {
  if (size == 0) return out;
  pb::io::ArrayOutputStream raw(out, static_cast<int>(size));
  pb::io::CodedOutputStream coded(&raw);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return out + size;
}

std::vector<EventTypeInfo> SiteEventTypes() {
  return TypesOf(resorption::v1::SiteEvent::descriptor(), "site");
}
std::vector<EventTypeInfo> ActionEventTypes() {
  return TypesOf(resorption::v1::ActionEvent::descriptor(), "action");
}

std::string SiteEventType(const resorption::v1::SiteEvent& event) { return TypeOf(event, "site"); }
std::string ActionEventType(const resorption::v1::ActionEvent& event) {
  return TypeOf(event, "action");
}

uint32_t CurrentSchemaVersion(absl::string_view type) {
  for (const auto& list : {SiteEventTypes(), ActionEventTypes()}) {
    for (const auto& t : list) {
      if (t.type == type) return t.schema_version;
    }
  }
  return 0;
}

absl::StatusOr<rb::es::EventData> EncodeSiteEvent(const resorption::v1::SiteEvent& event) {
  return Encode(event, "site", event.valid_at_us());
}
absl::StatusOr<rb::es::EventData> EncodeActionEvent(const resorption::v1::ActionEvent& event) {
  return Encode(event, "action", event.valid_at_us());
}

absl::StatusOr<resorption::v1::SiteEvent> DecodeSiteEvent(const rb::es::RecordedEvent& recorded) {
  resorption::v1::SiteEvent e;
  if (absl::Status s = Decode(recorded, "site", &e); !s.ok()) return s;
  SetRecorded(recorded, &e);
  return e;
}

absl::StatusOr<resorption::v1::ActionEvent> DecodeActionEvent(
    const rb::es::RecordedEvent& recorded) {
  resorption::v1::ActionEvent e;
  if (absl::Status s = Decode(recorded, "action", &e); !s.ok()) return s;
  SetRecorded(recorded, &e);
  return e;
}

namespace {

// The attached envelope of `recorded` when it is an `Envelope`, else `decode(recorded)`.
template <typename Envelope>
absl::StatusOr<Decoded<Envelope>> View(
    const rb::es::RecordedEvent& recorded,
    absl::StatusOr<Envelope> (*decode)(const rb::es::RecordedEvent&)) {
  // typeid reads the message's vtable; GetDescriptor() would go through the descriptor pool's
  // once-initialisation check at every event of every consumer.
  if (recorded.decoded != nullptr && typeid(*recorded.decoded) == typeid(Envelope)) {
    return Decoded<Envelope>(static_cast<const Envelope*>(recorded.decoded.get()));
  }
  absl::StatusOr<Envelope> e = decode(recorded);
  if (!e.ok()) return e.status();
  return Decoded<Envelope>(*std::move(e));
}

// Decodes `recorded` into an `Envelope` on `arena` as Decode*Event does; nullptr when it does
// not decode.
template <typename Envelope>
Envelope* DecodeOnArena(const rb::es::RecordedEvent& recorded, absl::string_view category,
                        pb::Arena* arena) {
  auto* e = pb::Arena::CreateMessage<Envelope>(arena);
  if (!Decode(recorded, category, e).ok()) return nullptr;
  SetRecorded(recorded, e);
  return e;
}

}  // namespace

absl::StatusOr<Decoded<resorption::v1::SiteEvent>> ViewSiteEvent(
    const rb::es::RecordedEvent& recorded) {
  return View<resorption::v1::SiteEvent>(recorded, DecodeSiteEvent);
}

absl::StatusOr<Decoded<resorption::v1::ActionEvent>> ViewActionEvent(
    const rb::es::RecordedEvent& recorded) {
  return View<resorption::v1::ActionEvent>(recorded, DecodeActionEvent);
}

size_t AttachDecodedEnvelopes(std::span<rb::es::RecordedEvent> events) {
  // A chunk's envelopes take a few megabytes: blocks of up to 1 MiB (protobuf's default stops at
  // 8 KiB), a few allocations per chunk rather than hundreds.
  pb::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  auto arena = std::make_shared<pb::Arena>(options);
  for (rb::es::RecordedEvent& e : events) {
    const pb::Message* decoded = nullptr;
    if (absl::StartsWith(e.type, "site.")) {
      decoded = DecodeOnArena<resorption::v1::SiteEvent>(e, "site", arena.get());
    } else if (absl::StartsWith(e.type, "action.")) {
      decoded = DecodeOnArena<resorption::v1::ActionEvent>(e, "action", arena.get());
    }
    // Shares the arena's ownership: the envelope lives as long as any copy of its event.
    if (decoded != nullptr) e.decoded = std::shared_ptr<const pb::Message>(arena, decoded);
  }
  return arena->SpaceAllocated();
}

}  // namespace rb::domain
