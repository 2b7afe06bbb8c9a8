// The live chart (charts/deepseek-operator through helm template) through dso-chart-render: the
// chart is the one source of the scrape labels, so its PodMonitor and the operator's flags are
// read from a fresh render here, and the output is checked with promtool.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace dso::chart_render {
namespace {

using kube::Json;
using testing::parse_yaml;
using testing::render_chart;
using testing::run;
using testing::scrape_config_args;

Json pod_monitor_spec(const std::string& manifests) {
  for (const auto& doc : parse_yaml(manifests))
    if (doc.is_object() && doc.value("kind", "") == "PodMonitor") return doc.at("spec");
  ADD_FAILURE() << "no PodMonitor in the render";
  return nullptr;
}

Json relabel_rules(const std::string& manifests) {
  const auto r = run(scrape_config_args(), manifests);
  EXPECT_EQ(r.status, 0) << r.err;
  return parse_yaml(r.out).at(0).at("scrape_configs").at(0).at("relabel_configs");
}

std::vector<std::string> operator_args(const std::string& manifests) {
  const auto r = run({"operator-args", "--manifests", "-"}, manifests);
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The rule that copies `source` into `target`, or null.
Json copy_rule(const Json& rules, const std::string& source, const std::string& target) {
  for (const auto& r : rules)
    if (r.value("target_label", "") == target && r.contains("source_labels") &&
        r.at("source_labels") == Json::array({source}))
      return r;
  return nullptr;
}

TEST(LiveChart, RendersTheCheckedInFixture) {
  EXPECT_EQ(pod_monitor_spec(render_chart()),
            pod_monitor_spec(testing::read_file(testing::testdata("chart-podmonitor.yaml"))))
      << "the chart's PodMonitor changed: render tests/unit/chart_render/testdata/"
         "chart-podmonitor.yaml again (command in its header) and review the rules";
}

TEST(LiveChart, DefaultLabelsAgreeWithTheOperatorFlags) {
  const std::string manifests = render_chart();
  const Json rules = relabel_rules(manifests);
  EXPECT_FALSE(
      copy_rule(rules, "__meta_kubernetes_pod_label_app_kubernetes_io_instance", "deepseek_service")
          .is_null());
  EXPECT_FALSE(copy_rule(rules, "__meta_kubernetes_namespace", "namespace").is_null());
  EXPECT_FALSE(copy_rule(rules, "__meta_kubernetes_pod_label_inference_deepseek_io_region",
                         "deepseek_region")
                   .is_null());
  const auto args = operator_args(manifests);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args.front(), "run");
  EXPECT_TRUE(has(args, "--prometheus-namespace-label=namespace"));
  EXPECT_TRUE(has(args, "--prometheus-service-label=deepseek_service"));
}

TEST(LiveChart, ServiceAndNamespaceLabelValues) {
  const std::string manifests =
      render_chart("--set prometheus.serviceLabel=svc --set prometheus.namespaceLabel=ns");
  const Json rules = relabel_rules(manifests);
  // The user's relabelings run after the operator's own rules, so they see its labels.
  EXPECT_FALSE(
      copy_rule(rules, "__meta_kubernetes_pod_label_app_kubernetes_io_instance", "svc").is_null());
  EXPECT_FALSE(copy_rule(rules, "__meta_kubernetes_namespace", "ns").is_null());
  EXPECT_TRUE(
      copy_rule(rules, "__meta_kubernetes_pod_label_app_kubernetes_io_instance", "deepseek_service")
          .is_null());
  const auto args = operator_args(manifests);
  EXPECT_TRUE(has(args, "--prometheus-namespace-label=ns"));
  EXPECT_TRUE(has(args, "--prometheus-service-label=svc"));
}

TEST(LiveChart, NamespaceScopeDiscoversTheWatchedNamespaces) {
  const std::string manifests =
      render_chart("--set scope=namespace --set 'watchNamespaces={apps-a,apps-b}'");
  const auto r = run(scrape_config_args(), manifests);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(parse_yaml(r.out)
                .at(0)
                .at("scrape_configs")
                .at(0)
                .at("kubernetes_sd_configs")
                .at(0)
                .at("namespaces"),
            Json({{"names", {"apps-a", "apps-b"}}}));
}

TEST(LiveChart, PromtoolAcceptsTheConfig) {
  const std::string manifests = render_chart("--set prometheus.serviceLabel=svc");
  const auto r = run({"scrape-config", "--manifests", "-", "--pod-sd-url", "http://127.0.0.1:1",
                      "--scrape-interval", "1s"},
                     manifests);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto check =
      testing::sh("promtool check config '" + testing::write_temp("http-sd.yml", r.out) + "'");
  EXPECT_EQ(check.status, 0) << check.output << r.out;
}

TEST(LiveChart, PromtoolAcceptsTheKubernetesSdConfig) {
  if (!testing::promtool_has_kubernetes_sd()) {
    GTEST_SKIP() << "this promtool has no kubernetes_sd_configs (Debian builds Prometheus without "
                    "Kubernetes discovery); the http_sd variant with the same rules is checked";
  }
  const auto r = run(scrape_config_args(), render_chart());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto check = testing::sh("promtool check config --syntax-only '" +
                                 testing::write_temp("k8s-sd.yml", r.out) + "'");
  EXPECT_EQ(check.status, 0) << check.output << r.out;
}

TEST(LiveChart, WithoutThePodMonitor) {
  const auto out =
      run(scrape_config_args(), testing::render_chart("--set metrics.podMonitor.enabled=false"));
  EXPECT_EQ(out.status, 1);
  EXPECT_EQ(out.err,
            "dso-chart-render scrape-config: no PodMonitor (monitoring.coreos.com/v1) in the "
            "manifests: render the chart with --set metrics.podMonitor.enabled=true\n");
}

}  // namespace
}  // namespace dso::chart_render
