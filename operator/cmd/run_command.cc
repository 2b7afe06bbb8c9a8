// `deepseek-operator run`: the controller process. Watches DeepSeekServices (all namespaces or the
// given ones) and the Deployments it made, reconciles each service, serves /healthz, /readyz and
// /metrics, and, with leader election on, acts only while it holds the Lease.
#include <prometheus/counter.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "command.h"
#include "controller/discovery.h"
#include "controller/failover_metrics.h"
#include "controller/reconciler.h"
#include "kube/config.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/health_server.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/leader_gated_client.h"
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
  const auto source_or = make_metrics_source(flags, log);
  if (!source_or) {
    log.error("cannot use Prometheus", {{"error", source_or.error()}});
    return 1;
  }
  const metrics::MetricsSourcePtr source = *source_or;

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
  auto client_or = kube::RestClient::create(*config, rest_options);
  if (!client_or) {
    log.error("cannot create the API client", {{"error", client_or.error()}});
    return 1;
  }
  // With leader election every write goes through the Lease: refused once the last renewal (timed
  // from when it was sent) is older than the renew deadline (kube/leader_gated_client.h).
  std::atomic<const kube::LeaderElector*> lease_holder{nullptr};
  kube::KubeClientPtr client = *client_or;
  if (flags.leader_elect) {
    client = std::make_shared<kube::LeaderGatedClient>(client, [&lease_holder] {
      const kube::LeaderElector* e = lease_holder.load();
      return e != nullptr && e->is_leader();
    });
  }
  log.info("starting", {{"version", DSO_VERSION}, {"server", config->server}});

  const auto pdb_version = controller::discover_pdb_api_version(*client);
  if (!pdb_version) {
    log.error("cannot discover the API server's PodDisruptionBudget API",
              {{"error", pdb_version.error()}});
    return 1;
  }
  auto recorder = std::make_shared<kube::EventRecorder>(client, "deepseek-operator");

  controller::ReconcilerOptions options;
  options.pdb_api_version = *pdb_version;
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

  // Informers: DeepSeekServices and the Deployments, Services and PDBs the operator owns, per
  // watched namespace. A change to an owned object enqueues its service: the reconciler skips
  // applies its caches already hold, and these events bring it back when that stops being true.
  const std::vector<std::string> namespaces =
      flags.namespaces.empty() ? std::vector<std::string>{""} : flags.namespaces;
  auto queue = std::make_shared<kube::WorkQueue>(
      "deepseekservice", kube::default_controller_rate_limiter(), kube::real_clock(), metrics);
  std::vector<kube::InformerPtr> service_informers, deployment_informers, owned_informers;
  std::vector<const kube::Indexer*> service_object_caches, pdb_caches;
  for (const auto& ns : namespaces) {
    kube::InformerOptions so;
    so.resource = controller::DeepSeekServiceReconciler::deepseek_services();
    so.ns = ns;
    so.resync_period = std::chrono::minutes(10);
    so.metrics = metrics;
    so.transform = [](kube::Json& o) { o["metadata"].erase("managedFields"); };
    so.on_log = [&log](const std::string& m) { log.warn(m, {{"informer", "deepseekservices"}}); };
    auto si = std::make_shared<kube::Informer>(client, so);
    si->add_handlers(
        {[queue](const kube::ObjectPtr& o) { queue->add(kube::object_key(*o)); },
         [queue](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
           queue->add(kube::object_key(*o));
         },
         [queue](const kube::ObjectPtr& o, bool) { queue->add(kube::object_key(*o)); }});
    service_informers.push_back(si);

    kube::InformerOptions dopt;
    dopt.resource = controller::DeepSeekServiceReconciler::deployments();
    dopt.ns = ns;
    dopt.label_selector = "app.kubernetes.io/managed-by=deepseek-operator";
    dopt.metrics = metrics;
    dopt.transform = so.transform;
    dopt.on_log = [&log](const std::string& m) { log.warn(m, {{"informer", "deployments"}}); };
    auto di = std::make_shared<kube::Informer>(client, dopt);
    di->add_index(controller::DeepSeekServiceReconciler::kServiceIndex,
                  controller::DeepSeekServiceReconciler::service_index());
    auto enqueue_owner = [queue](const kube::ObjectPtr& o) {
      for (const auto& key : controller::DeepSeekServiceReconciler::service_index()(*o))
        queue->add(key);
    };
    di->add_handlers(
        {enqueue_owner,
         [enqueue_owner](const kube::ObjectPtr&, const kube::ObjectPtr& o) { enqueue_owner(o); },
         [enqueue_owner](const kube::ObjectPtr& o, bool) { enqueue_owner(o); }});
    deployment_informers.push_back(di);

    for (const auto& [resource, caches, what] :
         {std::tuple{controller::DeepSeekServiceReconciler::services(), &service_object_caches,
                     "services"},
          std::tuple{controller::DeepSeekServiceReconciler::pod_disruption_budgets(*pdb_version),
                     &pdb_caches, "poddisruptionbudgets"}}) {
      kube::InformerOptions oopt = dopt;
      oopt.resource = resource;
      const std::string informer_name = what;
      oopt.on_log = [&log, informer_name](const std::string& m) {
        log.warn(m, {{"informer", informer_name}});
      };
      auto oi = std::make_shared<kube::Informer>(client, oopt);
      oi->add_handlers(
          {enqueue_owner,
           [enqueue_owner](const kube::ObjectPtr&, const kube::ObjectPtr& o) { enqueue_owner(o); },
           [enqueue_owner](const kube::ObjectPtr& o, bool) { enqueue_owner(o); }});
      caches->push_back(&oi->store());
      owned_informers.push_back(oi);
    }
  }
  // Cold starts from the operator's pods (creation -> Ready), for the forecast horizon.
  auto cold_starts = std::make_shared<scaling::ColdStartTracker>();
  std::vector<kube::InformerPtr> pod_informers;
  for (const auto& ns : namespaces) {
    kube::InformerOptions po;
    po.resource = {"", "v1", "pods", true};
    po.ns = ns;
    po.label_selector = "app.kubernetes.io/managed-by=deepseek-operator";
    po.metrics = metrics;
    // Only what the cold-start measurement reads is cached.
    po.transform = [](kube::Json& o) {
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
    };
    po.on_log = [&log](const std::string& m) { log.warn(m, {{"informer", "pods"}}); };
    auto pi = std::make_shared<kube::Informer>(client, po);
    pi->add_handlers(
        {[cold_starts](const kube::ObjectPtr& o) { cold_starts->observe(*o); },
         [cold_starts](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
           cold_starts->observe(*o);
         },
         [cold_starts](const kube::ObjectPtr& o, bool) { cold_starts->pod_deleted(*o); }});
    pod_informers.push_back(pi);
  }
  // The scaling loop (one per watched namespace, each over its own cache); it runs on the leader
  // only, started with the controllers.
  auto scaling_metrics = std::make_shared<scaling::ScalingMetrics>(metrics->registry());
  std::vector<std::unique_ptr<scaling::ScalingLoop>> scaling_loops;
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    scaling::ScalingLoopOptions so;
    so.settings.decision_period = flags.decision_period;
    so.workers = flags.autoscaler_workers;
    so.record_event = options.record_event;
    so.enqueue = [queue](const std::string& key) { queue->add(key); };
    so.metrics = scaling_metrics;
    so.on_log = [&log](const std::string& m) { log.info(m, {{"component", "autoscaler"}}); };
    scaling_loops.push_back(std::make_unique<scaling::ScalingLoop>(service_informers[i]->store(),
                                                                   source, cold_starts, so));
  }
  // One reconciler per watched namespace, each reading its own caches.
  std::vector<std::unique_ptr<controller::DeepSeekServiceReconciler>> reconcilers;
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    controller::ReconcilerOptions ro = options;
    scaling::ScalingLoop* loop = scaling_loops[i].get();
    ro.desired_replicas = [loop](const api::DeepSeekService& s) {
      return loop->desired_replicas(s);
    };
    ro.autoscaling_status = [loop](const api::DeepSeekService& s) { return loop->status_part(s); };
    ro.service_cache = service_object_caches[i];
    ro.pdb_cache = pdb_caches[i];
    reconcilers.push_back(std::make_unique<controller::DeepSeekServiceReconciler>(
        client, service_informers[i]->store(), deployment_informers[i]->store(), ro));
  }
  auto reconcile = [&](const std::string& key) -> kube::ReconcileResult {
    const auto [ns, name] = kube::split_key(key);
    for (std::size_t i = 0; i < namespaces.size(); ++i) {
      if (namespaces[i].empty() || namespaces[i] == ns) return reconcilers[i]->reconcile(key);
    }
    return kube::ReconcileResult::done();
  };
  kube::ControllerOptions copts;
  copts.name = "deepseekservice";
  copts.workers = flags.workers;
  copts.metrics = metrics;
  copts.on_error = [&log](const std::string& key, const kube::ReconcileResult& r) {
    log.warn("reconcile failed", {{"key", key}, {"error", r.error}});
  };
  kube::Controller controller_loop(copts, queue, reconcile);

  std::atomic<bool> running{false};
  std::atomic<bool> shutting_down{false};
  std::mutex lifecycle_mu;  // orders starting the controllers against shutting down
  std::thread starter;      // starts the controllers once this process leads
  auto start_controllers = [&] {
    for (auto& i : service_informers) i->start();
    for (auto& i : deployment_informers) i->start();
    for (auto& i : owned_informers) i->start();
    for (auto& i : pod_informers) i->start();
    // Wait for the caches (reconciling from a partial cache would act on a partial view), but give
    // way at once to a shutdown.
    auto synced = [&](const std::vector<kube::InformerPtr>& informers) {
      for (auto& i : informers) {
        while (!i->wait_for_sync(std::chrono::milliseconds(200))) {
          if (shutting_down) return false;
        }
      }
      return true;
    };
    if (!synced(service_informers) || !synced(deployment_informers) || !synced(owned_informers) ||
        !synced(pod_informers))
      return;
    std::lock_guard lock(lifecycle_mu);
    if (shutting_down) return;
    controller_loop.start();
    for (auto& l : scaling_loops) l->start();
    running = true;
    log.info("controllers started",
             {{"workers", std::to_string(flags.workers)}, {"pdbVersion", *pdb_version}});
  };

  std::unique_ptr<kube::HealthServer> health;
  if (flags.health_addr != "0") {
    health =
        std::make_unique<kube::HealthServer>("http://" + flags.health_addr, metrics->registry());
    health->add_liveness_check("ping", []() -> std::expected<void, std::string> { return {}; });
    health->add_readiness_check("informers-synced", [&]() -> std::expected<void, std::string> {
      if (flags.leader_elect && !running) return {};  // a follower is ready to take over
      for (auto& i : service_informers)
        if (!i->has_synced()) return std::unexpected("DeepSeekService cache not synced");
      for (auto& i : deployment_informers)
        if (!i->has_synced()) return std::unexpected("Deployment cache not synced");
      for (auto& i : owned_informers)
        if (!i->has_synced()) return std::unexpected("Service/PDB cache not synced");
      for (auto& i : pod_informers)
        if (!i->has_synced()) return std::unexpected("Pod cache not synced");
      return {};
    });
    if (auto started = health->start(); !started) {
      log.error("cannot serve health endpoints", {{"error", started.error()}});
      return 1;
    }
  }

  std::jthread elector_thread, watchdog;
  std::unique_ptr<kube::LeaderElector> elector;
  if (flags.leader_elect) {
    kube::LeaderElectionConfig le;
    const char* pod_ns = std::getenv("POD_NAMESPACE");
    le.lease_namespace =
        !flags.lease_namespace.empty() ? flags.lease_namespace : (pod_ns ? pod_ns : "default");
    le.lease_name = flags.lease_name;
    le.metrics = metrics;
    // By value: `le` ends with this block, while the elector calls back for the process's life
    // (a reference to it logged garbage as the lease's name).
    le.on_started_leading = [&, lease = le.lease_namespace + "/" + le.lease_name] {
      log.info("became leader", {{"lease", lease}});
      std::lock_guard lock(lifecycle_mu);
      if (!shutting_down) starter = std::thread(start_controllers);
    };
    le.on_stopped_leading = [&] {
      if (shutting_down) return;
      log.error("lost the leader lease: exiting so that no two operators act at once", {});
      std::_Exit(1);
    };
    le.on_new_leader = [&](const std::string& id) { log.info("leader is " + id, {}); };
    le.on_log = [&](const std::string& m) { log.debug(m, {{"component", "leader-election"}}); };
    // The elector's own client: one attempt, timed out within the retry period, so that a hung
    // connection cannot keep a renewal round waiting past the renew deadline.
    kube::RestOptions elector_options;
    elector_options.request_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(le.retry_period);
    elector_options.retry.max_attempts = 1;
    elector_options.metrics = metrics;
    auto elector_client = kube::RestClient::create(*config, elector_options);
    if (!elector_client) {
      log.error("cannot create the leader election client", {{"error", elector_client.error()}});
      return 1;
    }
    elector = std::make_unique<kube::LeaderElector>(*elector_client, le);
    lease_holder = elector.get();
    log.info("waiting for the leader lease", {{"identity", elector->identity()}});
    elector_thread = std::jthread([&](std::stop_token stop) { elector->run(stop); });
    // The watchdog: once leading, exit as soon as the Lease is no longer valid by this process's
    // clock, even while the elector's own request is still waiting for an answer.
    watchdog = std::jthread([&](std::stop_token stop) {
      bool led = false;
      while (!stop.stop_requested()) {
        if (elector->is_leader()) {
          led = true;
        } else if (led) {
          std::lock_guard lock(lifecycle_mu);
          if (shutting_down) return;
          log.error("the leader lease expired by this process's clock: exiting", {});
          std::_Exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  } else {
    starter = std::thread(start_controllers);
  }

  int signal = 0;
  sigwait(&signals, &signal);
  {
    std::lock_guard lock(lifecycle_mu);
    shutting_down = true;
  }
  log.info("shutting down", {{"signal", strsignal(signal)}});
  // Order: stop acting (workers finish their current reconcile), then stop watching, then release
  // the Lease, so that no other replica leads while this one still writes.
  if (starter.joinable()) starter.join();
  for (auto& l : scaling_loops) l->stop();
  controller_loop.stop();
  for (auto& i : service_informers) i->stop();
  for (auto& i : deployment_informers) i->stop();
  for (auto& i : owned_informers) i->stop();
  for (auto& i : pod_informers) i->stop();
  if (watchdog.joinable()) {
    watchdog.request_stop();
    watchdog.join();
  }
  if (elector_thread.joinable()) {
    elector_thread.request_stop();
    elector_thread.join();   // releases the Lease
    lease_holder = nullptr;  // writes from here on (destructors included) are refused, never UB
  }
  recorder->flush();
  if (health) health->stop();
  log.info("stopped", {});
  return 0;
}

const CommandRegistration kRegistration{
    Command{"run", "run the operator: reconcile DeepSeekServices in a cluster", run}};

}  // namespace
}  // namespace dso::cmd
