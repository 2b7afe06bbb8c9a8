// `deepseek-operator run` against the real control plane (kube-apiserver, etcd, controller-manager,
// scheduler) with fake GPU nodes and a stand-in kubelet: DeepSeekServices become scheduled, Ready
// inference pods; edits roll out; drift in owned fields is repaired and other fields are kept;
// invalid specs are reported, not crash-looped on; a restart converges with no duplicates; a
// reconcile with nothing to change writes nothing, while edited or deleted owned objects are put
// back; a delete collects everything; an object of someone else's under a service's name is
// neither adopted nor deleted; SIGTERM exits 0; a primary region whose pods stop being Ready
// fails over to a standby and back, with the traffic ConfigMap following.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace {

using dso::testing::ChildProcess;
using dso::testing::FakeKubelet;
using dso::testing::LocalCluster;
using nlohmann::json;

constexpr const char* kNs = "operator-it";
const dso::kube::Resource kDss{"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
const dso::kube::Resource kDeployments{"apps", "v1", "deployments", true};

// Polls `check` every 250 ms for up to `seconds`; returns whether it became true.
bool eventually(int seconds, const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return check();
}

int free_port() {
  std::ifstream tcp("/proc/net/tcp");
  const std::string all((std::istreambuf_iterator<char>(tcp)), std::istreambuf_iterator<char>());
  for (int p = 43000 + ::getpid() % 1000; p < 45000; ++p) {
    char hex[8];
    std::snprintf(hex, sizeof hex, ":%04X ", p);
    if (all.find(hex) == std::string::npos) return p;
  }
  return 44999;
}

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = LocalCluster::open();
    client_ = dso::testing::admin_client(cluster_.kubeconfig);
    std::string out;
    const std::string crd =
        std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
    ASSERT_EQ(
        cluster_.sh("kubectl apply -f " + crd +
                        " && kubectl wait --for=condition=Established --timeout=60s "
                        "crd/deepseekservices.inference.deepseek.io && (kubectl create namespace " +
                        std::string(kNs) + " || true)",
                    &out),
        0)
        << out;
    kubelet_ = std::make_unique<FakeKubelet>(client_, kNs);
    kubelet_->add_node("gpu-node-1", 8, {{"topology.kubernetes.io/region", "us-east"}});
    kubelet_->add_node("gpu-node-2", 8, {{"topology.kubernetes.io/region", "us-east"}});
    start_operator();
  }

  void TearDown() override {
    if (operator_) operator_->stop(SIGKILL, 10);
    std::string out;
    cluster_.sh(std::string("kubectl -n ") + kNs + " delete dss --all --wait=false", &out);
  }

  void start_operator() {
    const std::string log = ::testing::TempDir() + "/operator.log";
    health_port_ = free_port();
    operator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DSO_OPERATOR_BINARY, "run", "--kubeconfig",
                                 cluster_.kubeconfig.string(), "--leader-elect=false",
                                 "--health-addr", "127.0.0.1:" + std::to_string(health_port_),
                                 "--log-format", "json", "--namespace", kNs},
        log);
  }

  int apply(const std::string& manifest) {
    std::string out;
    const int rc = cluster_.sh(
        "cat <<'EOF2' | kubectl -n " + std::string(kNs) + " apply -f -\n" + manifest + "\nEOF2",
        &out);
    if (rc != 0) ADD_FAILURE() << out;
    return rc;
  }

  // The operator's API requests with `verb` so far (rest_client_request_duration_seconds counts).
  long requests(const std::string& verb) {
    std::string out;
    if (cluster_.sh("curl -sf http://127.0.0.1:" + std::to_string(health_port_) + "/metrics",
                    &out) != 0) {
      ADD_FAILURE() << "cannot read the operator's /metrics: " << out;
      return -1;
    }
    const std::regex line("rest_client_request_duration_seconds_count\\{([^}]*)\\} ([0-9.e+]+)");
    long n = 0;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
         ++it) {
      if ((*it)[1].str().find("verb=\"" + verb + "\"") != std::string::npos)
        n += static_cast<long>(std::stod((*it)[2]));
    }
    return n;
  }

  json get_dss(const std::string& name) {
    auto o = client_->get(kDss, kNs, name);
    return o ? *o : json();
  }
  json get_deployment(const std::string& name) {
    auto o = client_->get(kDeployments, kNs, name);
    return o ? *o : json();
  }
  std::string condition(const json& dss, const std::string& type) {
    if (!dss.contains("status")) return "";
    for (const auto& c : dss["status"].value("conditions", json::array())) {
      if (c["type"] == type) return c["status"].get<std::string>() + "/" + c.value("reason", "");
    }
    return "";
  }

  LocalCluster cluster_;
  dso::kube::KubeClientPtr client_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<ChildProcess> operator_;
  int health_port_ = 0;
};

std::string service(const std::string& name, const std::string& extra_spec) {
  return "apiVersion: inference.deepseek.io/v1alpha1\nkind: DeepSeekService\nmetadata:\n  name: " +
         name +
         "\nspec:\n  model:\n    name: tiny\n    image: registry.example/server:1\n  resources:\n  "
         "  gpusPerPod: 2\n"
         "    cpu: \"1\"\n    memory: 1Gi\n  regions:\n  - name: us-east\n    nodeSelector:\n"
         "      topology.kubernetes.io/region: us-east\n" +
         extra_spec;
}

TEST_F(OperatorTest, ServiceLifecycle) {
  // Create: objects appear, pods are scheduled on the GPU nodes and become Ready, status fills in.
  ASSERT_EQ(apply(service("chat", "  autoscaling:\n    enabled: false\n  replicas: 2\n")), 0);
  ASSERT_TRUE(eventually(
      60, [&] { return condition(get_dss("chat"), "Ready") == "True/AllReplicasReady"; }))
      << get_dss("chat").dump(2) << "\n"
      << operator_->log_text();
  json dss = get_dss("chat");
  EXPECT_EQ(dss["status"]["ready"], "2/2");
  EXPECT_EQ(dss["status"]["selector"], "inference.deepseek.io/service=chat");
  EXPECT_EQ(dss["status"]["observedGeneration"], dss["metadata"]["generation"]);
  EXPECT_EQ(condition(dss, "Degraded"), "False/AsExpected");
  EXPECT_EQ(condition(dss, "ScalingActive"), "False/AutoscalingDisabled");
  json deployment = get_deployment("chat-us-east");
  ASSERT_FALSE(deployment.is_null());
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                      ["nvidia.com/gpu"],
            "2");
  EXPECT_TRUE(client_->get({"", "v1", "services", true}, kNs, "chat-us-east").has_value());
  std::string out;
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it get pods -l inference.deepseek.io/service=chat -o "
                        "jsonpath='{.items[*].spec.nodeName}'",
                        &out),
            0);
  EXPECT_NE(out.find("gpu-node-"), std::string::npos) << out;

  // kubectl scale dss (autoscaling off): spec.replicas rules.
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it scale dss chat --replicas=3", &out), 0) << out;
  ASSERT_TRUE(eventually(60, [&] { return get_dss("chat")["status"].value("ready", "") == "3/3"; }))
      << get_dss("chat").dump(2);
  EXPECT_EQ(get_deployment("chat-us-east")["spec"]["replicas"], 3);

  // A spec edit rolls out.
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it patch dss chat --type=merge -p "
                        "'{\"spec\":{\"model\":{\"image\":\"registry.example/server:2\"}}}'",
                        &out),
            0)
      << out;
  ASSERT_TRUE(eventually(60, [&] {
    return get_deployment("chat-us-east")["spec"]["template"]["spec"]["containers"][0]["image"] ==
           "registry.example/server:2";
  }));

  // Drift in an owned field (replicas, image) is reverted; a field the operator does not own stays.
  ASSERT_EQ(
      cluster_.sh(
          "kubectl -n operator-it scale deployment chat-us-east --replicas=7 && "
          "kubectl -n operator-it annotate deployment chat-us-east team.example/owner=ml-platform",
          &out),
      0)
      << out;
  ASSERT_TRUE(eventually(30, [&] {
    return get_deployment("chat-us-east")["spec"]["replicas"] == 3;
  })) << get_deployment("chat-us-east")["spec"].dump();
  EXPECT_EQ(
      get_deployment("chat-us-east")["metadata"]["annotations"].value("team.example/owner", ""),
      "ml-platform");

  // Nothing to change: a reconcile (here from a label on the service) writes nothing.
  ASSERT_TRUE(eventually(60, [&] {
    const json d = get_deployment("chat-us-east");
    return d["status"].value("updatedReplicas", 0) == 3 &&
           d["status"].value("readyReplicas", 0) == 3 && d["status"].value("replicas", 0) == 3 &&
           get_dss("chat")["status"].value("ready", "") == "3/3";
  })) << get_deployment("chat-us-east").dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the last status events are handled
  const long patches = requests("PATCH");
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it label dss chat touched=1", &out), 0) << out;
  ASSERT_TRUE(eventually(
      10, [&] { return get_dss("chat")["metadata"]["labels"].value("touched", "") == "1"; }));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the reconcile it triggers is done
  EXPECT_EQ(requests("PATCH"), patches) << "a reconcile with nothing to change wrote";

  // An owned object deleted or edited by hand is put back.
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it delete service chat-us-east && kubectl -n "
                        "operator-it patch pdb chat-us-east --type=merge -p "
                        "'{\"spec\":{\"maxUnavailable\":3}}' && kubectl -n operator-it set "
                        "image deployment/chat-us-east inference=registry.example/other:9",
                        &out),
            0)
      << out;
  EXPECT_TRUE(eventually(30, [&] {
    return client_->get({"", "v1", "services", true}, kNs, "chat-us-east").has_value();
  })) << "the deleted Service was not re-created";
  EXPECT_TRUE(eventually(30, [&] {
    auto pdb =
        client_->get({"policy", "v1beta1", "poddisruptionbudgets", true}, kNs, "chat-us-east");
    return pdb && (*pdb)["spec"].value("maxUnavailable", 0) == 1;
  })) << "the PDB edit was not reverted";
  EXPECT_TRUE(eventually(30, [&] {
    return get_deployment("chat-us-east")["spec"]["template"]["spec"]["containers"][0]["image"] ==
           "registry.example/server:2";
  })) << "the image edit was not reverted";

  // Restarted mid-way: converges with no duplicate objects.
  ASSERT_EQ(operator_->stop(SIGTERM, 30), 0) << operator_->log_text();
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it scale dss chat --replicas=4", &out), 0) << out;
  start_operator();
  ASSERT_TRUE(eventually(60, [&] { return get_dss("chat")["status"].value("ready", "") == "4/4"; }))
      << get_dss("chat").dump(2) << operator_->log_text();
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it get deployments,services,pdb -l "
                        "inference.deepseek.io/service=chat "
                        "-o name | wc -l",
                        &out),
            0);
  EXPECT_EQ(std::stoi(out), 3) << "one Deployment, Service and PDB expected";

  // Delete: everything it owned is collected.
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it delete dss chat", &out), 0) << out;
  EXPECT_TRUE(eventually(60, [&] { return get_deployment("chat-us-east").is_null(); }));
}

TEST_F(OperatorTest, InvalidSpecIsReportedWithoutCrashLooping) {
  ASSERT_EQ(apply(service("broken", "  autoscaling:\n    minReplicas: 5\n    maxReplicas: 2\n")),
            0);
  ASSERT_TRUE(eventually(
      30, [&] { return condition(get_dss("broken"), "Degraded") == "True/InvalidSpec"; }))
      << get_dss("broken").dump(2) << operator_->log_text();
  std::string message;
  const json broken = get_dss("broken");
  for (const auto& c : broken["status"]["conditions"]) {
    if (c["type"] == "Degraded") message = c["message"].get<std::string>();
  }
  EXPECT_NE(message.find("spec.autoscaling.minReplicas (5) > spec.autoscaling.maxReplicas (2)"),
            std::string::npos)
      << get_dss("broken").dump(2);
  EXPECT_TRUE(get_deployment("broken-us-east").is_null())
      << "nothing is built from an invalid spec";
  std::string out;
  cluster_.sh("kubectl -n operator-it get events --field-selector reason=InvalidSpec -o name",
              &out);
  EXPECT_FALSE(out.empty()) << "an InvalidSpec event is recorded";
  // Fixing the spec recovers.
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it patch dss broken --type=merge -p "
                        "'{\"spec\":{\"autoscaling\":{\"minReplicas\":1}}}'",
                        &out),
            0)
      << out;
  EXPECT_TRUE(eventually(60, [&] {
    return condition(get_dss("broken"), "Ready") == "True/AllReplicasReady";
  })) << get_dss("broken").dump(2);
  EXPECT_TRUE(operator_->running());
  EXPECT_EQ(operator_->stop(SIGTERM, 30), 0);
}

TEST_F(OperatorTest, AnExistingObjectOfSomeoneElseIsNeitherAdoptedNorDeleted) {
  // A Deployment someone else made, under the name the service's region would use.
  std::string out;
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it create deployment taken-us-east "
                        "--image=registry.example/theirs:1 --replicas=0",
                        &out),
            0)
      << out;
  const std::string before_uid = get_deployment("taken-us-east")["metadata"]["uid"];
  ASSERT_EQ(apply(service("taken", "")), 0);
  ASSERT_TRUE(eventually(
      30, [&] { return condition(get_dss("taken"), "Degraded") == "True/NameConflict"; }))
      << get_dss("taken").dump(2) << operator_->log_text();
  json theirs = get_deployment("taken-us-east");
  EXPECT_FALSE(theirs["metadata"].contains("ownerReferences")) << theirs.dump(2);
  EXPECT_EQ(theirs["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example/theirs:1");
  cluster_.sh("kubectl -n operator-it get events --field-selector reason=NameConflict -o name",
              &out);
  EXPECT_FALSE(out.empty()) << "a NameConflict event is recorded";

  // Deleting the service leaves their Deployment: it was never the service's. Foreground
  // deletion: the service is gone only once the garbage collector has deleted its dependents.
  dso::kube::DeleteOptions foreground;
  foreground.propagation = dso::kube::Propagation::kForeground;
  ASSERT_TRUE(client_->remove(kDss, kNs, "taken", foreground));
  ASSERT_TRUE(eventually(60, [&] { return get_dss("taken").is_null(); }));
  ASSERT_EQ(cluster_.sh("kubectl -n operator-it get deployment taken-us-east -o name", &out), 0)
      << out;
  EXPECT_EQ(get_deployment("taken-us-east")["metadata"]["uid"], before_uid);
  EXPECT_TRUE(operator_->running());
}

TEST_F(OperatorTest, FailsOverToAStandbyRegionAndBack) {
  kubelet_->add_node("gpu-node-eu", 8, {{"topology.kubernetes.io/region", "eu-west"}});
  const std::string extra =
      "    role: primary\n"
      "  - name: eu-west\n    role: standby\n    minReplicas: 1\n    nodeSelector:\n"
      "      topology.kubernetes.io/region: eu-west\n"
      "  autoscaling:\n    enabled: false\n  replicas: 3\n"
      "  failover:\n    unhealthyAfter: 3s\n    healthyAfter: 5s\n"
      "    trafficPublication:\n      configMapName: ha-traffic\n";
  ASSERT_EQ(apply(service("ha", extra)), 0);
  const dso::kube::Resource config_maps{"", "v1", "configmaps", true};
  auto traffic = [&] {
    auto c = client_->get(config_maps, kNs, "ha-traffic");
    return c ? (*c)["data"] : json();
  };
  auto primary = [&] { return get_dss("ha")["status"].value("primaryRegion", ""); };
  auto replicas = [&](const std::string& region) {
    return get_deployment("ha-" + region)["spec"].value("replicas", -1);
  };
  ASSERT_TRUE(eventually(60,
                         [&] {
                           return condition(get_dss("ha"), "Ready") == "True/AllReplicasReady" &&
                                  traffic().value("us-east", "") == "100";
                         }))
      << get_dss("ha").dump(2) << traffic().dump() << operator_->log_text();
  EXPECT_EQ(primary(), "us-east");
  EXPECT_EQ(replicas("us-east"), 3);
  EXPECT_EQ(replicas("eu-west"), 1);
  EXPECT_EQ(traffic().value("primary", ""), "us-east");
  EXPECT_EQ(traffic().value("eu-west", ""), "0");

  // us-east's pods stop being Ready: after unhealthyAfter (a requeue, no watch event), eu-west
  // takes the replicas and the traffic; us-east keeps one replica.
  const auto down_at = std::chrono::steady_clock::now();
  kubelet_->set_unready({{"inference.deepseek.io/region", "us-east"}});
  ASSERT_TRUE(eventually(60, [&] { return primary() == "eu-west"; }))
      << get_dss("ha").dump(2) << operator_->log_text();
  EXPECT_GE(std::chrono::steady_clock::now() - down_at, std::chrono::seconds(3));
  ASSERT_TRUE(eventually(30,
                         [&] {
                           return replicas("eu-west") == 3 && replicas("us-east") == 1 &&
                                  traffic().value("primary", "") == "eu-west" &&
                                  traffic().value("eu-west", "") == "100" &&
                                  traffic().value("us-east", "") == "0";
                         }))
      << get_dss("ha").dump(2) << traffic().dump();
  std::string out;
  cluster_.sh(
      "kubectl -n operator-it get events --field-selector reason=FailedOver "
      "-o jsonpath='{.items[*].message}'",
      &out);
  EXPECT_NE(out.find("region us-east: 0/3 ready for"), std::string::npos) << out;
  EXPECT_NE(out.find("standby eu-west"), std::string::npos) << out;

  // us-east recovers: after healthyAfter it is the primary again.
  kubelet_->set_unready({});
  ASSERT_TRUE(eventually(60, [&] { return primary() == "us-east"; }))
      << get_dss("ha").dump(2) << operator_->log_text();
  ASSERT_TRUE(eventually(30,
                         [&] {
                           return replicas("us-east") == 3 && replicas("eu-west") == 1 &&
                                  traffic().value("primary", "") == "us-east" &&
                                  traffic().value("us-east", "") == "100";
                         }))
      << get_dss("ha").dump(2) << traffic().dump();
  cluster_.sh(
      "kubectl -n operator-it get events --field-selector reason=FailingBack "
      "-o jsonpath='{.items[*].message}'",
      &out);
  EXPECT_NE(out.find("scaling it to 3 replicas before it takes over from eu-west"),
            std::string::npos)
      << "failback scales us-east up first: " << out;
  cluster_.sh(
      "kubectl -n operator-it get events --field-selector reason=FailedBack "
      "-o jsonpath='{.items[*].message}'",
      &out);
  EXPECT_NE(out.find("/3 ready after"), std::string::npos) << out;  // judged at the full size

  ASSERT_EQ(cluster_.sh("kubectl -n operator-it delete dss ha", &out), 0) << out;
  EXPECT_TRUE(eventually(60, [&] {
    return !client_->get(config_maps, kNs, "ha-traffic").has_value();
  })) << "the ConfigMap is owned by the service";
  cluster_.sh("kubectl delete node gpu-node-eu --wait=false", &out);
}

}  // namespace
