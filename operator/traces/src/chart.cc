#include "traces/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "traces/csv.h"

namespace dso::traces {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string forecast_chart_svg(const predictor::Series& history,
                               const predictor::Forecast& forecast, const ChartOptions& options) {
  const std::size_t H = forecast.point.size();
  std::size_t keep = options.history_points;
  if (keep == 0) {
    const std::size_t two_days =
        history.step > 0 ? static_cast<std::size_t>(2 * 86400 / history.step) : 0;
    keep = std::max(3 * H, two_days);
  }
  keep = std::min(keep, history.values.size());
  const std::size_t first = history.values.size() - keep;
  const std::int64_t t0 = history.time_at(first);
  const std::int64_t t1 =
      forecast.start + static_cast<std::int64_t>(H > 0 ? H - 1 : 0) * forecast.step;

  // Band: lowest and highest requested levels.
  const std::vector<double>* lo = &forecast.point;
  const std::vector<double>* hi = &forecast.point;
  double lo_level = 2, hi_level = -1;
  for (std::size_t k = 0; k < forecast.quantile_levels.size(); ++k) {
    if (forecast.quantile_levels[k] < lo_level) {
      lo_level = forecast.quantile_levels[k];
      lo = &forecast.quantiles[k];
    }
    if (forecast.quantile_levels[k] > hi_level) {
      hi_level = forecast.quantile_levels[k];
      hi = &forecast.quantiles[k];
    }
  }
  if (forecast.quantile_levels.size() == 1 && lo_level >= 0.5) lo = &forecast.point;

  double vmin = INFINITY, vmax = -INFINITY;
  const auto see = [&](double v) {
    if (std::isfinite(v)) {
      vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
  };
  for (std::size_t i = first; i < history.values.size(); ++i) see(history.values[i]);
  for (std::size_t i = 0; i < H; ++i) {
    see(forecast.point[i]);
    see((*lo)[i]);
    see((*hi)[i]);
  }
  if (!std::isfinite(vmin)) vmin = 0, vmax = 1;
  if (vmax <= vmin) vmax = vmin + 1;
  const double pad = 0.05 * (vmax - vmin);
  vmin -= pad;
  vmax += pad;

  const double left = 70, right = 20, top = 30, bottom = 44;
  const double w = options.width - left - right, h = options.height - top - bottom;
  const double span = std::max<double>(static_cast<double>(t1 - t0), 1.0);
  const auto x = [&](std::int64_t t) { return left + w * static_cast<double>(t - t0) / span; };
  const auto y = [&](double v) { return top + h * (1 - (v - vmin) / (vmax - vmin)); };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(options.width) + "\" height=\"" +
                    std::to_string(options.height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const std::string title =
      options.title.empty() ? "forecast (" + forecast.model + ")" : options.title;
  svg += "<text x=\"" + num(left) + "\" y=\"18\" font-size=\"13\">" + escape(title) + "</text>\n";
  // Axes and grid: 5 value ticks, 6 time ticks.
  for (int k = 0; k <= 4; ++k) {
    const double v = vmin + (vmax - vmin) * k / 4.0;
    svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + w) + "\" y1=\"" + num(y(v)) +
           "\" y2=\"" + num(y(v)) + "\" stroke=\"#eee\"/>\n";
    char label[32];
    std::snprintf(label, sizeof label, "%.4g", v);
    svg += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y(v) + 4) + "\" text-anchor=\"end\">" +
           label + "</text>\n";
  }
  for (int k = 0; k <= 5; ++k) {
    const auto t = t0 + static_cast<std::int64_t>(span * k / 5.0);
    svg += "<text x=\"" + num(x(t)) + "\" y=\"" + num(top + h + 16) + "\" text-anchor=\"middle\">" +
           format_timestamp(t, TimestampFormat::kDateTime).substr(5, 11) + "</text>\n";
  }
  svg += "<line x1=\"" + num(x(forecast.start)) + "\" x2=\"" + num(x(forecast.start)) + "\" y1=\"" +
         num(top) + "\" y2=\"" + num(top + h) + "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
  // Band.
  if (H > 0 && lo != hi) {
    std::string pts;
    for (std::size_t i = 0; i < H; ++i) {
      const auto t = forecast.start + static_cast<std::int64_t>(i) * forecast.step;
      pts += num(x(t)) + "," + num(y((*hi)[i])) + " ";
    }
    for (std::size_t i = H; i-- > 0;) {
      const auto t = forecast.start + static_cast<std::int64_t>(i) * forecast.step;
      pts += num(x(t)) + "," + num(y((*lo)[i])) + " ";
    }
    svg +=
        "<polygon points=\"" + pts + "\" fill=\"#9ecae1\" fill-opacity=\"0.5\" stroke=\"none\"/>\n";
  }
  const auto polyline = [&](auto&& value_at, std::size_t from, std::size_t to, auto&& time_at,
                            const char* colour) {
    std::string pts;
    for (std::size_t i = from; i < to; ++i) {
      const double v = value_at(i);
      if (!std::isfinite(v)) continue;
      pts += num(x(time_at(i))) + "," + num(y(v)) + " ";
    }
    return "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + colour +
           "\" stroke-width=\"1.3\"/>\n";
  };
  svg += polyline([&](std::size_t i) { return history.values[i]; }, first, history.values.size(),
                  [&](std::size_t i) { return history.time_at(i); }, "#555");
  svg += polyline(
      [&](std::size_t i) { return forecast.point[i]; }, 0, H,
      [&](std::size_t i) { return forecast.start + static_cast<std::int64_t>(i) * forecast.step; },
      "#08519c");
  // Legend.
  char legend[160];
  if (lo != hi) {
    std::snprintf(legend, sizeof legend, "history (grey), forecast (blue), band q%g..q%g",
                  lo == &forecast.point ? 0.5 : lo_level, hi_level);
  } else {
    std::snprintf(legend, sizeof legend, "history (grey), forecast (blue)");
  }
  svg += "<text x=\"" + num(left + w) + "\" y=\"" + num(options.height - 6.0) +
         "\" text-anchor=\"end\" fill=\"#555\">" + std::string(legend) + "</text>\n</svg>\n";
  return svg;
}

}  // namespace dso::traces
