// Copyright: the Résorption-bidonvilles data service authors.
//
// Custom projection specifications: parsing from protobuf text, validation with every problem
// reported at once, and compilation into a form the runner evaluates quickly.
//
//   absl::StatusOr<resorption::v1::ProjectionSpec> spec = rb::analytics::ParseSpec(R"pb(
//     name: "mineurs_par_departement"
//     subject: SUBJECT_SITE
//     event_types: "site.population_recorded"
//     group_by { territory: DEPARTEMENT }
//     aggregates { name: "mineurs" kind: LAST_PER_SUBJECT_SUM field: "site.population.minors" }
//   )pb");
//   absl::StatusOr<rb::analytics::CompiledSpec> compiled = rb::analytics::Compile(*spec);
//
// Errors: INVALID_ARGUMENT. A text that does not parse names the line and column; a spec that
// parses but is not valid carries a google.rpc.BadRequest listing every violation (field path in
// the spec, rule id, message), see rb::domain::ViolationsFrom.
#ifndef RB_ANALYTICS_SPEC_H_
#define RB_ANALYTICS_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "analytics/field_path.h"
#include "resorption/v1/analytics.pb.h"

namespace rb::analytics {

// Parses protobuf text format. Does not validate (see Compile).
absl::StatusOr<resorption::v1::ProjectionSpec> ParseSpec(absl::string_view text);

// Hex SHA-256 of the specification's deterministic serialization.
std::string SpecHash(const resorption::v1::ProjectionSpec& spec);

// A field of the event itself rather than of the subject's state.
enum class EventField { kType, kValidYear, kValidMonth, kActorRole, kActorOrganisation };

// Where a value comes from: an event field or a path in the subject's state.
struct Source {
  bool from_event = false;
  EventField event_field = EventField::kType;
  std::optional<FieldPath> path;  // when !from_event
  bool numeric() const;
};

struct CompiledCondition {
  Source source;
  resorption::v1::Operator op;
  std::vector<Value> operands;  // one for comparisons and ONLY, several for IN / NOT_IN
};

struct CompiledGroupKey {
  enum class Kind { kTerritory, kValidDate, kField, kBucket } kind;
  resorption::v1::TerritoryLevel level = resorption::v1::TERRITORY_LEVEL_UNSPECIFIED;
  resorption::v1::DatePart date_part = resorption::v1::DATE_PART_UNSPECIFIED;
  Source source;
  std::vector<double> bounds;
  std::string column;  // column name in the result
};

struct CompiledAggregate {
  std::string name;
  resorption::v1::AggregateKind kind;
  std::optional<Source> source;
  int numerator = -1;  // RATIO: indexes into the aggregates
  int denominator = -1;
};

struct CompiledSpec {
  resorption::v1::ProjectionSpec spec;
  std::string spec_hash;
  std::string category;  // "site" or "action"
  std::vector<std::string> exact_types;
  std::vector<std::string> type_prefixes;
  std::vector<CompiledCondition> conditions;
  std::vector<CompiledGroupKey> group_keys;
  std::vector<CompiledAggregate> aggregates;
};

// Validates and compiles. Every violation is reported at once.
absl::StatusOr<CompiledSpec> Compile(const resorption::v1::ProjectionSpec& spec);

}  // namespace rb::analytics

#endif  // RB_ANALYTICS_SPEC_H_
