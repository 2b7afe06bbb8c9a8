// traces/chart.h: SVG charts. forecast_chart_svg: a series' recent history and its forecast with a
// quantile band. timeline_chart_svg: several measured series over time in stacked panels, with
// marked times shaded (what a load test's seconds looked like).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "predictor/forecast.h"

namespace dso::traces {

struct ChartOptions {
  std::size_t history_points = 0;  // how much history to draw; 0: 3 horizons, at least 2 days
  int width = 960;
  int height = 360;
  std::string title{};
};

// A self-contained SVG document: history (grey), point forecast (blue) and the band between the
// lowest and highest quantile levels (light blue; between the point forecast and the only level
// when there is one), with time and value axes. Cost O(points drawn).
std::string forecast_chart_svg(const predictor::Series& history,
                               const predictor::Forecast& forecast,
                               const ChartOptions& options = {});

// One line of a timeline chart: a value per time of the chart; NaN leaves a gap.
struct TimelineSeries {
  std::string label;   // in the panel's legend
  std::string colour;  // an SVG colour, e.g. "#08519c"
  std::vector<double> values;
};

// A band of a timeline chart with its own value axis (from 0, or the lowest value when negative,
// to the highest), stacked below the previous panel.
struct TimelinePanel {
  std::string title;  // the axis's meaning, e.g. "requests/s"
  std::vector<TimelineSeries> series;
  std::optional<double> threshold{};  // a dashed red line (e.g. an SLO), inside the axis range
};

struct TimelineChart {
  std::vector<std::int64_t> times;  // unix seconds, increasing; equally spaced
  std::vector<TimelinePanel> panels;
  std::vector<bool> marked{};  // per time (or empty): shaded red behind every panel
  std::string marked_label{};  // what the shading means, for the legend
};

// A self-contained SVG document: the panels stacked over one time axis (UTC; HH:MM:SS, or
// MM-DD HH:MM beyond a day), each time drawn as the interval up to the next one, marked times as
// red bands. options.height is the whole chart's (history_points is not used). Cost O(times x
// series).
std::string timeline_chart_svg(const TimelineChart& chart, const ChartOptions& options = {});

}  // namespace dso::traces
