#include "traces/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

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

namespace {

// Where the panels of a timeline chart go: plot area, time scale.
struct TimelineFrame {
  double left = 70, right = 40, top = 48, bottom = 50, gap = 34;
  double width = 0, panel_height = 0;
  std::int64_t t0 = 0, step = 1;
  std::size_t n = 0;
  double x(double t) const {
    return left + width * (t - static_cast<double>(t0)) / static_cast<double>(n * step);
  }
  double panel_top(std::size_t p) const {
    return top + static_cast<double>(p) * (panel_height + gap);
  }
};

std::string timeline_marks(const TimelineChart& c, const TimelineFrame& f, double bottom) {
  std::string svg;
  for (std::size_t i = 0; i < c.marked.size() && i < f.n;) {
    if (!c.marked[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.marked.size() && j < f.n && c.marked[j]) ++j;
    const double x0 = f.x(static_cast<double>(c.times[i]));
    const double x1 = f.x(static_cast<double>(c.times[j - 1] + f.step));
    svg += "<rect x=\"" + num(x0) + "\" y=\"" + num(f.top) + "\" width=\"" + num(x1 - x0) +
           "\" height=\"" + num(bottom - f.top) + "\" fill=\"#fcbba1\" fill-opacity=\"0.5\"/>\n";
    i = j;
  }
  return svg;
}

// A panel's value axis: from 0 (or below, for negative values) up to a round number above the
// highest value, in 3 to 6 round steps.
struct ValueAxis {
  double lo = 0, hi = 1, step = 1;
};

ValueAxis value_axis(const TimelinePanel& p) {
  double lo = 0, hi = p.threshold.value_or(0);
  for (const auto& s : p.series) {
    for (const double v : s.values) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  const double range = hi > lo ? (hi - lo) * 1.05 : 1.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(range / 3)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (range / step <= 6) break;
  }
  return {std::floor(lo / step) * step, std::ceil((lo + range) / step) * step, step};
}

std::string timeline_lines(const TimelineChart& c, const TimelinePanel& p, const TimelineFrame& f,
                           const std::function<double(double)>& y) {
  std::string svg;
  for (const auto& s : p.series) {
    std::string d;
    bool pen_down = false;
    for (std::size_t i = 0; i < s.values.size() && i < f.n; ++i) {
      if (!std::isfinite(s.values[i])) {
        pen_down = false;
        continue;
      }
      const double t = static_cast<double>(c.times[i]) + 0.5 * static_cast<double>(f.step);
      d += (pen_down ? "L" : "M") + num(f.x(t)) + " " + num(y(s.values[i])) + " ";
      pen_down = true;
    }
    svg += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + escape(s.colour) +
           "\" stroke-width=\"1.3\"/>\n";
  }
  return svg;
}

std::string timeline_panel(const TimelineChart& c, const TimelinePanel& p, const TimelineFrame& f,
                           double top) {
  const ValueAxis axis = value_axis(p);
  const double h = f.panel_height;
  const auto y = [&](double v) { return top + h * (1 - (v - axis.lo) / (axis.hi - axis.lo)); };
  std::string svg = "<text x=\"" + num(f.left) + "\" y=\"" + num(top - 8) +
                    "\" font-weight=\"bold\">" + escape(p.title) + "</text>\n";
  for (double v = axis.lo; v <= axis.hi + axis.step / 2; v += axis.step) {
    char label[32];
    std::snprintf(label, sizeof label, "%.4g", std::abs(v) < axis.step / 2 ? 0.0 : v);
    svg += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.left + f.width) + "\" y1=\"" +
           num(y(v)) + "\" y2=\"" + num(y(v)) + "\" stroke=\"#e5e5e5\"/>\n<text x=\"" +
           num(f.left - 6) + "\" y=\"" + num(y(v) + 4) + "\" text-anchor=\"end\">" + label +
           "</text>\n";
  }
  if (p.threshold) {
    svg += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.left + f.width) + "\" y1=\"" +
           num(y(*p.threshold)) + "\" y2=\"" + num(y(*p.threshold)) +
           "\" stroke=\"#cb181d\" stroke-dasharray=\"5 3\"/>\n";
  }
  svg += timeline_lines(c, p, f, y);
  std::string legend;
  for (const auto& s : p.series) {
    legend += "<tspan fill=\"" + escape(s.colour) + "\">" + escape(s.label) + "</tspan>  ";
  }
  return svg + "<text x=\"" + num(f.left + f.width) + "\" y=\"" + num(top - 8) +
         "\" text-anchor=\"end\">" + legend + "</text>\n";
}

std::string timeline_axis(const TimelineChart& c, const TimelineFrame& f, double bottom) {
  std::string svg;
  const std::int64_t span = static_cast<std::int64_t>(f.n) * f.step;
  for (int k = 0; k <= 5; ++k) {
    const std::int64_t t = f.t0 + span * k / 5;
    const std::string stamp = format_timestamp(t, TimestampFormat::kDateTime);
    svg += "<text x=\"" + num(f.x(static_cast<double>(t))) + "\" y=\"" + num(bottom + 16) +
           "\" text-anchor=\"middle\">" +
           (span > 86400 ? stamp.substr(5, 11) : stamp.substr(11, 8)) + "</text>\n";
  }
  if (!c.marked_label.empty()) {
    svg += "<rect x=\"" + num(f.left) + "\" y=\"" + num(bottom + 24) +
           "\" width=\"12\" height=\"10\" fill=\"#fcbba1\"/>\n<text x=\"" + num(f.left + 16) +
           "\" y=\"" + num(bottom + 33) + "\">" + escape(c.marked_label) + "</text>\n";
  }
  return svg;
}

}  // namespace

std::string timeline_chart_svg(const TimelineChart& chart, const ChartOptions& options) {
  TimelineFrame f;
  f.n = std::max<std::size_t>(chart.times.size(), 1);
  f.t0 = chart.times.empty() ? 0 : chart.times.front();
  if (chart.times.size() > 1) {
    f.step = std::max<std::int64_t>(
        1, (chart.times.back() - f.t0) / static_cast<std::int64_t>(chart.times.size() - 1));
  }
  f.width = options.width - f.left - f.right;
  const double panels = static_cast<double>(std::max<std::size_t>(chart.panels.size(), 1));
  f.panel_height =
      std::max(20.0, (options.height - f.top - f.bottom - f.gap * (panels - 1)) / panels);
  const double bottom =
      f.panel_top(chart.panels.size() - (chart.panels.empty() ? 0 : 1)) + f.panel_height;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(options.width) + "\" height=\"" +
                    std::to_string(static_cast<int>(bottom + f.bottom)) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(f.left) + "\" y=\"18\" font-size=\"13\">" + escape(options.title) +
         "</text>\n";
  svg += timeline_marks(chart, f, bottom);
  for (std::size_t p = 0; p < chart.panels.size(); ++p) {
    svg += timeline_panel(chart, chart.panels[p], f, f.panel_top(p));
  }
  svg += timeline_axis(chart, f, bottom);
  return svg + "</svg>\n";
}

}  // namespace dso::traces
