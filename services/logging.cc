// Copyright: the Résorption-bidonvilles data service authors.
#include "services/logging.h"

#include <cmath>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_text.h"

namespace rb::services {

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(std::string(name));
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info") return LogLevel::kInfo;
  if (n == "warning" || n == "warn") return LogLevel::kWarning;
  if (n == "error") return LogLevel::kError;
  if (n == "off") return LogLevel::kOff;
  return absl::InvalidArgumentError(absl::StrCat("unknown log level \"", std::string(name),
                                                 "\": use debug, info, warning, error or off"));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

void AppendJsonString(std::string& out, absl::string_view s) {
  rb::common::AppendJsonString(&out, s);
}

LogLine::LogLine(Logger* logger, LogLevel level, absl::string_view event) : logger_(logger) {
  if (logger_ == nullptr) return;
  line_ = "{\"ts\":";
  AppendJsonString(line_,
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()));
  line_ += ",\"level\":";
  AppendJsonString(line_, LogLevelName(level));
  line_ += ",\"event\":";
  AppendJsonString(line_, event);
}

LogLine::~LogLine() {
  if (logger_ == nullptr) return;
  line_.push_back('}');
  logger_->Write(line_);
}

void LogLine::Key(absl::string_view key) {
  line_.push_back(',');
  AppendJsonString(line_, key);
  line_.push_back(':');
}

LogLine& LogLine::Str(absl::string_view key, absl::string_view value) {
  if (logger_ == nullptr) return *this;
  Key(key);
  AppendJsonString(line_, value);
  return *this;
}

LogLine& LogLine::Int(absl::string_view key, int64_t value) {
  if (logger_ == nullptr) return *this;
  Key(key);
  absl::StrAppend(&line_, value);
  return *this;
}

LogLine& LogLine::Num(absl::string_view key, double value) {
  if (logger_ == nullptr) return *this;
  Key(key);
  if (std::isfinite(value)) {
    absl::StrAppendFormat(&line_, "%.6g", value);
  } else {
    line_ += "null";
  }
  return *this;
}

LogLine& LogLine::Bool(absl::string_view key, bool value) {
  if (logger_ == nullptr) return *this;
  Key(key);
  line_ += value ? "true" : "false";
  return *this;
}

Logger::Logger(LogLevel level, std::ostream* sink)
    : level_(level), sink_(sink != nullptr ? sink : &std::cerr) {}

void Logger::Write(absl::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  sink_->write(line.data(), static_cast<std::streamsize>(line.size()));
  sink_->put('\n');
  sink_->flush();
}

}  // namespace rb::services
