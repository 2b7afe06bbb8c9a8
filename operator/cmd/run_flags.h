// The flags of `deepseek-operator run` and their parsing, apart from the process they configure so
// that tests can check what each flag value turns into (tests/unit/cmd/run_command_test.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logger.h"
#include "metrics/prometheus_source.h"

namespace dso::cmd {

struct RunFlags {
  std::string kubeconfig, context;
  std::vector<std::string> namespaces;
  int workers = 2;
  bool leader_elect = true;
  // --allow-host-path: DeepSeekServices may mount host directories (spec.model.source.hostPath)
  // through the operator's rights. Off: such a spec is refused (InvalidSpec).
  bool allow_host_path = false;
  std::string lease_namespace, lease_name = "deepseek-operator";
  std::string health_addr = "0.0.0.0:8081";
  LogLevel log_level = LogLevel::kInfo;
  bool json_logs = false;
  std::string prometheus_url, prometheus_ca_file, prometheus_token_file;
  std::int64_t decision_period = 15;
  int autoscaler_workers = 4;  // services the scaling loop decides at once
  // --prometheus-rate-window, --prometheus-namespace-label, --prometheus-service-label; the
  // defaults are QueryOptions' (1m, "namespace", "deepseek_service": the Helm chart's PodMonitor).
  metrics::QueryOptions prometheus_queries;
};

// Parses `args` (the arguments after "run"), --flag VALUE or --flag=VALUE, into `flags`; sets
// `help` and stops at --help/-h. Returns "" when every flag is good, else a one-line message that
// names the flag and the bad value (the caller prints it and exits 2). Checks files named by
// --prometheus-ca-file and --prometheus-bearer-token-file exist; no other I/O.
std::string parse_run_flags(std::span<char* const> args, RunFlags& flags, bool& help);

// Whether `name` is a Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]* (names starting with "__" are
// Prometheus's own and dropped after relabelling, so they are refused too).
bool is_prometheus_label_name(std::string_view name);

// The PrometheusSource's options from the flags: label names and rate window.
metrics::PrometheusSourceOptions prometheus_source_options(const RunFlags& flags);

}  // namespace dso::cmd
