// chart_render/pod_targets.h: what Prometheus' Kubernetes service discovery (role: pod) makes of
// pods — one target per declared container port (a port-less container gives one target at the
// pod IP), with the __meta_kubernetes_pod_* labels — written as Prometheus HTTP service discovery
// target groups. This stands in for kubernetes_sd_configs where Prometheus is built without it
// (Debian's), so that the rendered relabelling runs on the same labels. Mirrors
// prometheus/prometheus discovery/kubernetes/pod.go at v2.42 (buildPod, podLabels).
#pragma once

#include <vector>

#include "kube/types.h"

namespace dso::chart_render {

// The HTTP SD response for `pods` (Pod objects as the API returns them): a JSON array of
// {"targets": [ADDRESS], "labels": {...}}, one per target, pods in the given order. Pods without
// status.podIP give none, as they do in Prometheus. Pure.
kube::Json pod_target_groups(const std::vector<kube::Json>& pods);

}  // namespace dso::chart_render
