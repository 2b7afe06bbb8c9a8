// dso-trace-backfill: a request-rate trace as the inference server's request counter, in the
// OpenMetrics form `promtool tsdb create-blocks-from openmetrics` reads, so that Prometheus holds
// weeks of history for a service before its live replay starts (hack/demo.sh; the e2e predictive
// test does the same in-process with the same code,
// tests/integration/support/prometheus_backfill.h).
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/args.h"
#include "support/prometheus_backfill.h"
#include "traces/duration.h"

namespace {

constexpr const char* kUsage =
    R"(Usage: dso-trace-backfill --trace FILE --row N --at UNIX --until UNIX
                          --namespace NS --service NAME --out FILE [--scale F] [--history DUR]

Writes deepseek_inference_requests_total{namespace,deepseek_service,code="200",endpoint,priority}
for the trace laid on the clock so that its row N starts at unix time --at, from --until minus
--history (default 14d) to --until: every 30 s, and every 5 s over the last 10 minutes (so that a
20 s rate() answers up to --until). Rows are requests/s times --scale (default 1).
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace dso;
  std::string trace, ns, service, out;
  double scale = 1;
  std::int64_t row = -1, at = 0, until = 0, history = 14 * 86400;
  cli::ArgReader reader(std::span<char* const>(argv + 1, argc - 1));
  try {
    while (const auto a = reader.next()) {
      if (a->is_help()) {
        std::fputs(kUsage, stdout);
        return 0;
      }
      const auto v = reader.value();
      if (!v) throw std::runtime_error(v.error());
      if (a->name == "--trace")
        trace = *v;
      else if (a->name == "--namespace")
        ns = *v;
      else if (a->name == "--service")
        service = *v;
      else if (a->name == "--out")
        out = *v;
      else if (a->name == "--scale")
        scale = std::stod(*v);
      else if (a->name == "--row")
        row = std::stoll(*v);
      else if (a->name == "--at")
        at = std::stoll(*v);
      else if (a->name == "--until")
        until = std::stoll(*v);
      else if (a->name == "--history") {
        const auto d = traces::parse_duration(*v);
        if (!d) throw std::runtime_error("--history: " + d.error());
        history = *d;
      } else
        throw std::runtime_error(a->unknown());
    }
    if (trace.empty() || ns.empty() || service.empty() || out.empty() || row < 0 || at <= 0 ||
        until <= 0)
      throw std::runtime_error(
          "--trace, --row, --at, --until, --namespace, --service and --out "
          "are required (see --help)");
    testing::ServiceTrace s;
    s.ns = ns;
    s.service = service;
    s.trace = testing::RateTrace::from_csv(trace, scale);
    s.trace.place(at, static_cast<std::size_t>(row));
    s.endpoints = {{"chat_completions", 1.0}};
    s.extra_labels = {{"job", "backfill"}, {"instance", "backfill"}};
    s.counter_origin = until - history;
    std::vector<std::int64_t> times;
    for (std::int64_t t = until - history; t < until - 600; t += 30) times.push_back(t);
    for (std::int64_t t = until - 600; t <= until; t += 5) times.push_back(t);
    std::ofstream file(out);
    testing::write_openmetrics(file, {s}, times);
    if (!file) throw std::runtime_error("cannot write " + out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dso-trace-backfill: %s\n", e.what());
    return 2;
  }
  return 0;
}
