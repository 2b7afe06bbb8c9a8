// The testbed node agent: registers N Nodes with GPU capacity and the region/zone/GPU-product
// labels the operator's selectors use, keeps their status and Leases fresh as a kubelet does, and
// runs every pod the scheduler binds to them as local processes (pod_worker.h). One agent serves
// one cluster; several clusters on one machine each run their own, on their own pod subnet.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "testbed/pod_worker.h"

namespace dso::testbed {

struct NodeAgentOptions {
  std::string name_prefix = "testbed";  // nodes are PREFIX-0, PREFIX-1, ...
  int nodes = 1;
  int gpus_per_node = 8;
  std::string gpu_product = "NVIDIA-H100-80GB-HBM3";  // label nvidia.com/gpu.product
  std::string region = "local";                       // topology.kubernetes.io/region
  std::vector<std::string> zones = {"local-a"};       // topology.kubernetes.io/zone, round robin
  std::map<std::string, std::string> labels;          // more labels on every node
  std::string cpu = "224";  // an 8-GPU node: 224 vCPUs, 2 TiB (e.g. a p5.48xlarge)
  std::string memory = "2Ti";
  Network network{"dsotb0", "10.244.0.1", 16};
  std::string pod_ip_prefix = "10.244.1.";  // this agent's /24
  std::filesystem::path state_dir;          // pods' logs and volumes, exits.jsonl
  std::filesystem::path roots_dir;          // sandbox roots (must not be under a host folder the
                                            // pods see: /run/... is private to each pod)
  ImageTable images;
  std::chrono::milliseconds restart_backoff{10'000};
  std::chrono::seconds heartbeat{10};
};

class NodeAgent {
 public:
  NodeAgent(kube::KubeClientPtr client, NodeAgentOptions options);
  ~NodeAgent();  // stop()

  // Creates the bridge, registers the nodes, starts watching their pods and the heartbeat.
  std::expected<void, std::string> start();
  // Stops every pod's processes (no API writes for them), the watches and the heartbeat.
  void stop();

  std::vector<std::string> node_names() const;
  std::size_t running_pods() const;

 private:
  std::expected<void, std::string> register_node(int index);
  void heartbeat_loop(std::stop_token stop);
  void renew(const std::string& node);
  void on_pod(const kube::ObjectPtr& pod);
  void on_pod_deleted(const kube::ObjectPtr& pod);
  void sweep();

  kube::KubeClientPtr client_;
  NodeAgentOptions options_;
  IpPool ips_;
  std::unique_ptr<ExitLog> exits_;
  std::unique_ptr<ObjectSource> objects_;
  std::shared_ptr<kube::EventRecorder> events_;
  NodeContext context_;
  std::vector<kube::InformerPtr> informers_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<PodWorker>> workers_;  // by pod uid
  std::set<std::string> done_;                                 // uids finished here
  std::mutex stop_mu_;
  std::condition_variable_any stop_cv_;
  std::jthread heartbeat_;
  bool stopped_ = false;
};

}  // namespace dso::testbed
