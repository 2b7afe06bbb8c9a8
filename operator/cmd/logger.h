// Log lines of the deepseek-operator binary: "text" (human) or "json" (one object per line, for log
// collectors), to stderr, with a level filter. Thread-safe. Never log secrets (tokens,
// kubeconfigs).
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace dso::cmd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

class Logger {
 public:
  Logger(LogLevel level, bool json) : level_(level), json_(json) {}
  void log(LogLevel level, const std::string& message,
           const std::map<std::string, std::string>& fields = {});
  void debug(const std::string& m, const std::map<std::string, std::string>& f = {}) {
    log(LogLevel::kDebug, m, f);
  }
  void info(const std::string& m, const std::map<std::string, std::string>& f = {}) {
    log(LogLevel::kInfo, m, f);
  }
  void warn(const std::string& m, const std::map<std::string, std::string>& f = {}) {
    log(LogLevel::kWarn, m, f);
  }
  void error(const std::string& m, const std::map<std::string, std::string>& f = {}) {
    log(LogLevel::kError, m, f);
  }

 private:
  LogLevel level_;
  bool json_;
  std::mutex mu_;
};

}  // namespace dso::cmd
