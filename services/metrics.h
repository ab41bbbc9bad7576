// Copyright: the Résorption-bidonvilles data service authors.
//
// Metrics in the Prometheus text exposition format (version 0.0.4), and a tiny HTTP server that
// serves them at GET /metrics.
//
//   rb::services::MetricsRegistry metrics;
//   rb::services::Counter* appends =
//       metrics.AddCounter("rb_appends_total", "Appends acknowledged.");
//   appends->Increment();
//   rb::services::Histogram* latency = metrics.AddHistogram(
//       "rb_rpc_duration_seconds", "RPC latency.", {{"method", "Append"}}, LatencyBuckets());
//   latency->Observe(0.0012);
//   std::string text = metrics.Render();
//
// A metric family is identified by its name; a series by the name and its labels. Adding the same
// series twice returns the same object. Metric objects live as long as the registry.
//
// Values that are cheaper to read than to track (a projection's position) are pulled: a
// collector, run at the start of each Render, sets its gauges.
//   uint64_t id = metrics.AddCollector([gauge, engine] { gauge->Set(engine->Position()); });
//   metrics.RemoveCollector(id);  // before `engine` goes
// Thread safety: everything is thread-safe; updates are lock-free atomics.
#ifndef RB_SERVICES_METRICS_H_
#define RB_SERVICES_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace rb::services {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size(): above the last bound).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths, to stay lock-free
};

// 100 µs .. 10 s, for RPC latencies in seconds.
std::vector<double> LatencyBuckets();
// 1 .. 4096 in powers of two, for batch sizes.
std::vector<double> SizeBuckets();

class MetricsRegistry {
 public:
  Counter* AddCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* AddGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help, const Labels& labels,
                          std::vector<double> bounds);
  // Adds a function run at the start of each Render, before the values are read. It must not
  // call Render or Add/RemoveCollector. Returns its id for RemoveCollector.
  uint64_t AddCollector(std::function<void()> collect);
  // Once it returns, the collector is not running and never runs again. Unknown ids: no-op.
  void RemoveCollector(uint64_t id);
  // The whole registry in the Prometheus text format, families sorted by name.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, Series> series;
  };
  Series& GetSeries(const std::string& name, const std::string& help, Type type,
                    const Labels& labels);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  // Taken before mu_ (a collector adds and sets gauges).
  mutable std::mutex collectors_mu_;
  std::map<uint64_t, std::function<void()>> collectors_;
  uint64_t next_collector_ = 1;
};

// Serves GET /metrics (and GET /healthz) over plain HTTP/1.0 on one background thread.
//
//   rb::services::MetricsHttpServer http(&metrics);
//   RB_RETURN_IF_ERROR(http.Start("127.0.0.1:9464"));
//   int port = http.port();
//   http.Stop();
class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(const MetricsRegistry* registry) : registry_(registry) {}
  ~MetricsHttpServer() { Stop(); }
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds `address` ("HOST:PORT", IPv4 dotted host or "localhost"; port 0 picks a free one).
  // Errors: INVALID_ARGUMENT for a malformed address; UNAVAILABLE when the bind fails.
  absl::Status Start(const std::string& address);
  int port() const { return port_; }
  // Stops serving and joins the thread. Idempotent.
  void Stop();

 private:
  void Loop();
  void Serve(int fd);
  const MetricsRegistry* registry_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_METRICS_H_
