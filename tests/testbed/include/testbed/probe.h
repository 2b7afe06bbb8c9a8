// Container probes and lifecycle handlers as the kubelet runs them: httpGet (a status in
// [200, 400) succeeds), tcpSocket (the connection opens), exec (exit status 0, run inside the
// pod's sandbox). Ports may be names of the container's ports.
#pragma once

#include <chrono>
#include <string>

#include "kube/types.h"
#include "testbed/sandbox.h"

namespace dso::testbed {

struct ProbeResult {
  bool success = false;
  std::string message;  // why it failed ("connection refused", "HTTP 503", "exit 1")
};

// The timing fields of a core/v1 Probe with the API's defaults.
struct ProbeTiming {
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int success_threshold = 1;
  int failure_threshold = 3;
  static ProbeTiming of(const kube::Json& probe);
};

// Runs one probe or handler (`handler` holds httpGet, tcpSocket or exec) for `container` of a pod
// at `pod_ip`. `exec` needs the sandbox, the container's env and log; `timeout` bounds it.
ProbeResult run_handler(const kube::Json& handler, const kube::Json& container,
                        const std::string& pod_ip, const Sandbox& sandbox,
                        const ProcessSpec& exec_context, std::chrono::milliseconds timeout);

// The container port a probe names: a number, or the name of one of `container`'s ports; 0 when
// it names none.
int resolve_port(const kube::Json& port, const kube::Json& container);

// One HTTP GET to ip:port/path with a deadline (the kubelet's probe request, User-Agent
// kube-probe). Returns the status code, or 0 with *error set.
int http_get_status(const std::string& ip, int port, const std::string& path,
                    std::chrono::milliseconds timeout, std::string* error);

}  // namespace dso::testbed
