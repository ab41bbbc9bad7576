// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/violations.h"

#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"

namespace rb::domain {

void Violations::Add(std::string field, std::string rule, std::string message) {
  list_.push_back({std::move(field), std::move(rule), std::move(message)});
}

absl::Status Violations::ToStatus(absl::StatusCode code) const {
  if (list_.empty()) return absl::OkStatus();
  return StatusWithViolations(code, list_);
}

absl::Status StatusWithViolations(absl::StatusCode code, const std::vector<Violation>& violations) {
  google::rpc::BadRequest bad;
  std::vector<std::string> summary;
  for (const Violation& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(absl::StrCat(v.rule, ": ", v.message));
    summary.push_back(absl::StrCat(v.field, " (", v.rule, ")"));
  }
  absl::Status status(code, absl::StrCat(violations.size(), " règle(s) non respectée(s) : ",
                                         absl::StrJoin(summary, ", ")));
  std::string bytes;
  bad.SerializeToString(&bytes);
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(bytes));
  return status;
}

std::vector<Violation> ViolationsFrom(const absl::Status& status) {
  std::vector<Violation> out;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload.has_value()) return out;
  google::rpc::BadRequest bad;
  if (!bad.ParseFromString(std::string(*payload))) return out;
  for (const auto& fv : bad.field_violations()) {
    Violation v;
    v.field = fv.field();
    const std::string& d = fv.description();
    size_t sep = d.find(": ");
    if (sep == std::string::npos) {
      v.message = d;
    } else {
      v.rule = d.substr(0, sep);
      v.message = d.substr(sep + 2);
    }
    out.push_back(std::move(v));
  }
  return out;
}

bool HasViolation(const absl::Status& status, absl::string_view rule) {
  for (const Violation& v : ViolationsFrom(status)) {
    if (v.rule == rule) return true;
  }
  return false;
}

}  // namespace rb::domain
