#include "sim/simulate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "cli/args.h"
#include "sim/bundled_trace.h"
#include "sim/report.h"
#include "traces/duration.h"

namespace dso::sim {

std::string simulate_usage() {
  return R"(Usage: deepseek-operator simulate [FLAGS]

Replays a request-rate trace on a simulated GPU fleet under several autoscaling policies and
compares them: SLO-violation minutes (demand above ready capacity), GPU-hours, scale events and
unserved demand, next to an oracle that knows the future.

Flags:
  --trace FILE.csv           CSV `timestamp,value` (request rate); default: the bundled
                             nyc_taxi.csv (NAB, NYC taxi passengers every 30 min)
  --policy LIST              comma-separated: hpa,kpa,linear,dsp,seasonal or all (default all)
  --cold-start DURATION      pod creation -> Ready time of the simulated fleet (default 5m)
  --peak-replicas N          capacity per replica = the window's peak demand / N (default 20)
  --capacity X               demand one replica serves (instead of --peak-replicas)
  --target-utilization U     the reactive policies' utilisation target, (0, 1] (default 0.7)
  --period DURATION          decision period; the trace is interpolated to it (default 15s)
  --window DURATION          the scored window at the end of the trace (default 7d); the part
                             before it is history the policies may learn from
  --out DIR                  where plan-<policy>.csv and chart-<policy>.svg go
                             (default simulate-out)
  -h, --help                 this text

Durations: 15s, 5m, 1h30m, 7d, 2w. See docs/simulate.md.
)";
}

namespace {

std::unexpected<std::string> flag_error(const std::string& flag, const std::string& why) {
  return std::unexpected(flag + ": " + why);
}

std::optional<double> parse_double(const std::string& text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<long long> parse_int(const std::string& text) {
  long long value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

std::expected<SimulateOptions, std::string> parse_simulate_args(std::span<const std::string> args) {
  SimulateOptions o;
  cli::ArgReader reader(args);
  while (const auto arg = reader.next()) {
    const std::string& flag = arg->name;
    if (arg->is_help()) {
      o.help = true;
      continue;
    }
    static const std::vector<std::string> kValued{
        "--trace",         "--policy",   "--cold-start",
        "--peak-replicas", "--capacity", "--target-utilization",
        "--period",        "--window",   "--out"};
    if (std::find(kValued.begin(), kValued.end(), flag) == kValued.end()) {
      return std::unexpected("unknown flag '" + arg->text + "' (see --help)");
    }
    const auto read = reader.value();
    if (!read) return flag_error(flag, "needs a value");
    const std::string& value = *read;
    if (flag == "--trace") {
      if (value.empty()) return flag_error(flag, "empty path");
      o.trace = value;
    } else if (flag == "--policy") {
      o.policies.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        const std::string name =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (name == "all") {
          for (const auto& n : policy_names()) o.policies.push_back(n);
        } else if (std::find(policy_names().begin(), policy_names().end(), name) !=
                   policy_names().end()) {
          o.policies.push_back(name);
        } else {
          return flag_error(
              flag, "unknown policy '" + name + "' (known: hpa, kpa, linear, dsp, seasonal, all)");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      // Keep the table order and drop repeats.
      std::vector<std::string> ordered;
      for (const auto& n : policy_names()) {
        if (std::find(o.policies.begin(), o.policies.end(), n) != o.policies.end()) {
          ordered.push_back(n);
        }
      }
      o.policies = ordered;
    } else if (flag == "--cold-start" || flag == "--period" || flag == "--window") {
      auto seconds = traces::parse_duration(value);
      if (!seconds) return flag_error(flag, seconds.error());
      if (flag == "--cold-start") o.cold_start = *seconds;
      if (flag == "--period") o.period = *seconds;
      if (flag == "--window") o.window = *seconds;
    } else if (flag == "--peak-replicas") {
      const auto n = parse_int(value);
      if (!n || *n < 1 || *n > 100000) {
        return flag_error(flag, "'" + value + "' is not a whole number in [1, 100000]");
      }
      o.peak_replicas = static_cast<int>(*n);
    } else if (flag == "--capacity") {
      const auto x = parse_double(value);
      if (!x || *x <= 0) return flag_error(flag, "'" + value + "' is not a positive number");
      o.capacity = *x;
    } else if (flag == "--target-utilization") {
      const auto x = parse_double(value);
      if (!x || *x <= 0 || *x > 1) {
        return flag_error(flag, "'" + value + "' is not a number in (0, 1]");
      }
      o.target_utilization = *x;
    } else if (flag == "--out") {
      if (value.empty()) return flag_error(flag, "empty path");
      o.out_dir = value;
    }
  }
  if (o.peak_replicas && o.capacity) {
    return std::unexpected("--peak-replicas and --capacity: give one or the other, not both");
  }
  if (o.period > 3600) return flag_error("--period", "longer than 1h is not a decision period");
  if (o.cold_start > 86400) return flag_error("--cold-start", "longer than one day");
  if (o.window < o.period) return flag_error("--window", "shorter than the decision period");
  if (o.policies.empty()) return flag_error("--policy", "no policy given");
  return o;
}

std::expected<SimulationRun, std::string> run_simulation(
    const SimulateOptions& options,
    const std::function<void(const std::string&, double)>& progress) {
  SimulationRun run;
  traces::ReadOptions read;
  read.min_points = 2;
  auto loaded = options.trace
                    ? traces::read_series_csv(*options.trace, read)
                    : traces::parse_series_csv(bundled_trace_csv(), kBundledTraceName, read);
  if (!loaded) return std::unexpected(loaded.error());
  run.trace_name = options.trace ? *options.trace : std::string(kBundledTraceName);
  run.warnings = loaded->warnings;
  run.format = loaded->format;
  const auto grid = interpolate(loaded->series, options.period);
  const Seconds span =
      grid.values.empty() ? 0 : static_cast<Seconds>(grid.values.size() - 1) * options.period;
  const auto scored = static_cast<std::size_t>(options.window / options.period);
  if (grid.values.size() < 2 || scored > grid.values.size()) {
    return std::unexpected("--window " + traces::format_duration(options.window) +
                           " is longer than the trace " + run.trace_name + " (" +
                           traces::format_duration(span) + ")");
  }
  for (const double v : grid.values) {
    if (v < 0)
      return std::unexpected(run.trace_name + ": negative demand values are not a request rate");
  }
  ReplayOptions replay_options;
  replay_options.period = options.period;
  replay_options.cold_start = options.cold_start;
  replay_options.first_scored = grid.values.size() - scored;
  replay_options.initial_utilization = options.target_utilization;
  run.peak_demand = *std::max_element(
      grid.values.begin() + static_cast<long>(replay_options.first_scored), grid.values.end());
  if (options.capacity) {
    run.capacity = *options.capacity;
  } else {
    if (!(run.peak_demand > 0)) {
      return std::unexpected(run.trace_name +
                             ": the scored window has no demand (peak 0); give --capacity");
    }
    run.capacity = run.peak_demand / options.peak_replicas.value_or(20);
  }
  replay_options.capacity = run.capacity;
  run.window_start = grid.time_at(replay_options.first_scored);
  run.window_end = grid.time_at(grid.values.size() - 1);

  PolicyParams params;
  params.capacity = run.capacity;
  params.target_utilization = options.target_utilization;
  params.period = options.period;
  for (const auto& name : options.policies) {
    auto policy = make_policy(name, params);
    if (!policy) return std::unexpected(policy.error());
    std::function<void(double)> report;
    if (progress) report = [&](double f) { progress(name, f); };
    run.results.push_back(replay(grid, **policy, replay_options, report));
  }
  auto oracle = make_oracle(grid, options.cold_start, run.capacity);
  run.oracle = replay(grid, *oracle, replay_options);
  return run;
}

std::expected<std::vector<std::string>, std::string> write_outputs(const SimulationRun& run,
                                                                   const SimulateOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return std::unexpected("--out " + options.out_dir + ": " + ec.message());
  std::vector<std::string> written;
  for (const auto& r : run.results) {
    const std::string plan = options.out_dir + "/plan-" + r.policy + ".csv";
    if (auto w = write_file(plan, plan_csv(r, run.format)); !w) return std::unexpected(w.error());
    written.push_back(plan);
    char title[256];
    std::snprintf(title, sizeof title,
                  "%s on %s: %.0f SLO-violation min, %.1f GPU-hours, cold start %s",
                  r.policy.c_str(), run.trace_name.c_str(), r.score.violation_minutes,
                  r.score.gpu_hours, traces::format_duration(options.cold_start).c_str());
    const std::string chart = options.out_dir + "/chart-" + r.policy + ".svg";
    if (auto w = write_file(chart, chart_svg(r, run.capacity, title)); !w) {
      return std::unexpected(w.error());
    }
    written.push_back(chart);
  }
  return written;
}

int simulate_main(std::span<const std::string> args, std::FILE* out, std::FILE* err,
                  bool err_is_terminal) {
  auto options = parse_simulate_args(args);
  if (!options) {
    std::fprintf(err, "deepseek-operator simulate: %s\n", options.error().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(simulate_usage().c_str(), out);
    return 0;
  }
  std::function<void(const std::string&, double)> progress;
  if (err_is_terminal) {
    progress = [err](const std::string& name, double f) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(f * kWidth);
      std::fprintf(err, "\r%-9s [%s%s] %3d%%", name.c_str(), std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), static_cast<int>(f * 100));
      if (f >= 1.0) std::fputc('\n', err);
      std::fflush(err);
    };
  }
  auto run = run_simulation(*options, progress);
  if (!run) {
    std::fprintf(err, "deepseek-operator simulate: %s\n", run.error().c_str());
    return 1;
  }
  if (!run->warnings.empty()) {
    std::fprintf(err, "%s: %zu warning(s) while reading, first: %s\n", run->trace_name.c_str(),
                 run->warnings.size(), run->warnings.front().c_str());
  }
  std::fprintf(
      out,
      "trace %s, window %s .. %s (%s), decisions every %s, cold start %s\n"
      "capacity %.4g per replica (peak demand %.4g), reactive target utilisation %.2f\n\n",
      run->trace_name.c_str(),
      traces::format_timestamp(run->window_start, traces::TimestampFormat::kDateTime).c_str(),
      traces::format_timestamp(run->window_end, traces::TimestampFormat::kDateTime).c_str(),
      traces::format_duration(options->window).c_str(),
      traces::format_duration(options->period).c_str(),
      traces::format_duration(options->cold_start).c_str(), run->capacity, run->peak_demand,
      options->target_utilization);
  std::fputs(format_table(run->results, &run->oracle).c_str(), out);
  auto written = write_outputs(*run, *options);
  if (!written) {
    std::fprintf(err, "deepseek-operator simulate: %s\n", written.error().c_str());
    return 1;
  }
  std::fprintf(out, "\nwrote %zu files to %s/ (plan-<policy>.csv, chart-<policy>.svg)\n",
               written->size(), options->out_dir.c_str());
  return 0;
}

}  // namespace dso::sim
