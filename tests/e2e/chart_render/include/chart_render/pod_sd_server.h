// chart_render/pod_sd_server.h: `dso-chart-render pod-sd`, a Prometheus HTTP service discovery
// endpoint over the pods of a Kubernetes API server, for a Prometheus built without Kubernetes
// discovery (Debian's). Each request lists the pods afresh (no cache), so Prometheus sees a pod
// one http_sd refresh_interval after the API server has it.
#pragma once

#include <memory>
#include <string>

#include "kube/client.h"

namespace dso::chart_render {

class PodSdServer {
 public:
  // Listens on http://`listen` (HOST:PORT). GET /pods?namespaces=a,b answers the target groups of
  // the pods in those namespaces (pod_targets.h), all namespaces without the parameter; an API
  // error answers 503 with its message (Prometheus then keeps the targets it had). Throws
  // std::runtime_error when it cannot listen. Requests run on cpprestsdk's threads; `client` must
  // be thread-safe (RestClient is).
  PodSdServer(kube::KubeClientPtr client, const std::string& listen);
  ~PodSdServer();
  PodSdServer(const PodSdServer&) = delete;
  PodSdServer& operator=(const PodSdServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dso::chart_render
