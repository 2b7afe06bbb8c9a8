// `deepseek-operator run`'s flags: what the Prometheus query flags turn into (through the
// PrometheusSource, down to the PromQL it sends), and the one-line usage errors (exit status 2) the
// built binary gives for bad values, before it connects to anything.
#include <cpprest/uri.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "../metrics/fake_prometheus.h"
#include "command_test_util.h"
#include "run_flags.h"

namespace dso::cmd {
namespace {

struct Parsed {
  RunFlags flags;
  bool help = false;
  std::string error;
};

Parsed parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Parsed p;
  p.error = parse_run_flags(argv, p.flags, p.help);
  return p;
}

TEST(RunFlags, PrometheusQueryDefaultsAreTheChartsLabelsAndOneMinute) {
  const auto p = parse({"--prometheus-url", "http://prom:9090"});
  ASSERT_EQ(p.error, "");
  const auto o = prometheus_source_options(p.flags);
  EXPECT_EQ(o.queries.rate_window, 60);
  EXPECT_EQ(o.queries.namespace_label, "namespace");
  EXPECT_EQ(o.queries.service_label, "deepseek_service");
}

TEST(RunFlags, GoodValuesReachQueryOptions) {
  const auto p = parse({"--prometheus-rate-window", "4m", "--prometheus-namespace-label",
                        "kubernetes_namespace", "--prometheus-service-label=app_instance"});
  ASSERT_EQ(p.error, "");
  const auto o = prometheus_source_options(p.flags);
  EXPECT_EQ(o.queries.rate_window, 240);
  EXPECT_EQ(o.queries.namespace_label, "kubernetes_namespace");
  EXPECT_EQ(o.queries.service_label, "app_instance");
  EXPECT_EQ(parse({"--prometheus-rate-window=1m30s"}).flags.prometheus_queries.rate_window, 90);
  EXPECT_EQ(parse({"--prometheus-rate-window", "2h"}).flags.prometheus_queries.rate_window, 7200);
  EXPECT_EQ(parse({"--prometheus-service-label", "_x9"}).flags.prometheus_queries.service_label,
            "_x9");
}

TEST(RunFlags, BadValuesGiveOneLineNamingTheFlag) {
  const auto error = [](std::vector<std::string> args) { return parse(std::move(args)).error; };
  for (const char* bad : {"0", "0s", "-1m", "1x", "", "m", "1m-"}) {
    const std::string e = error({"--prometheus-rate-window", bad});
    EXPECT_TRUE(e.starts_with("--prometheus-rate-window: ")) << bad << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_EQ(error({"--prometheus-rate-window", "0"}),
            "--prometheus-rate-window: invalid duration '0': must be positive (examples: 15s, 5m, "
            "1h30m, 7d, 2w)");
  for (const char* flag : {"--prometheus-namespace-label", "--prometheus-service-label"}) {
    for (const char* bad : {"", "9lives", "deepseek-service", "a.b", "__name__", "ns label", "é"}) {
      const std::string e = error({flag, bad});
      EXPECT_EQ(e, std::string(flag) + ": \"" + bad +
                       "\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting "
                       "with __)")
          << flag << " " << bad;
    }
  }
  EXPECT_EQ(error({"--prometheus-service-label"}), "--prometheus-service-label: missing value");
  // A bad value leaves the default in place (the caller exits anyway, but nothing half-set).
  EXPECT_EQ(parse({"--prometheus-service-label", "a-b"}).flags.prometheus_queries.service_label,
            "deepseek_service");
}

TEST(RunFlags, AutoscalerWorkers) {
  EXPECT_EQ(parse({}).flags.autoscaler_workers, 4);
  EXPECT_EQ(parse({"--autoscaler-workers", "16"}).flags.autoscaler_workers, 16);
  EXPECT_EQ(parse({"--autoscaler-workers=1"}).flags.autoscaler_workers, 1);
  EXPECT_EQ(parse({"--autoscaler-workers", "0"}).error, "--autoscaler-workers: must be 1..64");
  EXPECT_EQ(parse({"--autoscaler-workers", "65"}).error, "--autoscaler-workers: must be 1..64");
  EXPECT_EQ(parse({"--autoscaler-workers", "4x"}).error,
            "--autoscaler-workers: not a number: \"4x\"");
  EXPECT_EQ(parse({"--workers", "two"}).error, "--workers: not a number: \"two\"");
}

TEST(RunFlags, FlagFormsAndTheirUsageMessages) {
  EXPECT_FALSE(parse({"--leader-elect=false"}).flags.leader_elect);
  EXPECT_TRUE(parse({"--leader-elect=false", "--leader-elect"}).flags.leader_elect);
  EXPECT_EQ(parse({"--leader-elect="}).error, "--leader-elect: expected true or false, got \"\"");
  // A boolean never takes the next argument: "false" is then an argument of its own.
  EXPECT_EQ(parse({"--leader-elect", "false"}).error,
            "unexpected argument \"false\" (run takes only flags; a boolean flag is set with "
            "--name=false)");
  // "--flag=" is an empty value; a separate value is taken whatever it looks like.
  const auto p = parse({"--kubeconfig=", "--context", "--namespace"});
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.flags.kubeconfig, "");
  EXPECT_EQ(p.flags.context, "--namespace");
  EXPECT_TRUE(p.flags.namespaces.empty());
  EXPECT_EQ(parse({"--workers="}).error, "--workers: not a number: \"\"");
  EXPECT_EQ(parse({"--namespace", "a", "--namespace=b"}).flags.namespaces,
            (std::vector<std::string>{"a", "b"}));
  // An unknown flag is named as such, with or without a value after it.
  EXPECT_EQ(parse({"--bogus", "1"}).error, "unknown flag --bogus (see --help)");
  EXPECT_EQ(parse({"--bogus=1"}).error, "unknown flag --bogus (see --help)");
  EXPECT_EQ(parse({"--bogus"}).error, "unknown flag --bogus (see --help)");
  EXPECT_EQ(parse({"--workers"}).error, "--workers: missing value");
  // Help stops the parsing: what follows it is not read.
  const auto h = parse({"--workers", "2", "-h", "--bogus"});
  EXPECT_TRUE(h.help);
  EXPECT_EQ(h.error, "");
  EXPECT_TRUE(parse({"--help=x"}).help);
}

TEST(RunFlags, LabelNames) {
  for (const char* good : {"a", "_", "_a", "namespace", "deepseek_service", "A9_z", "x__y"})
    EXPECT_TRUE(is_prometheus_label_name(good)) << good;
  for (const char* bad : {"", "1a", "a-b", "a:b", "__", "__meta", " a", "a "})
    EXPECT_FALSE(is_prometheus_label_name(bad)) << bad;
}

// The flags, through the PrometheusSource the operator builds from them, to the query on the wire.
TEST(RunFlags, ConfiguredLabelsAndWindowAreInTheQueriesSent) {
  const auto p = parse({"--prometheus-rate-window", "4m", "--prometheus-namespace-label", "kns",
                        "--prometheus-service-label", "dss"});
  ASSERT_EQ(p.error, "");
  metrics::testing::FakePrometheus fake;
  fake.script({{200, R"({"status":"success","data":{"resultType":"vector","result":[)"
                     R"({"metric":{},"value":[1700000000,"7"]}]}})"}});
  metrics::PrometheusConfig c;
  c.url = fake.url();
  c.max_attempts = 1;
  c.timeout = std::chrono::milliseconds(2000);
  metrics::PrometheusSource source(metrics::PrometheusClient::create(c).value(),
                                   prometheus_source_options(p.flags));
  api::DeepSeekService s;
  s.metadata.name = "chat";
  s.metadata.ns = "prod";
  for (auto type : {api::MetricType::kRequestsPerSecond, api::MetricType::kP99Latency}) {
    api::MetricSpec m;
    m.type = type;
    m.target = 1;
    s.spec.autoscaling.metrics.push_back(m);
  }
  const auto load = source.current(s, 1700000000);
  EXPECT_EQ(load.demand, 7);
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  const std::string sel = R"({kns="prod",dss="chat"}[4m])";
  EXPECT_NE(
      web::uri::decode(reqs[0].body).find("(rate(deepseek_inference_requests_total" + sel + "))"),
      std::string::npos)
      << web::uri::decode(reqs[0].body);
  EXPECT_NE(web::uri::decode(reqs[1].body)
                .find("rate(deepseek_inference_request_duration_seconds_bucket" + sel + ")"),
            std::string::npos)
      << web::uri::decode(reqs[1].body);
}

// The built binary: usage errors are one line on stderr with exit status 2, before any connection.
class RunCommand : public dso::testing::CommandTest {
 protected:
  RunCommand() : CommandTest("run") {}
};

TEST_F(RunCommand, HelpListsThePrometheusQueryFlags) {
  const auto r = run("--help");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* flag : {"--prometheus-rate-window DUR", "--prometheus-namespace-label NAME",
                           "--prometheus-service-label NAME", "at least 4"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

// Every flag the help lists is one the parser knows (its list of value flags cannot drift from
// the usage text): none of them is refused as unknown.
TEST_F(RunCommand, EveryFlagInTheHelpIsKnown) {
  const auto r = run("--help");
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> flags;
  for (std::size_t at = r.out.find("--"); at != std::string::npos; at = r.out.find("--", at + 2)) {
    std::size_t end = at + 2;
    while (end < r.out.size() &&
           (std::islower(static_cast<unsigned char>(r.out[end])) || r.out[end] == '-'))
      ++end;
    if (end > at + 2) flags.insert(r.out.substr(at, end - at));
  }
  EXPECT_GE(flags.size(), 15u);
  for (const auto& flag : flags) {
    if (flag == "--help") continue;
    const auto p = parse({flag + "=1"});
    EXPECT_EQ(p.error.find("unknown flag"), std::string::npos) << flag << ": " << p.error;
  }
}

TEST_F(RunCommand, BadPrometheusQueryFlagsExit2WithOneLine) {
  const auto check = [&](const std::string& args, const std::string& expected) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_EQ(r.err, "deepseek-operator run: " + expected + "\n") << args;
  };
  check("--prometheus-rate-window 0s",
        "--prometheus-rate-window: invalid duration '0s': must be positive (examples: 15s, 5m, "
        "1h30m, 7d, 2w)");
  check("--prometheus-rate-window=90x",
        "--prometheus-rate-window: invalid duration '90x': unknown unit 'x' (examples: 15s, 5m, "
        "1h30m, 7d, 2w)");
  check("--prometheus-namespace-label k8s-namespace",
        "--prometheus-namespace-label: \"k8s-namespace\" is not a Prometheus label name "
        "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
  check("--prometheus-service-label=0svc",
        "--prometheus-service-label: \"0svc\" is not a Prometheus label name "
        "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
}

TEST_F(RunCommand, GoodPrometheusQueryFlagsReachThePrometheusSource) {
  // Accepted flags: the process builds its PrometheusSource (and logs its options), then fails to
  // load the (missing) kubeconfig with status 1.
  auto r =
      run("--prometheus-url http://127.0.0.1:9 --prometheus-rate-window 4m "
          "--prometheus-namespace-label kns --prometheus-service-label=dss --kubeconfig " +
          (dir_ / "missing-kubeconfig").string());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("info reading metrics from Prometheus namespaceLabel=kns rateWindow=4m "
                       "serviceLabel=dss url=http://127.0.0.1:9\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("cannot load the Kubernetes configuration"), std::string::npos) << r.err;
  r = run("--prometheus-url http://127.0.0.1:9 --kubeconfig " +
          (dir_ / "missing-kubeconfig").string());
  EXPECT_NE(r.err.find("namespaceLabel=namespace rateWindow=1m serviceLabel=deepseek_service"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace dso::cmd
