#include "controller/desired_objects.h"

#include <gtest/gtest.h>

namespace dso::controller {
namespace {

using nlohmann::json;

api::DeepSeekService service() {
  json object = {
      {"apiVersion", api::kApiVersion},
      {"kind", api::kKind},
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}, {"uid", "1234-uid"}, {"generation", 3}}},
      {"spec",
       {{"model",
         {{"name", "deepseek-chat"},
          {"image", "registry.example/server:1"},
          {"args", json::array({"--max-batch-size=16"})},
          {"env", json::array({{{"name", "LOG_FORMAT"}, {"value", "json"}}})},
          {"source", {{"pvc", {{"claimName", "weights"}}}}},
          {"preload", {{"loadTimeout", "15m"}}}}},
        {"resources", {{"gpusPerPod", 8}, {"gpuType", "H100"}, {"priorityClassName", "critical"}}},
        {"regions", json::array({{{"name", "us"},
                                  {"role", "primary"},
                                  {"nodeSelector", {{"region", "us"}}},
                                  {"maxReplicas", 20}},
                                 {{"name", "eu"}, {"role", "standby"}, {"minReplicas", 2}}})},
        {"drain", {{"terminationGracePeriodSeconds", 600}}}}}};
  return api::parse_deepseek_service(object).value();
}

BuildOptions options(int replicas, std::string pdb = "policy/v1", bool same_cluster = true,
                     std::string ns = "") {
  BuildOptions o;
  o.replicas = replicas;
  o.pdb_api_version = std::move(pdb);
  o.same_cluster = same_cluster;
  o.target_namespace = std::move(ns);
  return o;
}

TEST(DesiredObjects, DeploymentRunsTheModelOnGpusWithRestrictedSecurity) {
  const auto dss = service();
  const auto objects = build_region_objects(dss, dss.spec.regions[0], options(4));
  const json& d = objects.deployment;
  EXPECT_EQ(d["metadata"]["name"], "chat-us");
  EXPECT_EQ(d["metadata"]["namespace"], "ml");
  EXPECT_EQ(d["metadata"]["ownerReferences"][0]["uid"], "1234-uid");
  EXPECT_EQ(d["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "deepseek-operator");
  EXPECT_EQ(d["spec"]["replicas"], 4);
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"][kServiceLabel], "chat");
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"][kRegionLabel], "us");
  EXPECT_EQ(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);

  const json& pod = d["spec"]["template"]["spec"];
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 600);
  EXPECT_EQ(pod["nodeSelector"]["region"], "us");
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.product"], "H100");
  EXPECT_EQ(pod["priorityClassName"], "critical");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "registry.example/server:1");
  EXPECT_EQ(c["args"][0], "--max-batch-size=16");
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "8");
  EXPECT_EQ(c["resources"]["requests"]["nvidia.com/gpu"], "8");
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0], "ALL");
  // 15 minutes of model load at a 10 s probe period.
  EXPECT_EQ(c["startupProbe"]["failureThreshold"], 90);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  // The PVC is mounted read-only where the server is told to look; user env comes last.
  EXPECT_EQ(pod["volumes"][1]["persistentVolumeClaim"]["claimName"], "weights");
  EXPECT_EQ(c["volumeMounts"][1]["mountPath"], "/models");
  EXPECT_EQ(c["env"].back()["name"], "LOG_FORMAT");
  // The server's own variables (inference/server_contract.h): 600 s of grace less the 10 s preStop
  // and 5 s to exit; the model directory is the mount.
  std::map<std::string, std::string> env;
  for (const json& e : c["env"]) env[e["name"]] = e.value("value", "");
  EXPECT_EQ(env["DEEPSEEK_INFERENCE_DRAIN_TIMEOUT_S"], "585") << c["env"].dump();
  EXPECT_EQ(env["DEEPSEEK_INFERENCE_MODEL_NAME"], "deepseek-chat");
  EXPECT_EQ(env["DEEPSEEK_INFERENCE_MODEL"], "/models");
  EXPECT_EQ(env["DEEPSEEK_INFERENCE_PORT"], "8000");
  EXPECT_EQ(c["lifecycle"]["preStop"]["exec"]["command"], json::array({"sleep", "10"}));
}

TEST(DesiredObjects, ServiceAndPdbSelectTheRegionsPods) {
  const auto dss = service();
  const auto objects = build_region_objects(dss, dss.spec.regions[1], options(2, "policy/v1beta1"));
  EXPECT_EQ(objects.service["spec"]["selector"][kRegionLabel], "eu");
  EXPECT_EQ(objects.service["spec"]["ports"][0]["targetPort"], "http");
  EXPECT_EQ(objects.pdb["apiVersion"], "policy/v1beta1");
  EXPECT_EQ(objects.pdb["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(objects.pdb["spec"]["selector"]["matchLabels"][kRegionLabel], "eu");
}

TEST(DesiredObjects, OtherClustersGetNoOwnerReferences) {
  const auto dss = service();
  const auto objects =
      build_region_objects(dss, dss.spec.regions[1], options(1, "policy/v1", false, "remote"));
  EXPECT_FALSE(objects.deployment["metadata"].contains("ownerReferences"));
  EXPECT_EQ(objects.deployment["metadata"]["namespace"], "remote");
}

TEST(DesiredObjects, LongNamesStayValidAndStable) {
  auto dss = service();
  dss.metadata.name = std::string(60, 'a');
  const std::string name = region_object_name(dss, dss.spec.regions[0]);
  EXPECT_LE(name.size(), 63u);
  EXPECT_EQ(name, region_object_name(dss, dss.spec.regions[0]));
  dss.metadata.name = std::string(59, 'a') + "b";
  EXPECT_NE(name, region_object_name(dss, dss.spec.regions[0]));
}

TEST(DesiredObjects, PrimaryTakesTheTotalStandbysStayWarm) {
  const auto dss = service();
  EXPECT_EQ(plan_region_replicas(dss.spec, 5), (std::map<std::string, int>{{"us", 5}, {"eu", 2}}));
  EXPECT_EQ(plan_region_replicas(dss.spec, 50),
            (std::map<std::string, int>{{"us", 20}, {"eu", 2}}));
  EXPECT_EQ(plan_region_replicas(dss.spec, 0), (std::map<std::string, int>{{"us", 0}, {"eu", 2}}));
}

TEST(DesiredObjects, SelectorMatchesEveryRegion) {
  EXPECT_EQ(service_selector(service()), "inference.deepseek.io/service=chat");
}

TEST(AppliedHash, StableAndChangesWithTheObject) {
  const auto dss = service();
  const auto a = build_region_objects(dss, dss.spec.regions[0], options(4));
  const json stamped = with_applied_hash(a.deployment);
  const std::string hash = stamped["metadata"]["annotations"][kAppliedHashAnnotation];
  EXPECT_EQ(hash.size(), 16u);
  EXPECT_EQ(with_applied_hash(stamped), stamped);  // the annotation itself is not hashed
  EXPECT_EQ(
      with_applied_hash(build_region_objects(dss, dss.spec.regions[0], options(4)).deployment),
      stamped);
  const auto scaled = build_region_objects(dss, dss.spec.regions[0], options(5));
  EXPECT_NE(with_applied_hash(scaled.deployment)["metadata"]["annotations"][kAppliedHashAnnotation],
            hash);
}

TEST(ClusterHolds, IgnoresWhatOthersAddButNotWhatTheOperatorOwns) {
  const auto dss = service();
  const auto objects = build_region_objects(dss, dss.spec.regions[0], options(4));
  const json desired = with_applied_hash(objects.deployment);
  json cluster = desired;
  cluster.erase("apiVersion");  // list items come without them
  cluster.erase("kind");
  cluster["metadata"]["resourceVersion"] = "42";
  cluster["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3";
  cluster["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] = "File";
  cluster["spec"]["template"]["spec"]["schedulerName"] = "default-scheduler";
  cluster["spec"]["replicas"] = 4u;  // parsed JSON: unsigned; the builder's: signed
  cluster["status"] = {{"readyReplicas", 4}};
  EXPECT_TRUE(cluster_holds(desired, cluster));

  EXPECT_FALSE(cluster_holds(desired, json()));  // missing
  json edited = cluster;
  edited["spec"]["template"]["spec"]["containers"][0]["image"] = "other:1";
  EXPECT_FALSE(cluster_holds(desired, edited));
  edited = cluster;
  edited["spec"]["replicas"] = 9;
  EXPECT_FALSE(cluster_holds(desired, edited));
  edited = cluster;
  edited["spec"]["template"]["spec"].erase("nodeSelector");  // an owned field removed
  EXPECT_FALSE(cluster_holds(desired, edited));
  edited = cluster;
  edited["spec"]["template"]["spec"]["containers"][0]["args"].push_back("--extra");  // list grew
  EXPECT_FALSE(cluster_holds(desired, edited));
  edited = cluster;
  edited["metadata"]["annotations"].erase(kAppliedHashAnnotation);  // applied before this version
  EXPECT_FALSE(cluster_holds(desired, edited));
  EXPECT_FALSE(cluster_holds(objects.deployment, cluster));  // an unstamped desired never matches

  // The desired object dropped a field an earlier apply set: the cluster still has every field of
  // the new desired object, but only the hash tells that the apply (which removes it) is owed.
  auto dropped = objects.deployment;
  dropped["spec"]["template"]["spec"].erase("priorityClassName");
  EXPECT_FALSE(cluster_holds(with_applied_hash(dropped), cluster));
}

}  // namespace
}  // namespace dso::controller
