// Pods as Prometheus' Kubernetes pod discovery labels them (discovery/kubernetes/pod.go v2.42),
// in the HTTP SD format that dso-chart-render pod-sd serves.
#include "chart_render/pod_targets.h"

#include <gtest/gtest.h>

namespace dso::chart_render {
namespace {

using kube::Json;

Json pod() {
  return Json::parse(R"({
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                 "labels": {"app.kubernetes.io/instance": "svc", "tier": ""},
                 "annotations": {"note/x": "y"},
                 "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": true}]},
    "spec": {"nodeName": "n1",
             "containers": [{"name": "server", "image": "img:1",
                             "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"},
                                       {"containerPort": 9000, "protocol": "UDP"}]},
                            {"name": "sidecar", "image": "side:2"}],
             "initContainers": [{"name": "init", "image": "init:3"}]},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.0.2.1",
               "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "server", "containerID": "containerd://abc"}]}
  })");
}

TEST(PodTargets, OneTargetPerPortAndPortlessContainer) {
  const Json groups = pod_target_groups({pod()});
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0]["targets"], Json::array({"10.0.0.5:8000"}));
  EXPECT_EQ(groups[1]["targets"], Json::array({"10.0.0.5:9000"}));
  EXPECT_EQ(groups[2]["targets"], Json::array({"10.0.0.5"}));
  EXPECT_EQ(groups[3]["targets"], Json::array({"10.0.0.5"}));
  EXPECT_EQ(groups[3]["labels"]["__meta_kubernetes_pod_container_init"], "true");
  EXPECT_EQ(groups[3]["labels"]["__meta_kubernetes_pod_container_name"], "init");
  EXPECT_FALSE(groups[2]["labels"].contains("__meta_kubernetes_pod_container_port_name"));
}

TEST(PodTargets, MetaLabels) {
  const Json labels = pod_target_groups({pod()})[0]["labels"];
  const Json want = {
      {"__meta_kubernetes_namespace", "ns"},
      {"__meta_kubernetes_pod_name", "p"},
      {"__meta_kubernetes_pod_ip", "10.0.0.5"},
      {"__meta_kubernetes_pod_ready", "true"},
      {"__meta_kubernetes_pod_phase", "Running"},
      {"__meta_kubernetes_pod_node_name", "n1"},
      {"__meta_kubernetes_pod_host_ip", "192.0.2.1"},
      {"__meta_kubernetes_pod_uid", "u-1"},
      {"__meta_kubernetes_pod_controller_kind", "ReplicaSet"},
      {"__meta_kubernetes_pod_controller_name", "rs"},
      {"__meta_kubernetes_pod_label_app_kubernetes_io_instance", "svc"},
      {"__meta_kubernetes_pod_labelpresent_app_kubernetes_io_instance", "true"},
      {"__meta_kubernetes_pod_label_tier", ""},
      {"__meta_kubernetes_pod_labelpresent_tier", "true"},
      {"__meta_kubernetes_pod_annotation_note_x", "y"},
      {"__meta_kubernetes_pod_annotationpresent_note_x", "true"},
      {"__meta_kubernetes_pod_container_name", "server"},
      {"__meta_kubernetes_pod_container_id", "containerd://abc"},
      {"__meta_kubernetes_pod_container_image", "img:1"},
      {"__meta_kubernetes_pod_container_init", "false"},
      {"__meta_kubernetes_pod_container_port_name", "http"},
      {"__meta_kubernetes_pod_container_port_number", "8000"},
      {"__meta_kubernetes_pod_container_port_protocol", "TCP"},
  };
  EXPECT_EQ(labels, want);
}

TEST(PodTargets, NoPodIpNoTargetsAndReadyUnknown) {
  Json pending = pod();
  pending["status"].erase("podIP");
  EXPECT_TRUE(pod_target_groups({pending}).empty());
  Json starting = pod();
  starting["status"].erase("conditions");
  starting["status"]["podIP"] = "fd00::5";
  const Json groups = pod_target_groups({starting});
  EXPECT_EQ(groups[0]["labels"]["__meta_kubernetes_pod_ready"], "unknown");
  EXPECT_EQ(groups[0]["targets"], Json::array({"[fd00::5]:8000"}));
}

}  // namespace
}  // namespace dso::chart_render
