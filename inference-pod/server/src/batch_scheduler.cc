// Dynamic batching scheduler (see batch_scheduler.h).
#include "server/batch_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "server/metrics.h"

namespace dso::inference {

using Clock = std::chrono::steady_clock;

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

TokenId sample_token(std::span<const float> logits, double temperature, double top_p,
                     SequenceRng& rng) {
  if (logits.empty()) return 0;
  if (temperature <= 0.0) {
    return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const float top = *std::max_element(logits.begin(), logits.end());
  thread_local std::vector<double> p;  // no allocation per token once grown
  p.resize(logits.size());
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    p[i] = std::exp((logits[i] - top) / temperature);
    sum += p[i];
  }
  std::vector<int> order;
  if (top_p < 1.0) {
    order.resize(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    double kept = 0;
    std::size_t n = 0;
    while (n < order.size() && kept < top_p * sum) kept += p[order[n++]];
    order.resize(std::max<std::size_t>(1, n));
    sum = kept > 0 ? kept : p[order[0]];
  }
  double r = std::uniform_real_distribution<double>(0.0, sum)(rng);
  if (!order.empty()) {
    for (int i : order) {
      r -= p[i];
      if (r <= 0) return i;
    }
    return order.back();
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    r -= p[i];
    if (r <= 0) return static_cast<TokenId>(i);
  }
  return static_cast<TokenId>(p.size() - 1);
}

BatchScheduler::BatchScheduler(LanguageModel& model, SchedulerOptions options,
                               ServerMetrics* metrics)
    : model_(model), options_(options), metrics_(metrics) {
  if (options_.max_batch_size < 1) throw std::invalid_argument("max_batch_size must be >= 1");
  thread_ = std::thread([this] { run(); });
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    abort_ = true;
    exit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::expected<void, QueueFull> BatchScheduler::submit(GenerationJob job) {
  std::vector<Sequence> first;
  {
    std::lock_guard lock(mu_);
    const std::size_t waiting = high_.size() + normal_.size();
    if (!accepting_ || waiting >= options_.max_queue) {
      return std::unexpected(QueueFull{retry_after_locked()});
    }
    if (options_.max_queue_wait.count() > 0 && completions_per_second_ > 0) {
      // Requests ahead of this one (all of them for normal priority, the high ones for high).
      const std::size_t ahead = job.priority == Priority::kHigh ? high_.size() : waiting;
      const double wait = static_cast<double>(ahead) / completions_per_second_;
      if (wait > std::chrono::duration<double>(options_.max_queue_wait).count()) {
        return std::unexpected(QueueFull{std::max(1, static_cast<int>(std::ceil(wait)))});
      }
    }
    const bool no_batch_wait = options_.max_wait.count() == 0 || options_.max_batch_size == 1;
    if (options_.first_step_on_caller && no_batch_wait && idle_ && !caller_step_ && waiting == 0 &&
        handed_over_.empty() && !abort_) {
      caller_step_ = true;
      first.push_back(start_sequence_locked(std::move(job), Clock::now()));
      running_ = 1;
    } else {
      auto& queue = job.priority == Priority::kHigh ? high_ : normal_;
      queue.emplace_back(std::move(job), Clock::now());
      publish_queue_depth_locked();
    }
  }
  if (!first.empty()) {
    // The scheduler thread stays asleep while caller_step_ is set: the model has one user.
    step(first);
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      caller_step_ = false;
      for (auto& s : first) handed_over_.push_back(std::move(s));
      // Someone to wake: a sequence that goes on, jobs queued meanwhile, or an abort waiting for
      // this step. Otherwise the scheduler sleeps on (a wake-up costs a context switch).
      wake = !handed_over_.empty() || !high_.empty() || !normal_.empty() || abort_ || exit_;
    }
    if (wake) cv_.notify_one();
    return {};
  }
  cv_.notify_one();
  return {};
}

void BatchScheduler::warm_up(int batches, int batch_size, int length) {
  length = std::clamp(length, 1, model_.context_length());
  // Each warm-up batch is a prompt pass followed by generation steps, as in service.
  std::vector<std::vector<TokenId>> seqs(std::max(1, batch_size));
  std::mt19937_64 rng(1);
  for (int i = 0; i < batches; ++i) {
    for (auto& s : seqs) {
      s.resize(length);
      for (auto& t : s) t = static_cast<TokenId>(rng() % model_.vocab_size());
    }
    std::vector<float> logits;
    for (int step = 0; step < 4; ++step) {
      std::vector<SequenceRef> refs;
      for (std::size_t b = 0; b < seqs.size(); ++b) {
        refs.push_back({~std::uint64_t{0} - b, seqs[b]});
      }
      model_.next_token_logits(refs, logits);
      for (auto& s : seqs) s.push_back(static_cast<TokenId>(rng() % model_.vocab_size()));
    }
    for (std::size_t b = 0; b < seqs.size(); ++b) model_.release(~std::uint64_t{0} - b);
  }
}

void BatchScheduler::stop_accepting() {
  std::lock_guard lock(mu_);
  accepting_ = false;
}

void BatchScheduler::abort_all() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    abort_ = true;
  }
  cv_.notify_all();
}

std::size_t BatchScheduler::queue_depth() const {
  std::lock_guard lock(mu_);
  return high_.size() + normal_.size();
}

double BatchScheduler::completions_per_second() const {
  std::lock_guard lock(mu_);
  return completions_per_second_;
}

std::size_t BatchScheduler::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int BatchScheduler::retry_after_locked() const {
  const double waves =
      static_cast<double>(high_.size() + normal_.size()) / options_.max_batch_size + 1.0;
  return std::max(1, static_cast<int>(std::ceil(waves * service_seconds_ewma_)));
}

void BatchScheduler::publish_queue_depth_locked() {
  if (metrics_) metrics_->set_queue_depth(high_.size(), normal_.size());
}

BatchScheduler::Sequence BatchScheduler::start_sequence_locked(GenerationJob job,
                                                               Clock::time_point now) {
  Sequence s;
  s.id = next_sequence_id_++;
  s.job = std::move(job);
  s.tokens.assign(s.job.prompt.begin(), s.job.prompt.end());
  for (auto& t : s.tokens) t = static_cast<TokenId>(static_cast<unsigned char>(t));
  s.prompt_tokens = static_cast<int>(s.tokens.size());
  if (s.tokens.empty()) s.tokens.push_back('\n');  // the model needs one token to start from
  s.rng = SequenceRng(s.job.params.seed ? *s.job.params.seed : seeds_());
  s.admitted = now;
  return s;
}

void BatchScheduler::admit_locked(std::vector<Sequence>& batch) {
  const auto now = Clock::now();
  // Sequences whose first step a caller ran are running already: they come first.
  for (auto& s : handed_over_) batch.push_back(std::move(s));
  handed_over_.clear();
  while (static_cast<int>(batch.size()) < options_.max_batch_size &&
         (!high_.empty() || !normal_.empty())) {
    auto& queue = high_.empty() ? normal_ : high_;
    batch.push_back(start_sequence_locked(std::move(queue.front().first), now));
    queue.pop_front();
  }
  running_ = batch.size();
  publish_queue_depth_locked();
}

void BatchScheduler::run() {
  std::vector<Sequence> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (abort_) {
        cv_.wait(lock, [&] { return !caller_step_; });
        for (auto& s : handed_over_) batch.push_back(std::move(s));
        handed_over_.clear();
        for (auto* queue : {&high_, &normal_}) {
          for (auto& [job, at] : *queue) {
            Sequence s;
            s.job = std::move(job);
            s.prompt_tokens = static_cast<int>(s.job.prompt.size());
            batch.push_back(std::move(s));
          }
          queue->clear();
        }
        publish_queue_depth_locked();
        lock.unlock();
        for (auto& s : batch) finish(s, FinishReason::kError, "server shutting down");
        batch.clear();
        lock.lock();
        running_ = 0;
        abort_ = exit_ ? abort_ : false;
        if (exit_) return;
      }
      if (batch.empty()) {
        idle_ = true;
        cv_.wait(lock, [&] {
          return abort_ || exit_ ||
                 (!caller_step_ && (!high_.empty() || !normal_.empty() || !handed_over_.empty()));
        });
        idle_ = false;
        if (abort_ || exit_) continue;
        // The model is idle: give the batch up to max_wait (from the oldest arrival) to fill.
        if (handed_over_.empty()) {
          auto oldest = high_.empty() ? normal_.front().second : high_.front().second;
          if (!normal_.empty()) oldest = std::min(oldest, normal_.front().second);
          cv_.wait_until(lock, oldest + options_.max_wait, [&] {
            return abort_ || exit_ ||
                   high_.size() + normal_.size() >=
                       static_cast<std::size_t>(options_.max_batch_size);
          });
          if (abort_ || exit_) continue;
        }
      }
      admit_locked(batch);
    }
    step(batch);
  }
}

void BatchScheduler::step(std::vector<Sequence>& batch) {
  std::vector<SequenceRef> inputs;
  inputs.reserve(batch.size());
  for (const auto& s : batch) inputs.push_back({s.id, s.tokens});
  const auto start = Clock::now();
  try {
    model_.next_token_logits(inputs, logits_);
  } catch (const std::exception& e) {
    for (auto& s : batch) finish(s, FinishReason::kError, std::string("model failed: ") + e.what());
    batch.clear();
    std::lock_guard lock(mu_);
    running_ = 0;
    return;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (metrics_) metrics_->observe_step(static_cast<int>(batch.size()), seconds);
  const auto vocab = static_cast<std::size_t>(model_.vocab_size());
  std::vector<Sequence> next;
  next.reserve(batch.size());
  double finished_seconds = 0;
  int finished = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& s = batch[i];
    std::span<const float> row(logits_.data() + i * vocab, vocab);
    TokenId token = sample_token(row, s.job.params.temperature, s.job.params.top_p, s.rng);
    if (advance(s, token)) {
      finished_seconds += std::chrono::duration<double>(Clock::now() - s.admitted).count();
      ++finished;
    } else {
      next.push_back(std::move(s));
    }
  }
  batch.swap(next);
  std::lock_guard lock(mu_);
  running_ = batch.size();
  // Completion rate over windows of >= 200 ms of busy time; a gap of over a second (idle model)
  // restarts the window so that idle time does not dilute the rate.
  const auto now = Clock::now();
  if (window_start_ == Clock::time_point{} || start - last_step_end_ > std::chrono::seconds(1)) {
    window_start_ = start;
    completions_in_window_ = 0;
  }
  last_step_end_ = now;
  completions_in_window_ += static_cast<std::size_t>(finished);
  if (now - window_start_ >= std::chrono::milliseconds(200)) {
    const double rate =
        completions_in_window_ / std::chrono::duration<double>(now - window_start_).count();
    completions_per_second_ =
        completions_per_second_ == 0 ? rate : 0.7 * completions_per_second_ + 0.3 * rate;
    window_start_ = now;
    completions_in_window_ = 0;
  }
  if (finished > 0) {
    service_seconds_ewma_ = 0.8 * service_seconds_ewma_ + 0.2 * (finished_seconds / finished);
  }
}

bool BatchScheduler::advance(Sequence& s, TokenId token) {
  s.tokens.push_back(token);
  s.generated.push_back(static_cast<char>(token & 0xFF));
  if (++s.count == 1) s.job.sink->on_first_token();
  if (metrics_) metrics_->add_generated_tokens(1);
  const auto& stops = s.job.params.stop;
  for (const auto& stop : stops) {
    if (s.generated.size() >= stop.size() &&
        s.generated.compare(s.generated.size() - stop.size(), stop.size(), stop) == 0) {
      s.generated.resize(s.generated.size() - stop.size());
      finish(s, FinishReason::kStop);
      return true;
    }
  }
  if (s.count >= s.job.params.max_tokens) {
    finish(s, FinishReason::kLength);
    return true;
  }
  // Hold back a tail that might still become a stop sequence, and half UTF-8 characters.
  std::size_t hold = 0;
  for (const auto& stop : stops) {
    for (std::size_t k = std::min(stop.size() - 1, s.generated.size()); k > hold; --k) {
      if (s.generated.compare(s.generated.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  std::string_view ready(s.generated.data(), s.generated.size() - hold);
  ready = ready.substr(0, complete_utf8_prefix(ready));
  if (ready.size() > s.emitted) {
    s.job.sink->on_text(ready.substr(s.emitted));
    s.emitted = ready.size();
  }
  return false;
}

void BatchScheduler::finish(Sequence& s, FinishReason reason, std::string error) {
  if (s.id != 0) model_.release(s.id);  // before the sink hears of it: state is gone by then
  if (reason != FinishReason::kError && s.generated.size() > s.emitted) {
    s.job.sink->on_text(std::string_view(s.generated).substr(s.emitted));
    s.emitted = s.generated.size();
  }
  GenerationResult result;
  result.text = s.generated;
  result.finish = reason;
  result.prompt_tokens = s.prompt_tokens;
  result.completion_tokens = s.count;
  result.error = std::move(error);
  s.job.sink->on_finish(result);
}

}  // namespace dso::inference
