// Copyright: the Résorption-bidonvilles data service authors.
//
// resorption-demo: writes a realistic national history into an empty data directory
// (see tools/lib/demo.h).
//
//   resorption-demo --data-dir=var/data --seed=1 --scale=1
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "tools/lib/demo.h"
#include "tools/lib/progress.h"

namespace {

constexpr const char* kUsage = R"(Usage: resorption-demo [--data-dir=DIR] [--seed=N] [--scale=N]

Writes a realistic national history (2019 -> 2026) of sites and actions over the real communes
into an empty data directory, through the domain's command handler (offline, no server).

  --data-dir=DIR  data directory to create or fill (default var/data); must hold no event
  --seed=N        seed of the generator (default 1): the same seed gives the same log
  --scale=N       multiply the volumes (default 1 = France's volumes; 100 for benchmarks)
  --quiet         no summary
  --help          this text

Exit status: 0 done, 1 error (e.g. the directory already holds events), 2 usage error.
)";

int Usage(const std::string& m) {
  std::cerr << "resorption-demo: " << m << "\nTry --help.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "var/data";
  rb::tools::DemoOptions options;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (absl::StartsWith(a, "--data-dir=")) {
      dir = a.substr(11);
    } else if (absl::StartsWith(a, "--seed=")) {
      if (!absl::SimpleAtoi(a.substr(7), &options.seed)) return Usage("bad --seed");
    } else if (absl::StartsWith(a, "--scale=")) {
      if (!absl::SimpleAtoi(a.substr(8), &options.scale) || options.scale < 1) {
        return Usage("bad --scale (a positive integer)");
      }
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      return Usage("unknown argument " + a);
    }
  }
  rb::tools::ProgressBar bar("demo", std::cerr);
  options.progress = [&](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto report = rb::tools::CreateDemoDataDirectory(options, dir);
  bar.Finish();
  if (!report.ok()) {
    std::cerr << "resorption-demo: " << report.status().message() << "\n";
    return 1;
  }
  if (!quiet) {
    std::cout << "data directory   " << dir << "\n"
              << "sites            " << report->sites << " declared, " << report->open_sites
              << " open (" << report->open_sites_over_10 << " of more than 10 people), "
              << report->closed_sites << " closed (" << report->closed_with_solutions
              << " with solutions)\n"
              << "people           " << report->open_people << " on open sites, "
              << report->open_minors << " minors\n"
              << "actions          " << report->actions << "\n"
              << "commands         " << report->commands << " (" << report->refused << " refused)\n"
              << "events           " << report->events << "\n"
              << "head hash        " << report->head_hash_hex << "\n";
  }
  return report->refused == 0 ? 0 : 1;
}
