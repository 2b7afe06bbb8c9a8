// loadgen/report.h: what a run writes: the per-second CSV, the SVG chart (through
// traces::timeline_chart_svg), the one-line JSON summary and the --progress line.
#pragma once

#include <expected>
#include <string>

#include "loadgen/stats.h"

namespace dso::loadgen {

// Header `unix_time,offered,completed,rejected_429,errors,p50_s,p99_s,ttft_p50_s,ttft_p99_s,
// ready_endpoints,violation`, then one row per second; latencies in seconds with 4 decimals (empty
// when nothing completed), violation 0 or 1.
std::string rows_csv(const std::vector<SecondRow>& rows);

// Three panels over time: offered and completed req/s, ready endpoints, p99 latency against the
// SLO line; violation seconds shaded red.
std::string chart_svg(const Snapshot& snapshot, double slo_p99_s, const std::string& title);

// One line of JSON: offered, completed, rejected_429, errors, errors_by_kind, violation_seconds,
// seconds, error_share, rejected_share, p50_s, p99_s, ttft_p50_s, ttft_p99_s (null when none).
std::string summary_json(const Snapshot& snapshot);

// "t=30s offered=102.3/s completed=101.0/s p99=0.8120s endpoints=3 in_flight=57 errors=0
// rejected=0": offered and completed per second since `before` (totals `interval_s` ago), the
// worst per-second p99 among the seconds of that interval, and counts now.
std::string progress_line(const Snapshot& now, const Totals& before, double elapsed_s,
                          double interval_s);

// Writes `content` to `path` through a temporary file renamed into place, so a failure never
// leaves a half-written file. Error: one line naming the path.
std::expected<void, std::string> write_file(const std::string& path, const std::string& content);

}  // namespace dso::loadgen
