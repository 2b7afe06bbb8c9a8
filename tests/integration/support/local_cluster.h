// Test support: finds the servers that hack/local-cluster.sh and hack/local-prometheus.sh started
// for the ctest fixtures, and runs shell commands (kubectl, helm) with that cluster's kubeconfig.
#pragma once

#include <filesystem>
#include <string>

namespace dso::testing {

// A control plane started by `hack/local-cluster.sh start NAME` under $DSO_CLUSTER_ROOT.
struct LocalCluster {
  std::string name;
  std::filesystem::path dir;         // $DSO_CLUSTER_ROOT/NAME
  std::string server;                // https://127.0.0.1:PORT
  std::filesystem::path kubeconfig;  // admin kubeconfig (bearer token)
  std::filesystem::path ca_file;     // the cluster CA
  std::string admin_token;           // bearer token of the system:masters "admin" user
  std::string etcd;                  // http://127.0.0.1:PORT

  // Reads the state of cluster NAME; throws std::runtime_error naming the missing file when the
  // fixture did not start it.
  static LocalCluster open(const std::string& name = "ctest");

  // Runs `sh -c COMMAND` with KUBECONFIG set to this cluster; returns its exit status and puts
  // stdout+stderr into *output when given.
  int sh(const std::string& command, std::string* output = nullptr) const;
};

// A shell command (for LocalCluster::sh) that waits up to a minute for CRDs to be Established,
// e.g. "crd/deepseekservices.inference.deepseek.io"; it fails when they are not. kubectl wait
// fails at once ("<nil> is of the type <nil>") on a CRD whose status the server has not written
// yet, so it is retried.
inline std::string wait_established(const std::string& crds) {
  return "(for i in 1 2 3 4 5 6 7 8 9 10; do kubectl wait --for=condition=Established "
         "--timeout=60s " +
         crds + " && exit 0; sleep 1; done; exit 1)";
}

// A Prometheus started by `hack/local-prometheus.sh start NAME`.
struct LocalPrometheus {
  std::string url;  // http://127.0.0.1:PORT
  std::filesystem::path dir;
  static LocalPrometheus open(const std::string& name = "ctest");
};

// Reads a whole file; throws std::runtime_error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace dso::testing
