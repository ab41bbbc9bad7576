// Copyright: the Résorption-bidonvilles data service authors.
//
// Field-by-field differences between two versions of a protobuf message (two folded states of a
// site or an action), rendered for people: dates as YYYY-MM-DD, enumerations by their French
// label, absent values as "(vide)".
//
//   resorption::v1::Site before = ..., after = rb::domain::EvolveSite(before, event);
//   for (const rb::tools::FieldChange& c : rb::tools::DiffMessages(before, after)) {
//     std::cout << c.field << ": " << c.old_value << " -> " << c.new_value << "\n";
//     // population.total: 25 -> 31
//   }
//
// Singular sub-messages are compared field by field (paths joined with '.'); repeated fields are
// compared as a whole. Fields numbered >= DiffOptions::first_bookkeeping_field are skipped.
// Pure function; thread-safe.
#ifndef RB_TOOLS_LIB_DIFF_H_
#define RB_TOOLS_LIB_DIFF_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace rb::tools {

struct FieldChange {
  std::string field;      // "population.total", "living_conditions_v2.water.access_type"
  std::string old_value;  // rendered, "(vide)" when absent
  std::string new_value;

  bool operator==(const FieldChange&) const = default;
};

struct DiffOptions {
  // Top-level fields with this number or more are bookkeeping (revision, updated_at_us...) and
  // not reported. 0 reports every field.
  int first_bookkeeping_field = 40;
};

// Both messages must have the same type. Changes are in field-number order, depth first.
std::vector<FieldChange> DiffMessages(const google::protobuf::Message& before,
                                      const google::protobuf::Message& after,
                                      const DiffOptions& options = {});

// The rendering used by DiffMessages for one field of `message` (the whole repeated field for a
// repeated one); "(vide)" when unset.
std::string RenderField(const google::protobuf::Message& message,
                        const google::protobuf::FieldDescriptor* field);

// "(vide)": how an absent value is shown.
inline constexpr const char* kEmptyValue = "(vide)";

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_DIFF_H_
