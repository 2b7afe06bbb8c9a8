// Dynamic batching: requests wait in a bounded two-level priority queue; one thread forms batches
// of up to max_batch_size sequences (waiting at most max_wait for a batch to fill when the model is
// idle), runs ONE forward pass per generation step for the whole batch, samples each sequence's
// next token, and lets sequences join (from the queue) and leave (finished) between steps
// ("continuous batching"). X-Priority: high requests are admitted before any normal one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "model/language_model.h"
#include "server/openai_request.h"

namespace dso::inference {

class ServerMetrics;

// Each sequence's random generator: SplitMix64, a UniformRandomBitGenerator with 8 bytes of state
// whose seeding is free (a std::mt19937_64 costs 2.5 KB per sequence and a 312-word set-up per
// request). Good enough to sample tokens; not for anything secret.
class SequenceRng {
 public:
  using result_type = std::uint64_t;
  explicit SequenceRng(std::uint64_t seed = 0) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

struct GenerationParams {
  int max_tokens = 16;
  double temperature = 1.0;  // 0: greedy (deterministic)
  double top_p = 1.0;
  std::vector<std::string> stop;
  std::optional<std::uint64_t> seed;
};

enum class FinishReason { kStop, kLength, kError };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "error"

struct GenerationResult {
  std::string text;  // the completion, without a matched stop sequence
  FinishReason finish = FinishReason::kLength;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  std::string error;  // set when finish == kError
};

// Receives one request's progress. Called on the scheduler thread, or, for the first step of a
// request that found the scheduler idle with SchedulerOptions::first_step_on_caller, on the thread
// that called submit(); never on two threads at once. Must not block (hand the data to the network
// layer and return).
class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  // The first token was produced (time to first token ends here).
  virtual void on_first_token() {}
  // More text that is final: never a prefix of a stop sequence, never half a UTF-8 character.
  virtual void on_text(std::string_view delta) = 0;
  // The request is done; called exactly once, after the last on_text.
  virtual void on_finish(const GenerationResult& result) = 0;
};
using GenerationSinkPtr = std::shared_ptr<GenerationSink>;

struct GenerationJob {
  std::string prompt;  // bytes; the byte-level model's tokens
  GenerationParams params;
  Priority priority = Priority::kNormal;
  GenerationSinkPtr sink;
};

struct SchedulerOptions {
  int max_batch_size = 16;                   // 1 turns batching off
  std::chrono::microseconds max_wait{2000};  // how long an idle model waits for a batch to fill
  std::size_t max_queue = 256;               // waiting requests beyond this are refused
  // Also refuse when the expected wait (requests ahead / measured completion rate) exceeds this;
  // zero: no wait bound. Adapts the queue to what the machine actually sustains.
  std::chrono::microseconds max_queue_wait{0};
  // When batches do not wait to fill (max_wait 0 or max_batch_size 1) and the scheduler is idle
  // with nothing queued, submit() runs the request's first step (prompt pass, first token) on the
  // caller's thread and hands the sequence to the scheduler only if it goes on: two thread
  // hand-offs fewer per request on an idle server. The caller blocks for that one model step.
  bool first_step_on_caller = false;
};

struct QueueFull {
  int retry_after_seconds = 1;  // an estimate of when a slot frees up
};

class BatchScheduler {
 public:
  // `model` and `metrics` (nullable) must outlive the scheduler. Starts the scheduler thread.
  BatchScheduler(LanguageModel& model, SchedulerOptions options, ServerMetrics* metrics);
  // Finishes whatever is queued or running with an error, then joins the thread.
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Queues a job. Thread-safe, O(1) — except with first_step_on_caller on an idle scheduler, where
  // it also runs the job's first model step before returning. Refused (without calling the sink)
  // when max_queue jobs are already waiting or the scheduler is shutting down.
  std::expected<void, QueueFull> submit(GenerationJob job);

  // Runs `batches` forward passes over `batch_size` sequences of `length` tokens before serving
  // (model preloading: first-call allocation and JIT optimisation happen here, not on a user).
  // Call before the first submit; blocks the caller.
  void warm_up(int batches, int batch_size, int length);

  // Stops admitting new jobs. Queued and running jobs keep being served.
  void stop_accepting();
  // Ends every queued and running job now with FinishReason::kError "server shutting down".
  void abort_all();

  std::size_t queue_depth() const;        // waiting, both priorities
  double completions_per_second() const;  // measured while busy; 0 until known
  std::size_t running() const;            // in the current batch
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence {
    std::uint64_t id = 0;
    GenerationJob job;
    std::vector<TokenId> tokens;  // prompt then generated
    int prompt_tokens = 0;
    std::string generated;
    std::size_t emitted = 0;  // bytes of `generated` already passed to on_text
    int count = 0;
    SequenceRng rng;
    std::chrono::steady_clock::time_point admitted;
  };

  void run();
  Sequence start_sequence_locked(GenerationJob job, std::chrono::steady_clock::time_point now);
  void admit_locked(std::vector<Sequence>& batch);
  void step(std::vector<Sequence>& batch);
  // Appends `token`; returns true when the sequence finished (and its sink was told).
  bool advance(Sequence& s, TokenId token);
  void finish(Sequence& s, FinishReason reason, std::string error = {});
  void publish_queue_depth_locked();
  int retry_after_locked() const;

  LanguageModel& model_;
  const SchedulerOptions options_;
  ServerMetrics* metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<GenerationJob, std::chrono::steady_clock::time_point>> high_, normal_;
  bool accepting_ = true;
  bool abort_ = false;
  bool exit_ = false;
  bool idle_ = false;                  // the scheduler thread waits with no batch
  bool caller_step_ = false;           // a submit() is running a first step (the model is taken)
  std::vector<Sequence> handed_over_;  // first steps done by callers, to join the batch
  std::size_t running_ = 0;
  double service_seconds_ewma_ = 0.5;
  double completions_per_second_ = 0;  // 0 until measured
  std::size_t completions_in_window_ = 0;
  std::chrono::steady_clock::time_point window_start_{};
  std::chrono::steady_clock::time_point last_step_end_{};

  std::vector<float> logits_;
  std::uint64_t next_sequence_id_ = 1;
  SequenceRng seeds_{std::random_device{}()};  // seeds of sequences without one (under mu_)
  std::thread thread_;
};

// Picks the next token: argmax when temperature is 0, otherwise a sample from
// softmax(logits / temperature) restricted to the smallest set with probability >= top_p.
// Cost: O(V log V) when top_p < 1, O(V) otherwise.
TokenId sample_token(std::span<const float> logits, double temperature, double top_p,
                     SequenceRng& rng);

}  // namespace dso::inference
