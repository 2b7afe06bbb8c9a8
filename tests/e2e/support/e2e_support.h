// Support for the end-to-end tests: the testbed cluster the `testbed` ctest fixture started
// (hack/local-cluster.sh start e2e --nodes 8: a real control plane whose pods run as real local
// processes), a Prometheus that discovers those pods with the Helm chart's PodMonitor relabelling,
// and deepseek-operator run with the chart's own arguments. Everything here drives real processes;
// nothing fakes a side of a contract.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace dso::e2e {

namespace fs = std::filesystem;

inline constexpr const char* kClusterName = "e2e";
inline constexpr const char* kServerImage = "ghcr.io/deepseek-operator/inference-server:0.1.0";

// The chart values every e2e test renders with: the PodMonitor on at 5 s, rate() over 20 s (the
// chart's rule: at least 4 scrape intervals). Written once under the cluster's folder.
fs::path chart_values();

// Polls `check` every 200 ms for up to `seconds`; whether it became true.
bool eventually(double seconds, const std::function<bool()>& check);

double wall_now();  // unix seconds

class Testbed {
 public:
  static Testbed open();  // throws when the fixture did not start the cluster

  // kubectl ARGS against the cluster; its exit status, output (stdout+stderr) in *out.
  int kubectl(const std::string& args, std::string* out = nullptr) const;
  // kubectl apply -f - with `yaml` in namespace `ns` ("" = none); the output, throws on failure.
  std::string apply(const std::string& yaml, const std::string& ns = "") const;
  // A fresh namespace (deleted first if an earlier run left it).
  void fresh_namespace(const std::string& ns) const;
  // The CRD from crds/, Established.
  void install_crd() const;
  // Every line of the testbed's exits.jsonl for namespace `ns`.
  std::vector<kube::Json> exits(const std::string& ns) const;
  // Ready addresses of Endpoints ns/name.
  int ready_endpoints(const std::string& ns, const std::string& name) const;
  // The pods of a namespace with a label selector ("" = all).
  std::vector<kube::Json> pods(const std::string& ns, const std::string& selector = "") const;
  // The object, or an empty object when it cannot be read.
  kube::Json get(const kube::Resource& r, const std::string& ns, const std::string& name) const;

  const testing::LocalCluster& cluster() const { return cluster_; }
  const kube::KubeClientPtr& client() const { return client_; }
  fs::path state() const { return cluster_.dir / "testbed"; }
  // Where a test keeps its logs and outputs (kept after the fixture stops the cluster):
  // DSO_CLUSTER_ROOT/e2e-logs/NAME.
  fs::path work_dir(const std::string& name) const;

  static kube::Resource deepseek_services();
  static kube::Resource deployments();
  static kube::Resource endpoints();

 private:
  testing::LocalCluster cluster_;
  kube::KubeClientPtr client_;
};

// Prometheus discovering the testbed's pods as the chart's PodMonitor would have the Prometheus
// Operator do (hack/local-prometheus.sh --kube-cluster, rendered from the chart with
// chart_values()). Optionally serving a TSDB with backfilled history.
class ChartPrometheus {
 public:
  ChartPrometheus(std::string name, std::optional<fs::path> tsdb = std::nullopt);
  ~ChartPrometheus();
  ChartPrometheus(const ChartPrometheus&) = delete;
  ChartPrometheus& operator=(const ChartPrometheus&) = delete;

  // Stops it (connections refused) / starts it again on the same port.
  void stop();
  void start();
  const std::string& url() const { return url_; }
  // The instant query's first value, or nullopt (no answer, no series).
  std::optional<double> query(const std::string& promql) const;

 private:
  std::string name_;
  std::optional<fs::path> tsdb_;
  std::string url_;
  int port_ = 0;
  bool running_ = false;
};

// `deepseek-operator run` with the arguments the chart's Deployment gives it (helm template with
// chart_values() through dso-chart-render operator-args), plus --kubeconfig, the Prometheus URL
// and a free --health-addr. Leader election stays on, as the chart has it.
class Operator {
 public:
  Operator(const Testbed& testbed, std::string prometheus_url, fs::path log,
           std::vector<std::string> extra_args = {});
  ~Operator();
  void stop();   // SIGTERM, waits
  void start();  // again, same arguments
  std::string log_text() const;
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  std::vector<std::string> argv_;
  fs::path log_;
  std::unique_ptr<testing::ChildProcess> process_;
};

}  // namespace dso::e2e
