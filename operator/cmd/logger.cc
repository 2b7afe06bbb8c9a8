#include "logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dso::cmd {

void Logger::log(LogLevel level, const std::string& message,
                 const std::map<std::string, std::string>& fields) {
  if (level < level_) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
  std::string line;
  if (json_) {
    nlohmann::json j{{"ts", stamp}, {"level", kNames[static_cast<int>(level)]}, {"msg", message}};
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = std::string(stamp) + " " + kNames[static_cast<int>(level)] + " " + message;
    for (const auto& [k, v] : fields) line += " " + k + "=" + v;
  }
  std::lock_guard lock(mu_);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace dso::cmd
