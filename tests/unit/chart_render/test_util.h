// Test helpers for chart_render_test: running helm, promtool and the dso-chart-render commands
// in-process, and reading YAML back with dso_kube's reader.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "chart_render/commands.h"
#include "kube/yaml.h"

namespace dso::chart_render::testing {

struct Shell {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh; stdout and stderr together.
inline Shell sh(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  Shell out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out.output += buf.data();
  const int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

inline std::string helm() {
  const char* env = std::getenv("DSO_HELM");
  return env != nullptr ? env : "/var/cache/deepseek-operator/bin/helm";
}

inline std::string chart_dir() {
  return std::string(DSO_SOURCE_DIR) + "/charts/deepseek-operator";
}

inline std::string testdata(const std::string& name) {
  return std::string(DSO_CHART_RENDER_TESTDATA) + "/" + name;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A file under the test's temporary folder holding `text`; returns its path.
inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "chart_render_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// `helm template dso CHART -n dso-system --set metrics.podMonitor.enabled=true EXTRA`: the chart
// as the tests and hack/local-prometheus.sh render it. Throws with helm's output on failure.
inline std::string render_chart(const std::string& extra = "") {
  const Shell r = sh("'" + helm() + "' template dso '" + chart_dir() +
                     "' -n dso-system --set metrics.podMonitor.enabled=true " + extra);
  if (r.status != 0) throw std::runtime_error("helm template failed: " + r.output);
  return r.output;
}

inline std::vector<kube::Json> parse_yaml(const std::string& text) {
  auto docs = kube::parse_yaml_documents(text);
  if (!docs) throw std::runtime_error("YAML: " + docs.error());
  return *docs;
}

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `dso-chart-render ARGS` in-process with `in` as its stdin.
inline Run run(const std::vector<std::string>& args, const std::string& in = "") {
  std::istringstream input(in);
  std::ostringstream out;
  std::ostringstream err;
  Run r;
  r.status = run_command(args, input, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// The kubernetes_sd flags every scrape-config run in these tests uses.
inline std::vector<std::string> scrape_config_args(const std::vector<std::string>& more = {}) {
  std::vector<std::string> args{"scrape-config",
                                "--manifests",
                                "-",
                                "--api-server",
                                "https://127.0.0.1:6443",
                                "--ca-file",
                                "/etc/dso/ca.crt",
                                "--bearer-token-file",
                                "/etc/dso/token"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Whether this promtool knows kubernetes_sd_configs (Debian's build has no Kubernetes discovery).
inline bool promtool_has_kubernetes_sd() {
  const std::string probe = write_temp(
      "k8s-probe.yml",
      "scrape_configs:\n  - job_name: p\n    kubernetes_sd_configs:\n      - role: pod\n");
  return sh("promtool check config '" + probe + "'").status == 0;
}

}  // namespace dso::chart_render::testing
