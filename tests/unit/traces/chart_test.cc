#include "traces/chart.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dso::traces {
namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

TEST(ForecastChartSvg, DrawsHistoryForecastAndBand) {
  predictor::Series history{.start = 0, .step = 3600, .values = {}};
  for (int i = 0; i < 72; ++i) history.values.push_back(i % 24);
  predictor::Forecast f;
  f.start = history.end();
  f.step = 3600;
  f.model = "snaive-day";
  f.point = {0, 1, 2};
  f.quantile_levels = {0.1, 0.9};
  f.quantiles = {{-1, 0, 1}, {1, 2, 3}};
  const std::string svg = forecast_chart_svg(history, f, {.title = "a <b> & c"});
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);  // history and forecast
  EXPECT_EQ(count(svg, "<polygon"), 1u);   // the q0.1..q0.9 band
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos);
  EXPECT_NE(svg.find("band q0.1..q0.9"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  // Without quantiles there is no band.
  f.quantile_levels.clear();
  f.quantiles.clear();
  EXPECT_EQ(count(forecast_chart_svg(history, f), "<polygon"), 0u);
}

TEST(TimelineChartSvg, PanelsLinesGapsThresholdAndMarks) {
  TimelineChart c;
  c.times = {100, 101, 102, 103, 104};
  c.panels = {
      {"requests/s", {{"offered", "#555", {1, 2, 3, 4, 5}}, {"done", "#00f", {1, 2, 3, 4, 5}}}},
      {"p99 <s>", {{"p99", "#0a0", {0.1, NAN, 0.3, 0.4, 2.5}}}, 2.0},
  };
  c.marked = {false, true, true, false, true};
  c.marked_label = "violated";
  const std::string svg = timeline_chart_svg(c, {.title = "run & c"});
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(count(svg, "<path"), 3u);  // one per series
  // The NaN splits the p99 line: a second move-to.
  const auto p99 = svg.find("stroke=\"#0a0\"");
  const auto path = svg.rfind("<path d=\"", p99);
  EXPECT_EQ(count(svg.substr(path, p99 - path), "M"), 2u);
  EXPECT_EQ(count(svg, "stroke-dasharray=\"5 3\""), 1u);       // the threshold
  EXPECT_EQ(count(svg, "fill=\"#fcbba1\" fill-opacity"), 2u);  // marked runs 101-102 and 104
  EXPECT_NE(svg.find("run &amp; c"), std::string::npos);
  EXPECT_NE(svg.find("p99 &lt;s&gt;"), std::string::npos);
  EXPECT_NE(svg.find("violated"), std::string::npos);
  EXPECT_NE(svg.find(">00:01:40<"), std::string::npos);  // 100 s after the epoch, UTC
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_NO_THROW(timeline_chart_svg({}));  // nothing to draw is still a document
}

}  // namespace
}  // namespace dso::traces
