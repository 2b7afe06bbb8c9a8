// The controller loop: outcomes map to forget / add_after / rate-limited retry / no retry, and an
// exception in reconcile is contained.
#include "kube/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "fakes/fake_clock.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

struct Fixture {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  WorkQueuePtr queue = std::make_shared<WorkQueue>("c", nullptr, clock);
  std::mutex mu;
  std::map<std::string, int> calls;
  int count(const std::string& key) {
    std::lock_guard lock(mu);
    return calls[key];
  }
};

TEST(Controller, OutcomesDecideRetries) {
  Fixture f;
  std::vector<std::string> errors;
  ControllerOptions options;
  options.name = "test";
  options.workers = 2;
  options.clock = f.clock;
  options.on_error = [&](const std::string& key, const ReconcileResult&) {
    std::lock_guard lock(f.mu);
    errors.push_back(key);
  };
  Controller c(options, f.queue, [&](const std::string& key) {
    int n;
    {
      std::lock_guard lock(f.mu);
      n = ++f.calls[key];
    }
    if (key == "done") return ReconcileResult::done();
    if (key == "later")
      return n == 1 ? ReconcileResult::requeue_after_delay(30s) : ReconcileResult::done();
    if (key == "flaky")
      return n < 3 ? ReconcileResult::failed("flaky failed") : ReconcileResult::done();
    if (key == "terminal") return ReconcileResult::terminal("bad spec");
    if (key == "throws") throw std::runtime_error("boom");
    return ReconcileResult::done();
  });
  c.start();
  for (const char* k : {"done", "later", "flaky", "terminal", "throws"}) f.queue->add(k);
  ASSERT_TRUE(eventually([&] { return f.count("throws") == 1 && f.count("flaky") == 1; }));
  // flaky: retried after 5 ms, then 10 ms (rate-limited).
  f.clock->advance(5ms);
  ASSERT_TRUE(eventually([&] { return f.count("flaky") == 2; }));
  f.clock->advance(10ms);
  ASSERT_TRUE(eventually([&] { return f.count("flaky") == 3; }));
  EXPECT_EQ(f.queue->num_requeues("flaky"), 0);  // forgotten after success
  // throws: counted as an error and retried (rate-limited), the process lives on.
  ASSERT_TRUE(eventually([&] { return f.count("throws") >= 2; }));
  // later: run again only after 30 s.
  f.clock->advance(29s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(f.count("later"), 1);
  f.clock->advance(1s);
  ASSERT_TRUE(eventually([&] { return f.count("later") == 2; }));
  // terminal: never retried.
  f.clock->advance(2000s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(f.count("terminal"), 1);
  EXPECT_EQ(f.count("done"), 1);
  c.stop();
  EXPECT_EQ(c.terminal_errors(), 1);
  EXPECT_GE(c.errors(), 3);  // flaky x2, throws x>=1
  std::lock_guard lock(f.mu);
  EXPECT_NE(std::find(errors.begin(), errors.end(), "terminal"), errors.end());
  EXPECT_NE(std::find(errors.begin(), errors.end(), "throws"), errors.end());
}

TEST(Controller, StopWaitsForReconcileInFlight) {
  Fixture f;
  std::atomic<bool> finished{false};
  std::atomic<bool> started{false};
  ControllerOptions options;
  options.clock = f.clock;
  Controller c(options, f.queue, [&](const std::string&) {
    started = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
    return ReconcileResult::done();
  });
  c.start();
  f.queue->add("x");
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  c.stop();
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace dso::kube
