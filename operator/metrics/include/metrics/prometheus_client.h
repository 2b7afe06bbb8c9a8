// metrics/prometheus_client.h: a client for the Prometheus HTTP API (/api/v1/query and
// /api/v1/query_range) that keeps "unknown" apart from zero.
//
// What it promises (docs/metrics.md, "Error semantics"):
//   - every result type (vector, matrix, scalar, string) is parsed; sample values keep NaN, +Inf
//     and -Inf (Prometheus sends them as the strings "NaN", "+Inf", "-Inf");
//   - an empty result is an empty result (never a zero), and Prometheus's warnings (partial data)
//     are returned with it;
//   - a failure (unreachable, timeout, HTTP error, API error "status":"error" with its errorType,
//     a malformed body) is an error whose one-line message names the query and the URL;
//   - connection errors, timeouts, 5xx and 429 are retried with exponential backoff (bounded
//     attempts; Retry-After honoured up to the backoff cap); 4xx other than 429 — a bad query
//     (400 bad_data) or an execution error (422) — are not;
//   - range queries longer than Prometheus's 11,000 points per series are split into chunks
//     and joined;
//   - a query that still fails with a retryable error after its attempts opens a circuit breaker:
//     for `breaker_cooldown` every query fails at once (same kind, attempts 0, a message saying it
//     was not sent and why), then the next query probes with a single attempt, and a success
//     closes it. Without it a Prometheus that stops answering costs every service of a decision
//     period max_attempts * timeout (100 services read one at a time: 52 minutes or more at the
//     defaults).
// TLS certificates are verified (system roots, or the CA file given); the bearer token file is
// re-read for each request (rotation) and never logged or put into a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/prometheus_result.h"

namespace dso::metrics {

struct PrometheusConfig {
  std::string url;                // http(s)://host:port[/path-prefix]
  std::string ca_file;            // PEM CA bundle to trust; empty: the system's roots
  std::string bearer_token_file;  // Authorization: Bearer <file content>; empty: none
  // Limit for one HTTP attempt (also sent to Prometheus as the query's `timeout`, so that it stops
  // evaluating). A query fails after at most max_attempts * timeout + the backoffs in between.
  std::chrono::milliseconds timeout{10'000};
  int max_attempts = 3;                                // >= 1
  std::chrono::milliseconds backoff{250};              // first delay; doubles per attempt, jittered
  std::chrono::milliseconds max_backoff{4'000};        // cap of one delay
  std::chrono::milliseconds breaker_cooldown{10'000};  // 0: no circuit breaker
  bool use_post = true;  // POST form bodies (long queries never hit URL limits); false: GET
  std::int64_t max_points_per_series = 11'000;  // Prometheus's query_range limit
};

template <typename T>
using PromResult = std::expected<T, PrometheusError>;

// Parses a /api/v1/query or /api/v1/query_range response body. `http_status` is the response's
// status (Prometheus sends error bodies with 4xx/5xx); `what` names the query in messages.
inline PromResult<QueryResult> parse_query_response(std::string_view body, int http_status,
                                                    std::string_view what) {
  QueryResult out;
  PrometheusError error;
  if (!parse_query_response_into(body, http_status, what, out, error))
    return std::unexpected(error);
  return out;
}

// Parses one sample value as Prometheus writes it ("1.5", "NaN", "+Inf", "-Inf", "1e-3").
inline std::expected<double, std::string> parse_sample_value(std::string_view text) {
  double out = 0;
  std::string error;
  if (!parse_sample_value_into(text, out, error)) return std::unexpected(error);
  return out;
}

// Splits [start, end] at `step` into query_range windows of at most `max_points` points each
// (Prometheus counts floor((end - start) / step) + 1 points). Returns (start, end) pairs, in order,
// each chunk starting one step after the previous chunk's end.
std::vector<std::pair<std::int64_t, std::int64_t>> range_chunks(std::int64_t start,
                                                                std::int64_t end, std::int64_t step,
                                                                std::int64_t max_points);

// Thread-safe: one client may serve many concurrent queries.
class PrometheusClient {
 public:
  // Fails (kConfig) on a URL that is not http(s)://host[:port][/path].
  static PromResult<std::shared_ptr<PrometheusClient>> create(PrometheusConfig config);
  ~PrometheusClient();
  PrometheusClient(const PrometheusClient&) = delete;
  PrometheusClient& operator=(const PrometheusClient&) = delete;

  // An instant query evaluated at `time` (unix seconds; nullopt: Prometheus's now).
  PromResult<QueryResult> query(const std::string& promql,
                                std::optional<double> time = std::nullopt);

  // A range query over [start, end] at `step` seconds (> 0), split into chunks of at most
  // max_points_per_series points, whose series are joined by label set. The result is a matrix;
  // warnings of all chunks are kept. Any chunk failing fails the whole query.
  PromResult<QueryResult> query_range(const std::string& promql, std::int64_t start,
                                      std::int64_t end, std::int64_t step);

  const PrometheusConfig& config() const { return config_; }

  // HTTP requests sent since creation (each attempt counts), for self-metrics and tests.
  std::uint64_t requests_sent() const;
  // Queries failed at once by the open circuit breaker since creation.
  std::uint64_t queries_short_circuited() const;

 private:
  explicit PrometheusClient(PrometheusConfig config);
  PromResult<QueryResult> send(const std::string& path,
                               const std::vector<std::pair<std::string, std::string>>& params,
                               const std::string& what_query);
  struct Impl;
  PrometheusConfig config_;
  std::unique_ptr<Impl> impl_;
};

using PrometheusClientPtr = std::shared_ptr<PrometheusClient>;

}  // namespace dso::metrics
