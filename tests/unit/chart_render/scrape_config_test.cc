// The scrape jobs dso-chart-render generates for PodMonitors, against the Prometheus Operator's
// own golden files and a checked-in render of the chart.
#include "chart_render/scrape_config.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace dso::chart_render {
namespace {

using kube::Json;
using testing::parse_yaml;
using testing::read_file;
using testing::run;
using testing::scrape_config_args;
using testing::testdata;

// scrape_configs[0] of a rendered prometheus.yml.
Json first_job(const std::string& prometheus_yml) {
  const auto docs = parse_yaml(prometheus_yml);
  EXPECT_EQ(docs.size(), 1u);
  return docs.at(0).at("scrape_configs").at(0);
}

// A golden file's job without the sharding rules (dso-chart-render leaves them out on purpose).
Json upstream_job(const std::string& golden) {
  Json job = first_job(read_file(testdata("upstream/" + golden)));
  Json rules = Json::array();
  for (const auto& r : job["relabel_configs"])
    if (!r.dump().contains("__tmp_hash")) rules.push_back(r);
  job["relabel_configs"] = rules;
  return job;
}

std::string render(const std::string& manifests, const std::vector<std::string>& more = {}) {
  const auto r = run(scrape_config_args(more), manifests);
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

void expect_same_job(const Json& ours, const Json& upstream) {
  for (const char* key : {"job_name", "honor_labels", "scrape_interval", "relabel_configs"})
    EXPECT_EQ(ours.at(key), upstream.at(key)) << key;
  const Json& sd = ours.at("kubernetes_sd_configs").at(0);
  const Json& want = upstream.at("kubernetes_sd_configs").at(0);
  EXPECT_EQ(sd.at("role"), want.at("role"));
  EXPECT_EQ(sd.at("namespaces"), want.at("namespaces"));
}

TEST(UpstreamGolden, MatchLabelsSelectorAndPort) {
  // promcfg_test.go defaultPodMonitor().
  const std::string pod_monitor = R"(
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: defaultPodMonitor, namespace: default, labels: {group: group1}}
spec:
  selector: {matchLabels: {group: group1}}
  podMetricsEndpoints: [{port: web, interval: 30s}]
)";
  expect_same_job(first_job(render(pod_monitor)),
                  upstream_job("PromAgentDaemonSetPodMonitorConfig.golden"));
}

TEST(UpstreamGolden, PodTargetLabels) {
  const std::string pod_monitor = R"(
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: testpodmonitor1, namespace: default, labels: {group: group1}}
spec:
  podTargetLabels: [example, env]
  podMetricsEndpoints: [{port: web, interval: 30s}]
)";
  expect_same_job(first_job(render(pod_monitor)),
                  upstream_job("PodTargetLabelsFromPodMonitor.golden"));
}

// The label contract of docs/metrics.md as the chart's PodMonitor writes it.
Json chart_relabel_rules(const std::string& service_label = "deepseek_service") {
  const std::string label = "__meta_kubernetes_pod_label_";
  const std::string present = "__meta_kubernetes_pod_labelpresent_";
  return Json::array({
      {{"source_labels", {"job"}}, {"target_label", "__tmp_prometheus_job_name"}},
      {{"source_labels", {"__meta_kubernetes_pod_phase"}},
       {"regex", "(Failed|Succeeded)"},
       {"action", "drop"}},
      {{"source_labels",
        {label + "app_kubernetes_io_component", present + "app_kubernetes_io_component"}},
       {"regex", "(inference);true"},
       {"action", "keep"}},
      {{"source_labels",
        {label + "app_kubernetes_io_managed_by", present + "app_kubernetes_io_managed_by"}},
       {"regex", "(deepseek-operator);true"},
       {"action", "keep"}},
      {{"source_labels", {"__meta_kubernetes_pod_container_port_name"}},
       {"regex", "http"},
       {"action", "keep"}},
      {{"source_labels", {"__meta_kubernetes_namespace"}}, {"target_label", "namespace"}},
      {{"source_labels", {"__meta_kubernetes_pod_container_name"}}, {"target_label", "container"}},
      {{"source_labels", {"__meta_kubernetes_pod_name"}}, {"target_label", "pod"}},
      {{"target_label", "job"}, {"replacement", "dso-system/dso-deepseek-operator-inference"}},
      {{"target_label", "endpoint"}, {"replacement", "http"}},
      {{"source_labels", {label + "app_kubernetes_io_instance"}},
       {"target_label", service_label},
       {"action", "replace"}},
      {{"source_labels", {label + "inference_deepseek_io_region"}},
       {"target_label", "deepseek_region"},
       {"action", "replace"}},
  });
}

TEST(ChartFixture, TheLabelContract) {
  const Json job = first_job(render(read_file(testdata("chart-podmonitor.yaml"))));
  EXPECT_EQ(job.at("job_name"), "podMonitor/dso-system/dso-deepseek-operator-inference/0");
  EXPECT_EQ(job.at("metrics_path"), "/metrics");
  EXPECT_EQ(job.at("scrape_interval"), "15s");
  EXPECT_EQ(job.at("relabel_configs"), chart_relabel_rules());
  const Json sd = job.at("kubernetes_sd_configs").at(0);
  EXPECT_FALSE(sd.contains("namespaces")) << "namespaceSelector any: true discovers everywhere";
  EXPECT_EQ(sd.at("api_server"), "https://127.0.0.1:6443");
  EXPECT_EQ(sd.at("tls_config"), Json({{"ca_file", "/etc/dso/ca.crt"}}));
  EXPECT_EQ(sd.at("authorization"),
            Json({{"type", "Bearer"}, {"credentials_file", "/etc/dso/token"}}));
}

TEST(ChartFixture, GlobalSettings) {
  const auto docs =
      parse_yaml(render(read_file(testdata("chart-podmonitor.yaml")), {"--scrape-interval", "5s"}));
  EXPECT_EQ(docs.at(0).at("global"),
            Json({{"scrape_interval", "5s"}, {"evaluation_interval", "5s"}}));
  EXPECT_EQ(docs.at(0).at("scrape_configs").size(), 1u);
}

TEST(ChartFixture, NamespaceFlagNarrowsDiscovery) {
  const Json job = first_job(render(read_file(testdata("chart-podmonitor.yaml")),
                                    {"--namespace", "team-a", "--namespace", "team-b"}));
  EXPECT_EQ(job.at("kubernetes_sd_configs").at(0).at("namespaces"),
            Json({{"names", {"team-a", "team-b"}}}));
}

TEST(ChartFixture, PodSdUrlKeepsTheRelabelling) {
  const std::string manifests = read_file(testdata("chart-podmonitor.yaml"));
  const auto r = run({"scrape-config", "--manifests", "-", "--pod-sd-url", "http://127.0.0.1:9/",
                      "--namespace", "team-a"},
                     manifests);
  ASSERT_EQ(r.status, 0) << r.err;
  const Json job = first_job(r.out);
  EXPECT_FALSE(job.contains("kubernetes_sd_configs"));
  EXPECT_EQ(job.at("http_sd_configs"),
            Json::array({{{"url", "http://127.0.0.1:9/pods?namespaces=team-a"},
                          {"refresh_interval", "2s"}}}));
  EXPECT_EQ(job.at("relabel_configs"), first_job(render(manifests)).at("relabel_configs"));
}

TEST(NamespaceSelector, MatchNamesOwnNamespaceAndIntersection) {
  PodMonitor m;
  m.ns = "ops";
  m.name = "pm";
  m.endpoints.push_back({});
  EXPECT_EQ(scrape_jobs(m)->at(0).namespaces, std::vector<std::string>{"ops"});
  m.match_names = {"a", "b"};
  EXPECT_EQ(scrape_jobs(m)->at(0).namespaces, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(scrape_jobs(m, {"b", "c"})->at(0).namespaces, std::vector<std::string>{"b"});
  EXPECT_EQ(scrape_jobs(m, {"c"}).error(),
            "PodMonitor ops/pm selects namespaces [a, b], none of --namespace [c]");
  m.any_namespace = true;
  EXPECT_TRUE(scrape_jobs(m)->at(0).namespaces.empty());
}

TEST(Selector, ExpressionsAndSanitisedNames) {
  PodMonitor m{.ns = "ops", .name = "pm"};
  m.match_labels = {{"example.com/tier", "gpu"}};
  m.match_expressions = {{"a-b", "In", {"x", "y"}},
                         {"c", "NotIn", {"z"}},
                         {"d", "Exists", {}},
                         {"e", "DoesNotExist", {}}};
  m.endpoints.push_back({});  // no port: no port rule and no endpoint label, as upstream
  const auto jobs = scrape_jobs(m);
  ASSERT_TRUE(jobs);
  const auto& rules = jobs->at(0).relabel_configs;
  ASSERT_GE(rules.size(), 7u);
  const std::string l = "__meta_kubernetes_pod_label_";
  const std::string p = "__meta_kubernetes_pod_labelpresent_";
  EXPECT_EQ(rules[2],
            (RelabelRule{.source_labels = {l + "example_com_tier", p + "example_com_tier"},
                         .regex = "(gpu);true",
                         .action = "keep"}));
  EXPECT_EQ(rules[3],
            (RelabelRule{
                .source_labels = {l + "a_b", p + "a_b"}, .regex = "(x|y);true", .action = "keep"}));
  EXPECT_EQ(
      rules[4],
      (RelabelRule{.source_labels = {l + "c", p + "c"}, .regex = "(z);true", .action = "drop"}));
  EXPECT_EQ(rules[5], (RelabelRule{.source_labels = {p + "d"}, .regex = "true", .action = "keep"}));
  EXPECT_EQ(rules[6], (RelabelRule{.source_labels = {p + "e"}, .regex = "true", .action = "drop"}));
  for (const auto& r : rules) EXPECT_NE(r.target_label, "endpoint");
}

TEST(Endpoint, FieldsAndMetricRelabelingsAndFilterRunning) {
  const std::string pod_monitor = R"(
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: pm, namespace: ops}
spec:
  jobLabel: app
  podMetricsEndpoints:
    - port: metrics
      path: /m
      scheme: HTTPS
      scrapeTimeout: 5s
      honorLabels: true
      honorTimestamps: false
      filterRunning: false
      params: {format: [prometheus]}
      relabelings: [{action: HashMod, sourceLabels: [a, b], separator: "-", targetLabel: t, modulus: 4}]
      metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: "go_.*"}]
)";
  const Json job = first_job(render(pod_monitor));
  EXPECT_EQ(job.at("honor_labels"), true);
  EXPECT_EQ(job.at("honor_timestamps"), false);
  EXPECT_EQ(job.at("metrics_path"), "/m");
  EXPECT_EQ(job.at("scheme"), "https");
  EXPECT_EQ(job.at("scrape_timeout"), "5s");
  EXPECT_EQ(job.at("params"), Json({{"format", {"prometheus"}}}));
  EXPECT_EQ(
      job.at("metric_relabel_configs"),
      Json::array({{{"source_labels", {"__name__"}}, {"regex", "go_.*"}, {"action", "drop"}}}));
  const Json& rules = job.at("relabel_configs");
  EXPECT_FALSE(rules.dump().contains("__meta_kubernetes_pod_phase")) << "filterRunning: false";
  EXPECT_EQ(rules.back(), Json({{"source_labels", {"a", "b"}},
                                {"separator", "-"},
                                {"target_label", "t"},
                                {"modulus", 4},
                                {"action", "hashmod"}}));
  EXPECT_TRUE(rules.dump().contains(
      R"x({"regex":"(.+)","replacement":"${1}","source_labels":["__meta_kubernetes_pod_label_app"],"target_label":"job"})x"));
}

TEST(Output, StringsAreDoubleQuotedAndEscaped) {
  PodMonitor m{.ns = "ops", .name = "pm"};
  PodMetricsEndpoint ep;
  ep.port = "http";
  const std::string tricky = "a\"b\\c\nd: #e ${1} é\t";
  ep.relabelings.push_back({.source_labels = {"x"},
                            .target_label = "y",
                            .regex = R"((\d+)\.\*)",
                            .replacement = tricky,
                            .action = "replace"});
  m.endpoints.push_back(ep);
  const std::string yml = prometheus_yml(*scrape_jobs(m), {.api_server = "https://h:1"});
  EXPECT_TRUE(yml.contains("replacement: \"a\\\"b\\\\c\\nd: #e ${1} é\\t\"")) << yml;
  const Json rule = first_job(yml).at("relabel_configs").back();
  EXPECT_EQ(rule.at("replacement"), tricky);
  EXPECT_EQ(rule.at("regex"), R"((\d+)\.\*)");
  const std::string file = testing::write_temp(
      "escaped.yml", prometheus_yml(*scrape_jobs(m), {.pod_sd_url = "http://127.0.0.1:1"}));
  const auto check = testing::sh("promtool check config '" + file + "'");
  EXPECT_EQ(check.status, 0) << check.output;
}

TEST(Durations, PrometheusGrammar) {
  for (const char* ok : {"15s", "1m30s", "500ms", "1h", "2w", "1y2d", "0s"})
    EXPECT_TRUE(is_prometheus_duration(ok)) << ok;
  for (const char* bad : {"", "15", "1.5s", "s", "1s1m", "15 s", "-1s", "1sm"})
    EXPECT_FALSE(is_prometheus_duration(bad)) << bad;
}

TEST(PodMonitors, ErrorsNameTheField) {
  const auto error = [](const std::string& yaml) {
    const auto r = read_pod_monitors(parse_yaml(yaml));
    return r ? std::string("ok") : r.error();
  };
  const std::string head =
      "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x, namespace: "
      "ops}\n";
  EXPECT_EQ(error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
            "no PodMonitor (monitoring.coreos.com/v1) in the manifests: render the chart with "
            "--set metrics.podMonitor.enabled=true");
  EXPECT_EQ(error(head + "spec: {podMetricsEndpoints: [{portNumber: 8080}]}\n"),
            "PodMonitor ops/x: spec.podMetricsEndpoints[0].portNumber is not supported by "
            "dso-chart-render");
  EXPECT_EQ(error(head + "spec: {sampleLimit: 10, podMetricsEndpoints: [{port: a}]}\n"),
            "PodMonitor ops/x: spec.sampleLimit is not supported by dso-chart-render");
  EXPECT_EQ(error(head + "spec: {podMetricsEndpoints: [{port: a, relabelings: [{target: b}]}]}\n"),
            "PodMonitor ops/x: spec.podMetricsEndpoints[0].relabelings[0].target is not "
            "supported by dso-chart-render");
  EXPECT_EQ(error(head + "spec: {podMetricsEndpoints: [{port: 8080}]}\n"),
            "PodMonitor ops/x: spec.podMetricsEndpoints[0].port: expected a string");
  EXPECT_EQ(
      error(head + "spec: {podMetricsEndpoints: [{port: a, relabelings: [{action: swap}]}]}\n"),
      "PodMonitor ops/x: spec.podMetricsEndpoints[0].relabelings[0].action: unknown action "
      "\"swap\"");
  EXPECT_EQ(
      error(head + "spec: {selectorMechanism: RoleSelector, podMetricsEndpoints: [{port: a}]}\n"),
      "PodMonitor ops/x: spec.selectorMechanism: \"RoleSelector\" is not supported by "
      "dso-chart-render");
  EXPECT_EQ(error(head + "spec: {podMetricsEndpoints: []}\n"),
            "PodMonitor ops/x: spec.podMetricsEndpoints: is empty");
  EXPECT_EQ(error("apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\n"),
            "PodMonitor x: metadata.namespace is missing (render with helm template -n NS)");
}

}  // namespace
}  // namespace dso::chart_render
