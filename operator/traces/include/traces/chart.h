// traces/chart.h: an SVG chart of a series' recent history and its forecast with a quantile band.
#pragma once

#include <string>

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

}  // namespace dso::traces
