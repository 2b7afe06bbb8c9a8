// Dynamic batching: batches form up to max size or max wait, one forward pass per step for the
// whole batch, sequences join and leave between steps, high priority first, bounded queue, stop
// sequences, abort.
#include "server/batch_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "fake_model.h"

namespace dso::inference {
namespace {

using namespace std::chrono_literals;
using testing::FakeModel;

// Records one job's callbacks and the global order in which jobs finished.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> finished_order;
  int finished = 0;

  void wait_for(int n) {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return finished >= n; })) << finished << " of " << n;
  }
};

class RecordingSink final : public GenerationSink {
 public:
  RecordingSink(std::string name, Recorder& recorder)
      : name_(std::move(name)), recorder_(recorder) {}
  void on_first_token() override { ++first_tokens; }
  void on_text(std::string_view delta) override { deltas.emplace_back(delta); }
  void on_finish(const GenerationResult& r) override {
    result = r;
    finished_on = std::this_thread::get_id();
    std::lock_guard lock(recorder_.mu);
    recorder_.finished_order.push_back(name_);
    ++recorder_.finished;
    recorder_.cv.notify_all();
  }
  std::string streamed() const {
    std::string all;
    for (const auto& d : deltas) all += d;
    return all;
  }

  int first_tokens = 0;
  std::vector<std::string> deltas;
  GenerationResult result;
  std::thread::id finished_on;

 private:
  std::string name_;
  Recorder& recorder_;
};

GenerationJob job(std::shared_ptr<RecordingSink> sink, std::string prompt, int max_tokens,
                  Priority priority = Priority::kNormal) {
  GenerationJob j;
  j.prompt = std::move(prompt);
  j.params.max_tokens = max_tokens;
  j.params.temperature = 0;
  j.priority = priority;
  j.sink = std::move(sink);
  return j;
}

TEST(BatchScheduler, FormsOneBatchFromConcurrentRequestsAndAnswersEach) {
  FakeModel model;
  Recorder rec;
  // A long max_wait: the batch must start because it is full, not because the wait ran out.
  BatchScheduler scheduler(model, {4, 10s, 16}, nullptr);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>(std::to_string(i), rec));
    ASSERT_TRUE(scheduler.submit(job(sinks.back(), std::string(1, static_cast<char>('a' + i)), 3)));
  }
  rec.wait_for(4);
  EXPECT_EQ(model.batch_sizes(), (std::vector<int>{4, 4, 4}));  // 3 steps, one pass each
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>('a' + i);
    const std::string want{static_cast<char>(c + 1), static_cast<char>(c + 2),
                           static_cast<char>(c + 3)};
    EXPECT_EQ(sinks[i]->result.text, want);
    EXPECT_EQ(sinks[i]->result.finish, FinishReason::kLength);
    EXPECT_EQ(sinks[i]->result.prompt_tokens, 1);
    EXPECT_EQ(sinks[i]->result.completion_tokens, 3);
    EXPECT_EQ(sinks[i]->streamed(), sinks[i]->result.text);
    EXPECT_EQ(sinks[i]->first_tokens, 1);
  }
}

TEST(BatchScheduler, IdleModelWaitsAtMostMaxWaitForABatch) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {8, 20ms, 16}, nullptr);
  auto sink = std::make_shared<RecordingSink>("a", rec);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(scheduler.submit(job(sink, "x", 1)));
  rec.wait_for(1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(model.batch_sizes(), std::vector<int>{1});
}

TEST(BatchScheduler, SequencesJoinAndLeaveBetweenSteps) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {4, 0us, 16}, nullptr);
  auto long_job = std::make_shared<RecordingSink>("long", rec);
  auto short_job = std::make_shared<RecordingSink>("short", rec);
  model.pause();
  ASSERT_TRUE(scheduler.submit(job(long_job, "a", 6)));
  model.wait_in_forward();  // step 1 of "long" is running alone
  ASSERT_TRUE(scheduler.submit(job(short_job, "k", 2)));
  model.resume();
  rec.wait_for(2);
  EXPECT_EQ(rec.finished_order, (std::vector<std::string>{"short", "long"}));
  // long runs 6 steps; short joins at step 2 and leaves after step 3: batch 1, 2, 2, 1, 1, 1.
  EXPECT_EQ(model.batch_sizes(), (std::vector<int>{1, 2, 2, 1, 1, 1}));
  EXPECT_EQ(long_job->result.text, "bcdefg");
  EXPECT_EQ(short_job->result.text, "lm");
}

TEST(BatchScheduler, HighPriorityIsAdmittedBeforeQueuedNormalRequests) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 16}, nullptr);
  model.pause();
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("first", rec), "a", 1)));
  model.wait_in_forward();
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("n1", rec), "a", 1)));
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("n2", rec), "a", 1)));
  ASSERT_TRUE(
      scheduler.submit(job(std::make_shared<RecordingSink>("h1", rec), "a", 1, Priority::kHigh)));
  EXPECT_EQ(scheduler.queue_depth(), 3u);
  model.resume();
  rec.wait_for(4);
  EXPECT_EQ(rec.finished_order, (std::vector<std::string>{"first", "h1", "n1", "n2"}));
}

TEST(BatchScheduler, FullQueueRefusesWithRetryAfter) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 2}, nullptr);
  model.pause();
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("running", rec), "a", 1)));
  model.wait_in_forward();
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("q1", rec), "a", 1)));
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("q2", rec), "a", 1)));
  auto refused_sink = std::make_shared<RecordingSink>("refused", rec);
  auto refused = scheduler.submit(job(refused_sink, "a", 1));
  ASSERT_FALSE(refused);
  EXPECT_GE(refused.error().retry_after_seconds, 1);
  model.resume();
  rec.wait_for(3);
  EXPECT_EQ(refused_sink->result.completion_tokens, 0);  // never called
  EXPECT_EQ(rec.finished, 3);
}

TEST(BatchScheduler, ExpectedWaitBoundRefusesBeforeTheCountBound) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 100, 1us}, nullptr);
  // No rate measured yet: only the count bound applies.
  EXPECT_EQ(scheduler.completions_per_second(), 0);
  // 300 ms of steady one-token requests measure the completion rate.
  int n = 0;
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("warm", rec), "a", 1)));
    rec.wait_for(++n);
  }
  ASSERT_GT(scheduler.completions_per_second(), 0);
  model.pause();
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("running", rec), "a", 1)));
  model.wait_in_forward();
  // Nothing waits yet: expected wait 0, accepted. One waiting: 1 / rate > 1 us, refused.
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("first", rec), "a", 1)));
  auto refused = scheduler.submit(job(std::make_shared<RecordingSink>("second", rec), "a", 1));
  ASSERT_FALSE(refused);
  EXPECT_GE(refused.error().retry_after_seconds, 1);
  // A high-priority request waits only behind high-priority ones.
  EXPECT_TRUE(
      scheduler.submit(job(std::make_shared<RecordingSink>("high", rec), "a", 1, Priority::kHigh)));
  model.resume();
  rec.wait_for(n + 3);
}

TEST(BatchScheduler, StopSequenceEndsGenerationAndIsNeverStreamed) {
  FakeModel model;
  model.set_script("xyzab");  // after "x": y z a b x y ...
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 4}, nullptr);
  auto sink = std::make_shared<RecordingSink>("s", rec);
  auto j = job(sink, "x", 20);
  j.params.stop = {"ab"};
  ASSERT_TRUE(scheduler.submit(std::move(j)));
  rec.wait_for(1);
  EXPECT_EQ(sink->result.finish, FinishReason::kStop);
  EXPECT_EQ(sink->result.text, "yz");
  EXPECT_EQ(sink->streamed(), "yz");  // the "a" was held back, then dropped
  EXPECT_EQ(sink->result.completion_tokens, 4);
}

TEST(BatchScheduler, ModelSeesWholeSequencesUnderStableIdsAndReleasesThem) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {2, 0us, 4}, nullptr);
  auto sink = std::make_shared<RecordingSink>("s", rec);
  ASSERT_TRUE(scheduler.submit(job(sink, std::string(20, 'a'), 10)));
  rec.wait_for(1);
  EXPECT_EQ(sink->result.finish, FinishReason::kLength);
  EXPECT_EQ(sink->result.prompt_tokens, 20);
  EXPECT_EQ(sink->result.text, "bcdefghijk");
  // 10 steps of one sequence, all under one id, growing to prompt + 9 generated tokens; the id is
  // released when the request finishes (the model drops its KV cache).
  auto ids = model.ids_seen();
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_TRUE(std::all_of(ids.begin(), ids.end(), [&](auto id) { return id == ids[0]; }));
  EXPECT_EQ(model.longest_seen(), 29u);
  EXPECT_EQ(model.released(), std::vector<std::uint64_t>{ids[0]});
}

TEST(BatchScheduler, AbortEndsQueuedAndRunningRequestsWithAnError) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 8}, nullptr);
  model.pause();
  auto running = std::make_shared<RecordingSink>("running", rec);
  auto queued = std::make_shared<RecordingSink>("queued", rec);
  ASSERT_TRUE(scheduler.submit(job(running, "a", 100)));
  model.wait_in_forward();
  ASSERT_TRUE(scheduler.submit(job(queued, "a", 100)));
  scheduler.abort_all();
  model.resume();
  rec.wait_for(2);
  EXPECT_EQ(running->result.finish, FinishReason::kError);
  EXPECT_EQ(queued->result.finish, FinishReason::kError);
  EXPECT_EQ(queued->result.error, "server shutting down");
  EXPECT_FALSE(scheduler.submit(job(std::make_shared<RecordingSink>("late", rec), "a", 1)));
}

TEST(BatchScheduler, StopAcceptingRefusesNewWorkButFinishesAccepted) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, {1, 0us, 8}, nullptr);
  model.pause();
  auto accepted = std::make_shared<RecordingSink>("accepted", rec);
  ASSERT_TRUE(scheduler.submit(job(accepted, "a", 3)));
  model.wait_in_forward();
  scheduler.stop_accepting();
  EXPECT_FALSE(scheduler.submit(job(std::make_shared<RecordingSink>("late", rec), "a", 1)));
  model.resume();
  rec.wait_for(1);
  EXPECT_EQ(accepted->result.finish, FinishReason::kLength);
  EXPECT_EQ(accepted->result.text, "bcd");
}

// first_step_on_caller: an idle scheduler runs a request's first step inside submit().
SchedulerOptions caller_steps(int max_batch) {
  SchedulerOptions o{max_batch, 0us, 16};
  o.first_step_on_caller = true;
  return o;
}

// The scheduler thread goes idle shortly after it starts: submits one-token probes until one is
// answered on this thread, inside submit().
void wait_until_answered_on_caller(BatchScheduler& scheduler, Recorder& rec) {
  for (int i = 0; i < 1000; ++i) {
    auto probe = std::make_shared<RecordingSink>("probe", rec);
    int before = 0;
    {
      std::lock_guard lock(rec.mu);
      before = rec.finished;
    }
    ASSERT_TRUE(scheduler.submit(job(probe, "a", 1)));
    rec.wait_for(before + 1);
    if (probe->finished_on == std::this_thread::get_id()) return;
    std::this_thread::sleep_for(1ms);
  }
  FAIL() << "no request was answered on the caller's thread";
}

TEST(BatchScheduler, IdleSchedulerRunsTheFirstStepOnTheCaller) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, caller_steps(4), nullptr);
  wait_until_answered_on_caller(scheduler, rec);
  // Idle now, and stays so: answered before submit() returns, no hand-off.
  auto one = std::make_shared<RecordingSink>("one", rec);
  ASSERT_TRUE(scheduler.submit(job(one, "a", 1)));
  EXPECT_EQ(one->finished_on, std::this_thread::get_id());
  EXPECT_EQ(one->result.text, "b");
  // A longer request: the first token is made by the caller, the rest by the scheduler thread,
  // under the same sequence id.
  auto three = std::make_shared<RecordingSink>("three", rec);
  const auto steps_before = model.ids_seen().size();
  int finished_before = 0;
  {
    std::lock_guard lock(rec.mu);
    finished_before = rec.finished;
  }
  ASSERT_TRUE(scheduler.submit(job(three, "a", 3)));
  EXPECT_EQ(three->first_tokens, 1);
  rec.wait_for(finished_before + 1);
  EXPECT_NE(three->finished_on, std::this_thread::get_id());
  EXPECT_EQ(three->result.text, "bcd");
  EXPECT_EQ(three->streamed(), "bcd");
  auto ids = model.ids_seen();
  ASSERT_EQ(ids.size(), steps_before + 3);
  EXPECT_TRUE(ids[steps_before] == ids[steps_before + 1] &&
              ids[steps_before + 1] == ids[steps_before + 2]);
}

TEST(BatchScheduler, RequestsDuringACallersStepQueueAndJoinItsSequence) {
  FakeModel model;
  Recorder rec;
  BatchScheduler scheduler(model, caller_steps(4), nullptr);
  wait_until_answered_on_caller(scheduler, rec);
  const int probes = rec.finished;
  const auto steps_before = model.batch_sizes().size();
  model.pause();
  auto first = std::make_shared<RecordingSink>("first", rec);
  std::thread caller([&] { EXPECT_TRUE(scheduler.submit(job(first, "a", 3))); });
  model.wait_in_forward();  // the caller's step holds the model
  // Not idle any more: queued, and the scheduler thread does not start a second forward pass.
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("second", rec), "k", 1)));
  EXPECT_EQ(scheduler.queue_depth(), 1u);
  model.resume();
  caller.join();
  rec.wait_for(probes + 2);
  EXPECT_EQ(std::vector<std::string>(rec.finished_order.begin() + probes, rec.finished_order.end()),
            (std::vector<std::string>{"second", "first"}));
  // The caller's step alone; then first (handed over) and second together; then first alone.
  auto sizes = model.batch_sizes();
  EXPECT_EQ(
      std::vector<int>(sizes.begin() + static_cast<std::ptrdiff_t>(steps_before), sizes.end()),
      (std::vector<int>{1, 2, 1}));
  EXPECT_EQ(first->result.text, "bcd");
}

TEST(BatchScheduler, CallersDoNotStepWhenBatchesWaitToFill) {
  FakeModel model;
  Recorder rec;
  SchedulerOptions o{2, 10s, 16};
  o.first_step_on_caller = true;
  BatchScheduler scheduler(model, o, nullptr);
  std::this_thread::sleep_for(50ms);  // let the scheduler thread go idle
  auto a = std::make_shared<RecordingSink>("a", rec);
  ASSERT_TRUE(scheduler.submit(job(a, "a", 1)));
  EXPECT_EQ(scheduler.queue_depth(), 1u);  // waits for a batch to form (full at 2)
  ASSERT_TRUE(scheduler.submit(job(std::make_shared<RecordingSink>("b", rec), "a", 1)));
  rec.wait_for(2);
  EXPECT_NE(a->finished_on, std::this_thread::get_id());
  EXPECT_EQ(model.batch_sizes(), std::vector<int>{2});
}

TEST(SampleToken, GreedyIsArgmaxAndTopPKeepsOnlyTheHead) {
  std::vector<float> logits(256, 0.0f);
  logits[42] = 5.0f;
  logits[7] = 4.9f;
  SequenceRng rng(1);
  EXPECT_EQ(sample_token(logits, 0.0, 1.0, rng), 42);
  // With a tiny top_p only the most likely token remains, at any temperature.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_token(logits, 1.5, 1e-6, rng), 42);
  // At temperature 1 the head holds (e^5 + e^4.9) / (e^5 + e^4.9 + 254) = 52.6% of the mass.
  int head = 0;
  for (int i = 0; i < 2000; ++i) {
    auto t = sample_token(logits, 1.0, 1.0, rng);
    head += (t == 42 || t == 7);
  }
  EXPECT_GT(head, 950);
  EXPECT_LT(head, 1150);
  // top_p 0.5 keeps 42 and 7 only (42 alone is 27.6%): nothing else is ever drawn.
  for (int i = 0; i < 200; ++i) {
    auto t = sample_token(logits, 1.0, 0.5, rng);
    EXPECT_TRUE(t == 42 || t == 7) << t;
  }
}

}  // namespace
}  // namespace dso::inference
