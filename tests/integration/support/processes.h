// Test support: child processes (the operator binary) and a stand-in for the kubelet.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"

namespace dso::testing {

// A child process with stdout+stderr going to a log file. The destructor kills it (SIGKILL) if it
// still runs, so a failing test leaves nothing behind.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  // Sends `signal` and waits up to `timeout_s` for the exit; returns the exit status
  // (128 + signal when killed by one), or -1 on timeout.
  int stop(int signal, int timeout_s);
  std::string log_text() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_;
};

// Plays the kubelet's part for pods bound to fake nodes: marks every scheduled pod of `ns` Running
// and Ready (after `delay_ms`), and creates GPU nodes with a region label. Pods whose labels
// include every pair of set_unready's selector are marked (and kept) Running but not Ready, as a
// failing region's would be; clearing the selector makes them Ready again.
class FakeKubelet {
 public:
  FakeKubelet(kube::KubeClientPtr client, std::string ns, int delay_ms = 200);
  ~FakeKubelet();
  // A Ready node with `gpus` nvidia.com/gpu and the given labels.
  void add_node(const std::string& name, int gpus,
                const std::map<std::string, std::string>& labels);
  // Pods matching `pod_labels` (all pairs) are held not Ready; empty: none. Thread-safe.
  void set_unready(const std::map<std::string, std::string>& pod_labels);

 private:
  void loop();
  kube::KubeClientPtr client_;
  std::string ns_;
  int delay_ms_;
  std::mutex mu_;
  std::map<std::string, std::string> unready_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A RestClient for the local cluster's admin kubeconfig.
kube::KubeClientPtr admin_client(const std::filesystem::path& kubeconfig);

// Runs `command` with /bin/sh (popen), stdout and whatever the command redirects into it in
// `output` (when given); returns the exit status, -1 when it did not exit normally.
int run_shell(const std::string& command, std::string* output);

}  // namespace dso::testing
