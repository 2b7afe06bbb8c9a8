// sim/report.h: what `deepseek-operator simulate` writes — the table, plan CSVs and SVG charts.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "sim/replay.h"
#include "traces/csv.h"

namespace dso::sim {

// The results table: one row per policy (in the given order), then the oracle's row and each
// policy's GPU-hours gap to the oracle. `oracle` may be null.
std::string format_table(const std::vector<ReplayResult>& results, const ReplayResult* oracle);

// The plan: header `timestamp,replicas`, one row per scored decision with the desired replicas
// the policy set — exactly ReplayResult::desired.
std::string plan_csv(const ReplayResult& result, traces::TimestampFormat format);

// An SVG chart of demand, ready capacity and provisioned replicas (x capacity, right axis in
// replicas) over the scored window; minutes in violation are marked red along the bottom.
std::string chart_svg(const ReplayResult& result, double capacity, const std::string& title);

// Writes `content` to `path` through a temporary file renamed into place.
std::expected<void, std::string> write_file(const std::string& path, const std::string& content);

}  // namespace dso::sim
