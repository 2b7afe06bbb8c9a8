// The dso-loadgen flags: one table drives the parsing and the --help text, so every flag is both
// parsed and listed.
#include "loadgen/options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "cli/args.h"
#include "traces/duration.h"

namespace dso::loadgen {
namespace {

// Sets a field from the flag's value; returns "" or the problem (the caller adds the flag name).
using Setter = std::function<std::string(Options&, const std::string&)>;

struct Flag {
  std::string_view name;
  std::string_view value;  // "" for a boolean flag (--name or --name=true|false)
  std::string_view help;
  Setter set;
};

std::string quoted(const std::string& v) {
  return "\"" + v + "\"";
}

std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::expected<double, std::string> number(const std::string& v, double min, double max) {
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || end != v.data() + v.size() || !std::isfinite(d) || d < min || d > max) {
    return std::unexpected("expected a number in [" + shortest(min) + ", " + shortest(max) +
                           "], got " + quoted(v));
  }
  return d;
}

std::expected<std::uint64_t, std::string> count(const std::string& v, std::uint64_t min,
                                                std::uint64_t max) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
    return std::unexpected("expected an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got " + quoted(v));
  }
  return n;
}

// Setter helpers: a number, an integer, a duration, a string, a boolean into a field.
template <typename T>
Setter real(T Options::*field, double min, double max) {
  return [=](Options& o, const std::string& v) {
    const auto d = number(v, min, max);
    if (!d) return d.error();
    o.*field = static_cast<T>(*d);
    return std::string();
  };
}
template <typename T>
Setter integer(T Options::*field, std::uint64_t min, std::uint64_t max) {
  return [=](Options& o, const std::string& v) {
    const auto n = count(v, min, max);
    if (!n) return n.error();
    o.*field = static_cast<T>(*n);
    return std::string();
  };
}
Setter millis(Millis Options::*field) {
  return [=](Options& o, const std::string& v) {
    const auto d = parse_millis(v);
    if (!d) return d.error();
    o.*field = *d;
    return std::string();
  };
}
Setter text(std::string Options::*field) {
  return [=](Options& o, const std::string& v) {
    if (v.empty()) return std::string("must not be empty");
    o.*field = v;
    return std::string();
  };
}
Setter boolean(bool Options::*field) {
  return [=](Options& o, const std::string& v) {
    o.*field = v == "true";
    return std::string();
  };
}

std::string set_target(Options& o, const std::string& v) {
  const auto a = parse_address(v);
  if (!a) return a.error();
  o.targets.push_back(*a);
  return "";
}

std::string set_service(Options& o, const std::string& v) {
  const auto slash = v.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == v.size() ||
      v.find('/', slash + 1) != std::string::npos) {
    return "expected NAMESPACE/NAME, got " + quoted(v);
  }
  o.service_namespace = v.substr(0, slash);
  o.service_name = v.substr(slash + 1);
  return "";
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"--rate", "R", "constant arrival rate, requests/s (or --trace)",
       real(&Options::rate, 0, 1e6)},
      {"--trace", "FILE", "CSV time,value: the rate per row is value * --trace-scale",
       text(&Options::trace_file)},
      {"--trace-scale", "F", "requests/s per unit of the trace's value (default 1)",
       real(&Options::trace_scale, 0, 1e9)},
      {"--trace-start-row", "N", "first trace row to play (default 0)",
       integer(&Options::trace_start_row, 0, 1'000'000'000)},
      {"--trace-step", "DUR", "how long one trace row plays (default: the trace's own step)",
       millis(&Options::trace_step)},
      {"--duration", "DUR",
       "how long arrivals last (required with --rate; default with --trace: "
       "to its end)",
       millis(&Options::duration)},
      {"--seed", "N", "seed of arrivals, sizes, priorities and tie breaks (default 1)",
       integer(&Options::seed, 0, UINT64_MAX)},
      {"--max-in-flight", "N",
       "most requests in flight; an arrival above it is dropped and "
       "counted as an error (default 2048)",
       integer(&Options::max_in_flight, 1, 100'000)},
      {"--target", "IP:PORT", "a static endpoint (repeatable; or --service)", set_target},
      {"--kubeconfig", "FILE",
       "with --service: the cluster (default: $KUBECONFIG, in-cluster, "
       "~/.kube/config)",
       text(&Options::kubeconfig)},
      {"--service", "NS/NAME", "follow the ready addresses of Endpoints NS/NAME", set_service},
      {"--port-name", "NAME", "with --service: the endpoint port's name (default http)",
       text(&Options::port_name)},
      {"--model", "NAME", "the request's model (default deepseek-byte-lm)", text(&Options::model)},
      {"--stream", "", "stream answers as server-sent events (default true; --stream=false)",
       boolean(&Options::stream)},
      {"--sizes", "FILE",
       "CSV with ContextTokens,GeneratedTokens to sample sizes from (default "
       "tests/data/azure_llm_conv.csv)",
       text(&Options::sizes_file)},
      {"--prompt-scale", "F", "prompt bytes per recorded context token (default 0.125)",
       real(&Options::prompt_scale, 1e-9, 1e6)},
      {"--output-scale", "F", "max_tokens per recorded generated token (default 0.125)",
       real(&Options::output_scale, 1e-9, 1e6)},
      {"--max-prompt-bytes", "N", "prompt size cap (default 2048)",
       integer(&Options::max_prompt_bytes, 1, 100'000'000)},
      {"--max-output-tokens", "N", "max_tokens cap (default 64)",
       integer(&Options::max_output_tokens, 1, 1'000'000)},
      {"--high-priority-share", "F", "share of requests sent with X-Priority: high (default 0)",
       real(&Options::high_priority_share, 0, 1)},
      {"--api-key", "KEY", "send Authorization: Bearer KEY", text(&Options::api_key)},
      {"--request-timeout", "DUR",
       "a request not answered whole by then is an error (default "
       "60s)",
       millis(&Options::request_timeout)},
      {"--slo-p99", "DUR",
       "a second violates the SLO when its p99 latency is above this or it has "
       "any 429 or error (default 2s)",
       millis(&Options::slo_p99)},
      {"--csv", "FILE", "write the per-second rows", text(&Options::csv_file)},
      {"--svg", "FILE", "write a chart: demand, ready endpoints, p99, violations",
       text(&Options::svg_file)},
      {"--progress", "", "a status line every 10 s on stderr", boolean(&Options::progress)},
  };
  return table;
}

const Flag* find_flag(std::string_view name) {
  for (const Flag& f : flags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The combination of flags: what one flag needs or excludes of another.
std::string check_combination(const Options& o, const std::set<std::string_view>& seen) {
  const bool rate = seen.contains("--rate"), trace = seen.contains("--trace");
  if (rate == trace) {
    return rate ? "--rate and --trace exclude each other" : "one of --rate or --trace is required";
  }
  for (const char* f : {"--trace-scale", "--trace-start-row", "--trace-step"}) {
    if (seen.contains(f) && !trace) return std::string(f) + ": only with --trace";
  }
  if (rate && o.duration.count() == 0) return "--duration is required with --rate";
  const bool service = seen.contains("--service");
  if (o.targets.empty() == !service) {
    return service ? "--target and --service exclude each other"
                   : "one of --target or --service is required";
  }
  for (const char* f : {"--kubeconfig", "--port-name"}) {
    if (seen.contains(f) && !service) return std::string(f) + ": only with --service";
  }
  return "";
}

}  // namespace

std::expected<Millis, std::string> parse_millis(std::string_view text) {
  const std::string t(text);
  const auto decimal = [&](std::string_view digits,
                           double unit) -> std::expected<Millis, std::string> {
    double v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || end != digits.data() + digits.size() || !(v > 0) || v > 1e12) {
      return std::unexpected("duration " + quoted(t) + ": expected e.g. 250ms, 1.5s, 5m");
    }
    return Millis(static_cast<std::int64_t>(std::llround(v * unit)));
  };
  if (text.ends_with("ms")) return decimal(text.substr(0, text.size() - 2), 1);
  if (text.ends_with('s') && text.find('.') != std::string_view::npos) {
    return decimal(text.substr(0, text.size() - 1), 1000);
  }
  const auto seconds = traces::parse_duration(text);
  if (!seconds) return std::unexpected(seconds.error());
  return Millis(*seconds * 1000);
}

std::expected<ParsedCommand, std::string> parse_command_line(std::span<const std::string> args,
                                                             const std::string& default_sizes) {
  ParsedCommand parsed;
  parsed.options.sizes_file = default_sizes;
  std::set<std::string_view> seen;
  cli::ArgReader reader(args);
  while (const auto arg = reader.next()) {
    if (arg->is_help()) {
      parsed.help = true;
      return parsed;
    }
    if (!arg->is_flag()) return std::unexpected("unexpected argument " + quoted(arg->text));
    const Flag* flag = find_flag(arg->name);
    if (flag == nullptr) return std::unexpected(arg->unknown());
    std::string value;
    if (flag->value.empty()) {
      const auto b = reader.boolean();
      if (!b) return std::unexpected(b.error());
      value = *b ? "true" : "false";
    } else {
      const auto v = reader.value();
      if (!v) return std::unexpected(v.error());
      value = *v;
    }
    if (auto problem = flag->set(parsed.options, value); !problem.empty()) {
      return std::unexpected(arg->name + ": " + problem);
    }
    seen.insert(flag->name);
  }
  if (auto problem = check_combination(parsed.options, seen); !problem.empty()) {
    return std::unexpected(problem);
  }
  return parsed;
}

std::string help_text() {
  std::string out =
      "usage: dso-loadgen (--rate R --duration DUR | --trace FILE) (--target IP:PORT... | "
      "--service NS/NAME) [flags]\n\n"
      "Open-loop load for the inference server: Poisson arrivals that follow a constant rate or a\n"
      "trace, POST /v1/chat/completions to the endpoint with the fewest requests outstanding,\n"
      "per-second results (--csv, --svg) and a one-line JSON summary on stdout.\n"
      "Durations: 250ms, 1.5s, 90s, 5m, 1h30m.\n\nFlags:\n";
  for (const Flag& f : flags()) {
    std::string head = "  " + std::string(f.name);
    if (!f.value.empty()) head += " " + std::string(f.value);
    out += head + "\n      " + std::string(f.help) + "\n";
  }
  out += "  --help\n      this text\n";
  return out;
}

}  // namespace dso::loadgen
