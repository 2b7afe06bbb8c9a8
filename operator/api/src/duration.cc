#include "api/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace dso::api {

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  const auto fail = [&](std::string why) {
    return std::unexpected("bad duration \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return fail("empty");
  std::int64_t total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      return fail("expected a number at offset " + std::to_string(i));
    std::int64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (value > std::numeric_limits<std::int64_t>::max() / 10 - 10) return fail("too large");
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60'000;
    else if (unit == "h")
      scale = 3'600'000;
    else if (unit == "d")
      scale = 86'400'000;
    else if (unit == "w")
      scale = 604'800'000;
    else if (unit.empty())
      return fail("missing unit after " + std::to_string(value) + " (use ms, s, m, h, d or w)");
    else
      return fail("unknown unit \"" + std::string(unit) + "\" (use ms, s, m, h, d or w)");
    if (value > (std::numeric_limits<std::int64_t>::max() - total_ms) / scale)
      return fail("too large");
    total_ms += value * scale;
  }
  return std::chrono::milliseconds(total_ms);
}

std::string format_duration(std::chrono::milliseconds duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [scale, unit] : kUnits) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + unit;
      ms %= scale;
    }
  }
  return out;
}

}  // namespace dso::api
