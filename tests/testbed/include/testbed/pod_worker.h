// One pod on a testbed node, run as a kubelet would: the sandbox, the volumes, each container as a
// local process (restarted with the kubelet's backoff), startup/readiness/liveness probes, the
// pod's status (phase, conditions, containerStatuses, podIP), and on deletion the preStop hook,
// SIGTERM, SIGKILL after the grace period, and the final delete of the Pod object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/event_recorder.h"
#include "testbed/image_table.h"
#include "testbed/pod_env.h"
#include "testbed/sandbox.h"

namespace dso::testbed {

// Pod IPs of one node agent: host numbers 2..254 of a /24.
class IpPool {
 public:
  explicit IpPool(std::string prefix) : prefix_(std::move(prefix)) {}  // "10.244.7."
  std::optional<std::string> take();
  void give_back(const std::string& ip);

 private:
  std::mutex mu_;
  std::string prefix_;
  std::vector<bool> used_ = std::vector<bool>(256, false);
};

// Where every process that exits is written down (one JSON object per line), for tests and
// measurements: namespace, pod, uid, container, exitCode, signal, reason ("Completed", "Error",
// "Killing" on deletion, "Unhealthy" after a failed liveness/startup probe, "AgentStopped"),
// secondsAfterDeletion and graceSeconds (on deletion).
class ExitLog {
 public:
  explicit ExitLog(std::filesystem::path file) : file_(std::move(file)) {}
  void write(const kube::Json& entry);

 private:
  std::mutex mu_;
  std::filesystem::path file_;
};

// What every pod of an agent shares.
struct NodeContext {
  kube::KubeClientPtr client;
  std::shared_ptr<kube::EventRecorder> events;
  ImageTable images;
  Network network;
  std::filesystem::path state_dir;  // logs, volumes, the exit log
  std::filesystem::path roots_dir;  // sandbox roots (outside every host bind mount)
  IpPool* ips = nullptr;
  ExitLog* exits = nullptr;
  ObjectSource* objects = nullptr;
  std::chrono::milliseconds restart_backoff{10'000};  // the kubelet's: 10 s, doubling
  std::chrono::milliseconds max_restart_backoff{300'000};
};

class PodWorker {
 public:
  // Starts the pod's thread. `pod` is the object as the informer has it.
  PodWorker(const NodeContext& context, kube::Json pod);
  // Stops every process at once (SIGTERM, SIGKILL after 2 s) without touching the API: the agent
  // is stopping. Joins the thread.
  ~PodWorker();
  PodWorker(const PodWorker&) = delete;
  PodWorker& operator=(const PodWorker&) = delete;

  // Starts what the destructor does without waiting for it (so that many pods stop at once).
  void begin_stop();
  // A newer version of the object (e.g. with deletionTimestamp). Thread-safe.
  void update(kube::Json pod);
  // The object is gone from the API (force-deleted): stop everything now. Thread-safe.
  void removed();
  // True once the pod's processes are gone and the worker has nothing left to do.
  bool finished() const;

 private:
  struct Container;
  void run(std::stop_token stop);
  bool set_up();
  void tick();
  // Stops every container: with `graceful`, the preStop hook and the grace period of a deletion;
  // else SIGTERM and SIGKILL after 2 s. `reason` goes to the exit log.
  void terminate(bool graceful, const std::string& reason);
  void tear_down();
  void start_due_containers();
  void reap();
  void probe_due();
  void kill_container(Container& c, std::chrono::milliseconds grace, const std::string& reason);
  void record_exit(Container& c, int status, const std::string& reason);
  void publish_status(bool force = false);
  kube::Json build_status() const;
  void event(const std::string& type, const std::string& reason, const std::string& message);
  kube::Json latest() const;
  std::expected<void, std::string> prepare_volumes(std::vector<Mount>& mounts);
  void refresh_projected_volumes();

  const NodeContext& context_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  kube::Json pod_;         // latest object (guarded by mu_)
  bool deleting_ = false;  // deletionTimestamp seen (guarded)
  bool removed_ = false;   // gone from the API (guarded)
  bool stopping_ = false;  // agent shutdown (guarded)
  bool finished_ = false;  // (guarded)

  // Owned by the worker thread.
  std::string id_;  // ns_name_uid
  std::filesystem::path dir_;
  std::string pod_ip_;
  std::unique_ptr<Sandbox> sandbox_;
  std::vector<std::unique_ptr<Container>> containers_;
  std::optional<std::chrono::system_clock::time_point> start_time_;
  std::optional<std::chrono::steady_clock::time_point> deletion_seen_;
  std::string setup_error_;
  kube::Json last_status_;
  std::map<std::string, std::string> transition_times_;  // condition type -> time
  std::chrono::steady_clock::time_point next_volume_refresh_{};
  std::jthread thread_;
};

}  // namespace dso::testbed
