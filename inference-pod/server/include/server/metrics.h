// The server's Prometheus metrics (prometheus-cpp). Names and labels are a contract with the
// operator's autoscaler and dashboards: docs/inference-metrics.md lists them; change both together.
// All methods are thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace dso::inference {

struct MetricsInfo {
  std::string model;
  std::string device;
  int max_batch_size = 0;
  std::size_t max_queue = 0;
};

class ServerMetrics {
 public:
  explicit ServerMetrics(const MetricsInfo& info);
  ~ServerMetrics();

  // A finished HTTP request on a /v1/ endpoint: endpoint is "completions", "chat_completions",
  // "models"; priority "high" or "normal".
  void observe_request(const std::string& endpoint, int code, const std::string& priority,
                       double seconds);
  void observe_time_to_first_token(const std::string& endpoint, double seconds);
  void set_queue_depth(std::size_t high, std::size_t normal);
  void observe_step(int batch_size, double forward_seconds);
  void add_generated_tokens(std::size_t n);
  void add_prompt_tokens(std::size_t n);
  void add_in_flight(int delta);
  void cache_hit();
  void cache_miss(bool answered_by_bloom_filter);
  void rate_limited(const std::string& window);  // "second" | "hour"
  void queue_rejected();
  void unauthorized();
  void set_ready(bool ready);
  void set_draining(bool draining);
  void set_gpu(int index, double utilization_ratio, double memory_used_bytes,
               double memory_total_bytes);

  // The Prometheus text exposition format (version 0.0.4) of every metric.
  std::string serialize() const;

 private:
  // Label sets seen before, so that a request's observations find their series by a few string
  // comparisons instead of building label maps and hashing them in prometheus-cpp each time.
  struct RequestSeries {
    std::string endpoint, priority;
    int code;
    prometheus::Counter* count;
  };
  prometheus::Counter& request_counter(const std::string& endpoint, int code,
                                       const std::string& priority);
  prometheus::Histogram& endpoint_histogram(
      prometheus::Family<prometheus::Histogram>& family,
      std::vector<std::pair<std::string, prometheus::Histogram*>>& seen,
      const std::string& endpoint);
  std::mutex series_mu_;
  std::vector<RequestSeries> request_series_;
  std::vector<std::pair<std::string, prometheus::Histogram*>> duration_series_, ttft_series_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Family<prometheus::Histogram>* ttft_;
  prometheus::Family<prometheus::Gauge>* queue_depth_;
  prometheus::Histogram* batch_size_;
  prometheus::Histogram* forward_seconds_;
  prometheus::Counter* generated_tokens_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Gauge* in_flight_;
  prometheus::Counter* cache_hits_;
  prometheus::Counter* cache_misses_;
  prometheus::Counter* cache_bloom_negatives_;
  prometheus::Family<prometheus::Counter>* rate_limited_;
  prometheus::Counter* queue_rejected_;
  prometheus::Counter* unauthorized_;
  prometheus::Gauge* ready_;
  prometheus::Gauge* draining_;
  prometheus::Family<prometheus::Gauge>* gpu_utilization_;
  prometheus::Family<prometheus::Gauge>* gpu_memory_used_;
  prometheus::Family<prometheus::Gauge>* gpu_memory_total_;
};

}  // namespace dso::inference
