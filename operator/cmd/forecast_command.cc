// `deepseek-operator forecast`: reads a time-series CSV, forecasts it with the predictor, writes
// the forecast (and optionally an SVG chart).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "command.h"
#include "predictor/forecast.h"
#include "traces/chart.h"
#include "traces/csv.h"
#include "traces/duration.h"

namespace dso::cmd {
namespace {

constexpr const char* kUsage =
    "Usage: deepseek-operator forecast --input TRAIN.csv --horizon DURATION --output FORECAST.csv\n"
    "                                  [--quantiles 0.5,0.9,0.99] [--model MODEL] [--step "
    "DURATION]\n"
    "                                  [--plot FILE.svg]\n"
    "\n"
    "Forecasts a regularly sampled series (request rate, load) for the time after its last point.\n"
    "\n"
    "  --input FILE      CSV: a header line, then timestamp,value rows; timestamps are\n"
    "                    'YYYY-MM-DD HH:MM:SS' (UTC) or unix seconds, in increasing order.\n"
    "                    Gaps and NaN values are filled by interpolation (reported on stderr).\n"
    "  --horizon DUR     how far ahead, e.g. 1h, 24h, 1d12h (rounded up to whole steps)\n"
    "  --output FILE     CSV: timestamp,value[,q0.9...], one row per future step\n"
    "  --quantiles LIST  quantile levels in (0, 1), comma-separated (default: 0.9)\n"
    "  --model MODEL     auto (default: the best lag-based models by a 7-day backtest, combined),\n"
    "                    prophet, holt-winters, snaive-day, snaive-week\n"
    "  --step DUR        resample to this step by mean (default: the most common spacing)\n"
    "  --plot FILE.svg   also draw the recent history, the forecast and the quantile band\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit status: 0 ok, 1 bad input or failure (one line on stderr naming the file and line),\n"
    "2 usage error (an unknown flag, a missing one, or a flag's value that is not valid).\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "deepseek-operator forecast: %s (see --help)\n", message.c_str());
  return 2;
}

int failure(const std::string& message) {
  std::fprintf(stderr, "deepseek-operator forecast: %s\n", message.c_str());
  return 1;
}

std::expected<std::vector<double>, std::string> parse_levels(std::string_view text) {
  std::vector<double> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string item(text.substr(0, comma));
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !(v > 0 && v < 1)) {
      return std::unexpected("invalid quantile level '" + item + "' in --quantiles (expected " +
                             "numbers in (0, 1), e.g. 0.5,0.9,0.99)");
    }
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (out.empty()) return std::unexpected("--quantiles is empty");
  return out;
}

int run_forecast(std::span<char* const> args) {
  std::string input, output, horizon_text, plot, model_text = "auto", step_text;
  std::string quantiles_text = "0.9";
  cli::ArgReader reader(args);
  while (const auto arg = reader.next()) {
    if (arg->is_help() && !arg->inline_value) {  // --help=... is an unknown argument here
      std::fputs(kUsage, stdout);
      return 0;
    }
    const std::string& name = arg->name;
    std::string* target = nullptr;
    if (name == "--input")
      target = &input;
    else if (name == "--output")
      target = &output;
    else if (name == "--horizon")
      target = &horizon_text;
    else if (name == "--quantiles")
      target = &quantiles_text;
    else if (name == "--model")
      target = &model_text;
    else if (name == "--step")
      target = &step_text;
    else if (name == "--plot")
      target = &plot;
    else
      return usage_error("unknown argument '" + arg->text + "'");
    const auto value = reader.value();
    if (!value) return usage_error(name + " needs a value");
    *target = *value;
  }
  if (input.empty()) return usage_error("--input is required");
  if (horizon_text.empty()) return usage_error("--horizon is required");
  if (output.empty()) return usage_error("--output is required");

  const auto horizon = traces::parse_duration(horizon_text);
  if (!horizon) return usage_error("--horizon: " + horizon.error());
  const auto model = predictor::parse_model_kind(model_text);
  if (!model) {
    return usage_error("--model: unknown model '" + model_text +
                       "' (auto, prophet, holt-winters, snaive-day, snaive-week)");
  }
  const auto levels = parse_levels(quantiles_text);
  if (!levels) return usage_error(levels.error());
  traces::ReadOptions read;
  if (!step_text.empty()) {
    const auto step = traces::parse_duration(step_text);
    if (!step) return usage_error("--step: " + step.error());
    read.step = *step;
  }

  const auto loaded = traces::read_series_csv(input, read);
  if (!loaded) return failure(loaded.error());
  for (const auto& w : loaded->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const auto& series = loaded->series;
  const auto steps = static_cast<std::size_t>((*horizon + series.step - 1) / series.step);

  predictor::ForecastOptions options;
  options.model = *model;
  options.horizon = steps;
  options.quantiles = *levels;
  const auto result = predictor::forecast(series, options);
  if (!result) {
    return failure(input + ": " + result.error() + " (" + std::to_string(series.values.size()) +
                   " points of " + traces::format_duration(series.step) + ")");
  }
  if (auto written = traces::write_forecast_csv(output, *result, loaded->format); !written) {
    return failure(written.error());
  }
  if (!plot.empty()) {
    const std::string svg = traces::forecast_chart_svg(
        series, *result,
        {.history_points = 0,
         .width = 960,
         .height = 360,
         .title = input + ": " + traces::format_duration(*horizon) + " ahead, " + result->model});
    const std::string tmp = plot + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << svg;
    out.close();
    if (!out || std::rename(tmp.c_str(), plot.c_str()) != 0) {
      std::remove(tmp.c_str());
      return failure(plot + ": cannot write the chart");
    }
  }
  std::fprintf(stderr, "forecast: %zu points of %s from %s, %zu steps ahead with %s -> %s\n",
               series.values.size(), traces::format_duration(series.step).c_str(), input.c_str(),
               steps, result->model.c_str(), output.c_str());
  return 0;
}

const CommandRegistration kRegistration(
    {.name = "forecast",
     .summary = "forecast a time-series CSV (auto, prophet, holt-winters, seasonal naive)",
     .run = run_forecast});

}  // namespace
}  // namespace dso::cmd
