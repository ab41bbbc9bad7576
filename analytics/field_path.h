// Copyright: the Résorption-bidonvilles data service authors.
//
// FieldPath: a dotted path through a protobuf message type ("population.total",
// "living_conditions_v2.water.access_type", "finances.lines.real_amount_cents"), resolved once
// against the descriptor and then evaluated on messages of that type with reflection.
//
//   auto path = rb::analytics::FieldPath::Resolve(resorption::v1::Site::descriptor(),
//                                                 "population.total");
//   std::vector<rb::analytics::Value> values;
//   path->Collect(site, &values);   // {Value{numeric, 42}} or {} when unset
//
// A path crossing a repeated field yields one value per element. Leaves may be numbers, bools
// (1/0, text "true"/"false"), enums (text = value name, number = value number), strings, or the
// resorption.v1.Date message (text "YYYY-MM-DD", number YYYYMMDD). Thread-safe (immutable).
#ifndef RB_ANALYTICS_FIELD_PATH_H_
#define RB_ANALYTICS_FIELD_PATH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace rb::analytics {

struct Value {
  bool numeric = false;  // `number` is meaningful
  double number = 0;
  std::string text;  // canonical text form (numbers: shortest decimal)
};

class FieldPath {
 public:
  // INVALID_ARGUMENT naming the first unknown segment, or a leaf that is a message other than
  // resorption.v1.Date.
  static absl::StatusOr<FieldPath> Resolve(const google::protobuf::Descriptor* root,
                                           absl::string_view dotted);

  // Appends the values of the path in `message` (of the root type). Unset optional scalars and
  // unset messages yield nothing; plain proto3 scalars yield their value even when default.
  void Collect(const google::protobuf::Message& message, std::vector<Value>* out) const;

  // True when the leaf is a number, a bool or a date (usable by SUM, MIN, MAX, buckets).
  bool numeric() const { return numeric_; }
  // The enum type of the leaf, or nullptr.
  const google::protobuf::EnumDescriptor* leaf_enum() const;
  const std::string& dotted() const { return dotted_; }

 private:
  void CollectFrom(const google::protobuf::Message& m, size_t depth, std::vector<Value>* out) const;

  std::vector<const google::protobuf::FieldDescriptor*> fields_;
  std::string dotted_;
  bool numeric_ = false;
};

// Shortest decimal text of a double that reads back to the same value ("42", "0.5").
std::string FormatNumber(double v);

}  // namespace rb::analytics

#endif  // RB_ANALYTICS_FIELD_PATH_H_
