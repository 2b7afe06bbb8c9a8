// dso-chart-render: Prometheus configuration and operator flags from the rendered Helm chart, so
// that tests and demos discover the inference pods with the chart's own relabelling (see
// chart_render/commands.h and docs/metrics.md).
#include <iostream>
#include <string>
#include <vector>

#include "chart_render/commands.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return dso::chart_render::run_command(args, std::cin, std::cout, std::cerr);
}
