// Copyright: the Résorption-bidonvilles data service authors.
//
// ErasureSweep: the retention rules of personal data (docs/access.md, section 8), run in the
// background by the Admin module and on demand (Admin.RunErasureSweep, `resorption erasure`).
//
//   * a site closed more than `owner_retention_days` ago (by its closure date) whose owner, or
//     one of its parcel owners, is a private owner: the system appends
//     site.owner_identity_anonymised (rule "closed_over_one_year") and destroys the site's owner
//     key; public owners are never anonymised;
//   * a user deactivated more than `user_retention_days` ago and not yet erased: the system
//     erases the user (user.erased, key destroyed).
// After destroying keys the sweep purges the key space (rb::es::EventStore::PurgeDeleted) so that
// the destroyed keys leave the data directory's files.
//
//   rb::services::ErasureSweep sweep(store, auth, options, logger);
//   absl::StatusOr<resorption::v1::ErasureSweepReport> r = sweep.RunOnce(/*dry_run=*/false);
//   sweep.Start();   // background, every options.interval
//   sweep.Stop();
//
// The events are attributed to the built-in national administrator "system". The event is
// durable before the key is destroyed; a crash in between leaves a key that the next sweep (or
// anonymisation of the site) destroys. Thread-safe: sweeps are serialised.
#ifndef RB_SERVICES_ERASURE_SWEEP_H_
#define RB_SERVICES_ERASURE_SWEEP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "domain/command_handler.h"
#include "eventstore/event_store.h"
#include "resorption/v1/admin_service.pb.h"
#include "services/auth.h"
#include "services/erasure_options.h"
#include "services/logging.h"

namespace rb::services {

class ErasureSweep {
 public:
  // Nothing owned; store, auth and logger (may be null) must outlive the sweep.
  ErasureSweep(rb::es::EventStore* store, Authenticator* auth, ErasureOptions options,
               Logger* logger);
  ~ErasureSweep();
  ErasureSweep(const ErasureSweep&) = delete;
  ErasureSweep& operator=(const ErasureSweep&) = delete;

  // Applies both rules now. With `dry_run`, reports what it would erase and erases nothing.
  absl::StatusOr<resorption::v1::ErasureSweepReport> RunOnce(bool dry_run);

  // Anonymises the private (and unknown) owners of one site now, whatever its status. NOT_FOUND
  // for an unknown site, FAILED_PRECONDITION for an erased one, PERMISSION_DENIED unless `actor`
  // is a national administrator.
  absl::StatusOr<resorption::v1::AnonymiseSiteOwnerResponse> AnonymiseSiteOwner(
      const std::string& site_id, const std::string& reason, const rb::domain::Actor& actor);

  // Background sweeps every options.interval (none when the interval is not positive).
  void Start();
  void Stop();

  int64_t NowUs() const;

 private:
  // Appends the anonymisation (when there is something to anonymise) and destroys the keys.
  absl::StatusOr<resorption::v1::AnonymiseSiteOwnerResponse> Anonymise(
      const std::string& site_id, const std::string& rule, const std::string& reason,
      const rb::domain::Actor& actor) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::Status SweepSites(bool dry_run, resorption::v1::ErasureSweepReport* report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::Status SweepUsers(bool dry_run, resorption::v1::ErasureSweepReport* report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void Loop();

  rb::es::EventStore* store_;
  Authenticator* auth_;
  ErasureOptions options_;
  Logger* logger_;
  rb::domain::CommandHandler handler_;
  absl::Mutex run_mu_;  // one sweep at a time
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_ERASURE_SWEEP_H_
