// The controller loop (controller-runtime's semantics): N workers take keys from a WorkQueue and
// call reconcile(key). The outcome decides what happens to the key: done (forget), requeue after
// a delay (forget + add_after), error (rate-limited retry) or terminal error (recorded, not
// retried). An exception thrown by reconcile counts as an error and never kills the process.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kube/clock.h"
#include "kube/metrics.h"
#include "kube/work_queue.h"

namespace dso::kube {

struct ReconcileResult {
  enum class Kind { kDone, kRequeueAfter, kError, kTerminalError };
  Kind kind = Kind::kDone;
  Duration requeue_after{};
  std::string error;  // for kError / kTerminalError: one line naming what and where

  static ReconcileResult done() { return {}; }
  static ReconcileResult requeue_after_delay(Duration d) { return {Kind::kRequeueAfter, d, {}}; }
  static ReconcileResult failed(std::string message) {
    return {Kind::kError, {}, std::move(message)};
  }
  static ReconcileResult terminal(std::string message) {
    return {Kind::kTerminalError, {}, std::move(message)};
  }
};

using ReconcileFunc = std::function<ReconcileResult(const std::string& key)>;

struct ControllerOptions {
  std::string name = "controller";
  int workers = 1;
  MetricsPtr metrics;
  ClockPtr clock = real_clock();
  // Called (from a worker thread) for every error, terminal error or exception, with the key.
  std::function<void(const std::string& key, const ReconcileResult&)> on_error;
};

class Controller {
 public:
  // `queue` may be shared with event handlers that add keys; the controller owns the workers.
  Controller(ControllerOptions options, WorkQueuePtr queue, ReconcileFunc reconcile);
  ~Controller();  // stop()

  // Starts the workers; returns immediately. Call once.
  void start();
  // Shuts the queue down, lets workers finish the reconciles in flight, joins them.
  void stop();

  const WorkQueuePtr& queue() const { return queue_; }
  // Counters for tests and status: reconciles run, errors (incl. exceptions), terminal errors.
  long reconciles() const { return reconciles_; }
  long errors() const { return errors_; }
  long terminal_errors() const { return terminal_errors_; }

 private:
  void worker();
  void process(const std::string& key);

  ControllerOptions options_;
  WorkQueuePtr queue_;
  ReconcileFunc reconcile_;
  std::vector<std::thread> workers_;
  std::atomic<long> reconciles_{0}, errors_{0}, terminal_errors_{0};
};

}  // namespace dso::kube
