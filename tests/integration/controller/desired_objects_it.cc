// The objects the controller builds, applied to a real kube-apiserver 1.20 with server-side apply:
// they are accepted as built (PDB at policy/v1beta1 there), owned by the DeepSeekService, read
// back as holding what was applied (cluster_holds: server defaulting does not make every
// reconcile re-apply them) until an owned field is edited, and garbage-collected by the real
// kube-controller-manager when the service is deleted.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "controller/desired_objects.h"
#include "support/local_cluster.h"

namespace {

using dso::testing::LocalCluster;
using nlohmann::json;

std::string kubectl_json(const LocalCluster& cluster, const std::string& args) {
  std::string out;
  if (cluster.sh("kubectl " + args + " -o json 2>/dev/null", &out) != 0) return "";
  return out;
}

TEST(DesiredObjectsOnApiServer, AppliedOwnedAndCollected) {
  const LocalCluster cluster = LocalCluster::open();
  std::string out;
  const std::string crd =
      std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
  ASSERT_EQ(
      cluster.sh("kubectl apply -f " + crd + " && " +
                     dso::testing::wait_established("crd/deepseekservices.inference.deepseek.io") +
                     " && "
                     "(kubectl create namespace desired || true) && "
                     "kubectl -n desired apply -f " +
                     std::string(DSO_SOURCE_DIR) + "/crds/samples/full.yaml",
                 &out),
      0)
      << out;
  const std::string object = kubectl_json(cluster, "-n desired get dss chat-large");
  ASSERT_FALSE(object.empty());
  const auto dss = dso::api::parse_deepseek_service(json::parse(object));
  ASSERT_TRUE(dss.has_value()) << dss.error();
  ASSERT_TRUE(dso::api::validate(dss->spec).empty());

  const auto replicas = dso::controller::plan_region_replicas(dss->spec, 3);
  const auto& primary = *dso::api::primary_region(dss->spec);
  dso::controller::BuildOptions options;
  options.replicas = replicas.at(primary.name);
  options.pdb_api_version = "policy/v1beta1";  // a 1.20 server
  auto objects = dso::controller::build_region_objects(*dss, primary, options);
  // As the reconciler applies them: stamped with the applied-hash annotation.
  for (json* o : {&objects.deployment, &objects.service, &objects.pdb})
    *o = dso::controller::with_applied_hash(*o);

  const std::string file = ::testing::TempDir() + "/desired.json";
  {
    std::ofstream f(file);
    f << json{{"apiVersion", "v1"},
              {"kind", "List"},
              {"items", json::array({objects.deployment, objects.service, objects.pdb})}}
             .dump();
  }
  ASSERT_EQ(
      cluster.sh("kubectl apply --server-side --field-manager=deepseek-operator -f " + file, &out),
      0)
      << out;

  const json deployment = json::parse(
      kubectl_json(cluster, "-n desired get deployment chat-large-us-east --show-managed-fields"));
  EXPECT_EQ(deployment["spec"]["replicas"], 3);
  EXPECT_EQ(deployment["metadata"]["ownerReferences"][0]["name"], "chat-large");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                      ["nvidia.com/gpu"],
            "8");
  bool managed = false;
  for (const json& f : deployment.at("metadata").at("managedFields"))
    managed |= f.at("manager") == "deepseek-operator";
  EXPECT_TRUE(managed);
  EXPECT_FALSE(kubectl_json(cluster, "-n desired get service chat-large-us-east").empty());
  EXPECT_FALSE(kubectl_json(cluster, "-n desired get pdb chat-large-us-east").empty());

  // What the server holds (defaults added, quantities as stored) still holds every applied field.
  for (const auto& [what, desired] :
       {std::pair{"deployment", &objects.deployment}, std::pair{"service", &objects.service},
        std::pair{"pdb", &objects.pdb}}) {
    const json got = json::parse(
        kubectl_json(cluster, std::string("-n desired get ") + what + " chat-large-us-east"));
    EXPECT_TRUE(dso::controller::cluster_holds(*desired, got))
        << what << ": " << got.dump(2) << "\nwanted: " << desired->dump(2);
  }

  // Applying the same objects again changes nothing (no new generation).
  ASSERT_EQ(
      cluster.sh("kubectl apply --server-side --field-manager=deepseek-operator -f " + file, &out),
      0)
      << out;
  EXPECT_EQ(json::parse(kubectl_json(
                cluster, "-n desired get deployment chat-large-us-east"))["metadata"]["generation"],
            deployment["metadata"]["generation"]);

  // An owned field edited by someone else no longer holds: the reconciler would apply again.
  ASSERT_EQ(cluster.sh("kubectl -n desired set image deployment/chat-large-us-east "
                       "inference=registry.example/other:9",
                       &out),
            0)
      << out;
  EXPECT_FALSE(dso::controller::cluster_holds(
      objects.deployment,
      json::parse(kubectl_json(cluster, "-n desired get deployment chat-large-us-east"))));

  // Deleting the service garbage-collects what it owns (the real garbage collector).
  ASSERT_EQ(cluster.sh("kubectl -n desired delete dss chat-large --wait=true", &out), 0) << out;
  bool gone = false;
  for (int i = 0; i < 120 && !gone; ++i) {
    gone = kubectl_json(cluster, "-n desired get deployment chat-large-us-east").empty() &&
           kubectl_json(cluster, "-n desired get service chat-large-us-east").empty() &&
           kubectl_json(cluster, "-n desired get pdb chat-large-us-east").empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(gone) << "owned objects still present 60 s after the DeepSeekService was deleted";
}

}  // namespace
