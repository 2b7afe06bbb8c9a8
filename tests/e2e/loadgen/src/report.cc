// The run's outputs: per-second CSV, SVG chart, JSON summary, progress line.
#include "loadgen/report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "traces/chart.h"

namespace dso::loadgen {
namespace {

std::string seconds(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double share(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

std::string rows_csv(const std::vector<SecondRow>& rows) {
  std::string out =
      "unix_time,offered,completed,rejected_429,errors,p50_s,p99_s,ttft_p50_s,ttft_p99_s,"
      "ready_endpoints,violation\n";
  for (const SecondRow& r : rows) {
    out += std::to_string(r.unix_time) + "," + std::to_string(r.offered) + "," +
           std::to_string(r.completed) + "," + std::to_string(r.rejected) + "," +
           std::to_string(r.errors) + "," + seconds(r.p50_s) + "," + seconds(r.p99_s) + "," +
           seconds(r.ttft_p50_s) + "," + seconds(r.ttft_p99_s) + "," +
           std::to_string(r.ready_endpoints) + "," + (r.violation ? "1" : "0") + "\n";
  }
  return out;
}

std::string chart_svg(const Snapshot& snapshot, double slo_p99_s, const std::string& title) {
  traces::TimelineChart chart;
  traces::TimelineSeries offered{"offered", "#555555", {}}, completed{"completed", "#2171b5", {}};
  traces::TimelineSeries ready{"ready endpoints", "#238b45", {}}, p99{"p99", "#6a51a3", {}};
  for (const SecondRow& r : snapshot.rows) {
    chart.times.push_back(r.unix_time);
    offered.values.push_back(static_cast<double>(r.offered));
    completed.values.push_back(static_cast<double>(r.completed));
    ready.values.push_back(r.ready_endpoints);
    p99.values.push_back(r.p99_s);
    chart.marked.push_back(r.violation);
  }
  chart.panels = {
      {"requests/s (by arrival second)", {offered, completed}},
      {"ready endpoints", {ready}},
      {"p99 latency, s (dashed: SLO " + shortest(slo_p99_s) + " s)", {p99}, slo_p99_s},
  };
  chart.marked_label = "SLO violated (p99 above the SLO, a 429 or an error)";
  return traces::timeline_chart_svg(chart, {.width = 1200, .height = 640, .title = title});
}

std::string summary_json(const Snapshot& snapshot) {
  const Totals& t = snapshot.totals;
  nlohmann::json j = {
      {"offered", t.offered},
      {"completed", t.completed},
      {"rejected_429", t.rejected},
      {"errors", t.errors},
      {"errors_by_kind", t.errors_by_kind},
      {"in_flight", t.in_flight},
      {"seconds", snapshot.rows.size()},
      {"violation_seconds", t.violation_seconds},
      {"error_share", share(t.errors, t.offered)},
      {"rejected_share", share(t.rejected, t.offered)},
      {"p50_s", t.p50_s},  // NaN (nothing completed) is written as null
      {"p99_s", t.p99_s},
      {"ttft_p50_s", t.ttft_p50_s},
      {"ttft_p99_s", t.ttft_p99_s},
      {"last_error", t.last_error},
  };
  return j.dump();
}

std::string progress_line(const Snapshot& now, const Totals& before, double elapsed_s,
                          double interval_s) {
  const Totals& t = now.totals;
  const double dt = std::max(interval_s, 1e-9);
  // p99: the worst second among the last interval's (by arrival; the running one left out).
  double p99 = NAN;
  const std::size_t end = now.rows.empty() ? 0 : now.rows.size() - 1;
  const auto window = static_cast<std::size_t>(std::ceil(interval_s));
  for (std::size_t i = end > window ? end - window : 0; i < end; ++i) {
    const double v = now.rows[i].p99_s;
    if (std::isfinite(v)) p99 = std::isfinite(p99) ? std::max(p99, v) : v;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "t=%.0fs offered=%.1f/s completed=%.1f/s p99=%ss endpoints=%d in_flight=%llu "
                "errors=%llu rejected=%llu",
                elapsed_s, static_cast<double>(t.offered - before.offered) / dt,
                static_cast<double>(t.completed - before.completed) / dt,
                std::isfinite(p99) ? seconds(p99).c_str() : "-", t.ready_endpoints,
                static_cast<unsigned long long>(t.in_flight),
                static_cast<unsigned long long>(t.errors),
                static_cast<unsigned long long>(t.rejected));
  return buf;
}

std::expected<void, std::string> write_file(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return std::unexpected(path + ": cannot write the file");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return std::unexpected(path + ": cannot write the file: " + ec.message());
  }
  return {};
}

}  // namespace dso::loadgen
