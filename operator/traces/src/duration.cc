#include "traces/duration.h"

#include <cctype>
#include <limits>

namespace dso::traces {

std::expected<std::int64_t, std::string> parse_duration(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    return std::unexpected("invalid duration '" + std::string(text) + "': " + std::string(why) +
                           " (examples: 15s, 5m, 1h30m, 7d, 2w)");
  };
  if (text.empty()) return fail("empty");
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return fail("expected a number");
    std::int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      if (number > std::numeric_limits<std::int32_t>::max()) return fail("too large");
      ++i;
    }
    std::int64_t unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        default:
          return fail(std::string("unknown unit '") + text[i] + "'");
      }
      ++i;
    } else if (total != 0) {
      return fail("a number without a unit");
    }
    total += number * unit;
    if (total > std::numeric_limits<std::int32_t>::max() * 100LL) return fail("too large");
  }
  if (total <= 0) return fail("must be positive");
  return total;
}

std::string format_duration(std::int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  if (seconds < 0) {
    out = "-";
    seconds = -seconds;
  }
  static constexpr std::pair<std::int64_t, char> kUnits[] = {
      {7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [size, unit] : kUnits) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

}  // namespace dso::traces
