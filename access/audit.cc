// Copyright: the Résorption-bidonvilles data service authors.
#include "access/audit.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "access/strings.h"

namespace rb::access {

std::string AuditStreamId(int64_t at_us) {
  const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixMicros(at_us), absl::UTCTimeZone());
  return absl::StrCat("audit-", absl::FormatCivilTime(day));
}

absl::Status AuditLog::Record(const Principal& who, resorption::v1::AuditRecord record,
                              int64_t now_us) {
  if (record.what().empty()) return absl::InvalidArgumentError("audit record: what is empty");
  record.set_user_id(who.user_id);
  record.set_organisation_id(who.organisation_id);
  record.set_role(RoleToProto(who.role));
  record.set_at_us(now_us);
  rb::es::AppendRequest append;
  append.stream_id = AuditStreamId(now_us);
  append.metadata.actor_user = who.user_id;
  append.metadata.actor_organisation = who.organisation_id;
  append.metadata.actor_role = std::string(rb::domain::RoleId(who.role));
  append.events.push_back({.type = absl::StrCat("audit.", record.what()),
                           .valid_at_us = now_us,
                           .payload = record.SerializeAsString()});
  return store_->Append(append).status();
}

absl::StatusOr<std::vector<resorption::v1::AuditRecord>> AuditLog::List(
    std::string_view date) const {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(absl::string_view(date.data(), date.size()), &day)) {
    return absl::InvalidArgumentError(absl::StrCat("date \"", Sv(date), "\" is not YYYY-MM-DD"));
  }
  auto events = store_->ReadStream(absl::StrCat("audit-", absl::FormatCivilTime(day)), 0,
                                   rb::es::Direction::kForward, SIZE_MAX);
  if (!events.ok()) return events.status();
  std::vector<resorption::v1::AuditRecord> out;
  for (const auto& e : *events) {
    if (!out.emplace_back().ParseFromString(e.payload)) {
      return absl::DataLossError(absl::StrCat("undecodable audit record at ", e.position));
    }
  }
  return out;
}

}  // namespace rb::access
