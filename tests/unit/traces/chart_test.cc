#include "traces/chart.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dso::traces
