#include "support/local_cluster.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/processes.h"

namespace dso::testing {
namespace {

std::filesystem::path cluster_root() {
  const char* root = std::getenv("DSO_CLUSTER_ROOT");
  return root != nullptr ? root : "/tmp/dso-clusters";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

LocalCluster LocalCluster::open(const std::string& name) {
  LocalCluster c;
  c.name = name;
  c.dir = cluster_root() / name;
  c.server = "https://127.0.0.1:" + trim(read_file(c.dir / "apiserver.port"));
  c.kubeconfig = c.dir / "kubeconfig";
  c.ca_file = c.dir / "pki" / "ca.crt";
  c.admin_token = trim(read_file(c.dir / "pki" / "admin.token"));
  c.etcd = "http://127.0.0.1:" + trim(read_file(c.dir / "etcd.port"));
  return c;
}

int LocalCluster::sh(const std::string& command, std::string* output) const {
  const std::string full = "KUBECONFIG='" + kubeconfig.string() + "' sh -c '" + [&] {
    std::string escaped;
    for (char ch : command) {
      if (ch == '\'')
        escaped += "'\\''";
      else
        escaped += ch;
    }
    return escaped;
  }() + "' 2>&1";
  return run_shell(full, output);
}

LocalPrometheus LocalPrometheus::open(const std::string& name) {
  LocalPrometheus p;
  p.dir = cluster_root() / ("prometheus-" + name);
  p.url = "http://127.0.0.1:" + trim(read_file(p.dir / "port"));
  return p;
}

}  // namespace dso::testing
