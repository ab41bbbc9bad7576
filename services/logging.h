// Copyright: the Résorption-bidonvilles data service authors.
//
// Structured logs: one JSON object per line, for every event worth logging.
//
//   rb::services::Logger logger(rb::services::LogLevel::kInfo, &std::cerr);
//   logger.Info("server.started").Str("listen", "127.0.0.1:50051").Int("port", 50051);
//   // {"ts":"2024-05-01T10:00:00.123456Z","level":"info","event":"server.started",
//   //  "listen":"127.0.0.1:50051","port":50051}
//
// The line is written when the LogLine temporary is destroyed (end of the full expression).
// Lines below the logger's level cost one comparison. Thread safety: Logger is thread-safe;
// a LogLine belongs to one thread.
#ifndef RB_SERVICES_LOGGING_H_
#define RB_SERVICES_LOGGING_H_

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::services {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// "debug", "info", "warning" (or "warn"), "error", "off"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// Appends `s` to `out` as a JSON string literal (with quotes).
void AppendJsonString(std::string& out, absl::string_view s);

class Logger;

class LogLine {
 public:
  LogLine(Logger* logger, LogLevel level, absl::string_view event);  // logger null: discarded
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Str(absl::string_view key, absl::string_view value);
  LogLine& Int(absl::string_view key, int64_t value);
  LogLine& Num(absl::string_view key, double value);
  LogLine& Bool(absl::string_view key, bool value);

 private:
  void Key(absl::string_view key);
  Logger* logger_;
  std::string line_;
};

class Logger {
 public:
  // `sink` is not owned and must outlive the logger; nullptr means std::cerr.
  explicit Logger(LogLevel level = LogLevel::kInfo, std::ostream* sink = nullptr);

  bool Enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::kOff; }
  LogLevel level() const { return level_; }

  LogLine Debug(absl::string_view event) {
    return LogLine(Pick(LogLevel::kDebug), LogLevel::kDebug, event);
  }
  LogLine Info(absl::string_view event) {
    return LogLine(Pick(LogLevel::kInfo), LogLevel::kInfo, event);
  }
  LogLine Warning(absl::string_view event) {
    return LogLine(Pick(LogLevel::kWarning), LogLevel::kWarning, event);
  }
  LogLine Error(absl::string_view event) {
    return LogLine(Pick(LogLevel::kError), LogLevel::kError, event);
  }

  // Writes one complete line (without the newline). Used by LogLine.
  void Write(absl::string_view line);

 private:
  Logger* Pick(LogLevel level) { return Enabled(level) ? this : nullptr; }
  const LogLevel level_;
  std::ostream* sink_;
  std::mutex mu_;
};

}  // namespace rb::services

#endif  // RB_SERVICES_LOGGING_H_
