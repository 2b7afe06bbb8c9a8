// Support for the end-to-end tests: see e2e_support.h.
#include "e2e_support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/local_cluster.h"

namespace dso::e2e {
namespace {

using kube::Json;

fs::path cluster_root() {
  const char* root = std::getenv("DSO_CLUSTER_ROOT");
  return root != nullptr ? root : "/tmp/dso-clusters";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string helm() {
  const char* cache = std::getenv("DSO_CACHE");
  return std::string(cache ? cache : "/var/cache/deepseek-operator") + "/bin/helm";
}

int run(const std::string& command, std::string* out = nullptr) {
  return testing::run_shell("DSO_CLUSTER_ROOT=" + quote(cluster_root().string()) +
                                " DSO_CHART_RENDER=" + quote(DSO_CHART_RENDER) + " " + command +
                                " 2>&1",
                            out);
}

// A loopback port that was free a moment ago (bound to port 0, then released).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

fs::path chart_values() {
  const fs::path file = cluster_root() / kClusterName / "e2e-chart-values.yaml";
  std::ofstream(file) << "metrics:\n  podMonitor:\n    enabled: true\n    interval: 5s\n"
                         "prometheus:\n  rateWindow: 20s\n";
  return file;
}

bool eventually(double seconds, const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return check();
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ----- Testbed -----

Testbed Testbed::open() {
  Testbed t;
  t.cluster_ = testing::LocalCluster::open(kClusterName);
  t.client_ = testing::admin_client(t.cluster_.kubeconfig);
  return t;
}

kube::Resource Testbed::deepseek_services() {
  return {"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
}
kube::Resource Testbed::deployments() {
  return {"apps", "v1", "deployments", true};
}
kube::Resource Testbed::endpoints() {
  return {"", "v1", "endpoints", true};
}

fs::path Testbed::work_dir(const std::string& name) const {
  const fs::path dir = cluster_root() / "e2e-logs" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int Testbed::kubectl(const std::string& args, std::string* out) const {
  return cluster_.sh("kubectl " + args, out);
}

std::string Testbed::apply(const std::string& yaml, const std::string& ns) const {
  std::string out;
  const std::string flags = ns.empty() ? "" : " -n " + ns;
  if (cluster_.sh("cat <<'EOF_E2E' | kubectl apply" + flags + " -f -\n" + yaml + "\nEOF_E2E",
                  &out) != 0)
    throw std::runtime_error("kubectl apply failed: " + out);
  return out;
}

void Testbed::fresh_namespace(const std::string& ns) const {
  std::string out;
  kubectl("delete namespace " + ns + " --ignore-not-found --wait=true --timeout=120s", &out);
  if (kubectl("create namespace " + ns, &out) != 0)
    throw std::runtime_error("create namespace " + ns + ": " + out);
}

void Testbed::install_crd() const {
  std::string out;
  const std::string crd =
      std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
  if (cluster_.sh("kubectl apply -f " + crd + " && " +
                      testing::wait_established("crd/deepseekservices.inference.deepseek.io"),
                  &out) != 0)
    throw std::runtime_error("install the CRD: " + out);
}

std::vector<Json> Testbed::exits(const std::string& ns) const {
  std::vector<Json> out;
  std::ifstream in(state() / "exits.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const Json entry = Json::parse(line, nullptr, false);
    if (entry.is_object() && entry.value("namespace", "") == ns) out.push_back(entry);
  }
  return out;
}

int Testbed::ready_endpoints(const std::string& ns, const std::string& name) const {
  const Json e = get(endpoints(), ns, name);
  int ready = 0;
  for (const Json& subset : e.value("subsets", Json::array()))
    ready += static_cast<int>(subset.value("addresses", Json::array()).size());
  return ready;
}

std::vector<Json> Testbed::pods(const std::string& ns, const std::string& selector) const {
  kube::ListOptions options;
  options.label_selector = selector;
  const auto list = client_->list({"", "v1", "pods", true}, ns, options);
  return list ? list->items : std::vector<Json>{};
}

Json Testbed::get(const kube::Resource& r, const std::string& ns, const std::string& name) const {
  const auto o = client_->get(r, ns, name);
  return o ? *o : Json::object();
}

// ----- ChartPrometheus -----

ChartPrometheus::ChartPrometheus(std::string name, std::optional<fs::path> tsdb)
    : name_(std::move(name)), tsdb_(std::move(tsdb)) {
  start();
}

ChartPrometheus::~ChartPrometheus() {
  std::string out;
  run(quote(std::string(DSO_SOURCE_DIR) + "/hack/local-prometheus.sh") + " stop " + name_, &out);
}

void ChartPrometheus::start() {
  std::string command = quote(std::string(DSO_SOURCE_DIR) + "/hack/local-prometheus.sh") +
                        " start " + name_ + " --kube-cluster " + kClusterName + " --chart-values " +
                        quote(chart_values().string()) + " --scrape-interval 5s";
  if (tsdb_) command += " --tsdb " + quote(tsdb_->string());
  std::string out;
  int rc = -1;
  // A port just released may still be bound for a moment.
  for (int attempt = 0; attempt < 20; ++attempt) {
    rc = run(command + (port_ ? " --port " + std::to_string(port_) : std::string()), &out);
    if (rc == 0 || port_ == 0 || out.find("in use") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (rc != 0) throw std::runtime_error("start Prometheus " + name_ + ": " + out);
  url_ = testing::LocalPrometheus::open(name_).url;
  port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
  running_ = true;
}

void ChartPrometheus::stop() {
  std::string out;
  run(quote(std::string(DSO_SOURCE_DIR) + "/hack/local-prometheus.sh") + " stop " + name_, &out);
  running_ = false;
}

std::optional<double> ChartPrometheus::query(const std::string& promql) const {
  std::string out;
  if (run("curl -fsS -G " + quote(url_ + "/api/v1/query") + " --data-urlencode " +
              quote("query=" + promql),
          &out) != 0)
    return std::nullopt;
  const Json answer = Json::parse(out, nullptr, false);
  if (!answer.is_object()) return std::nullopt;
  const Json result = answer.value("data", Json::object()).value("result", Json::array());
  if (!result.is_array() || result.empty()) return std::nullopt;
  try {
    return std::stod(result[0]["value"][1].get<std::string>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ----- Operator -----

Operator::Operator(const Testbed& testbed, std::string prometheus_url, fs::path log,
                   std::vector<std::string> extra_args)
    : log_(std::move(log)) {
  std::string out;
  const std::string render =
      quote(helm()) + " template dso " +
      quote(std::string(DSO_SOURCE_DIR) + "/charts/deepseek-operator") + " -n dso-system -f " +
      quote(chart_values().string()) +
      (prometheus_url.empty() ? std::string() : " --set prometheus.url=" + quote(prometheus_url)) +
      " | " + quote(DSO_CHART_RENDER) + " operator-args --manifests -";
  if (run(render, &out) != 0) throw std::runtime_error("the chart's operator arguments: " + out);
  argv_ = {DSO_OPERATOR_BINARY};
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) argv_.push_back(line);
  }
  // What differs from a pod: the kubeconfig instead of the service account, a health port of its
  // own (later flags win).
  argv_.push_back("--kubeconfig=" + testbed.cluster().kubeconfig.string());
  argv_.push_back("--health-addr=127.0.0.1:" + std::to_string(free_port()));
  for (auto& a : extra_args) argv_.push_back(std::move(a));
  testbed.kubectl("create namespace dso-system", &out);  // the chart's Lease namespace
  start();
}

Operator::~Operator() {
  stop();
}

void Operator::start() {
  process_ = std::make_unique<testing::ChildProcess>(argv_, log_);
}

void Operator::stop() {
  if (process_) process_->stop(SIGTERM, 30);
  process_.reset();
}

std::string Operator::log_text() const {
  std::ifstream in(log_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace dso::e2e
