// The DeepSeekService CRD on a real kube-apiserver: it installs, the samples are accepted with
// their defaults filled in, the scale subresource works, and bad specs are rejected by the API
// server with a message naming the field.
#include <gtest/gtest.h>

#include <string>

#include "support/local_cluster.h"

namespace {

using dso::testing::LocalCluster;

class CrdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const LocalCluster cluster = LocalCluster::open();
    std::string out;
    const std::string crd =
        std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
    ASSERT_EQ(cluster.sh("kubectl apply -f " + crd, &out), 0) << out;
    ASSERT_EQ(
        cluster.sh(dso::testing::wait_established("crd/deepseekservices.inference.deepseek.io"),
                   &out),
        0)
        << out;
    ASSERT_EQ(cluster.sh(
                  "kubectl create namespace crd-test --dry-run=client -o yaml | kubectl apply -f -",
                  &out),
              0)
        << out;
  }

  // Applies a manifest given inline; returns the exit status, output in *out. Client-side
  // validation is off so that the API server itself is what accepts or rejects.
  static int apply(const std::string& manifest, std::string* out) {
    return LocalCluster::open().sh(
        "cat <<'MANIFEST' | kubectl -n crd-test apply --validate=false -f -\n" + manifest +
            "\nMANIFEST",
        out);
  }

  static std::string get(const std::string& name, const std::string& jsonpath) {
    std::string out;
    LocalCluster::open().sh(
        "kubectl -n crd-test get dss " + name + " -o jsonpath='" + jsonpath + "'", &out);
    return out;
  }
};

std::string with_spec(const std::string& name, const std::string& spec_body) {
  return "apiVersion: inference.deepseek.io/v1alpha1\nkind: DeepSeekService\nmetadata:\n  name: " +
         name + "\nspec:\n" + spec_body;
}

const char* const kModel = "  model:\n    name: m\n    image: example.invalid/server:1\n";

TEST_F(CrdTest, SamplesAreAcceptedAndDefaultsFilledIn) {
  const LocalCluster cluster = LocalCluster::open();
  std::string out;
  const std::string samples = std::string(DSO_SOURCE_DIR) + "/crds/samples";
  ASSERT_EQ(cluster.sh("kubectl -n crd-test apply -f " + samples + "/minimal.yaml -f " + samples +
                           "/full.yaml",
                       &out),
            0)
      << out;
  EXPECT_EQ(get("chat-small", "{.spec.model.port}"), "8000");
  EXPECT_EQ(get("chat-small", "{.spec.autoscaling.predictive.mode}"), "Auto");
  EXPECT_EQ(get("chat-small", "{.spec.autoscaling.metrics[0].type}"), "RequestsPerSecond");
  EXPECT_EQ(get("chat-small", "{.spec.regions[0].name}/{.spec.regions[0].role}"),
            "default/primary");
  EXPECT_EQ(get("chat-small", "{.spec.failover.unhealthyAfter}"), "2m");
  EXPECT_EQ(get("chat-large", "{.spec.regions[1].name}/{.spec.regions[1].role}"),
            "us-west/standby");
  EXPECT_EQ(get("chat-large", "{.spec.autoscaling.behavior.scaleDown.selectPolicy}"), "Max");
}

TEST_F(CrdTest, ShortNameCategoryAndPrinterColumns) {
  const LocalCluster cluster = LocalCluster::open();
  std::string out;
  ASSERT_EQ(apply(with_spec("columns", kModel), &out), 0) << out;
  ASSERT_EQ(cluster.sh("kubectl -n crd-test get dss columns", &out), 0) << out;
  // What an admin watches (`kubectl get dss -w`): readiness, the replicas set, the bounds, whether
  // the autoscaler acts, the primary; -o wide adds the mode and the forecast.
  for (const char* column : {"READY", "DESIRED", "MIN", "MAX", "ACTING", "PRIMARY", "AGE"}) {
    EXPECT_NE(out.find(column), std::string::npos) << column << " missing in:\n" << out;
  }
  EXPECT_EQ(out.find("NEXT-FORECAST"), std::string::npos) << out;
  ASSERT_EQ(cluster.sh("kubectl -n crd-test get dss columns -o wide", &out), 0) << out;
  for (const char* column : {"MODE", "NEXT-FORECAST"}) {
    EXPECT_NE(out.find(column), std::string::npos) << column << " missing in:\n" << out;
  }
  ASSERT_EQ(cluster.sh("kubectl -n crd-test get all -o name", &out), 0) << out;
  EXPECT_NE(out.find("deepseekservice.inference.deepseek.io/columns"), std::string::npos) << out;
}

TEST_F(CrdTest, ScaleSubresourceSetsSpecReplicas) {
  const LocalCluster cluster = LocalCluster::open();
  std::string out;
  ASSERT_EQ(apply(with_spec("scalable", std::string(kModel) + "  replicas: 1\n"), &out), 0) << out;
  ASSERT_EQ(cluster.sh("kubectl -n crd-test scale dss scalable --replicas=3", &out), 0) << out;
  EXPECT_EQ(get("scalable", "{.spec.replicas}"), "3");
}

struct Rejection {
  const char* what;
  std::string spec;
  const char* expected_in_message;
};

// kube-apiserver 1.20 names fields inside arrays without the index (spec.regions.role).
TEST_F(CrdTest, InvalidSpecsAreRejectedWithTheFieldNamed) {
  const std::vector<Rejection> cases = {
      {"negative replicas", std::string(kModel) + "  replicas: -1\n", "spec.replicas"},
      {"missing image", "  model:\n    name: m\n", "spec.model.image"},
      {"missing model", "  replicas: 1\n", "spec.model"},
      {"unknown predictive mode",
       std::string(kModel) + "  autoscaling:\n    predictive:\n      mode: Sometimes\n",
       "spec.autoscaling.predictive.mode"},
      {"unknown metric type",
       std::string(kModel) + "  autoscaling:\n    metrics:\n    - {type: Vibes, target: 1}\n",
       "spec.autoscaling.metrics.type"},
      {"zero metric target",
       std::string(kModel) + "  autoscaling:\n    metrics:\n    - {type: QueueDepth, target: 0}\n",
       "spec.autoscaling.metrics.target"},
      {"bad duration",
       std::string(kModel) + "  autoscaling:\n    predictive:\n      history: fortnight\n",
       "spec.autoscaling.predictive.history"},
      {"quantile out of range",
       std::string(kModel) + "  autoscaling:\n    predictive:\n      quantile: 1.5\n",
       "spec.autoscaling.predictive.quantile"},
      {"unknown region role", std::string(kModel) + "  regions:\n  - {name: a, role: leader}\n",
       "spec.regions.role"},
      {"bad region name", std::string(kModel) + "  regions:\n  - {name: US_East}\n",
       "spec.regions.name"},
      {"duplicate region", std::string(kModel) + "  regions:\n  - {name: a}\n  - {name: a}\n",
       "spec.regions[1]"},
      {"too many GPUs", std::string(kModel) + "  resources:\n    gpusPerPod: 64\n",
       "spec.resources.gpusPerPod"},
      {"two model sources",
       std::string(kModel) + "    source:\n      pvc: {claimName: w}\n      uri: s3://b/m\n",
       "spec.model.source"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::string out;
    const int status = apply(with_spec("bad-" + std::to_string(i), cases[i].spec), &out);
    EXPECT_NE(status, 0) << cases[i].what << " was accepted:\n" << out;
    EXPECT_NE(out.find(cases[i].expected_in_message), std::string::npos)
        << cases[i].what << ": message does not name " << cases[i].expected_in_message << ":\n"
        << out;
  }
}

}  // namespace
