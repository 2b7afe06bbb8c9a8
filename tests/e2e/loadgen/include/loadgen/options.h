// loadgen/options.h: what one dso-loadgen run does (schedule, targets, request shape, outputs)
// and the parsing of the command's flags into it. The library and the command share this file,
// so tests check what each flag turns into without starting a process.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

#include "loadgen/address.h"

namespace dso::loadgen {

using Millis = std::chrono::milliseconds;

struct Options {
  // Schedule: open-loop Poisson arrivals at a constant --rate, or following --trace.
  double rate = 0;         // requests/s when no trace is given
  std::string trace_file;  // CSV `time,value`: one rate per row (times trace_scale)
  double trace_scale = 1.0;
  std::size_t trace_start_row = 0;
  Millis trace_step{0};  // how long one row plays; 0: the trace's own step
  Millis duration{0};    // 0: until stop() (library) or the end of the trace
  std::uint64_t seed = 1;
  std::size_t max_in_flight = 2048;  // arrivals above it are dropped (counted as errors)

  // Targets: static addresses, or the ready addresses of Endpoints NAMESPACE/NAME.
  std::vector<Address> targets;
  std::string kubeconfig;  // "": $KUBECONFIG, in-cluster, ~/.kube/config (load_config's order)
  std::string service_namespace, service_name;
  std::string port_name = "http";

  // Requests: POST /v1/chat/completions.
  std::string model = "deepseek-byte-lm";
  bool stream = true;
  std::string sizes_file;  // CSV with ContextTokens,GeneratedTokens columns
  double prompt_scale = 0.125, output_scale = 0.125;
  int max_prompt_bytes = 2048, max_output_tokens = 64;
  double high_priority_share = 0;  // share of requests sent with X-Priority: high
  std::string api_key;             // sent as Authorization: Bearer KEY when set
  Millis request_timeout{60'000};

  // Measurement and outputs.
  Millis slo_p99{2'000};
  std::string csv_file, svg_file;
  bool progress = false;  // a status line per 10 s on stderr

  bool follows_service() const { return !service_name.empty(); }
};

// What the command line asked for: a run, or just the help text.
struct ParsedCommand {
  Options options;
  bool help = false;
};

// Parses the arguments after the program name (`--flag VALUE` or `--flag=VALUE`) and checks the
// combination (one of --rate/--trace; one of --target/--service; --duration unless --trace).
// `default_sizes` is --sizes when the flag is absent. Errors are one line naming the flag and the
// value. No I/O: files are read later, by LoadGenerator::create().
std::expected<ParsedCommand, std::string> parse_command_line(std::span<const std::string> args,
                                                             const std::string& default_sizes);

// Usage and every flag with its default, for --help.
std::string help_text();

// "250ms", "1.5s", or anything traces::parse_duration reads ("5m", "1h30m", "90"): a duration
// that may be shorter than a second. Error: one line naming the text.
std::expected<Millis, std::string> parse_millis(std::string_view text);

}  // namespace dso::loadgen
