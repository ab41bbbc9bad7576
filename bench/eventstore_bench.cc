#include <algorithm>
#include <filesystem>
// Event log figures: durable appends (1 and 64 appenders), append latency, whole-log reads.
#include <atomic>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "bench/bench.h"
#include "eventstore/event_store.h"

namespace rb::bench {
namespace {

std::unique_ptr<es::EventStore> OpenStore(const std::string& path, bool sync) {
  std::filesystem::remove_all(path);
  es::Options o;
  o.sync = sync;
  auto s = es::EventStore::Open(o, path);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    std::abort();
  }
  return std::move(*s);
}

es::AppendRequest OneEvent(const std::string& stream, const std::string& payload) {
  es::AppendRequest r;
  r.stream_id = stream;
  r.events.push_back(es::EventData{.type = "site.population_recorded", .payload = payload});
  return r;
}

}  // namespace

void RunEventStoreBench(const Config& c) {
  const std::string payload(150, 'p');  // ~200 bytes per event with its metadata

  // append_durable_1 and append_latency_1_p99: one appender, one event per append, sync on.
  if (c.Wants("append_durable_1") || c.Wants("append_latency")) {
    const int n = c.quick ? 2000 : 10000;
    auto store = OpenStore(c.dir + "/es-1", true);
    std::vector<double> lat;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      auto t = std::chrono::steady_clock::now();
      if (!store->Append(OneEvent("site-" + std::to_string(i % 100), payload)).ok()) std::abort();
      lat.push_back(SecondsSince(t) * 1e6);
    }
    double rate = n / SecondsSince(t0);
    double raw_put = RawSyncPutPerSecond(c, n);
    Report("append_durable_1", rate, "events/s", raw_put);
    double fsync_p99 = RawFdatasyncP99Micros(c, n);
    Report("append_latency_1_p99", Percentile(lat, 99), "us", fsync_p99);
  }

  // append_durable_64: 64 concurrent appenders, one event per append, sync on. Each appender
  // keeps one append in flight through AppendAsync and issues its next one from the completion,
  // the way the gRPC front end drives the store; the same load from 64 blocking threads is
  // printed on stderr for comparison (on 2 cores it measures the scheduler more than the log).
  if (c.Wants("append_durable_64")) {
    const int per_appender = c.quick ? 2000 : 5000;
    auto store = OpenStore(c.dir + "/es-64", true);
    struct Appender {
      std::string stream;
      int left = 0;
    };
    std::vector<Appender> appenders(64);
    absl::Mutex mu;
    int running = 64;
    std::function<void(Appender*)> next = [&](Appender* a) {
      if (a->left-- == 0) {
        absl::MutexLock lock(&mu);
        --running;
        return;
      }
      store->AppendAsync(OneEvent(a->stream, payload), [&, a](absl::StatusOr<es::AppendResult> r) {
        if (!r.ok()) std::abort();
        next(a);
      });
    };
    std::atomic<uint64_t> batches{0};
    const uint64_t listener = store->AddHeadListener([&batches](uint64_t) { batches++; });
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < 64; ++t) {
      appenders[t].stream = "site-" + std::to_string(t);
      appenders[t].left = per_appender;
      next(&appenders[t]);
    }
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &running));
    }
    double rate = 64.0 * per_appender / SecondsSince(t0);
    std::fprintf(stderr, "append_durable_64: %.1f events per durable batch\n",
                 64.0 * per_appender / static_cast<double>(batches.exchange(0)));

    const int per_thread = c.quick ? 300 : 2000;
    std::vector<std::thread> threads;
    t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < 64; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          if (!store->Append(OneEvent("site-" + std::to_string(t), payload)).ok()) std::abort();
        }
      });
    }
    for (auto& t : threads) t.join();
    std::fprintf(stderr,
                 "append_durable_64: %.0f events/s with 64 blocking threads, %.1f per batch\n",
                 64.0 * per_thread / SecondsSince(t0),
                 64.0 * per_thread / static_cast<double>(batches.load()));
    store->RemoveHeadListener(listener);
    // As many synced batches as the asynchronous run made (2,000 or 5,000), so that both figures
    // average the disk over the same number of syncs.
    double raw = RawSyncBatch100EventsPerSecond(c, per_appender);
    // The store syncs its write-ahead log over zeroed space (docs/storage-format.md); the limit is
    // stock RocksDB, as the figure is defined. For reference, raw RocksDB given the same prefill:
    std::fprintf(stderr,
                 "append_durable_64: raw WriteBatch of 100 with the WAL prefill: %.0f events/s\n",
                 RawSyncBatch100EventsPerSecond(c, per_appender, true));
    Report("append_durable_64", rate, "events/s", raw);
  }

  // read_all: 1M events of ~200 bytes read forward.
  if (c.Wants("read_all")) {
    const int n = 1'000'000;
    auto store = OpenStore(c.dir + "/es-read", false);
    for (int b = 0; b < n; b += 1000) {
      es::AppendRequest r;
      r.stream_id = "site-" + std::to_string(b / 1000);
      for (int i = 0; i < 1000; ++i) {
        r.events.push_back(es::EventData{.type = "site.population_recorded", .payload = payload});
      }
      if (!store->Append(r).ok()) std::abort();
    }
    store->Close();
    store = OpenStore(c.dir + "/es-read-unused", false);  // release memory of the writer
    store.reset();
    es::Options o;
    auto reader = es::EventStore::Open(o, c.dir + "/es-read");
    if (!reader.ok()) std::abort();
    double best = 0;
    for (int round = 0; round < 2; ++round) {
      auto t0 = std::chrono::steady_clock::now();
      uint64_t from = 1, count = 0;
      while (true) {
        size_t bytes = 0;
        auto r = (*reader)->ScanAll(from, es::LogFilter(), 65536, [&](const es::RecordedEvent& e) {
          bytes += e.payload.size();
          ++count;
          return true;
        });
        if (!r.ok() || bytes == 0) std::abort();
        from = r->next_position;
        if (r->end_of_log) break;
      }
      if (count != static_cast<uint64_t>(n)) std::abort();
      best = std::max(best, count / SecondsSince(t0));
    }
    reader->reset();
    double raw = RawScanPerSecond(c, n, 200 + 64);
    Report("read_all", best, "events/s", raw);
  }
}

}  // namespace rb::bench
