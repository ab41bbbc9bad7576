// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/backup.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace rb::tools {

namespace fs = std::filesystem;

std::string BackupName(int64_t now_us) {
  return absl::StrCat("backup-", absl::FormatTime("%Y%m%d-%H%M%S", absl::FromUnixMicros(now_us),
                                                  absl::UTCTimeZone()));
}

absl::StatusOr<rb::es::VerifyReport> RestoreBackup(const std::string& source,
                                                   const std::string& destination) {
  std::error_code ec;
  if (!fs::is_directory(source, ec)) {
    return absl::NotFoundError(absl::StrCat("no backup directory at ", source));
  }
  if (fs::exists(destination, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(destination, " already exists: restore into a new directory"));
  }
  fs::copy(source, destination, fs::copy_options::recursive, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove_all(destination, ignored);
    return absl::UnavailableError(
        absl::StrCat("copying ", source, " to ", destination, ": ", ec.message()));
  }
  rb::es::Options options;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<rb::es::EventStore>> store =
      rb::es::EventStore::Open(options, destination);
  if (!store.ok()) return store.status();
  return (*store)->Verify();
}

}  // namespace rb::tools
