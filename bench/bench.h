// Shared pieces of the benchmark program: figures, timing, percentiles.
#ifndef RB_BENCH_BENCH_H_
#define RB_BENCH_BENCH_H_

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace rb::bench {

struct Config {
  bool quick = false;
  std::string dir;   // scratch directory on the disk being measured
  std::string only;  // when non-empty, run only figures whose name contains it
  // rebuild_all's log: empty, generated then rebuilt; "generate": generated only; otherwise the
  // directory of a store holding it, rebuilt without generating nor scanning it (profiling).
  std::string rebuild_log;
  bool Wants(const std::string& figure) const {
    return only.empty() || figure.find(only) != std::string::npos;
  }
};

struct Figure {
  std::string name;
  double value;
  std::string unit;
  double limit;  // the matching physical limit measured in the same run
};

// Collected figures, printed last by main().
std::vector<Figure>& Figures();
void Report(const std::string& name, double value, const std::string& unit, double limit);

// CPU seconds used by the whole process (all threads) so far.
inline double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The process's resource use so far (all threads): CPU split between user and kernel time, and
// minor page faults (each a first touch of a fresh page of memory).
struct ProcessUsage {
  double user_seconds = 0;
  double system_seconds = 0;
  int64_t minor_faults = 0;
};
inline ProcessUsage ProcessUsageNow() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return {seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_minflt};
}

inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// p in [0, 100]; sorts `v`.
double Percentile(std::vector<double>& v, double p);

// Physical limits of this machine and disk (raw_limits.cc).
double RawSyncPutPerSecond(const Config& c, int n);
// With prefill_wal, RocksDB runs on the event log's write-ahead log prefill (for reference only:
// the figure's limit is stock RocksDB).
double RawSyncBatch100EventsPerSecond(const Config& c, int batches, bool prefill_wal = false);
double RawFdatasyncP99Micros(const Config& c, int n);
// Writes `n` values of `value_bytes` into a raw RocksDB and returns values/s of a full scan.
double RawScanPerSecond(const Config& c, int n, int value_bytes);

void RunEventStoreBench(const Config& c);
void RunGrpcBench(const Config& c);    // grpc_bench.cc
void RunViewsABench(const Config& c);  // views_a_bench.cc
void RunViewsBBench(const Config& c);  // views_b_bench.cc

}  // namespace rb::bench

#endif  // RB_BENCH_BENCH_H_
