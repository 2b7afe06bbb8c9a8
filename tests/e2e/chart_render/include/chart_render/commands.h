// chart_render/commands.h: the dso-chart-render command line (main.cc only forwards to it, so
// tests run the commands in-process):
//
//   dso-chart-render scrape-config --manifests FILE --api-server URL --ca-file F
//                    --bearer-token-file F [--scrape-interval DUR] [--namespace NS ...]
//                    [--pod-sd-url URL]
//   dso-chart-render operator-args --manifests FILE [--container NAME]
//   dso-chart-render pod-sd --listen HOST:PORT --api-server URL --ca-file F --bearer-token-file F
//
// Exit status: 0 done, 1 the manifests or the cluster failed (one line on stderr naming what and
// where), 2 usage error.
#pragma once

#include <iosfwd>
#include <span>
#include <string>

namespace dso::chart_render {

// Runs the command in `args` (the arguments after the program name). `in` is what
// `--manifests -` reads; results go to `out`, errors and help to `err`. pod-sd blocks until the
// process gets SIGINT or SIGTERM.
int run_command(std::span<const std::string> args, std::istream& in, std::ostream& out,
                std::ostream& err);

}  // namespace dso::chart_render
