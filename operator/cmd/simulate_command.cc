// `deepseek-operator simulate`: replay a trace under each scaling policy (see sim/simulate.h).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "sim/simulate.h"

namespace {

const dso::cmd::CommandRegistration kSimulate{dso::cmd::Command{
    .name = "simulate",
    .summary = "replay a request-rate trace under hpa, kpa, linear, dsp and seasonal scaling",
    .run =
        [](std::span<char* const> args) {
          const std::vector<std::string> list(args.begin(), args.end());
          return dso::sim::simulate_main(list, stdout, stderr, isatty(fileno(stderr)) != 0);
        },
}};

}  // namespace
