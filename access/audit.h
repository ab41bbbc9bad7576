// Copyright: the Résorption-bidonvilles data service authors.
//
// AuditLog: privileged reads (restricted data, the raw log, exports) appended as events of their
// own, one stream per UTC day: "audit-YYYY-MM-DD", event type "audit.<what>"
// ("audit.restricted_read", "audit.raw_log_read", "audit.export"), payload an AuditRecord. The
// records are part of the hash-chained log: nobody can remove a trace without Verify() noticing.
//
//   rb::access::AuditLog audit(store);
//   resorption::v1::AuditRecord r;
//   r.set_what("restricted_read"); r.set_target("site-42"); r.add_fields("justice");
//   RB_RETURN_IF_ERROR(audit.Record(principal, std::move(r), now_us));
//   auto day = audit.List("2024-03-01");   // national administrators (CanReadAudit)
//
// Thread-safe. Appends with ExpectedRevision::Any (records of one day from many threads).
#ifndef RB_ACCESS_AUDIT_H_
#define RB_ACCESS_AUDIT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "access/policy.h"
#include "eventstore/event_store.h"
#include "resorption/v1/directory.pb.h"

namespace rb::access {

inline constexpr std::string_view kAuditRestrictedRead = "restricted_read";
inline constexpr std::string_view kAuditRawLogRead = "raw_log_read";
inline constexpr std::string_view kAuditExport = "export";

// "audit-YYYY-MM-DD" of the UTC day of `at_us`.
std::string AuditStreamId(int64_t at_us);

class AuditLog {
 public:
  explicit AuditLog(rb::es::EventStore* store) : store_(store) {}
  // Fills user, organisation, role and at_us from `who` and `now_us`, then appends.
  // INVALID_ARGUMENT when record.what is empty.
  absl::Status Record(const Principal& who, resorption::v1::AuditRecord record, int64_t now_us);
  // The records of one UTC day ("YYYY-MM-DD"), in order. INVALID_ARGUMENT for a malformed date.
  absl::StatusOr<std::vector<resorption::v1::AuditRecord>> List(std::string_view date) const;

 private:
  rb::es::EventStore* store_;
};

}  // namespace rb::access

#endif  // RB_ACCESS_AUDIT_H_
