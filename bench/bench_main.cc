#include <algorithm>
// rb_bench: measures the service against the physical limits of the machine it runs on.
//
//   ./build/bench/rb_bench --quick [--dir=/path/on/disk]
//
// To profile the rebuild of the views alone (e.g. under valgrind --tool=callgrind, whose
// instruction counts do not move with the machine's speed):
//   ./build/bench/rb_bench --only=rebuild_all --dir=D --rebuild_log=generate   # writes the log
//   cp -r D/views_b_series E && ./build/bench/rb_bench --only=rebuild_all --rebuild_log=E
//
// Every figure is printed last, one per line:
//   figure=<name> value=<number> unit=<unit> limit=<number> ratio=<value/limit>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench.h"

ABSL_FLAG(bool, quick, false, "shorter runs (under a minute in all)");
ABSL_FLAG(std::string, only, "",
          "run only the sections whose name contains this (eventstore, ...)");
ABSL_FLAG(std::string, dir, "", "scratch directory (default: a fresh one under /var/tmp)");
ABSL_FLAG(std::string, rebuild_log, "",
          "rebuild_all only: 'generate' writes its log under --dir and stops; a store directory "
          "(a copy of such a log) is rebuilt as is, without generating nor scanning it");

namespace rb::bench {

std::vector<Figure>& Figures() {
  static std::vector<Figure> figures;
  return figures;
}

void Report(const std::string& name, double value, const std::string& unit, double limit) {
  Figures().push_back({name, value, unit, limit});
  std::fprintf(stderr, "measured %s = %.1f %s (limit %.1f)\n", name.c_str(), value, unit.c_str(),
               limit);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace rb::bench

int main(int argc, char** argv) {
  // As resorptiond does: no lock-order detection (Debian's Abseil enables it) in measured runs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  rb::bench::Config c;
  c.quick = absl::GetFlag(FLAGS_quick);
  c.dir = absl::GetFlag(FLAGS_dir);
  c.rebuild_log = absl::GetFlag(FLAGS_rebuild_log);
  bool own_dir = c.dir.empty();
  if (own_dir) {
    char tmpl[] = "/var/tmp/rb-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    c.dir = tmpl;
  }
  const std::string only = absl::GetFlag(FLAGS_only);
  c.only = only;
  rb::bench::RunEventStoreBench(c);
  rb::bench::RunGrpcBench(c);
  rb::bench::RunViewsABench(c);
  rb::bench::RunViewsBBench(c);
  if (own_dir) std::filesystem::remove_all(c.dir);
  for (const auto& f : rb::bench::Figures()) {
    std::printf("figure=%s value=%.1f unit=%s limit=%.1f ratio=%.3f\n", f.name.c_str(), f.value,
                f.unit.c_str(), f.limit, f.limit > 0 ? f.value / f.limit : 0.0);
  }
  return 0;
}
