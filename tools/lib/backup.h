// Copyright: the Résorption-bidonvilles data service authors.
//
// Backups of a data directory. A backup is made while the server runs by
// rb::es::EventStore::Checkpoint (the Admin service's CreateBackup, `resorption backup create`):
// a consistent, self-contained data directory. Restoring copies it to a new data directory and
// proves the copy intact by walking its hash chains.
//
//   absl::StatusOr<rb::es::VerifyReport> r = rb::tools::RestoreBackup("backups/b1", "var/data2");
//   // then: resorptiond --data-dir=var/data2
//
// Not thread-safe with respect to the destination (one restore at a time per destination).
#ifndef RB_TOOLS_LIB_BACKUP_H_
#define RB_TOOLS_LIB_BACKUP_H_

#include <string>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"

namespace rb::tools {

// Copies the backup `source` into the new directory `destination`, then opens the copy
// read-only and verifies it. Errors: NOT_FOUND when `source` is not a directory;
// ALREADY_EXISTS when `destination` exists; UNAVAILABLE when the copy fails (the partial copy is
// removed); DATA_LOSS from the verification (the copy is kept for inspection).
absl::StatusOr<rb::es::VerifyReport> RestoreBackup(const std::string& source,
                                                   const std::string& destination);

// A backup directory name for `now_us`: "backup-YYYYMMDD-HHMMSS" (UTC).
std::string BackupName(int64_t now_us);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_BACKUP_H_
