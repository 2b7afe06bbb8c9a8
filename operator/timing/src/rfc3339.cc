// RFC 3339 timestamps: see rfc3339.h.
#include "timing/rfc3339.h"

#include <cstdio>
#include <ctime>

namespace dso::timing {

std::string format_rfc3339(WallTime t) {
  const std::time_t tt =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      t - std::chrono::time_point_cast<std::chrono::seconds>(t))
                      .count();
  if (ms > 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
    out += frac;
  }
  return out + "Z";
}

std::optional<WallTime> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::size_t i = 19;
  int ms = 0, digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');  // beyond std::chrono::milliseconds: dropped
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < 3; ++d) ms *= 10;
  }
  long offset_seconds = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int h = 0, m = 0, n = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5)
      return std::nullopt;
    offset_seconds = (text[i] == '+' ? 1 : -1) * (h * 3600L + m * 60L);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t - offset_seconds) + std::chrono::milliseconds(ms);
}

std::string format_rfc3339_seconds(WallTime t) {
  return format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(t));
}

}  // namespace dso::timing
