// traces/duration.h: human durations on the command line ("15s", "5m", "1h30m", "7d", "2w").
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace dso::traces {

// Parses a duration made of one or more <integer><unit> parts, units s, m, h, d, w (seconds,
// minutes, hours, days, weeks), e.g. "90s", "1h30m", "2w". A bare integer means seconds. Returns
// the total in seconds (> 0), or a one-line error naming the text and the problem.
std::expected<std::int64_t, std::string> parse_duration(std::string_view text);

// The shortest form that parse_duration() reads back: 5400 -> "1h30m", 0 -> "0s".
std::string format_duration(std::int64_t seconds);

}  // namespace dso::traces
