// A pod's sandbox on a testbed node: the namespaces its containers share, as a pod's pause
// container holds them. A small "pause" process owns
//   - a network namespace with one veth (eth0, the pod's IP) on the host bridge: every replica
//     listens on its own 0.0.0.0:PORT as in a cluster, and the host (Prometheus, load generators)
//     reaches it at the pod IP;
//   - a mount namespace whose root is a tmpfs holding bind mounts of the host's top-level folders
//     (the pod's "image" is the host), a fresh /tmp and /run, and the pod's volumes at their mount
//     paths;
//   - UTS (hostname = pod name) and IPC namespaces.
// Containers, exec probes and exec hooks run inside it (spawn/run). Needs root (CAP_SYS_ADMIN,
// CAP_NET_ADMIN) and iproute2's `ip`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "testbed/pod_env.h"

namespace dso::testbed {

struct Mount {
  std::filesystem::path source;  // host file or folder
  std::string target;            // absolute path inside the pod
  bool read_only = false;
};

struct Network {
  std::string bridge;   // host bridge, e.g. "dsotb0"
  std::string gateway;  // the bridge's address, e.g. "10.244.0.1"
  int prefix_length = 16;
};

struct SandboxSpec {
  std::string hostname;  // the pod's name
  std::string pod_ip;    // e.g. "10.244.3.7"
  Network network;
  std::filesystem::path root_dir;  // an empty host folder outside every host bind (e.g. /run/...)
  std::vector<Mount> mounts;
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up on the env's PATH
  EnvList env;
  std::string working_dir;  // empty: "/"
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<gid_t> supplementary_groups;
  std::filesystem::path log;  // stdout and stderr are appended here (host path)
};

class Sandbox {
 public:
  // Starts the pause process, builds the mount namespace and plugs the pod into the bridge.
  // Errors name the step that failed (and leave nothing behind).
  static std::expected<std::unique_ptr<Sandbox>, std::string> create(const SandboxSpec& spec);
  ~Sandbox();  // kills the pause process; the veth goes with the network namespace
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Starts a process in the sandbox, in a new session (its process group is its pid: signal -pid
  // to reach its children too). Returns its pid; the caller reaps it with waitpid. The process is
  // killed if the thread that spawned it exits (PR_SET_PDEATHSIG).
  std::expected<pid_t, std::string> spawn(const ProcessSpec& process) const;

  // Runs a process to completion within `timeout` (killed after it); returns its exit status
  // (128 + signal when killed by one). Errors: it could not start, or it timed out.
  std::expected<int, std::string> run(const ProcessSpec& process,
                                      std::chrono::milliseconds timeout) const;

  pid_t pause_pid() const { return pause_; }
  const SandboxSpec& spec() const { return spec_; }

 private:
  explicit Sandbox(SandboxSpec spec) : spec_(std::move(spec)) {}
  std::expected<void, std::string> start_pause();
  std::expected<void, std::string> plug_network();

  SandboxSpec spec_;
  pid_t pause_ = -1;
  std::string host_veth_;
};

// Creates the host bridge with `network.gateway`/prefix when it is missing (idempotent).
std::expected<void, std::string> ensure_bridge(const Network& network);

// Runs a host command (no shell) and waits; returns its exit status, stdout+stderr in *output.
int run_host_command(const std::vector<std::string>& argv, std::string* output = nullptr);

// Waits for `pid` up to `timeout`; its exit status (128 + signal), or nullopt while it runs.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace dso::testbed
