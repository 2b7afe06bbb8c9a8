// metrics/prometheus_result.h: what a Prometheus HTTP API answer parses into (QueryResult) or
// fails with (PrometheusError), and the parser's core. Free of std::expected so that the libFuzzer
// target (clang 14, whose libstdc++ <expected> it cannot compile) can call the parser;
// metrics/prometheus_client.h has the std::expected forms the operator uses.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dso::metrics {

enum class ResultType { kVector, kMatrix, kScalar, kString };
std::string_view to_string(ResultType type);

struct Point {
  double time = 0;   // unix seconds (Prometheus sends fractional seconds)
  double value = 0;  // NaN, +Inf, -Inf kept as such
};

struct Series {
  std::map<std::string, std::string> labels;  // "metric" of the result, __name__ included if kept
  std::vector<Point> points;                  // one for a vector sample, in time order
};

struct QueryResult {
  ResultType type = ResultType::kVector;
  // vector: one series per sample, one point each; matrix: one series per label set; scalar: one
  // series without labels and one point; string: none (see string_value).
  std::vector<Series> series;
  std::string string_value;  // string results only
  double string_time = 0;
  std::vector<std::string> warnings;  // Prometheus's "warnings" (the data may be partial)

  bool empty() const { return series.empty() && type != ResultType::kString; }
};

struct PrometheusError {
  enum class Kind {
    kUnreachable,  // connection refused, DNS, TLS handshake
    kTimeout,      // no answer within the per-attempt timeout
    kHttp,         // an HTTP status without a Prometheus error body
    kApi,          // "status":"error" (errorType bad_data, execution, timeout, ...)
    kMalformed,    // the body is not the documented JSON
    kConfig,       // the client cannot be used (bad URL, unreadable token or CA file)
  };
  Kind kind = Kind::kUnreachable;
  int http_status = 0;     // 0 when no response
  std::string error_type;  // Prometheus's errorType, for kApi
  std::string message;     // one line naming the query, the URL and the cause
  int attempts = 0;        // HTTP attempts made
};

// Parses a /api/v1/query or /api/v1/query_range response body into `out` (true) or `error`
// (false). `http_status` is the response's status (Prometheus sends error bodies with 4xx/5xx);
// `what` names the query in messages. Same rules as parse_query_response.
bool parse_query_response_into(std::string_view body, int http_status, std::string_view what,
                               QueryResult& out, PrometheusError& error);

// One sample value as Prometheus writes it into `out` (true), or a message into `error`.
bool parse_sample_value_into(std::string_view text, double& out, std::string& error);

}  // namespace dso::metrics
