// Copyright: the Résorption-bidonvilles data service authors.
//
// A realistic national history of sites and actions, written through the domain's
// CommandHandler (so every event passes the real validation rules), for demonstrations, manual
// tests and benchmarks.
//
//   rb::tools::DemoOptions options;
//   options.seed = 7;
//   options.scale = 1;                      // 100 for benchmarks (x100 sites and actions)
//   absl::StatusOr<rb::tools::DemoReport> r = rb::tools::CreateDemoDataDirectory(options, dir);
//   // r->open_sites ~ 470, r->events ~ 20,000; same seed -> same head hash.
//
// The shape follows the DIHAL figures (docs/tools.md): about 560 sites known when the platform
// opened in 2019, about 70 new ones a year, a yearly closure probability of about 16 % (so about
// 440 open sites of more than ten people at the end), two thirds of 10 to 50 people, a quarter of
// minors, mostly European origins, sites concentrated in the départements that have them (Île-de-
// France, Nord, Bouches-du-Rhône, Rhône, Gironde, Haute-Garonne, Loire-Atlantique, Hérault...).
// Each site lives through population recounts, living-conditions assessments (v1 through the
// history import until the v2 upgrade from 2022-08), censuses, procedures, heatwave alerts in
// summers since 2022, and often a closure with the households' solutions. About 50 actions a
// year carry yearly indicators and finances.
//
// Determinism: the commands, their valid dates, the recording times (a manual clock), and the
// event ids (derived from the seed) depend only on the options, so the same options give the
// same log, byte for byte, and the same head hash.
#ifndef RB_TOOLS_LIB_DEMO_H_
#define RB_TOOLS_LIB_DEMO_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "eventstore/clock.h"
#include "eventstore/event_store.h"

namespace rb::tools {

struct DemoOptions {
  uint64_t seed = 1;
  // Multiplies the number of sites and actions (1: France's real volumes).
  int scale = 1;
  // The history runs from the platform's opening to this day (inclusive); it must be in the past.
  absl::CivilDay start = absl::CivilDay(2019, 5, 16);
  absl::CivilDay end = absl::CivilDay(2026, 10, 31);
  // Called every `progress_every` commands with (done, total).
  std::function<void(uint64_t, uint64_t)> progress;
  uint64_t progress_every = 1000;
};

struct DemoReport {
  uint64_t sites = 0;       // declared
  uint64_t open_sites = 0;  // open at the end
  uint64_t open_sites_over_10 = 0;
  uint64_t open_sites_10_to_50 = 0;
  uint64_t open_people = 0;  // people on open sites (last count)
  uint64_t open_minors = 0;
  uint64_t open_european_sites = 0;  // open sites whose origins include European nationals
  uint64_t closed_sites = 0;
  uint64_t closed_with_solutions = 0;
  uint64_t actions = 0;
  uint64_t commands = 0;
  uint64_t refused = 0;       // commands the domain refused (0 for a healthy generator)
  std::string first_refusal;  // the first refusal's message, for diagnosis
  uint64_t events = 0;        // head position after generation
  std::string head_hash_hex;
};

// Writes the history into `store` through rb::domain::CommandHandler. `clock`, when not null,
// must be the store's clock (Options::clock): it is set to each command's recording time.
// Errors: the store's append errors (a domain refusal is counted in the report, not an error).
absl::StatusOr<DemoReport> GenerateDemoHistory(const DemoOptions& options,
                                               rb::es::EventStore* store,
                                               rb::es::ManualClock* clock);

// Opens (creates) the data directory `dir` with sync off and a manual clock, generates the
// history, and closes it. FAILED_PRECONDITION when the directory already holds events.
absl::StatusOr<DemoReport> CreateDemoDataDirectory(const DemoOptions& options,
                                                   const std::string& dir);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_DEMO_H_
