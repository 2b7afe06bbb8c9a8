// `deepseek-operator run`: the controller process. Watches DeepSeekServices (all namespaces or the
// given ones) and the Deployments it made, reconciles each service, serves /healthz, /readyz and
// /metrics, and, with leader election on, acts only while it holds the Lease.
#include <prometheus/counter.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "command.h"
#include "controller/discovery.h"
#include "controller/failover_metrics.h"
#include "controller/reconciler.h"
#include "kube/config.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_gated_client.h"
#include "kube/manager.h"
#include "kube/metrics.h"
#include "kube/rest_client.h"
#include "kube/work_queue.h"
#include "logger.h"
#include "metrics/prometheus_client.h"
#include "metrics/prometheus_source.h"
#include "run_flags.h"
#include "scaling/cold_start.h"
#include "scaling/null_source.h"
#include "scaling/scaling_loop.h"

namespace dso::cmd {
namespace {

constexpr const char* kUsage = R"(Usage: deepseek-operator run [FLAGS]

Runs the operator: reconciles every DeepSeekService (inference.deepseek.io/v1alpha1) into per-region
Deployments, Services and PodDisruptionBudgets, and keeps their status.

Connection:
  --kubeconfig FILE         kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then the
                            in-cluster service account)
  --context NAME            kubeconfig context (default: its current-context)
Scope:
  --namespace NS            watch only NS; repeat for several (default: all namespaces)
  --workers N               concurrent reconciles (default 2)
Leader election (coordination.k8s.io/v1 Lease):
  --leader-elect=true|false       default true; run 2 replicas for high availability
  --leader-election-namespace NS  namespace of the Lease (default: $POD_NAMESPACE or "default")
  --leader-election-id NAME       Lease name (default deepseek-operator)
  --allow-host-path=true|false    default false: refuse spec.model.source.hostPath (a host
                                  directory in a pod is the node's file system for anyone who
                                  may create a DeepSeekService)
Autoscaling (docs/autoscaling.md):
  --prometheus-url URL      Prometheus HTTP API the inference pods' metrics are read from (no
                            default: without it every autoscaled service holds its replicas and
                            reports MetricsUnavailable)
  --prometheus-ca-file FILE CA bundle to trust for an https Prometheus
  --prometheus-bearer-token-file FILE
                            file holding the bearer token sent to Prometheus
  --decision-period DUR     how often the leader decides for each service (default 15s; 1s..1h)
  --autoscaler-workers N    services decided at once in each period (default 4; 1..64): a
                            decision mostly waits on Prometheus, so many services need several
  --prometheus-rate-window DUR
                            range of rate() in the queries (default 1m); make it at least 4
                            scrape intervals of the inference pods (a 60s scrape needs 4m),
                            else rate() has too few samples and metrics stay missing
  --prometheus-namespace-label NAME
                            label holding the pod's namespace in Prometheus (default namespace)
  --prometheus-service-label NAME
                            label holding the DeepSeekService's name (default deepseek_service,
                            what the Helm chart's PodMonitor relabels app.kubernetes.io/instance
                            into); both labels must match the scrape config's relabelling
Serving:
  --health-addr HOST:PORT   /healthz, /readyz and /metrics (default 0.0.0.0:8081; "0" disables)
Logging:
  --log-level debug|info|warn|error   default info
  --log-format text|json              default text
  --help                    this text

SIGTERM or SIGINT: stop the workers after their current reconcile, release the Lease, exit 0.
Losing the Lease to another process: exit 1 at once (the Deployment restarts it as a follower).
)";

// Where the autoscaler reads the services' load: Prometheus when --prometheus-url is given; without
// it every value is unknown, so autoscaled services hold their replicas and report
// MetricsUnavailable (never read as zero demand). One query attempt may take a third of the
// decision period (at most 10 s), with one retry, and the client's circuit breaker fails the rest
// of a period's queries at once after that: a hung Prometheus must not stall the loop for minutes.
// Errors: a URL the client rejects.
std::expected<metrics::MetricsSourcePtr, std::string> make_metrics_source(const RunFlags& flags,
                                                                          Logger& log) {
  if (flags.prometheus_url.empty()) {
    log.warn("no --prometheus-url: autoscaled services hold their replicas (MetricsUnavailable)");
    return std::make_shared<scaling::NullMetricsSource>("no --prometheus-url given");
  }
  metrics::PrometheusConfig config;
  config.url = flags.prometheus_url;
  config.ca_file = flags.prometheus_ca_file;
  config.bearer_token_file = flags.prometheus_token_file;
  config.timeout = std::chrono::milliseconds(
      std::clamp<std::int64_t>(flags.decision_period * 1000 / 3, 1000, 10'000));
  config.max_attempts = 2;
  auto client = metrics::PrometheusClient::create(config);
  if (!client) return std::unexpected("--prometheus-url: " + client.error().message);
  // Logged from the source itself: what it will query with.
  auto source =
      std::make_shared<metrics::PrometheusSource>(*client, prometheus_source_options(flags));
  const metrics::QueryOptions& queries = source->options().queries;
  log.info("reading metrics from Prometheus",
           {{"url", flags.prometheus_url},
            {"rateWindow", metrics::promql_duration(queries.rate_window)},
            {"namespaceLabel", queries.namespace_label},
            {"serviceLabel", queries.service_label}});
  return source;
}

// What every watched namespace's wiring shares.
struct Shared {
  const RunFlags& flags;
  Logger& log;
  kube::KubeClientPtr client;
  kube::MetricsPtr metrics;
  std::shared_ptr<kube::WorkQueue> queue;
  std::string pdb_version;
  metrics::MetricsSourcePtr source;
  std::shared_ptr<scaling::ColdStartTracker> cold_starts;
  std::shared_ptr<scaling::ScalingMetrics> scaling_metrics;
  controller::ReconcilerOptions reconciler_options;  // the namespace-independent part
};

// The parts that watch and reconcile one watched namespace ("" for all): its caches, the scaling
// loop over its DeepSeekService cache, and the reconciler reading them.
struct NamespaceWiring {
  kube::InformerPtr services, deployments, service_objects, pdbs, pods;
  std::unique_ptr<scaling::ScalingLoop> scaling_loop;
  std::unique_ptr<controller::DeepSeekServiceReconciler> reconciler;
};

void drop_managed_fields(kube::Json& object) {
  object["metadata"].erase("managedFields");
}

// Only what the cold-start measurement reads is cached of a pod.
void keep_cold_start_fields(kube::Json& o) {
  kube::Json meta = kube::Json::object();
  for (const char* k :
       {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels"}) {
    if (o["metadata"].contains(k)) meta[k] = o["metadata"][k];
  }
  kube::Json status = kube::Json::object();
  if (o.contains("status")) {
    status["conditions"] = o["status"].value("conditions", kube::Json::array());
    kube::Json restarts = kube::Json::array();
    for (const auto& cs : o["status"].value("containerStatuses", kube::Json::array()))
      restarts.push_back({{"restartCount", cs.value("restartCount", 0)}});
    status["containerStatuses"] = restarts;
  }
  o = kube::Json{{"metadata", meta}, {"status", status}};
}

// What one informer watches: `owned`, only the objects the operator made (by label); each cached
// object goes through `transform`; every `resync` (0: never) every object is handed over again.
struct Watch {
  kube::Resource resource;
  std::string what;  // names it in logs
  bool owned = true;
  std::function<void(kube::Json&)> transform = drop_managed_fields;
  kube::Duration resync = kube::Duration::zero();
};

kube::InformerPtr make_informer(const Shared& s, Watch watch, const std::string& ns,
                                kube::EventHandlers handlers) {
  kube::InformerOptions o;
  o.resource = std::move(watch.resource);
  o.ns = ns;
  if (watch.owned) o.label_selector = "app.kubernetes.io/managed-by=deepseek-operator";
  o.metrics = s.metrics;
  o.transform = std::move(watch.transform);
  o.resync_period = watch.resync;
  const std::string what = watch.what;
  o.on_log = [&log = s.log, what](const std::string& m) { log.warn(m, {{"informer", what}}); };
  o.on_progress = [&log = s.log, what](const std::string& m) {
    log.debug(m, {{"informer", what}});
  };
  auto informer = std::make_shared<kube::Informer>(s.client, o);
  informer->add_handlers(std::move(handlers));
  return informer;
}

// Informers: the DeepSeekServices, and the Deployments, Services and PDBs the operator owns. A
// change to an owned object enqueues its service: the reconciler skips applies its caches already
// hold, and these events bring it back when that stops being true. Pods feed the cold starts.
NamespaceWiring wire_namespace(const Shared& s, const std::string& ns) {
  using Reconciler = controller::DeepSeekServiceReconciler;
  NamespaceWiring w;
  const auto owner = kube::enqueue_handlers(s.queue, Reconciler::service_index());
  w.services = make_informer(s,
                             {Reconciler::deepseek_services(), "deepseekservices", false,
                              drop_managed_fields, std::chrono::minutes(10)},
                             ns, kube::enqueue_self(s.queue));
  w.deployments = make_informer(s, {Reconciler::deployments(), "deployments"}, ns, owner);
  w.deployments->add_index(Reconciler::kServiceIndex, Reconciler::service_index());
  w.service_objects = make_informer(s, {Reconciler::services(), "services"}, ns, owner);
  w.pdbs = make_informer(
      s, {Reconciler::pod_disruption_budgets(s.pdb_version), "poddisruptionbudgets"}, ns, owner);
  auto cold = s.cold_starts;
  w.pods = make_informer(
      s, {{"", "v1", "pods", true}, "pods", true, keep_cold_start_fields}, ns,
      {[cold](const kube::ObjectPtr& o) { cold->observe(*o); },
       [cold](const kube::ObjectPtr&, const kube::ObjectPtr& o) { cold->observe(*o); },
       [cold](const kube::ObjectPtr& o, bool) { cold->pod_deleted(*o); }});

  scaling::ScalingLoopOptions so;
  so.settings.decision_period = s.flags.decision_period;
  so.workers = s.flags.autoscaler_workers;
  so.record_event = s.reconciler_options.record_event;
  so.enqueue = [queue = s.queue](const std::string& key) { queue->add(key); };
  so.metrics = s.scaling_metrics;
  so.on_log = [&log = s.log](const std::string& m) { log.info(m, {{"component", "autoscaler"}}); };
  w.scaling_loop =
      std::make_unique<scaling::ScalingLoop>(w.services->store(), s.source, s.cold_starts, so);

  controller::ReconcilerOptions ro = s.reconciler_options;
  scaling::ScalingLoop* loop = w.scaling_loop.get();
  ro.desired_replicas = [loop](const api::DeepSeekService& d) { return loop->desired_replicas(d); };
  ro.autoscaling_status = [loop](const api::DeepSeekService& d) { return loop->status_part(d); };
  ro.service_cache = &w.service_objects->store();
  ro.pdb_cache = &w.pdbs->store();
  w.reconciler =
      std::make_unique<Reconciler>(s.client, w.services->store(), w.deployments->store(), ro);
  return w;
}

// The reconciler's namespace-independent options: the PDB version, host paths, events, and the
// failover and apply counters.
controller::ReconcilerOptions reconciler_options(const RunFlags& flags,
                                                 const std::string& pdb_version,
                                                 std::shared_ptr<kube::EventRecorder> recorder,
                                                 const kube::MetricsPtr& metrics) {
  controller::ReconcilerOptions options;
  options.pdb_api_version = pdb_version;
  options.allow_host_path = flags.allow_host_path;
  options.record_event = [recorder](const kube::Json& object, const std::string& type,
                                    const std::string& reason, const std::string& message) {
    recorder->record(object, type, reason, message);
  };
  auto failover_metrics = std::make_shared<controller::FailoverMetrics>(metrics->registry());
  options.failover_state = [failover_metrics](const std::string& ns, const std::string& name,
                                              std::optional<bool> failed_over) {
    failover_metrics->set(ns, name, failed_over);
  };
  // Owned objects per reconcile: applied, or skipped because the cache already held them.
  auto& applies = prometheus::BuildCounter()
                      .Name("deepseek_operator_applies_total")
                      .Help(
                          "Owned objects (Deployment, Service, PodDisruptionBudget) per reconcile "
                          "by result: applied (one server-side apply PATCH) or skipped (the "
                          "informer cache already held the desired object)")
                      .Register(*metrics->registry());
  options.on_apply = [&applies](const std::string& kind, bool applied) {
    applies.Add({{"kind", kind}, {"result", applied ? "applied" : "skipped"}}).Increment();
  };
  return options;
}

// The manager's options: the health address and, with --leader-elect, the Lease and the
// elector's own client (one attempt, timed out within the retry period, so that a hung connection
// cannot keep a renewal round waiting past the renew deadline).
std::expected<kube::ManagerOptions, std::string> manager_options(const RunFlags& flags,
                                                                 const kube::Config& config,
                                                                 const kube::MetricsPtr& metrics,
                                                                 Logger& log) {
  kube::ManagerOptions mo;
  if (flags.health_addr != "0") mo.health_address = "http://" + flags.health_addr;
  mo.registry = metrics->registry();
  mo.on_info = [&log](const std::string& m) { log.info(m, {}); };
  mo.on_fatal = [&log](const std::string& m) { log.error(m, {}); };
  if (!flags.leader_elect) return mo;
  kube::LeaderElectionConfig le;
  const char* pod_ns = std::getenv("POD_NAMESPACE");
  le.lease_namespace =
      !flags.lease_namespace.empty() ? flags.lease_namespace : (pod_ns ? pod_ns : "default");
  le.lease_name = flags.lease_name;
  le.metrics = metrics;
  le.on_new_leader = [&log](const std::string& id) { log.info("leader is " + id, {}); };
  le.on_log = [&log](const std::string& m) { log.debug(m, {{"component", "leader-election"}}); };
  kube::RestOptions elector_options;
  elector_options.request_timeout =
      std::chrono::duration_cast<std::chrono::seconds>(le.retry_period);
  elector_options.retry.max_attempts = 1;
  elector_options.metrics = metrics;
  auto elector_client = kube::RestClient::create(config, elector_options);
  if (!elector_client) return std::unexpected("leader election client: " + elector_client.error());
  mo.leader_election = le;
  mo.election_client = *elector_client;
  return mo;
}

kube::ControllerOptions controller_options(const RunFlags& flags, const kube::MetricsPtr& metrics,
                                           Logger& log) {
  kube::ControllerOptions copts;
  copts.name = "deepseekservice";
  copts.workers = flags.workers;
  copts.metrics = metrics;
  copts.on_error = [&log](const std::string& key, const kube::ReconcileResult& r) {
    log.warn("reconcile failed", {{"key", key}, {"error", r.error}});
  };
  return copts;
}

// A key goes to the reconciler of the watched namespace that holds it.
kube::ReconcileResult reconcile_in_namespace(const std::vector<std::string>& namespaces,
                                             const std::vector<NamespaceWiring>& wired,
                                             const std::string& key) {
  const std::string ns = kube::split_key(key).first;
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    if (namespaces[i].empty() || namespaces[i] == ns) return wired[i].reconciler->reconcile(key);
  }
  return kube::ReconcileResult::done();
}

// The caches first (synced before anything acts), then the workers, then the scaling loops;
// stopped in reverse: the loops, then the workers after their current reconcile.
void add_to_manager(kube::Manager& manager, const std::vector<NamespaceWiring>& wired,
                    kube::Controller& controller_loop) {
  for (const auto& w : wired) {
    manager.add_informer(w.services, "DeepSeekService");
    manager.add_informer(w.deployments, "Deployment");
    manager.add_informer(w.service_objects, "Service");
    manager.add_informer(w.pdbs, "PodDisruptionBudget");
    manager.add_informer(w.pods, "Pod");
  }
  manager.add_runnable(
      "controller", [&] { controller_loop.start(); }, [&] { controller_loop.stop(); });
  for (const auto& w : wired) {
    scaling::ScalingLoop* loop = w.scaling_loop.get();
    manager.add_runnable(
        "scaling", [loop] { loop->start(); }, [loop] { loop->stop(); });
  }
}

int run(std::span<char* const> args) {
  RunFlags flags;
  bool help = false;
  if (const std::string error = parse_run_flags(args, flags, help); !error.empty()) {
    std::fprintf(stderr, "deepseek-operator run: %s\n", error.c_str());
    return 2;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Logger log(flags.log_level, flags.json_logs);

  // Signals are taken synchronously by the main thread; every thread started below inherits the
  // mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Where the autoscaler reads load: settled (no I/O but the CA file) before connecting to
  // Kubernetes, so that a bad Prometheus setting fails at once.
  const auto source = make_metrics_source(flags, log);
  if (!source) {
    log.error("cannot use Prometheus", {{"error", source.error()}});
    return 1;
  }
  auto sources = kube::ConfigSources::from_environment();
  sources.kubeconfig_flag = flags.kubeconfig;
  sources.context = flags.context;
  const auto config = kube::load_config(sources);
  if (!config) {
    log.error("cannot load the Kubernetes configuration", {{"error", config.error()}});
    return 1;
  }
  auto metrics = std::make_shared<kube::Metrics>();
  kube::RestOptions rest_options;
  rest_options.metrics = metrics;
  auto rest_client = kube::RestClient::create(*config, rest_options);
  if (!rest_client) {
    log.error("cannot create the API client", {{"error", rest_client.error()}});
    return 1;
  }
  auto options = manager_options(flags, *config, metrics, log);
  if (!options) {
    log.error("cannot set up leader election", {{"error", options.error()}});
    return 1;
  }
  kube::Manager manager(std::move(*options));
  // With leader election every write goes through the Lease: refused once the last renewal (timed
  // from when it was sent) is older than the renew deadline (kube/leader_gated_client.h).
  kube::KubeClientPtr client = *rest_client;
  if (flags.leader_elect) {
    client = std::make_shared<kube::LeaderGatedClient>(client,
                                                       [&manager] { return manager.may_write(); });
  }
  log.info("starting", {{"version", DSO_VERSION}, {"server", config->server}});

  const auto pdb_version = controller::discover_pdb_api_version(*client);
  if (!pdb_version) {
    log.error("cannot discover the API server's PodDisruptionBudget API",
              {{"error", pdb_version.error()}});
    return 1;
  }
  auto recorder = std::make_shared<kube::EventRecorder>(client, "deepseek-operator");
  auto queue = std::make_shared<kube::WorkQueue>(
      "deepseekservice", kube::default_controller_rate_limiter(), kube::real_clock(), metrics);
  const Shared shared{flags,
                      log,
                      client,
                      metrics,
                      queue,
                      *pdb_version,
                      *source,
                      std::make_shared<scaling::ColdStartTracker>(),
                      std::make_shared<scaling::ScalingMetrics>(metrics->registry()),
                      reconciler_options(flags, *pdb_version, recorder, metrics)};
  const std::vector<std::string> namespaces =
      flags.namespaces.empty() ? std::vector<std::string>{""} : flags.namespaces;
  std::vector<NamespaceWiring> wired;
  for (const auto& ns : namespaces) wired.push_back(wire_namespace(shared, ns));
  kube::Controller controller_loop(
      controller_options(flags, metrics, log), queue,
      [&](const std::string& key) { return reconcile_in_namespace(namespaces, wired, key); });
  add_to_manager(manager, wired, controller_loop);
  if (auto started = manager.start(); !started) {
    log.error("cannot start", {{"error", started.error()}});
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  log.info("shutting down", {{"signal", strsignal(signal)}});
  // Stops acting, then watching, then releases the Lease (writes from there on are refused).
  manager.stop();
  recorder->flush();
  log.info("stopped", {});
  return 0;
}

const CommandRegistration kRegistration{
    Command{"run", "run the operator: reconcile DeepSeekServices in a cluster", run}};

}  // namespace
}  // namespace dso::cmd
