// The controller process's order of start and stop (see manager.h).
#include "kube/manager.h"

#include <cstdlib>

namespace dso::kube {

Manager::Manager(ManagerOptions options) : options_(std::move(options)) {
  if (!options_.health_address.empty()) {
    health_ = std::make_unique<HealthServer>(options_.health_address, options_.registry);
    health_->add_liveness_check("ping", []() -> std::expected<void, std::string> { return {}; });
    health_->add_readiness_check("informers-synced", [this]() -> std::expected<void, std::string> {
      if (elector_ && !running_) return {};  // a follower is ready to take over
      for (const auto& i : informers_) {
        if (!i.informer->has_synced()) return std::unexpected(i.what + " cache not synced");
      }
      return {};
    });
  }
}

Manager::~Manager() {
  stop();
}

void Manager::add_informer(InformerPtr informer, std::string what) {
  informers_.push_back({std::move(informer), std::move(what)});
}

void Manager::add_runnable(std::string name, std::function<void()> start,
                           std::function<void()> stop) {
  runnables_.push_back({std::move(name), std::move(start), std::move(stop)});
}

bool Manager::may_write() const {
  return !options_.leader_election || (elector_ && elector_->is_leader());
}

void Manager::start_when_synced() {
  for (auto& i : informers_) i.informer->start();
  // Reconciling from a partial cache would act on a partial view; a stop gives way at once.
  for (auto& i : informers_) {
    while (!i.informer->wait_for_sync(std::chrono::milliseconds(200))) {
      if (stopping_) return;
    }
  }
  std::lock_guard lock(lifecycle_mu_);
  if (stopping_) return;
  running_ = true;  // before the starts: a runnable may look (and stop() then stops them all)
  std::string names;
  for (auto& r : runnables_) {
    r.start();
    names += (names.empty() ? "" : ", ") + r.name;
  }
  if (options_.on_info) options_.on_info("started: " + names);
}

void Manager::watch_lease(std::stop_token stop) {
  // Once leading, exit as soon as the Lease is no longer valid by this process's clock, even while
  // the elector's own request is still waiting for an answer.
  bool led = false;
  while (!stop.stop_requested()) {
    if (elector_->is_leader()) {
      led = true;
    } else if (led) {
      std::lock_guard lock(lifecycle_mu_);
      if (stopping_) return;
      if (options_.on_fatal)
        options_.on_fatal("the leader lease expired by this process's clock: exiting");
      std::_Exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::expected<void, std::string> Manager::start() {
  if (health_) {
    if (auto started = health_->start(); !started) return started;
  }
  if (!options_.leader_election) {
    starter_ = std::thread([this] { start_when_synced(); });
    return {};
  }
  LeaderElectionConfig le = *options_.leader_election;
  le.on_started_leading = [this, lease = le.lease_namespace + "/" + le.lease_name] {
    if (options_.on_info) options_.on_info("became leader (Lease " + lease + ")");
    std::lock_guard lock(lifecycle_mu_);
    if (!stopping_) starter_ = std::thread([this] { start_when_synced(); });
  };
  le.on_stopped_leading = [this] {
    if (stopping_) return;
    if (options_.on_fatal)
      options_.on_fatal("lost the leader lease: exiting so that no two operators act at once");
    std::_Exit(1);
  };
  try {
    elector_ = std::make_unique<LeaderElector>(options_.election_client, le);
  } catch (const std::exception& e) {
    return std::unexpected(std::string("leader election: ") + e.what());
  }
  if (options_.on_info) options_.on_info("waiting for the leader lease as " + elector_->identity());
  elector_thread_ = std::jthread([this](std::stop_token stop) { elector_->run(stop); });
  watchdog_ = std::jthread([this](std::stop_token stop) { watch_lease(stop); });
  return {};
}

void Manager::stop() {
  {
    std::lock_guard lock(lifecycle_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  if (starter_.joinable()) starter_.join();
  if (running_) {
    for (auto it = runnables_.rbegin(); it != runnables_.rend(); ++it) it->stop();
  }
  for (auto& i : informers_) i.informer->stop();
  if (watchdog_.joinable()) {
    watchdog_.request_stop();
    watchdog_.join();
  }
  if (elector_thread_.joinable()) {
    elector_thread_.request_stop();
    elector_thread_.join();  // releases the Lease
  }
  running_ = false;
  if (health_) health_->stop();
}

EventHandlers enqueue_handlers(std::shared_ptr<WorkQueue> queue,
                               std::function<std::vector<std::string>(const Json& object)> keys) {
  auto enqueue = [queue, keys = std::move(keys)](const ObjectPtr& o) {
    for (const auto& key : keys(*o)) queue->add(key);
  };
  return {enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& o) { enqueue(o); },
          [enqueue](const ObjectPtr& o, bool) { enqueue(o); }};
}

EventHandlers enqueue_self(std::shared_ptr<WorkQueue> queue) {
  return enqueue_handlers(std::move(queue),
                          [](const Json& o) { return std::vector<std::string>{object_key(o)}; });
}

}  // namespace dso::kube
