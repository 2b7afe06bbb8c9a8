#include "kube/controller.h"

#include <exception>

namespace dso::kube {

Controller::Controller(ControllerOptions options, WorkQueuePtr queue, ReconcileFunc reconcile)
    : options_(std::move(options)), queue_(std::move(queue)), reconcile_(std::move(reconcile)) {}

Controller::~Controller() {
  stop();
}

void Controller::start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { worker(); });
  }
}

void Controller::stop() {
  queue_->shut_down_with_drain();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Controller::worker() {
  while (auto key = queue_->get()) {
    process(*key);
    queue_->done(*key);
  }
}

void Controller::process(const std::string& key) {
  const TimePoint start = options_.clock->now();
  ReconcileResult result;
  try {
    result = reconcile_(key);
  } catch (const std::exception& e) {
    result = ReconcileResult::failed(options_.name + ": reconcile " + key + " threw: " + e.what());
  } catch (...) {
    result =
        ReconcileResult::failed(options_.name + ": reconcile " + key + " threw a non-exception");
  }
  ++reconciles_;
  const char* label = "success";
  switch (result.kind) {
    case ReconcileResult::Kind::kDone:
      queue_->forget(key);
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      label = "requeue_after";
      queue_->forget(key);
      queue_->add_after(key, result.requeue_after);
      break;
    case ReconcileResult::Kind::kError:
      label = "error";
      ++errors_;
      queue_->add_rate_limited(key);
      break;
    case ReconcileResult::Kind::kTerminalError:
      label = "terminal_error";
      ++terminal_errors_;
      queue_->forget(key);
      break;
  }
  if (options_.metrics) {
    options_.metrics->observe_reconcile(
        options_.name, std::chrono::duration<double>(options_.clock->now() - start).count(), label);
  }
  if (result.kind == ReconcileResult::Kind::kError ||
      result.kind == ReconcileResult::Kind::kTerminalError) {
    if (options_.on_error) {
      try {
        options_.on_error(key, result);
      } catch (...) {
      }
    }
  }
}

}  // namespace dso::kube
