// sim/bundled_trace.h: the real trace `deepseek-operator simulate` replays when given no --trace.
//
// NAB's nyc_taxi.csv (New York City taxi passengers every 30 minutes, 2014-07-01 to 2015-01-31;
// Numenta, MIT-style licence, see NOTICE), compiled into the binary so the command works from any
// directory.
#pragma once

#include <string_view>

namespace dso::sim {

// The CSV text, `timestamp,value` rows.
std::string_view bundled_trace_csv();
// The name used in messages and charts: "nyc_taxi.csv (bundled)".
inline constexpr std::string_view kBundledTraceName = "nyc_taxi.csv (bundled)";

}  // namespace dso::sim
