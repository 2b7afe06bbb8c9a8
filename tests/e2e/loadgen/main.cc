// dso-loadgen: open-loop load for the inference server from the command line (see --help). The
// work is the dso_loadgen library's; this file wires flags, signals, progress and outputs.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/load_generator.h"
#include "loadgen/report.h"

namespace dso::loadgen {
namespace {

// Room for one socket per request in flight, plus the pools' idle ones.
void raise_descriptor_limit(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

// SIGINT/SIGTERM: the first stops arrivals (in-flight requests finish), the second cuts them.
// SIGUSR1 (sent by main) ends the thread.
void handle_signals(LoadGenerator& generator, const sigset_t& set) {
  int stops = 0;
  for (;;) {
    int sig = 0;
    if (::sigwait(&set, &sig) != 0 || sig == SIGUSR1) return;
    if (stops++ == 0) {
      std::cerr << "dso-loadgen: stopping; requests in flight finish (signal again to cut them)\n";
      generator.stop();
    } else {
      generator.abort();
    }
  }
}

std::string chart_title(const Options& o) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", o.trace_file.empty() ? o.rate : o.trace_scale);
  const std::string what = o.trace_file.empty() ? std::string("Poisson ") + rate + " req/s"
                                                : "trace " + o.trace_file + " x " + rate + " req/s";
  const std::string where = o.follows_service()
                                ? "endpoints " + o.service_namespace + "/" + o.service_name
                                : std::to_string(o.targets.size()) + " target(s)";
  return "dso-loadgen: " + what + " -> " + where;
}

int write_outputs(const Options& o, const Snapshot& snapshot) {
  int rc = 0;
  if (!o.csv_file.empty()) {
    if (auto ok = write_file(o.csv_file, rows_csv(snapshot.rows)); !ok) {
      std::cerr << "dso-loadgen: " << ok.error() << "\n";
      rc = 1;
    }
  }
  if (!o.svg_file.empty()) {
    const auto svg =
        chart_svg(snapshot, static_cast<double>(o.slo_p99.count()) / 1e3, chart_title(o));
    if (auto ok = write_file(o.svg_file, svg); !ok) {
      std::cerr << "dso-loadgen: " << ok.error() << "\n";
      rc = 1;
    }
  }
  return rc;
}

int run(const Options& options) {
  raise_descriptor_limit(options.max_in_flight * 2 + 64);
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&set, sig);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: all inherit it
  auto generator = LoadGenerator::create(options);
  if (!generator) {
    std::cerr << "dso-loadgen: " << generator.error() << "\n";
    return 1;
  }
  if (auto ok = (*generator)->start(); !ok) {
    std::cerr << "dso-loadgen: " << ok.error() << "\n";
    return 1;
  }
  std::thread signals([&] { handle_signals(**generator, set); });
  Totals before;
  double before_s = 0;
  while (!(*generator)->wait_for(std::chrono::seconds(10))) {
    if (!options.progress) continue;
    const Snapshot now = (*generator)->snapshot();
    const double now_s = (*generator)->elapsed_s();
    std::cerr << progress_line(now, before, now_s, now_s - before_s) << "\n";
    before = now.totals;
    before_s = now_s;
  }
  ::pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  const Snapshot snapshot = (*generator)->snapshot();
  const int rc = write_outputs(options, snapshot);
  std::cout << summary_json(snapshot) << std::endl;
  return rc;
}

}  // namespace
}  // namespace dso::loadgen

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto parsed = dso::loadgen::parse_command_line(args, DSO_LOADGEN_DEFAULT_SIZES);
  if (!parsed) {
    std::cerr << "dso-loadgen: " << parsed.error() << "\n";
    return 2;
  }
  if (parsed->help) {
    std::cout << dso::loadgen::help_text();
    return 0;
  }
  return dso::loadgen::run(parsed->options);
}
