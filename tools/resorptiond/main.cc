// Copyright: the Résorption-bidonvilles data service authors.
//
// resorptiond: parses flags and environment variables, then runs rb::services::Server until
// SIGTERM or SIGINT, which trigger a graceful shutdown. Everything else lives in services/.
//
//   resorptiond --listen=127.0.0.1:50051 --data-dir=var/data --sync=true
//
// Exit status: 0 after a graceful stop, 1 when the server cannot start (the message says why),
// 2 for a usage error.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/logging.h"
#include "services/server.h"

namespace {

constexpr absl::string_view kUsage = R"(Usage: resorptiond [flags]

Serves the Résorption-bidonvilles event log and its services over gRPC.
Each flag may also be set by the environment variable in brackets; flags win.

  --listen=HOST:PORT         gRPC address [RESORPTION_LISTEN] (default 127.0.0.1:50051;
                             port 0 picks a free port, logged in the server.started line)
  --data-dir=PATH            data directory, created when absent [RESORPTION_DATA_DIR]
                             (default var/data under the current directory)
  --sync=true|false          sync each group commit before acknowledging [RESORPTION_SYNC]
                             (default true)
  --tls-cert=FILE            PEM certificate chain; with --tls-key enables TLS [RESORPTION_TLS_CERT]
  --tls-key=FILE             PEM private key [RESORPTION_TLS_KEY]
  --log-level=LEVEL          debug, info, warning, error or off [RESORPTION_LOG_LEVEL]
                             (default info); logs are JSON lines on standard error
  --metrics-listen=HOST:PORT Prometheus endpoint GET /metrics [RESORPTION_METRICS_LISTEN]
                             (default 127.0.0.1:9464; empty disables it)
  --max-threads=N            upper bound on gRPC threads [RESORPTION_MAX_THREADS] (default 0:
                             gRPC's own)
  --auth=required|disabled   bearer-token authentication [RESORPTION_AUTH] (default required;
                             the first start writes the bootstrap administrator token to
                             DATA_DIR/bootstrap-admin.token, mode 0600; see docs/access.md)
  --owner-retention-days=N   anonymise private owners N days after a site's closure
                             [RESORPTION_OWNER_RETENTION_DAYS] (default 365, at least 1)
  --user-retention-days=N    erase a user's personal data N days after deactivation
                             [RESORPTION_USER_RETENTION_DAYS] (default 183; 0: never)
  --user-inactivity-days=N   deactivate accounts without a sign-in for N days
                             [RESORPTION_USER_INACTIVITY_DAYS] (default 183; 0: never)
  --erasure-interval=DURATION period of the erasure sweep, e.g. 24h or 30m
                             [RESORPTION_ERASURE_INTERVAL] (default 24h; 0 disables the
                             background sweep, Admin.RunErasureSweep still runs it)
  --help                     this text

SIGTERM or SIGINT stops the server gracefully. Exit status: 0 after a graceful stop, 1 when the
server cannot start, 2 for a usage error.
)";

struct Flag {
  const char* name;  // without "--"
  const char* env;
  std::string value;
  bool set = false;
};

bool ParseBool(absl::string_view v, bool* out) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "0" || v == "no" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

int UsageError(absl::string_view message) {
  std::cerr << "resorptiond: " << message << "\nTry --help.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil with lock-order (deadlock) detection on, which walks a global graph on
  // every Mutex lock. Tests keep it on to catch lock-order bugs; the service does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flag flags[] = {
      {"listen", "RESORPTION_LISTEN"},
      {"data-dir", "RESORPTION_DATA_DIR"},
      {"sync", "RESORPTION_SYNC"},
      {"tls-cert", "RESORPTION_TLS_CERT"},
      {"tls-key", "RESORPTION_TLS_KEY"},
      {"log-level", "RESORPTION_LOG_LEVEL"},
      {"metrics-listen", "RESORPTION_METRICS_LISTEN"},
      {"max-threads", "RESORPTION_MAX_THREADS"},
      {"auth", "RESORPTION_AUTH"},
      {"owner-retention-days", "RESORPTION_OWNER_RETENTION_DAYS"},
      {"user-retention-days", "RESORPTION_USER_RETENTION_DAYS"},
      {"user-inactivity-days", "RESORPTION_USER_INACTIVITY_DAYS"},
      {"erasure-interval", "RESORPTION_ERASURE_INTERVAL"},
  };
  for (Flag& f : flags) {
    if (const char* v = std::getenv(f.env)) {
      f.value = v;
      f.set = true;
    }
  }
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg.substr(0, 2) != "--") return UsageError(absl::StrCat("unexpected argument ", arg));
    arg.remove_prefix(2);
    size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    Flag* flag = nullptr;
    for (Flag& f : flags) {
      if (name == f.name) flag = &f;
    }
    if (flag == nullptr) return UsageError(absl::StrCat("unknown flag --", name));
    if (eq != absl::string_view::npos) {
      flag->value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      flag->value = argv[++i];
    } else {
      return UsageError(absl::StrCat("--", name, " needs a value"));
    }
    flag->set = true;
  }

  rb::services::ServerOptions options;
  auto get = [&](const char* name) -> const Flag& {
    for (const Flag& f : flags) {
      if (absl::string_view(f.name) == name) return f;
    }
    std::abort();
  };
  if (get("listen").set) options.listen_address = get("listen").value;
  if (get("data-dir").set) options.data_dir = get("data-dir").value;
  if (get("sync").set && !ParseBool(get("sync").value, &options.sync)) {
    return UsageError("--sync must be true or false");
  }
  if (get("tls-cert").set) options.tls_cert_file = get("tls-cert").value;
  if (get("tls-key").set) options.tls_key_file = get("tls-key").value;
  if (get("log-level").set) {
    auto level = rb::services::ParseLogLevel(get("log-level").value);
    if (!level.ok()) return UsageError(level.status().message());
    options.log_level = *level;
  }
  if (get("metrics-listen").set) options.metrics_address = get("metrics-listen").value;
  if (get("max-threads").set &&
      (!absl::SimpleAtoi(get("max-threads").value, &options.max_threads) ||
       options.max_threads < 0)) {
    return UsageError("--max-threads must be a non-negative integer");
  }

  struct DaysFlag {
    const char* name;
    int* target;
    int minimum;
  };
  for (const DaysFlag& d :
       {DaysFlag{"owner-retention-days", &options.erasure.owner_retention_days, 1},
        DaysFlag{"user-retention-days", &options.erasure.user_retention_days, 0},
        DaysFlag{"user-inactivity-days", &options.erasure.user_inactivity_days, 0}}) {
    if (!get(d.name).set) continue;
    if (!absl::SimpleAtoi(get(d.name).value, d.target) || *d.target < d.minimum ||
        *d.target > 36500) {
      return UsageError(absl::StrCat("--", d.name, " must be a whole number of days from ",
                                     d.minimum, " to 36500"));
    }
  }
  if (get("erasure-interval").set) {
    absl::Duration interval;
    if (!absl::ParseDuration(get("erasure-interval").value, &interval) ||
        interval < absl::ZeroDuration()) {
      return UsageError("--erasure-interval must be a duration such as 24h, 90m or 0");
    }
    options.erasure.interval = interval;
  }

  options.auth.mode = rb::services::AuthMode::kRequired;
  if (get("auth").set) {
    if (get("auth").value == "disabled") {
      options.auth.mode = rb::services::AuthMode::kDisabled;
    } else if (get("auth").value != "required") {
      return UsageError("--auth must be required or disabled");
    }
  }

  // Block the stop signals before any thread starts, so that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  rb::services::Server server(std::move(options));
  if (absl::Status s = server.Start(); !s.ok()) {
    std::cerr << "resorptiond: cannot start: " << s.message() << "\n";
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  server.logger().Info("server.signal").Int("signal", signal);
  server.Shutdown();
  return 0;
}
