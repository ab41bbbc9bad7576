// Benchmarks of the history, series and action views:
//   asof_site_p99     us per GetSiteAsOf on a site with 1,000 events, random (V, T); limit 2,000.
//   rebuild_all       events/s building every built-in projection (site_list, history, series,
//                     action_views) from position 0, concurrently (one worker thread each), until
//                     all have caught up; limit: raw ScanAll of the same log in the same run.
//   series_nation_p99 us per national monthly series over 10 years; limit 20,000.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench.h"
#include "domain/command_handler.h"
#include "domain/dates.h"
#include "domain/events.h"
#include "domain/geo.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/views/action_views.h"
#include "projections/views/history.h"
#include "projections/views/series.h"
#include "projections/views/site_list.h"

namespace rb::bench {

namespace {

namespace v1 = ::resorption::v1;
using Clock = std::chrono::steady_clock;

int64_t Micros(absl::CivilDay d) {
  return absl::ToUnixMicros(absl::FromCivil(absl::CivilSecond(d), absl::UTCTimeZone())) +
         43200000000;
}

bool WaitAll(rb::proj::ProjectionEngine& engine, const std::vector<std::string>& names,
             uint64_t head) {
  for (const auto& n : names) {
    if (!engine.WaitForPosition(n, head, absl::Now() + absl::Minutes(30)).ok()) return false;
  }
  return true;
}

v1::SiteEvent Declared(const std::string& id, const rb::domain::geo::Commune& c) {
  v1::SiteEvent e;
  auto* d = e.mutable_declared();
  d->set_site_id(id);
  d->set_name("Site");
  auto* loc = d->mutable_location();
  loc->mutable_address()->set_label("Chemin");
  loc->mutable_address()->set_city_code(std::string(c.code));
  auto* t = loc->mutable_territory();
  t->set_city_code(std::string(c.code));
  t->set_city_name(std::string(c.name));
  t->set_epci_code(std::string(c.epci));
  t->set_departement_code(std::string(c.departement));
  t->set_region_code(std::string(c.region));
  d->set_field_type(v1::FIELD_TYPE_LAND);
  return e;
}

void AsOfBench(const Config& c) {
  const std::string dir = c.dir + "/views_b_asof";
  rb::es::Options o;
  o.sync = false;
  auto store = rb::es::EventStore::Open(o, dir);
  if (!store.ok()) return;
  const std::vector<std::string> names = {"history"};
  // 1,000 events of one site, one valid day apart, with a retroactive count every 50 events.
  const absl::CivilDay start(2015, 1, 1);
  const auto* commune = rb::domain::geo::Geography::Get().FindCommune("93066");
  std::vector<int64_t> recorded;
  for (int i = 0; i < 1000; ++i) {
    v1::SiteEvent e;
    int64_t valid = Micros(start + i);
    if (i == 0) {
      e = Declared("asof", *commune);
    } else {
      e.mutable_population_recorded()->mutable_population()->set_total(i);
      if (i % 50 == 0) valid = Micros(start + (i - 25));
    }
    absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(e);
    data->valid_at_us = valid;
    rb::es::AppendRequest req;
    req.stream_id = "site-asof";
    req.events.push_back(*data);
    if (!(*store)->Append(req).ok()) return;
    recorded.push_back((*store)->GetHead().recorded_at_us);
  }
  rb::proj::ProjectionEngine engine(store->get(), {});
  (void)engine.Register(std::make_unique<rb::proj::views::HistoryProjection>());
  if (!engine.Start().ok() || !WaitAll(engine, names, (*store)->GetHead().position)) return;
  rb::proj::views::HistoryQuery q(&engine, store->get());
  std::mt19937_64 rng(42);
  std::vector<double> us;
  const int n = c.quick ? 2000 : 10000;
  for (int i = 0; i < n; ++i) {
    v1::GetSiteAsOfRequest r;
    r.set_site_id("asof");
    r.set_valid_at_us(Micros(start + static_cast<int>(rng() % 1000)));
    r.set_known_at_us(recorded[rng() % recorded.size()]);
    const auto t0 = Clock::now();
    absl::StatusOr<v1::SiteAsOf> s = q.GetSiteAsOf(r);
    us.push_back(SecondsSince(t0) * 1e6);
    if (!s.ok()) return;
  }
  std::fprintf(stderr, "views_b: asof p50 %.0f us\n", Percentile(us, 50));
  Report("asof_site_p99", Percentile(us, 99), "us", 2000);
}

void SeriesAndRebuildBench(const Config& c) {
  const bool reuse = !c.rebuild_log.empty() && c.rebuild_log != "generate";
  const std::string dir = reuse ? c.rebuild_log : c.dir + "/views_b_series";
  rb::es::Options o;
  o.sync = false;
  auto store = rb::es::EventStore::Open(o, dir);
  if (!store.ok()) return;
  // The sizes in both modes (1M events, 100k sites): generating and rebuilding them takes
  // ~15 s, which --quick can afford.
  const int sites = 100000;
  const int per_site = 10;  // 1 declaration + 9 counts
  const char* codes[] = {"93066", "97411", "33063", "59350", "31555", "44109", "67482", "34172",
                         "69266", "94028", "92004", "95018", "13004", "06088", "97209", "97302"};
  const auto& geo = rb::domain::geo::Geography::Get();
  std::vector<const rb::domain::geo::Commune*> communes;
  for (const char* code : codes) {
    if (const auto* cm = geo.FindCommune(code)) communes.push_back(cm);
  }
  const absl::CivilDay start(2015, 1, 1);
  const auto g0 = Clock::now();
  for (int s = 0; s < sites && !reuse; ++s) {
    rb::es::AppendRequest req;
    req.stream_id = "site-" + std::to_string(s);
    const absl::CivilDay first = start + (s * 7) % 3000;
    for (int k = 0; k < per_site; ++k) {
      v1::SiteEvent e;
      if (k == 0) {
        e = Declared(std::to_string(s), *communes[s % communes.size()]);
      } else {
        auto* p = e.mutable_population_recorded()->mutable_population();
        p->set_total(5 + (s + k) % 40);
        p->set_minors((s + k) % 5);
      }
      absl::StatusOr<rb::es::EventData> data = rb::domain::EncodeSiteEvent(e);
      data->valid_at_us = Micros(first + 30 * k);
      req.events.push_back(*std::move(data));
    }
    if (!(*store)->Append(req).ok()) return;
  }
  const uint64_t events = (*store)->GetHead().position;
  if (reuse) {
    std::fprintf(stderr, "views_b: %llu events kept in %s\n",
                 static_cast<unsigned long long>(events), dir.c_str());
  } else {
    std::fprintf(stderr, "views_b: generated %llu events (%d sites) in %.1f s\n",
                 static_cast<unsigned long long>(events), sites, SecondsSince(g0));
  }
  // The log as it settles: one sorted run (a fresh one would hold overlapping tables, and their
  // automatic compaction would run during the first measures).
  if (!reuse && !(*store)->CompactLog().ok()) return;
  if (c.rebuild_log == "generate") return;

  // A kept log is rebuilt once, in place, without a limit (profiling). A generated one is rebuilt
  // in kTrials trials, each on its own copy of the log (a checkpoint: hard links to the same
  // files), opened fresh: the trial scans its copy (the limit), then rebuilds every projection on
  // it. The figure is the median rebuild against the median scan: on this virtual machine, slow
  // and fast phases move a single run by 15 to 30 %, a scan of a third of a second can fall in
  // another phase than the rebuild that follows it, and consecutive trials of one run differ by
  // up to 15 %. Five trials: the medians hold against two outliers (about 9 s in all).
  constexpr int kTrials = 5;
  const std::vector<std::string> names = {"site_list", "history", "series", "action_views"};
  std::vector<double> scans, rebuilds;
  // A trial's copy is removed once its store is closed: at the next trial, or on return (this
  // guard is declared before the store and engine, so it is destroyed after them).
  struct TrialCopy {
    std::string dir;
    void Remove() {
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
      dir.clear();
    }
    ~TrialCopy() { Remove(); }
  } copy;
  std::unique_ptr<rb::es::EventStore> trial_store;
  std::unique_ptr<rb::proj::ProjectionEngine> engine;
  for (int trial = 0; trial < (reuse ? 1 : kTrials); ++trial) {
    engine.reset();
    trial_store.reset();
    copy.Remove();
    rb::es::EventStore* log = store->get();
    if (!reuse) {
      copy.dir = c.dir + "/views_b_trial_" + std::to_string(trial);
      if (!(*store)->Checkpoint(copy.dir).ok()) return;
      auto opened = rb::es::EventStore::Open(o, copy.dir);
      if (!opened.ok()) return;
      trial_store = *std::move(opened);
      log = trial_store.get();
      // Raw limit: a zero-copy scan of the same log.
      const auto s0 = Clock::now();
      uint64_t scanned = 0;
      for (uint64_t from = 1;;) {
        absl::StatusOr<rb::es::ReadAllResult> r =
            log->ScanAll(from, {}, 1 << 20, [&](const rb::es::RecordedEvent&) {
              ++scanned;
              return true;
            });
        if (!r.ok() || r->end_of_log || r->next_position <= from) break;
        from = r->next_position;
      }
      scans.push_back(scanned / SecondsSince(s0));
    }
    rb::proj::EngineOptions eo;
    // As the server: batches of 262,144 events while behind the head, each event decoded once.
    eo.catch_up_factor = 512;
    eo.catch_up_decode = rb::domain::AttachDecodedEnvelopes;
    engine = std::make_unique<rb::proj::ProjectionEngine>(log, eo);
    (void)engine->Register(std::make_unique<rb::views::SiteListProjection>());
    (void)engine->Register(std::make_unique<rb::proj::views::HistoryProjection>());
    (void)engine->Register(std::make_unique<rb::proj::views::SeriesProjection>());
    (void)engine->Register(std::make_unique<rb::proj::views::ActionViewsProjection>());
    const auto b0 = Clock::now();
    const ProcessUsage u0 = ProcessUsageNow();
    if (!engine->Start().ok() || !WaitAll(*engine, names, events)) return;
    const double wall = SecondsSince(b0);
    const ProcessUsage u1 = ProcessUsageNow();
    rebuilds.push_back(events / wall);
    const double user = u1.user_seconds - u0.user_seconds;
    const double system = u1.system_seconds - u0.system_seconds;
    std::fprintf(stderr,
                 "views_b: rebuild_all %llu events in %.2f s wall, %.2f s CPU (user %.2f, system "
                 "%.2f, %lld page faults)",
                 static_cast<unsigned long long>(events), wall, user + system, user, system,
                 static_cast<long long>(u1.minor_faults - u0.minor_faults));
    if (reuse) {  // no limit measured: this line is the result
      std::fprintf(stderr, "\n");
      return;
    }
    std::fprintf(stderr, " (raw scan %.0f/s)\n", scans.back());
  }
  if (c.Wants("rebuild_all")) {
    Report("rebuild_all", Percentile(rebuilds, 50), "events/s", Percentile(scans, 50));
  }

  rb::proj::views::SeriesQuery q(engine.get());
  std::vector<double> us;
  for (int i = 0; i < 200; ++i) {
    v1::SeriesRequest r;
    r.mutable_territory()->set_level(v1::TERRITORY_LEVEL_NATION);
    *r.mutable_from() = rb::domain::ToDate(absl::CivilDay(2015, 1, 1));
    *r.mutable_to() = rb::domain::ToDate(absl::CivilDay(2025, 1, 1));
    const auto t0 = Clock::now();
    absl::StatusOr<v1::SeriesResponse> s = q.Series(r);
    us.push_back(SecondsSince(t0) * 1e6);
    if (!s.ok() || s->points_size() != 121) return;
  }
  std::fprintf(stderr, "views_b: series p50 %.0f us\n", Percentile(us, 50));
  Report("series_nation_p99", Percentile(us, 99), "us", 20000);
}

}  // namespace

void RunViewsBBench(const Config& c) {
  if (c.Wants("asof_site")) AsOfBench(c);
  if (c.Wants("series_nation") || c.Wants("rebuild_all")) SeriesAndRebuildBench(c);
}

}  // namespace rb::bench
