// Prometheus metrics of the inference server (see metrics.h and docs/inference-metrics.md).
#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "inference/server_contract.h"

namespace dso::inference {
namespace {

using prometheus::Histogram;

Histogram::BucketBoundaries latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

ServerMetrics::ServerMetrics(const MetricsInfo& info)
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  prometheus::BuildGauge()
      .Name("deepseek_inference_info")
      .Help("Constant 1; labels name the served model and device")
      .Register(r)
      .Add({{"model", info.model}, {"device", info.device}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("deepseek_inference_max_batch_size")
      .Help("Configured maximum number of sequences per forward pass")
      .Register(r)
      .Add({})
      .Set(info.max_batch_size);
  prometheus::BuildGauge()
      .Name("deepseek_inference_queue_capacity")
      .Help("Configured maximum number of waiting requests")
      .Register(r)
      .Add({})
      .Set(static_cast<double>(info.max_queue));
  requests_ = &prometheus::BuildCounter()
                   .Name(std::string(contract::metric::kRequestsTotal))
                   .Help("Finished API requests by endpoint, HTTP status code and priority")
                   .Register(r);
  duration_ = &prometheus::BuildHistogram()
                   .Name(std::string(contract::metric::kRequestDuration))
                   .Help("Time from request arrival to the last byte of the response")
                   .Register(r);
  ttft_ = &prometheus::BuildHistogram()
               .Name(std::string(contract::metric::kTimeToFirstToken))
               .Help("Time from request arrival to the first generated token")
               .Register(r);
  queue_depth_ = &prometheus::BuildGauge()
                      .Name(std::string(contract::metric::kQueueDepth))
                      .Help("Requests waiting for a batch slot, by priority")
                      .Register(r);
  queue_depth_->Add({{"priority", "high"}});
  queue_depth_->Add({{"priority", "normal"}});
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("deepseek_inference_batch_size")
                     .Help("Sequences per forward pass (one pass per generation step)")
                     .Register(r)
                     .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  forward_seconds_ = &prometheus::BuildHistogram()
                          .Name("deepseek_inference_forward_duration_seconds")
                          .Help("Duration of one batched forward pass")
                          .Register(r)
                          .Add({}, Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                               0.025, 0.05, 0.1, 0.25, 0.5, 1});
  generated_tokens_ = &prometheus::BuildCounter()
                           .Name("deepseek_inference_tokens_generated_total")
                           .Help("Tokens generated (completion tokens)")
                           .Register(r)
                           .Add({});
  prompt_tokens_ = &prometheus::BuildCounter()
                        .Name("deepseek_inference_prompt_tokens_total")
                        .Help("Prompt tokens of admitted requests")
                        .Register(r)
                        .Add({});
  in_flight_ = &prometheus::BuildGauge()
                    .Name("deepseek_inference_requests_in_flight")
                    .Help("Generation requests accepted and not yet answered (queued + running)")
                    .Register(r)
                    .Add({});
  cache_hits_ = &prometheus::BuildCounter()
                     .Name("deepseek_inference_cache_hits_total")
                     .Help("Temperature-0 requests answered from the response cache")
                     .Register(r)
                     .Add({});
  cache_misses_ = &prometheus::BuildCounter()
                       .Name("deepseek_inference_cache_misses_total")
                       .Help("Temperature-0 requests not found in the response cache")
                       .Register(r)
                       .Add({});
  cache_bloom_negatives_ =
      &prometheus::BuildCounter()
           .Name("deepseek_inference_cache_bloom_negatives_total")
           .Help("Cache misses answered by the Bloom filter without touching the cache")
           .Register(r)
           .Add({});
  rate_limited_ = &prometheus::BuildCounter()
                       .Name("deepseek_inference_rate_limited_total")
                       .Help("Requests refused with 429 by the per-client token buckets, by window")
                       .Register(r);
  rate_limited_->Add({{"window", "second"}});
  rate_limited_->Add({{"window", "hour"}});
  queue_rejected_ = &prometheus::BuildCounter()
                         .Name("deepseek_inference_queue_rejected_total")
                         .Help("Requests refused with 429 because the queue was full")
                         .Register(r)
                         .Add({});
  unauthorized_ = &prometheus::BuildCounter()
                       .Name("deepseek_inference_unauthorized_total")
                       .Help("Requests refused with 401 (missing or unknown API key)")
                       .Register(r)
                       .Add({});
  ready_ = &prometheus::BuildGauge()
                .Name(std::string(contract::metric::kReady))
                .Help("1 when the model is loaded and warmed up and the server is not draining")
                .Register(r)
                .Add({});
  draining_ = &prometheus::BuildGauge()
                   .Name("deepseek_inference_draining")
                   .Help("1 after SIGTERM while in-flight requests finish")
                   .Register(r)
                   .Add({});
  gpu_utilization_ = &prometheus::BuildGauge()
                          .Name(std::string(contract::metric::kGpuUtilization))
                          .Help("GPU busy fraction over the last sample period (NVML), 0..1")
                          .Register(r);
  gpu_memory_used_ = &prometheus::BuildGauge()
                          .Name("deepseek_inference_gpu_memory_used_bytes")
                          .Help("GPU memory in use (NVML)")
                          .Register(r);
  gpu_memory_total_ = &prometheus::BuildGauge()
                           .Name("deepseek_inference_gpu_memory_total_bytes")
                           .Help("GPU memory installed (NVML)")
                           .Register(r);
}

ServerMetrics::~ServerMetrics() = default;

prometheus::Counter& ServerMetrics::request_counter(const std::string& endpoint, int code,
                                                    const std::string& priority) {
  std::lock_guard lock(series_mu_);
  for (const auto& s : request_series_) {
    if (s.code == code && s.endpoint == endpoint && s.priority == priority) return *s.count;
  }
  auto& counter = requests_->Add({{std::string(contract::label::kEndpoint), endpoint},
                                  {std::string(contract::label::kCode), std::to_string(code)},
                                  {std::string(contract::label::kPriority), priority}});
  request_series_.push_back({endpoint, priority, code, &counter});
  return counter;
}

prometheus::Histogram& ServerMetrics::endpoint_histogram(
    prometheus::Family<prometheus::Histogram>& family,
    std::vector<std::pair<std::string, prometheus::Histogram*>>& seen,
    const std::string& endpoint) {
  std::lock_guard lock(series_mu_);
  for (const auto& [name, histogram] : seen) {
    if (name == endpoint) return *histogram;
  }
  auto& histogram = family.Add({{"endpoint", endpoint}}, latency_buckets());
  seen.emplace_back(endpoint, &histogram);
  return histogram;
}

void ServerMetrics::observe_request(const std::string& endpoint, int code,
                                    const std::string& priority, double seconds) {
  request_counter(endpoint, code, priority).Increment();
  endpoint_histogram(*duration_, duration_series_, endpoint).Observe(seconds);
}

void ServerMetrics::observe_time_to_first_token(const std::string& endpoint, double seconds) {
  endpoint_histogram(*ttft_, ttft_series_, endpoint).Observe(seconds);
}

void ServerMetrics::set_queue_depth(std::size_t high, std::size_t normal) {
  queue_depth_->Add({{"priority", "high"}}).Set(static_cast<double>(high));
  queue_depth_->Add({{"priority", "normal"}}).Set(static_cast<double>(normal));
}

void ServerMetrics::observe_step(int batch_size, double forward_seconds) {
  batch_size_->Observe(batch_size);
  forward_seconds_->Observe(forward_seconds);
}

void ServerMetrics::add_generated_tokens(std::size_t n) {
  generated_tokens_->Increment(static_cast<double>(n));
}
void ServerMetrics::add_prompt_tokens(std::size_t n) {
  prompt_tokens_->Increment(static_cast<double>(n));
}
void ServerMetrics::add_in_flight(int delta) {
  in_flight_->Increment(delta);
}
void ServerMetrics::cache_hit() {
  cache_hits_->Increment();
}
void ServerMetrics::cache_miss(bool answered_by_bloom_filter) {
  cache_misses_->Increment();
  if (answered_by_bloom_filter) cache_bloom_negatives_->Increment();
}
void ServerMetrics::rate_limited(const std::string& window) {
  rate_limited_->Add({{"window", window}}).Increment();
}
void ServerMetrics::queue_rejected() {
  queue_rejected_->Increment();
}
void ServerMetrics::unauthorized() {
  unauthorized_->Increment();
}
void ServerMetrics::set_ready(bool ready) {
  ready_->Set(ready ? 1 : 0);
}
void ServerMetrics::set_draining(bool draining) {
  draining_->Set(draining ? 1 : 0);
}

void ServerMetrics::set_gpu(int index, double utilization_ratio, double memory_used_bytes,
                            double memory_total_bytes) {
  const prometheus::Labels labels{{"gpu", std::to_string(index)}};
  gpu_utilization_->Add(labels).Set(utilization_ratio);
  gpu_memory_used_->Add(labels).Set(memory_used_bytes);
  gpu_memory_total_->Add(labels).Set(memory_total_bytes);
}

std::string ServerMetrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace dso::inference
