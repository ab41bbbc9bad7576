// gRPC figures, each against a limit measured in the same run on the same server:
//   grpc_command_64     durable RecordPopulation commands/s, 64 concurrent clients on 64 sites
//                       (sync on); limit: grpc.health.v1.Health/Check calls/s, 64 clients.
//   grpc_get_site_p50   GetSite latency p50 (us), one client; limit: Health/Check p50, the two
//                       calls alternating so that both meet the same background work.
//   subscribe_catchup   events/s delivered to one EventStream.Subscribe from position 0;
//                       limit: a server stream of one small message per event (BenchStream).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench.h"
#include "bench/bench_health.grpc.pb.h"
#include "bench/bench_stream.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "resorption/v1/actions_service.grpc.pb.h"
#include "resorption/v1/event_stream.grpc.pb.h"
#include "resorption/v1/projections_service.grpc.pb.h"
#include "resorption/v1/sites_service.grpc.pb.h"
#include "resorption/v1/territories_service.grpc.pb.h"
#include "services/server.h"

namespace rb::bench {
namespace {

namespace v1 = resorption::v1;
using Clock = std::chrono::steady_clock;

// One small message per requested count, written back to back by one reactor.
class BenchStreamService final : public rb::bench::BenchStream::CallbackService {
 public:
  grpc::ServerWriteReactor<SmallMessage>* Stream(grpc::CallbackServerContext* ctx,
                                                 const StreamRequest* req) override {
    class Writer final : public grpc::ServerWriteReactor<SmallMessage> {
     public:
      explicit Writer(uint64_t count) : count_(count) {
        msg_.set_payload(std::string(64, 'x'));
        Next();
      }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (sent_ == count_) return Finish(grpc::Status::OK);
        msg_.set_position(++sent_);
        StartWrite(&msg_);
      }
      uint64_t count_;
      uint64_t sent_ = 0;
      SmallMessage msg_;
    };
    return new Writer(req->count());
  }
};

class BenchStreamModule : public rb::services::ServiceModule {
 public:
  std::string name() const override { return "bench_stream"; }
  absl::Status Init(const rb::services::ServiceEnvironment&) override { return absl::OkStatus(); }
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  BenchStreamService service_;
};

void Actor(grpc::ClientContext* ctx) {
  ctx->AddMetadata("x-actor-user", "bench");
  ctx->AddMetadata("x-actor-organisation", "bench");
  ctx->AddMetadata("x-actor-role", "local_admin");
}

// Waits (at most two minutes) until every projection has applied the log up to `head` or has
// stopped on an event it refuses, so that a figure and its limit are not measured while the
// projections of the server under test are still at work on the data the benchmark wrote.
void WaitForProjectionsIdle(const std::shared_ptr<grpc::Channel>& channel, uint64_t head) {
  auto projections = v1::Projections::NewStub(channel);
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  while (Clock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-actor-user", "bench");
    ctx.AddMetadata("x-actor-organisation", "bench");
    ctx.AddMetadata("x-actor-role", "national_admin");
    v1::ListProjectionsResponse resp;
    if (!projections->ListProjections(&ctx, {}, &resp).ok()) return;
    bool idle = true;
    for (const v1::ProjectionInfo& p : resp.projections()) {
      const v1::GenerationStatus& a = p.active();
      idle &= a.state() == v1::PROJECTION_STATE_FAILED || a.position() >= head;
    }
    if (idle) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Seconds until each built-in view has applied the log up to `head`: one read-your-writes query
// per view (site_list, history, series, action_views), all at once, each waiting for its view.
// A waiting query ends a view's live linger (EngineOptions::live_linger), so this measures the
// views' remaining work, not their batching delay.
double SecondsUntilViewsReach(const std::shared_ptr<grpc::Channel>& channel, uint64_t head) {
  auto sites = v1::Sites::NewStub(channel);
  auto territories = v1::Territories::NewStub(channel);
  auto actions = v1::Actions::NewStub(channel);
  auto with_deadline = [](grpc::ClientContext* ctx) {
    Actor(ctx);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
  };
  std::vector<std::function<grpc::Status()>> reads;
  reads.push_back([&] {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::ListSitesQuery q;
    q.set_min_position(head);
    q.mutable_request()->set_page_size(1);
    v1::ListSitesResponse r;
    return sites->ListSites(&ctx, q, &r);
  });
  reads.push_back([&] {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::GetSiteAsOfQuery q;
    q.set_name("sites/bench-0");
    q.mutable_valid_date()->set_year(2100);
    q.mutable_valid_date()->set_month(1);
    q.mutable_valid_date()->set_day(1);
    q.set_min_position(head);
    v1::SiteAsOf r;
    return sites->GetSiteAsOf(&ctx, q, &r);
  });
  reads.push_back([&] {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::GetSeriesQuery q;
    q.set_min_position(head);
    q.mutable_request()->mutable_territory()->set_level(v1::TERRITORY_LEVEL_NATION);
    q.mutable_request()->mutable_from()->set_year(2024);
    q.mutable_request()->mutable_from()->set_month(1);
    q.mutable_request()->mutable_from()->set_day(1);
    q.mutable_request()->mutable_to()->set_year(2024);
    q.mutable_request()->mutable_to()->set_month(2);
    q.mutable_request()->mutable_to()->set_day(1);
    v1::SeriesResponse r;
    return territories->GetSeries(&ctx, q, &r);
  });
  reads.push_back([&] {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::GetActionAggregatesQuery q;
    q.set_min_position(head);
    v1::ActionAggregatesResponse r;
    return actions->GetActionAggregates(&ctx, q, &r);
  });
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (auto& read : reads) {
    threads.emplace_back([&read] {
      grpc::Status s = read();
      if (!s.ok()) {
        std::fprintf(stderr, "grpc bench: read-your-writes query: %s\n", s.error_message().c_str());
        std::abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  return SecondsSince(t0);
}

v1::DeclareSiteRequest Declaration(const std::string& id) {
  v1::DeclareSiteRequest req;
  req.set_site_id(id);
  v1::Site* s = req.mutable_command()->mutable_site();
  s->set_name("Site de mesure");
  auto* a = s->mutable_location()->mutable_address();
  a->set_label("12 rue des Lilas 93200 Saint-Denis");
  a->set_city_code("93066");
  a->mutable_coordinates()->set_latitude(48.936);
  a->mutable_coordinates()->set_longitude(2.357);
  s->set_field_type(v1::FIELD_TYPE_LAND);
  s->mutable_built_at()->set_year(2023);
  s->mutable_built_at()->set_month(1);
  s->mutable_built_at()->set_day(10);
  s->mutable_declared_at()->set_year(2023);
  s->mutable_declared_at()->set_month(2);
  s->mutable_declared_at()->set_day(1);
  return req;
}

// Runs `call(thread, i)` on `threads` threads for `seconds`; returns calls/s.
template <typename F>
double Throughput(int threads, double seconds, F call) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> pool;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!call(t, n)) std::abort();
        ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  return done.load() / SecondsSince(t0);
}

// p50 latencies (us) of `a` and `b`, called alternately `n` times each, so that both meet the
// same background work (the projections still catching up after a write burst, compactions).
template <typename A, typename B>
std::pair<double, double> P50MicrosInterleaved(int n, A a, B b) {
  std::vector<double> us_a, us_b;
  us_a.reserve(n);
  us_b.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (!a(i)) std::abort();
    us_a.push_back(SecondsSince(t0) * 1e6);
    t0 = Clock::now();
    if (!b(i)) std::abort();
    us_b.push_back(SecondsSince(t0) * 1e6);
  }
  return {Percentile(us_a, 50), Percentile(us_b, 50)};
}

}  // namespace

void RunGrpcBench(const Config& c) {
  const bool want_cmd = c.Wants("grpc_command_64");
  const bool want_get = c.Wants("grpc_get_site_p50");
  const bool want_sub = c.Wants("subscribe_catchup");
  if (!want_cmd && !want_get && !want_sub) return;

  rb::services::ServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.data_dir = c.dir + "/grpc";
  o.metrics_address = "";
  o.log_level = rb::services::LogLevel::kOff;
  o.sync = true;
  o.modules.push_back([] { return std::make_unique<BenchStreamModule>(); });
  rb::services::Server server(std::move(o));
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "grpc bench: %s\n", s.ToString().c_str());
    std::abort();
  }
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto sites = v1::Sites::NewStub(channel);
  auto health_call = [&](int, uint64_t) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    return health->Check(&ctx, {}, &resp).ok();
  };
  const double seconds = c.quick ? 2.0 : 5.0;

  if (want_cmd || want_get) {
    for (int t = 0; t < 64; ++t) {
      grpc::ClientContext ctx;
      Actor(&ctx);
      v1::WriteResult w;
      if (!sites->DeclareSite(&ctx, Declaration(absl::StrCat("bench-", t)), &w).ok()) std::abort();
    }
  }
  if (want_cmd) {
    // Rounds that alternate commands and Health/Check calls, so that both meet the same machine
    // (its speed drifts: other tenants of the host) and the ratio does not hinge on one window.
    const int rounds = c.quick ? 3 : 5;
    const double slice = seconds * 1.5 / rounds;
    std::vector<uint64_t> sent(64, 0);  // per client: successive commands alternate the value
    double commands = 0, command_seconds = 0, command_cpu = 0, acknowledged = 0, drained = 0;
    double checks = 0, check_seconds = 0, check_cpu = 0;
    uint64_t appended = 0;
    // Durable batches: how well the concurrent commands share group commits.
    std::atomic<uint64_t> batches{0};
    for (int r = 0; r < rounds; ++r) {
      const uint64_t listener =
          server.store()->AddHeadListener([&batches](uint64_t) { batches.fetch_add(1); });
      const uint64_t head0 = server.store()->GetHead().position;
      const double cpu0 = ProcessCpuSeconds();
      const auto w0 = Clock::now();
      // 64 channels' worth of concurrency over one channel: gRPC multiplexes the calls.
      const double rate = Throughput(64, slice, [&](int t, uint64_t) {
        grpc::ClientContext ctx;
        Actor(&ctx);
        v1::RecordPopulationRequest req;
        req.set_name(absl::StrCat("sites/bench-", t));
        req.mutable_command()->mutable_population()->set_total(10 +
                                                               static_cast<int>(sent[t]++ % 2));
        v1::WriteResult w;
        return sites->RecordPopulation(&ctx, req, &w).ok();
      });
      server.store()->RemoveHeadListener(listener);
      const double window = SecondsSince(w0);
      appended += server.store()->GetHead().position - head0;
      // Sustained throughput: the commands over the time until every view has applied them too,
      // so that work the views defer past the window (their live linger) still counts.
      const double drain = SecondsUntilViewsReach(channel, server.store()->GetHead().position);
      commands += rate * window;
      command_seconds += window + drain;
      acknowledged += rate * window;
      drained += drain;
      // The projections' work on these commands belongs to them (CPU), not to the limit.
      WaitForProjectionsIdle(channel, server.store()->GetHead().position);
      command_cpu += ProcessCpuSeconds() - cpu0;

      const double cpu1 = ProcessCpuSeconds();
      const auto h0 = Clock::now();
      const double check_rate = Throughput(64, slice, health_call);
      const double check_window = SecondsSince(h0);
      checks += check_rate * check_window;
      check_seconds += check_window;
      check_cpu += ProcessCpuSeconds() - cpu1;
    }
    std::fprintf(stderr,
                 "grpc_command_64: %.0f commands/s acknowledged over %d windows of %.2f s; views "
                 "caught up %.3f s later in all\n",
                 acknowledged / (command_seconds - drained), rounds, slice, drained);
    std::fprintf(stderr, "grpc_command_64: %llu events in %llu durable batches (%.1f per batch)\n",
                 static_cast<unsigned long long>(appended),
                 static_cast<unsigned long long>(batches.load()),
                 batches.load() > 0 ? static_cast<double>(appended) / batches.load() : 0.0);
    std::fprintf(stderr,
                 "grpc_command_64: %.0f us CPU per command, %.0f us CPU per Health/Check "
                 "(clients and server, all threads)\n",
                 command_cpu / commands * 1e6, check_cpu / checks * 1e6);
    Report("grpc_command_64", commands / command_seconds, "commands/s", checks / check_seconds);
  }
  if (want_get) {
    const int n = c.quick ? 3000 : 20000;
    const auto [get, check] = P50MicrosInterleaved(
        n,
        [&](int i) {
          grpc::ClientContext ctx;
          Actor(&ctx);
          v1::GetSiteRequest req;
          req.set_name(absl::StrCat("sites/bench-", i % 64));
          v1::Site site;
          return sites->GetSite(&ctx, req, &site).ok();
        },
        [&](int) { return health_call(0, 0); });
    Report("grpc_get_site_p50", get, "us", check);
  }
  if (want_sub) {
    const uint64_t n = c.quick ? 200'000 : 1'000'000;
    const std::string payload(200, 'p');
    const uint64_t base = server.store()->GetHead().position;
    for (uint64_t b = 0; b < n; b += 1000) {
      rb::es::AppendRequest r;
      r.stream_id = absl::StrCat("site-sub-", b / 1000);
      for (int i = 0; i < 1000; ++i) {
        r.events.push_back(
            rb::es::EventData{.type = "site.population_recorded", .payload = payload});
      }
      if (!server.store()->Append(r).ok()) std::abort();
    }
    const uint64_t total = base + n;
    std::fprintf(stderr, "subscribe_catchup: %llu events\n",
                 static_cast<unsigned long long>(total));
    WaitForProjectionsIdle(channel, total);
    auto events = v1::EventStream::NewStub(channel);
    auto t0 = Clock::now();
    {
      grpc::ClientContext ctx;
      v1::SubscribeRequest req;
      req.set_from_position(0);
      req.set_max_batch_events(1000);
      auto reader = events->Subscribe(&ctx, req);
      v1::SubscribeResponse resp;
      uint64_t received = 0;
      while (received < total && reader->Read(&resp)) {
        if (resp.has_batch()) received += resp.batch().events_size();
      }
      ctx.TryCancel();
      reader->Finish();
    }
    const double subscribe = total / SecondsSince(t0);
    auto stream = rb::bench::BenchStream::NewStub(channel);
    t0 = Clock::now();
    {
      grpc::ClientContext ctx;
      StreamRequest req;
      req.set_count(total);
      auto reader = stream->Stream(&ctx, req);
      SmallMessage msg;
      while (reader->Read(&msg)) {
      }
      if (!reader->Finish().ok()) std::abort();
    }
    const double limit = total / SecondsSince(t0);
    Report("subscribe_catchup", subscribe, "events/s", limit);
  }
  server.Shutdown();
}

}  // namespace rb::bench
