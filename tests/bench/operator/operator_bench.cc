// operator_bench: how the operator copes with many services at once. Creates N DeepSeekServices
// (one replica, one GPU each) on the local control plane with enough fake GPU nodes, and measures:
// time from the first create until every service reports Ready (steady state), the Kubernetes API
// requests the operator made (its rest_client_request_duration_seconds counts, by verb), its peak
// resident memory (VmHWM) and CPU time. Then, in steady state, labels every service (one update
// event each: a reconcile with nothing to change, as the periodic resync does) and counts the
// requests that costs once the operator is quiet again. Prints two Markdown tables.
#include <cpprest/http_client.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace {

using dso::kube::Json;
using Clock = std::chrono::steady_clock;

long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

double proc_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Sums `series` from the operator's /metrics by the value of the label `by`, e.g.
// rest_client_request_duration_seconds_count by verb.
std::map<std::string, long> metric_sums(const std::string& metrics_url, const std::string& series,
                                        const std::string& by) {
  std::map<std::string, long> by_verb;
  try {
    web::http::client::http_client client(metrics_url);
    const std::string body =
        client.request(web::http::methods::GET, "/metrics").get().extract_string().get();
    const std::regex line(series + R"re(\{([^}]*)\} ([0-9.e+]+))re");
    const std::regex verb(by + R"re(="([^"]*)")re");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), line);
         it != std::sregex_iterator(); ++it) {
      const std::string labels = (*it)[1];
      std::smatch m;
      if (std::regex_search(labels, m, verb))
        by_verb[m[1]] += static_cast<long>(std::stod((*it)[2]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "operator_bench: cannot read %s/metrics: %s\n", metrics_url.c_str(),
                 e.what());
  }
  return by_verb;
}

std::map<std::string, long> api_requests(const std::string& metrics_url) {
  return metric_sums(metrics_url, "rest_client_request_duration_seconds_count", "verb");
}

// Owned objects applied or skipped (deepseek_operator_applies_total by result); "-" when the
// operator has no such metric (a version before the skip).
std::string applies(const std::string& metrics_url, const std::map<std::string, long>& base) {
  const auto now = metric_sums(metrics_url, "deepseek_operator_applies_total", "result");
  if (now.empty()) return "-";
  const auto at = [](const std::map<std::string, long>& m, const char* k) {
    return m.count(k) ? m.at(k) : 0;
  };
  return std::to_string(at(now, "applied") - at(base, "applied")) + " applied, " +
         std::to_string(at(now, "skipped") - at(base, "skipped")) + " skipped";
}

int free_port() {
  for (int p = 41000; p < 42000; ++p) {
    std::ifstream tcp("/proc/net/tcp");
    std::string all((std::istreambuf_iterator<char>(tcp)), std::istreambuf_iterator<char>());
    char hex[8];
    std::snprintf(hex, sizeof hex, ":%04X ", p);
    if (all.find(hex) == std::string::npos) return p;
  }
  return 41999;
}

}  // namespace

int main(int argc, char** argv) {
  int services = 200;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--services") services = std::stoi(argv[i + 1]);
  }
  const auto cluster = dso::testing::LocalCluster::open();
  auto client = dso::testing::admin_client(cluster.kubeconfig);
  const std::string ns =
      "bench-operator-" + std::to_string(::getpid());  // a namespace of its own per run
  std::string out;
  const std::string crd =
      std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
  if (cluster.sh("kubectl apply -f " + crd +
                     " && kubectl wait --for=condition=Established --timeout=60s "
                     "crd/deepseekservices.inference.deepseek.io && (kubectl create namespace " +
                     ns + " || true)",
                 &out) != 0) {
    std::fprintf(stderr, "operator_bench: set-up failed:\n%s\n", out.c_str());
    return 1;
  }
  dso::testing::FakeKubelet kubelet(client, ns, 0);
  for (int n = 0; n < services / 8 + 2; ++n)
    kubelet.add_node("bench-gpu-" + std::to_string(n), 8, {});

  const int port = free_port();
  const std::string log = "/tmp/operator_bench.log";
  dso::testing::ChildProcess op(
      {DSO_OPERATOR_BINARY, "run", "--kubeconfig", cluster.kubeconfig.string(),
       "--leader-elect=false", "--namespace", ns, "--workers", "4", "--health-addr",
       "127.0.0.1:" + std::to_string(port), "--log-level", "warn"},
      log);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // informers synced on an empty namespace
  const double cpu_idle = proc_cpu_seconds(op.pid());
  const auto base_requests = api_requests("http://127.0.0.1:" + std::to_string(port));
  const auto applies_total = [&] {
    return metric_sums("http://127.0.0.1:" + std::to_string(port),
                       "deepseek_operator_applies_total", "result");
  };
  const auto base_applies = applies_total();

  const dso::kube::Resource dss{"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
  const auto t0 = Clock::now();
  for (int i = 0; i < services; ++i) {
    const Json object{{"apiVersion", "inference.deepseek.io/v1alpha1"},
                      {"kind", "DeepSeekService"},
                      {"metadata", {{"name", "svc-" + std::to_string(i)}}},
                      {"spec",
                       {{"model", {{"name", "tiny"}, {"image", "registry.example/server:1"}}},
                        {"resources", {{"gpusPerPod", 1}, {"cpu", "100m"}, {"memory", "128Mi"}}}}}};
    if (auto created = client->create(dss, ns, object); !created) {
      std::fprintf(stderr, "operator_bench: create failed: %s\n",
                   created.error().to_string().c_str());
      return 1;
    }
  }
  const auto created = Clock::now();
  int ready = 0;
  while (Clock::now() - t0 < std::chrono::minutes(15)) {
    const auto list = client->list_all(dss, ns, {});
    ready = 0;
    if (list) {
      for (const auto& o : list->items) {
        for (const auto& c : o.value("status", Json::object()).value("conditions", Json::array())) {
          if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ++ready;
        }
      }
    }
    if (ready == services) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const auto steady = Clock::now();
  const auto requests = api_requests("http://127.0.0.1:" + std::to_string(port));
  const std::string create_applies =
      applies("http://127.0.0.1:" + std::to_string(port), base_applies);
  const double cpu = proc_cpu_seconds(op.pid()) - cpu_idle;
  const long hwm_kb = proc_status_kb(op.pid(), "VmHWM");
  const long rss_kb = proc_status_kb(op.pid(), "VmRSS");

  // Steady state: wait until the operator has been quiet for 5 s (the last rollouts' status events
  // handled), then make every service reconcile once more with nothing to change.
  const std::string metrics_url = "http://127.0.0.1:" + std::to_string(port);
  const auto quiet = [&] {
    auto last = api_requests(metrics_url);
    for (int stable = 0, i = 0; stable < 5 && i < 120; ++i) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      auto now = api_requests(metrics_url);
      stable = now == last ? stable + 1 : 0;
      last = std::move(now);
    }
    return last;
  };
  const auto before_touch = quiet();
  const auto applies_before_touch = applies_total();
  const auto t_touch = Clock::now();
  if (cluster.sh("kubectl -n " + ns + " label dss --all bench.deepseek.io/touched=1", &out) != 0)
    std::fprintf(stderr, "operator_bench: label failed:\n%s\n", out.c_str());
  const auto after_touch = quiet();
  const std::string touch_applies = applies(metrics_url, applies_before_touch);
  const double touch_secs =
      std::chrono::duration<double>(Clock::now() - t_touch).count() - 5.0;  // less the quiet wait
  op.stop(SIGTERM, 30);
  cluster.sh("kubectl delete namespace " + ns + " --wait=false", &out);

  const auto diff = [](const std::map<std::string, long>& now,
                       const std::map<std::string, long>& base, long& total) {
    total = 0;
    std::string by_verb;
    for (const auto& [verb, n] : now) {
      const long delta = n - (base.count(verb) ? base.at(verb) : 0);
      total += delta;
      by_verb += (by_verb.empty() ? "" : ", ") + verb + " " + std::to_string(delta);
    }
    return by_verb;
  };
  long total = 0, touch_total = 0;
  const std::string by_verb = diff(requests, base_requests, total);
  const std::string touch_by_verb = diff(after_touch, before_touch, touch_total);
  const auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf(
      "| services | created in (s) | all Ready after (s) | Ready | API requests | by verb | "
      "requests/service | owned objects | operator CPU (s) | peak RSS (MiB) | RSS at end (MiB) "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %d | %.1f | %.1f | %d/%d | %ld | %s | %.1f | %s | %.1f | %.1f | %.1f |\n",
              services, secs(created - t0), secs(steady - t0), ready, services, total,
              by_verb.c_str(), static_cast<double>(total) / services, create_applies.c_str(), cpu,
              static_cast<double>(hwm_kb) / 1024, static_cast<double>(rss_kb) / 1024);
  std::printf(
      "\n| services touched in steady state | API requests | by verb | requests/service | owned "
      "objects | quiet again after (s) |\n|---|---|---|---|---|---|\n");
  std::printf("| %d | %ld | %s | %.2f | %s | %.1f |\n", services, touch_total,
              touch_by_verb.c_str(), static_cast<double>(touch_total) / services,
              touch_applies.c_str(), touch_secs);
  return ready == services ? 0 : 1;
}
