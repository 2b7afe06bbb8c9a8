#include "support/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "kube/config.h"
#include "kube/rest_client.h"

namespace dso::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log)
    : log_(std::move(log)) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) stop(SIGKILL, 10);
}

bool ChildProcess::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int ChildProcess::stop(int signal, int timeout_s) {
  if (!running()) return status_;
  ::kill(pid_, signal);
  for (int i = 0; i < timeout_s * 20; ++i) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::string ChildProcess::log_text() const {
  std::ifstream in(log_);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

kube::KubeClientPtr admin_client(const std::filesystem::path& kubeconfig) {
  kube::ConfigSources sources;
  sources.kubeconfig_flag = kubeconfig.string();
  const auto config = kube::load_config(sources);
  if (!config) throw std::runtime_error(config.error());
  auto client = kube::RestClient::create(*config);
  if (!client) throw std::runtime_error(client.error());
  return *client;
}

FakeKubelet::FakeKubelet(kube::KubeClientPtr client, std::string ns, int delay_ms)
    : client_(std::move(client)),
      ns_(std::move(ns)),
      delay_ms_(delay_ms),
      thread_([this] { loop(); }) {}

FakeKubelet::~FakeKubelet() {
  stop_ = true;
  thread_.join();
}

void FakeKubelet::set_unready(const std::map<std::string, std::string>& pod_labels) {
  std::lock_guard lock(mu_);
  unready_ = pod_labels;
}

void FakeKubelet::add_node(const std::string& name, int gpus,
                           const std::map<std::string, std::string>& labels) {
  const kube::Resource nodes{"", "v1", "nodes", false};
  kube::Json node{{"apiVersion", "v1"},
                  {"kind", "Node"},
                  {"metadata", {{"name", name}, {"labels", labels}}},
                  {"spec", kube::Json::object()}};
  node["metadata"]["labels"]["kubernetes.io/hostname"] = name;
  auto created = client_->create(nodes, "", node);
  if (!created && !created.error().is_already_exists())
    throw std::runtime_error(created.error().to_string());
  const kube::Json capacity{
      {"cpu", "256"}, {"memory", "4Ti"}, {"pods", "110"}, {"nvidia.com/gpu", std::to_string(gpus)}};
  const kube::Json status{{"status",
                           {{"capacity", capacity},
                            {"allocatable", capacity},
                            {"conditions", kube::Json::array({{{"type", "Ready"},
                                                               {"status", "True"},
                                                               {"reason", "KubeletReady"},
                                                               {"message", "fake kubelet"}}})}}}};
  auto patched = client_->patch(nodes, "", name, kube::PatchType::kMerge, status, {}, "status");
  if (!patched) throw std::runtime_error(patched.error().to_string());
  // The API server taints new nodes not-ready (TaintNodesByCondition); the node lifecycle
  // controller that would lift it is off in the local cluster, so lift it here.
  patched =
      client_->patch(nodes, "", name, kube::PatchType::kMerge, {{"spec", {{"taints", nullptr}}}});
  if (!patched) throw std::runtime_error(patched.error().to_string());
}

void FakeKubelet::loop() {
  const kube::Resource pods{"", "v1", "pods", true};
  std::map<std::string, std::chrono::steady_clock::time_point> first_seen;
  while (!stop_) {
    const auto list = client_->list(pods, ns_, {});
    if (list) {
      for (const auto& pod : list->items) {
        const std::string name = kube::meta_string(pod, "name");
        const bool scheduled = pod["spec"].contains("nodeName");
        const bool deleting = pod["metadata"].contains("deletionTimestamp");
        const bool running =
            pod.contains("status") && pod["status"].value("phase", "") == "Running";
        if (!scheduled) continue;
        if (deleting) {
          // No kubelet to confirm the container stopped: finish the deletion.
          kube::DeleteOptions now;
          now.grace_period_seconds = 0;
          client_->remove(pods, ns_, name, now);
          continue;
        }
        bool is_ready = false;
        for (const auto& c :
             pod.value("status", kube::Json::object()).value("conditions", kube::Json::array())) {
          if (c.value("type", "") == "Ready") is_ready = c.value("status", "") == "True";
        }
        bool hold_unready = false;
        {
          std::lock_guard lock(mu_);
          const kube::Json labels = pod["metadata"].value("labels", kube::Json::object());
          hold_unready = !unready_.empty();
          for (const auto& [k, v] : unready_)
            hold_unready = hold_unready && labels.value(k, "") == v;
        }
        if (running && is_ready == !hold_unready) continue;
        const auto [it, inserted] = first_seen.emplace(name, std::chrono::steady_clock::now());
        if (std::chrono::steady_clock::now() - it->second < std::chrono::milliseconds(delay_ms_))
          continue;
        // lastTransitionTime as the kubelet sets it (the autoscaler measures cold starts from
        // Ready's transition minus the pod's creation).
        const std::time_t wall = std::time(nullptr);
        std::tm tm{};
        gmtime_r(&wall, &tm);
        char transition[32];
        std::strftime(transition, sizeof transition, "%Y-%m-%dT%H:%M:%SZ", &tm);
        kube::Json ready = kube::Json::array();
        for (const char* type : {"Ready", "ContainersReady", "Initialized", "PodScheduled"}) {
          const bool is_true = !hold_unready || (std::string(type) != "Ready" &&
                                                 std::string(type) != "ContainersReady");
          ready.push_back({{"type", type},
                           {"status", is_true ? "True" : "False"},
                           {"lastTransitionTime", transition}});
        }
        kube::Json statuses = kube::Json::array();
        for (const auto& c : pod["spec"]["containers"]) {
          statuses.push_back({{"name", c["name"]},
                              {"image", c["image"]},
                              {"imageID", ""},
                              {"ready", !hold_unready},
                              {"restartCount", 0},
                              {"started", true},
                              {"state", {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}}}});
        }
        client_->patch(pods, ns_, name, kube::PatchType::kMerge,
                       {{"status",
                         {{"phase", "Running"},
                          {"conditions", ready},
                          {"containerStatuses", statuses},
                          {"podIP", "10.244.0.10"},
                          {"startTime", "2026-01-01T00:00:00Z"}}}},
                       {}, "status");
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int run_shell(const std::string& command, std::string* output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed for: " + command);
  std::array<char, 4096> buf{};
  std::string out;
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int status = ::pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dso::testing
