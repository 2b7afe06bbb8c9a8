// Durations as the CRD writes them: Go-style strings such as "30s", "5m", "1h30m", "14d", "2w".
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace dso::api {

// Parses a sequence of <integer><unit> terms, units ms, s, m, h, d (24 h), w (7 d). Errors name the
// offending text, e.g. `bad duration "5x": unknown unit "x"`.
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);

// The shortest exact form: 300000 ms -> "5m", 5400000 ms -> "1h30m".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace dso::api
