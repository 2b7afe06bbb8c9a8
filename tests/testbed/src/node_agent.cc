// The testbed node agent: see node_agent.h.
#include "testbed/node_agent.h"

#include "kube/config.h"
#include "timing/rfc3339.h"

namespace dso::testbed {
namespace {

using kube::Json;
namespace fs = std::filesystem;

const kube::Resource kNodes{"", "v1", "nodes", false};
const kube::Resource kPods{"", "v1", "pods", true};
const kube::Resource kSecrets{"", "v1", "secrets", true};
const kube::Resource kNodeLeases{"coordination.k8s.io", "v1", "leases", true};

std::string now_micro() {
  // Lease renewTime is a MicroTime: RFC 3339 with microseconds.
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      now - std::chrono::time_point_cast<std::chrono::seconds>(now))
                      .count();
  std::string seconds = timing::format_rfc3339_seconds(now);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
  return seconds.substr(0, seconds.size() - 1) + frac + "Z";
}

// ConfigMaps and Secrets read from the API server on every call (the kubelet caches; the testbed
// is small).
class ApiObjectSource final : public ObjectSource {
 public:
  explicit ApiObjectSource(kube::KubeClientPtr client) : client_(std::move(client)) {}
  std::expected<StringMap, std::string> config_map(const std::string& ns,
                                                   const std::string& name) override {
    return read(kube::Resource::config_maps(), "configmap", ns, name, false);
  }
  std::expected<StringMap, std::string> secret(const std::string& ns,
                                               const std::string& name) override {
    return read(kSecrets, "secret", ns, name, true);
  }

 private:
  std::expected<StringMap, std::string> read(const kube::Resource& r, const std::string& kind,
                                             const std::string& ns, const std::string& name,
                                             bool base64_data) {
    const auto object = client_->get(r, ns, name);
    if (!object)
      return std::unexpected(kind + " " + ns + "/" + name + ": " + object.error().to_string());
    StringMap out;
    for (const auto& [field, encoded] :
         {std::pair{"data", base64_data}, std::pair{"binaryData", true}}) {
      if (!object->contains(field) || !(*object)[field].is_object()) continue;
      for (const auto& [k, v] : (*object)[field].items()) {
        if (!v.is_string()) continue;
        if (!encoded) {
          out[k] = v.get<std::string>();
        } else if (const auto decoded = kube::base64_decode(v.get<std::string>())) {
          out[k] = *decoded;
        }
      }
    }
    return out;
  }
  kube::KubeClientPtr client_;
};

}  // namespace

NodeAgent::NodeAgent(kube::KubeClientPtr client, NodeAgentOptions options)
    : client_(std::move(client)), options_(std::move(options)), ips_(options_.pod_ip_prefix) {}

NodeAgent::~NodeAgent() {
  stop();
}

std::vector<std::string> NodeAgent::node_names() const {
  std::vector<std::string> names;
  for (int i = 0; i < options_.nodes; ++i)
    names.push_back(options_.name_prefix + "-" + std::to_string(i));
  return names;
}

std::size_t NodeAgent::running_pods() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [uid, w] : workers_) n += w->finished() ? 0 : 1;
  return n;
}

std::expected<void, std::string> NodeAgent::start() {
  if (auto bridge = ensure_bridge(options_.network); !bridge) return bridge;
  std::error_code error;
  fs::create_directories(options_.state_dir, error);
  fs::create_directories(options_.roots_dir, error);
  exits_ = std::make_unique<ExitLog>(options_.state_dir / "exits.jsonl");
  objects_ = std::make_unique<ApiObjectSource>(client_);
  events_ = std::make_shared<kube::EventRecorder>(client_, "kubelet");
  context_ = NodeContext{client_,
                         events_,
                         options_.images,
                         options_.network,
                         options_.state_dir,
                         options_.roots_dir,
                         &ips_,
                         exits_.get(),
                         objects_.get(),
                         options_.restart_backoff,
                         std::chrono::milliseconds(300'000)};
  for (int i = 0; i < options_.nodes; ++i) {
    if (auto registered = register_node(i); !registered) return registered;
  }
  for (const auto& node : node_names()) {
    kube::InformerOptions o;
    o.resource = kPods;
    o.field_selector = "spec.nodeName=" + node;
    o.storage = kube::CacheStorage::kParsed;
    auto informer = std::make_shared<kube::Informer>(client_, o);
    informer->add_handlers({[this](const kube::ObjectPtr& p) { on_pod(p); },
                            [this](const kube::ObjectPtr&, const kube::ObjectPtr& p) { on_pod(p); },
                            [this](const kube::ObjectPtr& p, bool) { on_pod_deleted(p); }});
    informer->start();
    informers_.push_back(informer);
  }
  heartbeat_ = std::jthread([this](std::stop_token stop) { heartbeat_loop(stop); });
  return {};
}

void NodeAgent::stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  heartbeat_.request_stop();
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  for (auto& i : informers_) i->stop();
  std::map<std::string, std::unique_ptr<PodWorker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [uid, w] : workers) w->begin_stop();  // all at once
  workers.clear();                                 // each destructor waits for its pod's processes
  if (events_) events_->flush();
}

std::expected<void, std::string> NodeAgent::register_node(int index) {
  const std::string name = node_names()[index];
  Json labels{{"kubernetes.io/hostname", name},
              {"kubernetes.io/os", "linux"},
              {"kubernetes.io/arch", "amd64"},
              {"node.kubernetes.io/instance-type", "testbed"},
              {"topology.kubernetes.io/region", options_.region},
              {"topology.kubernetes.io/zone",
               options_.zones[static_cast<std::size_t>(index) % options_.zones.size()]},
              {"nvidia.com/gpu.product", options_.gpu_product},
              {"nvidia.com/gpu.count", std::to_string(options_.gpus_per_node)}};
  for (const auto& [k, v] : options_.labels) labels[k] = v;
  const Json node{{"apiVersion", "v1"},
                  {"kind", "Node"},
                  {"metadata", {{"name", name}, {"labels", labels}}},
                  {"spec", Json::object()}};
  auto created = client_->create(kNodes, "", node);
  if (!created && !created.error().is_already_exists())
    return std::unexpected("register node " + name + ": " + created.error().to_string());
  if (!created) {
    // A node of an earlier agent run: take over its labels.
    auto relabeled = client_->patch(kNodes, "", name, kube::PatchType::kMerge,
                                    {{"metadata", {{"labels", labels}}}});
    if (!relabeled)
      return std::unexpected("label node " + name + ": " + relabeled.error().to_string());
  }
  renew(name);
  // The API server taints new nodes not-ready (TaintNodesByCondition); without the node lifecycle
  // controller (off in hack/local-cluster.sh) nothing lifts it once the node is Ready.
  auto untainted =
      client_->patch(kNodes, "", name, kube::PatchType::kMerge, {{"spec", {{"taints", nullptr}}}});
  if (!untainted)
    return std::unexpected("untaint node " + name + ": " + untainted.error().to_string());
  return {};
}

void NodeAgent::renew(const std::string& node) {
  const std::string now = timing::format_rfc3339_seconds(std::chrono::system_clock::now());
  const Json capacity{{"cpu", options_.cpu},
                      {"memory", options_.memory},
                      {"pods", "110"},
                      {"nvidia.com/gpu", std::to_string(options_.gpus_per_node)}};
  Json conditions = Json::array();
  for (const auto& [type, status, reason] :
       {std::tuple{"Ready", "True", "KubeletReady"},
        std::tuple{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
        std::tuple{"DiskPressure", "False", "KubeletHasNoDiskPressure"},
        std::tuple{"PIDPressure", "False", "KubeletHasSufficientPID"}}) {
    conditions.push_back({{"type", type},
                          {"status", status},
                          {"reason", reason},
                          {"message", "testbed node agent"},
                          {"lastHeartbeatTime", now}});
  }
  const Json status{
      {"status",
       {{"capacity", capacity},
        {"allocatable", capacity},
        {"conditions", conditions},
        {"addresses", Json::array({{{"type", "InternalIP"}, {"address", options_.network.gateway}},
                                   {{"type", "Hostname"}, {"address", node}}})},
        {"nodeInfo",
         {{"kubeletVersion", "v1.20.2-testbed"},
          {"containerRuntimeVersion", "testbed://processes"},
          {"operatingSystem", "linux"},
          {"architecture", "amd64"}}}}}};
  client_->patch(kNodes, "", node, kube::PatchType::kStrategicMerge, status, {}, "status");
  // The node's Lease in kube-node-lease, as the kubelet renews it.
  const Json lease{
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", {{"name", node}, {"namespace", "kube-node-lease"}}},
      {"spec",
       {{"holderIdentity", node}, {"leaseDurationSeconds", 40}, {"renewTime", now_micro()}}}};
  client_->apply(kNodeLeases, "kube-node-lease", lease, "testbed-kubelet", true);
}

void NodeAgent::heartbeat_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(stop_mu_);
      stop_cv_.wait_for(lock, stop, options_.heartbeat, [] { return false; });
    }
    if (stop.stop_requested()) return;
    for (const auto& node : node_names()) renew(node);
    sweep();
  }
}

void NodeAgent::sweep() {
  std::vector<std::unique_ptr<PodWorker>> gone;
  std::lock_guard lock(mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second->finished()) {
      done_.insert(it->first);
      gone.push_back(std::move(it->second));
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void NodeAgent::on_pod(const kube::ObjectPtr& pod) {
  const std::string uid = kube::meta_string(*pod, "uid");
  const std::string phase = pod->value("status", Json::object()).value("phase", "");
  std::lock_guard lock(mu_);
  if (const auto it = workers_.find(uid); it != workers_.end()) {
    it->second->update(*pod);
    return;
  }
  if (done_.contains(uid)) return;
  if ((*pod)["metadata"].contains("deletionTimestamp")) {
    // Being deleted and never run here (e.g. from before this agent started): finish it.
    kube::DeleteOptions now;
    now.grace_period_seconds = 0;
    now.precondition_uid = uid;
    client_->remove(kPods, kube::meta_string(*pod, "namespace"), kube::meta_string(*pod, "name"),
                    now);
    done_.insert(uid);
    return;
  }
  if (phase == "Succeeded" || phase == "Failed") return;
  workers_[uid] = std::make_unique<PodWorker>(context_, *pod);
}

void NodeAgent::on_pod_deleted(const kube::ObjectPtr& pod) {
  std::lock_guard lock(mu_);
  if (const auto it = workers_.find(kube::meta_string(*pod, "uid")); it != workers_.end())
    it->second->removed();
}

}  // namespace dso::testbed
