// Copyright: the Résorption-bidonvilles data service authors.
//
// French labels and platform codes of every enumeration of the site and action model, for display,
// exports and imports. The protobuf identifiers are English; users read the French labels.
//
//   rb::domain::FrenchLabel(resorption::v1::FIELD_TYPE_BUILDING)  // "Immeuble bâti"
//   rb::domain::PlatformCode(resorption::v1::WATER_ACCESS_TYPE_NETWORK_TAP)
//       // "robinet_connecte_au_reseau"
//   rb::domain::FromPlatformCode<resorption::v1::ActionTopic>("school")  // ACTION_TOPIC_SCHOOL
//   rb::domain::IndicatorLabel("nombre_menages")  // "Nombre de ménages"
//
// The *_UNSPECIFIED values have no label (empty string). Thread-safe (immutable tables).
#ifndef RB_DOMAIN_LABELS_H_
#define RB_DOMAIN_LABELS_H_

#include <optional>
#include <type_traits>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace rb::domain {

// Label / code of value `number` of the enum `type`; empty when unknown.
absl::string_view FrenchLabel(const google::protobuf::EnumDescriptor* type, int number);
absl::string_view PlatformCode(const google::protobuf::EnumDescriptor* type, int number);
// The value whose platform code is `code`, if any.
std::optional<int> FromPlatformCode(const google::protobuf::EnumDescriptor* type,
                                    absl::string_view code);

template <typename E, typename = std::enable_if_t<google::protobuf::is_proto_enum<E>::value>>
absl::string_view FrenchLabel(E value) {
  return FrenchLabel(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

template <typename E, typename = std::enable_if_t<google::protobuf::is_proto_enum<E>::value>>
absl::string_view PlatformCode(E value) {
  return PlatformCode(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

template <typename E>
std::optional<E> FromPlatformCode(absl::string_view code) {
  std::optional<int> n = FromPlatformCode(google::protobuf::GetEnumDescriptor<E>(), code);
  if (!n.has_value()) return std::nullopt;
  return static_cast<E>(*n);
}

// The yearly indicators of an action (resorption.v1.ActionIndicators) with the platform's
// headings, in the order of its form and of the actions export (tools/lib/action_export.h).
struct IndicatorHeading {
  absl::string_view field;    // the ActionIndicators field: "nombre_personnes"
  absl::string_view section;  // "INDICATEURS GÉNÉRAUX"
  absl::string_view heading;  // "Nombre total de personnes concernées par l'action"
};
absl::Span<const IndicatorHeading> IndicatorHeadings();
// The heading of the indicator named `field_name`; empty when unknown.
absl::string_view IndicatorLabel(absl::string_view field_name);

}  // namespace rb::domain

#endif  // RB_DOMAIN_LABELS_H_
