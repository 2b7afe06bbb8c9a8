// EventRecorder: core/v1 Events about objects, as kubectl describe shows them. Repeats of the
// same (object, type, reason) within ten minutes are aggregated into one Event whose count and
// lastTimestamp go up (client-go's EventCorrelator keys on the message too and folds >10 similar
// messages; here the latest message is kept). Sending happens on a background thread: record()
// never blocks on the API server and never fails the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/clock.h"

namespace dso::kube {

class EventRecorder {
 public:
  // `component` is the source (e.g. "deepseek-operator").
  EventRecorder(KubeClientPtr client, std::string component, ClockPtr clock = real_clock());
  ~EventRecorder();  // sends what is queued, then stops
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Records an event about `object` (any API object with metadata; apiVersion/kind from it).
  // type is "Normal" or "Warning". Costs a queue push.
  void record(const Json& object, const std::string& type, const std::string& reason,
              const std::string& message);
  // Blocks until every event recorded so far was sent (or failed); for tests and shutdown.
  void flush();
  long sent() const;    // API writes that succeeded (creates + patches)
  long failed() const;  // API writes that failed
  // Events that later repeats may still join (within the aggregation window); for tests.
  std::size_t aggregates() const;

 private:
  struct Pending {
    Json object;
    std::string type, reason, message;
  };
  struct Aggregate {
    std::string ns, name;
    long count = 0;
    TimePoint last;
  };
  void loop();
  void send(const Pending& p);

  KubeClientPtr client_;
  std::string component_;
  ClockPtr clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::map<std::string, Aggregate> aggregates_;  // only touched by the sender thread
  std::atomic<std::size_t> aggregate_count_{0};  // its size, for aggregates()
  long sent_ = 0, failed_ = 0;
  std::thread thread_;
};

}  // namespace dso::kube
