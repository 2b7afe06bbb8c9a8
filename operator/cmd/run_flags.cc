#include "run_flags.h"

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include "cli/args.h"
#include "traces/duration.h"

namespace dso::cmd {

bool is_prometheus_label_name(std::string_view name) {
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (name.empty() || !letter(name[0]) || name.starts_with("__")) return false;
  for (const char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

metrics::PrometheusSourceOptions prometheus_source_options(const RunFlags& flags) {
  metrics::PrometheusSourceOptions options;
  options.queries = flags.prometheus_queries;
  return options;
}

namespace {

// The flags of `run` that take a value (--leader-elect and --allow-host-path are booleans).
const std::set<std::string, std::less<>> kValueFlags = {
    "--kubeconfig",
    "--context",
    "--namespace",
    "--workers",
    "--autoscaler-workers",
    "--leader-election-namespace",
    "--leader-election-id",
    "--health-addr",
    "--prometheus-url",
    "--prometheus-ca-file",
    "--prometheus-bearer-token-file",
    "--decision-period",
    "--prometheus-rate-window",
    "--prometheus-namespace-label",
    "--prometheus-service-label",
    "--log-level",
    "--log-format",
};

}  // namespace

std::string parse_run_flags(std::span<char* const> args, RunFlags& flags, bool& help) {
  cli::ArgReader reader(args);
  while (const auto a = reader.next()) {
    const std::string& arg = a->name;
    if (a->is_help()) {
      help = true;
      return "";
    }
    if (arg == "--leader-elect") {
      const auto b = reader.boolean();
      if (!b) return b.error();
      flags.leader_elect = *b;
      continue;
    }
    if (arg == "--allow-host-path") {
      const auto b = reader.boolean();
      if (!b) return b.error();
      flags.allow_host_path = *b;
      continue;
    }
    if (!a->is_flag()) {
      return "unexpected argument \"" + a->text +
             "\" (run takes only flags; a boolean flag is set with --name=false)";
    }
    if (!kValueFlags.contains(arg)) return a->unknown();
    const auto v = reader.value();
    if (!v) return v.error();
    if (arg == "--kubeconfig")
      flags.kubeconfig = *v;
    else if (arg == "--context")
      flags.context = *v;
    else if (arg == "--namespace")
      flags.namespaces.push_back(*v);
    else if (arg == "--workers" || arg == "--autoscaler-workers") {
      int& target = arg == "--workers" ? flags.workers : flags.autoscaler_workers;
      int n = 0;
      try {
        std::size_t used = 0;
        n = std::stoi(*v, &used);
        if (used != v->size()) throw std::invalid_argument(*v);
      } catch (const std::exception&) {
        return arg + ": not a number: \"" + *v + "\"";
      }
      if (n < 1 || n > 64) return arg + ": must be 1..64";
      target = n;
    } else if (arg == "--leader-election-namespace")
      flags.lease_namespace = *v;
    else if (arg == "--leader-election-id")
      flags.lease_name = *v;
    else if (arg == "--health-addr")
      flags.health_addr = *v;
    else if (arg == "--prometheus-url") {
      if (!v->starts_with("http://") && !v->starts_with("https://"))
        return "--prometheus-url: expected an http:// or https:// URL, got \"" + *v + "\"";
      flags.prometheus_url = *v;
    } else if (arg == "--prometheus-ca-file" || arg == "--prometheus-bearer-token-file") {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(*v, ec))
        return arg + ": " + *v + " is not a readable file";
      (arg == "--prometheus-ca-file" ? flags.prometheus_ca_file : flags.prometheus_token_file) = *v;
    } else if (arg == "--decision-period") {
      const auto d = traces::parse_duration(*v);
      if (!d) return "--decision-period: " + d.error();
      if (*d < 1 || *d > 3600) return "--decision-period: must be between 1s and 1h";
      flags.decision_period = *d;
    } else if (arg == "--prometheus-rate-window") {
      const auto d = traces::parse_duration(*v);
      if (!d) return "--prometheus-rate-window: " + d.error();
      // parse_duration() refuses 0; the check stays in case it ever allows it.
      if (*d <= 0) return "--prometheus-rate-window: must be greater than 0";
      flags.prometheus_queries.rate_window = *d;
    } else if (arg == "--prometheus-namespace-label" || arg == "--prometheus-service-label") {
      if (!is_prometheus_label_name(*v))
        return arg + ": \"" + *v +
               "\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)";
      (arg == "--prometheus-namespace-label" ? flags.prometheus_queries.namespace_label
                                             : flags.prometheus_queries.service_label) = *v;
    } else if (arg == "--log-level") {
      if (*v == "debug")
        flags.log_level = LogLevel::kDebug;
      else if (*v == "info")
        flags.log_level = LogLevel::kInfo;
      else if (*v == "warn")
        flags.log_level = LogLevel::kWarn;
      else if (*v == "error")
        flags.log_level = LogLevel::kError;
      else
        return "--log-level: expected debug, info, warn or error, got \"" + *v + "\"";
    } else if (arg == "--log-format") {
      if (*v != "text" && *v != "json")
        return "--log-format: expected text or json, got \"" + *v + "\"";
      flags.json_logs = *v == "json";
    } else {
      return a->unknown();  // in kValueFlags but not handled above: a bug, caught by the tests
    }
  }
  return "";
}

}  // namespace dso::cmd
