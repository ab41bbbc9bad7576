// Copyright: the Résorption-bidonvilles data service authors.
//
// Field violations: every broken rule of a command, reported at once, carried in an absl::Status
// as a google.rpc.BadRequest payload so that the gRPC layer can forward it unchanged.
//
//   rb::domain::Violations v;
//   if (name.size() > 35) v.Add("site.name", "name.max_length", "35 caractères au plus");
//   if (absl::Status s = v.ToStatus(); !s.ok()) return s;   // INVALID_ARGUMENT
//   ...
//   for (const rb::domain::Violation& x : rb::domain::ViolationsFrom(status)) { ... }
//
// In the BadRequest, FieldViolation.field is the field path and FieldViolation.description is
// "<rule>: <message>" (the rule id never contains ": ").
#ifndef RB_DOMAIN_VIOLATIONS_H_
#define RB_DOMAIN_VIOLATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rb::domain {

inline constexpr absl::string_view kBadRequestTypeUrl = "type.googleapis.com/google.rpc.BadRequest";

struct Violation {
  std::string field;    // path in the command, e.g. "site.population.households"
  std::string rule;     // stable rule id, e.g. "population.households_le_total"
  std::string message;  // French, actionable by the user

  bool operator==(const Violation&) const = default;
};

// An accumulator of violations.
class Violations {
 public:
  void Add(std::string field, std::string rule, std::string message);
  bool empty() const { return list_.empty(); }
  const std::vector<Violation>& list() const { return list_; }
  // OK when empty; otherwise a status of `code` (default INVALID_ARGUMENT) whose message lists
  // the rules and whose payload is the BadRequest.
  absl::Status ToStatus(absl::StatusCode code = absl::StatusCode::kInvalidArgument) const;

 private:
  std::vector<Violation> list_;
};

// Builds a status of `code` carrying `violations` (must be non-empty).
absl::Status StatusWithViolations(absl::StatusCode code, const std::vector<Violation>& violations);

// The violations carried by `status` (empty when none).
std::vector<Violation> ViolationsFrom(const absl::Status& status);

// True when `status` carries a violation of rule `rule`.
bool HasViolation(const absl::Status& status, absl::string_view rule);

}  // namespace rb::domain

#endif  // RB_DOMAIN_VIOLATIONS_H_
