// dso-testbed-node: testbed nodes for a local control plane (hack/local-cluster.sh --nodes N).
// Registers Nodes with GPU capacity and runs the pods bound to them as real local processes; see
// include/testbed/node_agent.h and tests/testbed/README.md.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "testbed/node_agent.h"
#include "traces/duration.h"

namespace {

using namespace dso;

constexpr const char* kUsage =
    R"(Usage: dso-testbed-node --kubeconfig FILE --images FILE --state-dir DIR [FLAGS]

Registers testbed nodes in a cluster and runs every pod bound to them as local processes, each pod
in its own network, mount, UTS and IPC namespaces with its own IP on a host bridge. Needs root.

  --kubeconfig FILE       the cluster (admin credentials)
  --images FILE           JSON table: image repository -> local entrypoint and env
  --state-dir DIR         pods' logs and volumes, exits.jsonl (one line per process that exits)
  --roots-dir DIR         sandbox roots (default /run/dso-testbed/NAME; must be outside folders
                          the pods see)
  --name NAME             node name prefix (default testbed): NAME-0, NAME-1, ...
  --nodes N               how many nodes (default 1)
  --gpus N                nvidia.com/gpu per node (default 8)
  --gpu-product S         label nvidia.com/gpu.product (default NVIDIA-H100-80GB-HBM3)
  --region R              label topology.kubernetes.io/region (default local)
  --zones A,B,...         labels topology.kubernetes.io/zone, round robin (default R-a)
  --node-label K=V        another label on every node (repeatable)
  --cpu Q, --memory Q     node capacity (default 224, 2Ti: an 8-GPU node)
  --pod-subnet A.B.C.0/24 this agent's pod IPs (default 10.244.1.0/24); the bridge is A.B.0.1/16
  --bridge NAME           host bridge (default dsotb0)
  --restart-backoff DUR   first restart delay of a failed container (default 10s, the kubelet's)
  --help

SIGTERM or SIGINT: stop every pod's processes (SIGTERM, SIGKILL after 2 s) and exit 0.
)";

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Flags {
  std::string kubeconfig, images, roots_dir;
  testbed::NodeAgentOptions agent;
  bool help = false;
};

std::string parse(std::span<char* const> args, Flags& f) {
  cli::ArgReader reader(args);
  bool zones_given = false;
  while (const auto a = reader.next()) {
    if (a->is_help()) {
      f.help = true;
      return "";
    }
    const auto v = reader.value();
    if (!v) return v.error();
    const std::string& n = a->name;
    try {
      if (n == "--kubeconfig")
        f.kubeconfig = *v;
      else if (n == "--images")
        f.images = *v;
      else if (n == "--state-dir")
        f.agent.state_dir = *v;
      else if (n == "--roots-dir")
        f.roots_dir = *v;
      else if (n == "--name")
        f.agent.name_prefix = *v;
      else if (n == "--nodes")
        f.agent.nodes = std::stoi(*v);
      else if (n == "--gpus")
        f.agent.gpus_per_node = std::stoi(*v);
      else if (n == "--gpu-product")
        f.agent.gpu_product = *v;
      else if (n == "--region")
        f.agent.region = *v;
      else if (n == "--zones") {
        f.agent.zones = split(*v, ',');
        zones_given = true;
      } else if (n == "--node-label") {
        const auto eq = v->find('=');
        if (eq == std::string::npos) return "--node-label " + *v + ": want KEY=VALUE";
        f.agent.labels[v->substr(0, eq)] = v->substr(eq + 1);
      } else if (n == "--cpu")
        f.agent.cpu = *v;
      else if (n == "--memory")
        f.agent.memory = *v;
      else if (n == "--pod-subnet") {
        const auto parts = split(v->substr(0, v->find('/')), '.');
        if (parts.size() != 4 || !v->ends_with("/24"))
          return "--pod-subnet " + *v + ": want A.B.C.0/24";
        f.agent.pod_ip_prefix = parts[0] + "." + parts[1] + "." + parts[2] + ".";
        f.agent.network.gateway = parts[0] + "." + parts[1] + ".0.1";
      } else if (n == "--bridge")
        f.agent.network.bridge = *v;
      else if (n == "--restart-backoff") {
        const auto d = traces::parse_duration(*v);
        if (!d) return "--restart-backoff: " + d.error();
        f.agent.restart_backoff = std::chrono::seconds(*d);
      } else
        return a->unknown();
    } catch (const std::exception&) {
      return n + " " + *v + ": not a number";
    }
  }
  if (f.kubeconfig.empty() || f.images.empty() || f.agent.state_dir.empty())
    return "--kubeconfig, --images and --state-dir are required (see --help)";
  if (f.agent.nodes < 1) return "--nodes must be at least 1";
  if (!zones_given) f.agent.zones = {f.agent.region + "-a"};
  f.agent.roots_dir = f.roots_dir.empty() ? "/run/dso-testbed/" + f.agent.name_prefix : f.roots_dir;
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Flags flags;
  if (const auto error = parse(std::span<char* const>(argv + 1, argc - 1), flags); !error.empty()) {
    std::fprintf(stderr, "dso-testbed-node: %s\n", error.c_str());
    return 2;
  }
  if (flags.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto images = testbed::ImageTable::load(flags.images);
  if (!images) {
    std::fprintf(stderr, "dso-testbed-node: %s\n", images.error().c_str());
    return 1;
  }
  flags.agent.images = *images;
  kube::ConfigSources sources;
  sources.kubeconfig_flag = flags.kubeconfig;
  const auto config = kube::load_config(sources);
  if (!config) {
    std::fprintf(stderr, "dso-testbed-node: %s\n", config.error().c_str());
    return 1;
  }
  auto client = kube::RestClient::create(*config);
  if (!client) {
    std::fprintf(stderr, "dso-testbed-node: %s\n", client.error().c_str());
    return 1;
  }
  testbed::NodeAgent agent(*client, flags.agent);
  if (auto started = agent.start(); !started) {
    std::fprintf(stderr, "dso-testbed-node: %s\n", started.error().c_str());
    return 1;
  }
  std::cerr << "dso-testbed-node: " << flags.agent.nodes << " nodes ready ("
            << flags.agent.name_prefix << "-*, pods " << flags.agent.pod_ip_prefix << "0/24)"
            << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "dso-testbed-node: stopping" << std::endl;
  agent.stop();
  return 0;
}
