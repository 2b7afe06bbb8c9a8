// kube::Manager: the parts of a controller process and their order, in the spirit of
// controller-runtime's Manager. It serves /healthz, /readyz and /metrics; campaigns for a Lease
// when leader election is configured; once this process leads (at once without election) starts
// the informers, waits for every cache to sync, then starts the runnables (controllers, loops) in
// the order added. On stop it stops the runnables in reverse, then the informers, then the elector
// (which releases the Lease), then the health server: no other replica leads while this one still
// writes. Leadership lost while running ends the process (exit status 1) at once, as does a Lease
// that is no longer valid by this process's clock while the elector still waits on a request.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/health_server.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/work_queue.h"

namespace dso::kube {

struct ManagerOptions {
  // Leader election: the Lease and the elector's own client (one attempt, a request timeout within
  // the retry period: a hung connection must not hold a renewal past the renew deadline). The
  // manager sets the config's on_started_leading and on_stopped_leading.
  std::optional<LeaderElectionConfig> leader_election;
  KubeClientPtr election_client;
  // /healthz, /readyz and /metrics at this address ("http://HOST:PORT"; empty: not served).
  std::string health_address;
  std::shared_ptr<prometheus::Registry> registry;
  std::function<void(const std::string& message)> on_info;
  // Logged just before the process exits on a lost Lease.
  std::function<void(const std::string& message)> on_fatal;
};

class Manager {
 public:
  explicit Manager(ManagerOptions options);
  ~Manager();  // stop()
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Before start(). An informer is started once this process leads and synced before any runnable
  // starts; /readyz reports "`what` cache not synced" until it is (a follower is ready).
  void add_informer(InformerPtr informer, std::string what);
  // Before start(). Started in the order added (`name` in the log line that says so) once the
  // caches have synced; stopped in reverse.
  void add_runnable(std::string name, std::function<void()> start, std::function<void()> stop);
  // Extra health checks (e.g. a dependency), before start().
  HealthServer* health() { return health_.get(); }

  // Whether this process may write now: it leads by its own clock, or runs without election.
  // Thread-safe; what LeaderGatedClient asks.
  bool may_write() const;
  // The runnables are running (the caches synced and, with election, this process leads).
  bool running() const { return running_; }

  // Serves health, then campaigns (or starts at once). Returns once started in the background;
  // errors: the health endpoints could not be served, or the elector could not be made.
  std::expected<void, std::string> start();
  // Stops everything in the order above. Idempotent.
  void stop();

 private:
  void start_when_synced();  // on its own thread
  void watch_lease(std::stop_token stop);

  ManagerOptions options_;
  struct NamedInformer {
    InformerPtr informer;
    std::string what;
  };
  struct Runnable {
    std::string name;
    std::function<void()> start, stop;
  };
  std::vector<NamedInformer> informers_;
  std::vector<Runnable> runnables_;
  std::unique_ptr<HealthServer> health_;
  std::unique_ptr<LeaderElector> elector_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mu_;  // orders starting the runnables against stopping
  std::thread starter_;
  std::jthread elector_thread_, watchdog_;
  bool stopped_ = false;
};

// Handlers that put an object's keys on `queue`: `keys` maps an object to the keys to reconcile
// (its own key, or its owner's found by a label); the same for add, update and delete.
EventHandlers enqueue_handlers(std::shared_ptr<WorkQueue> queue,
                               std::function<std::vector<std::string>(const Json& object)> keys);
// enqueue_handlers with the object's own key.
EventHandlers enqueue_self(std::shared_ptr<WorkQueue> queue);

}  // namespace dso::kube
