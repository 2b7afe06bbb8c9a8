// loadgen/stats.h: what a run measured, per wall-clock second of arrival and in total, and the
// arithmetic behind it (percentiles, the SLO test). Pure: the caller supplies the seconds and the
// latencies; the Recorder is not thread-safe (LoadGenerator guards it).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace dso::loadgen {

// How one request ended.
enum class Outcome {
  kCompleted,    // HTTP 2xx with the whole body (a stream: through data: [DONE], no error event)
  kRejected,     // HTTP 429
  kServerError,  // HTTP 5xx
  kClientError,  // any other status (4xx but 429, 1xx, 3xx)
  kConnect,      // could not connect
  kBroken,       // connection lost mid-response, malformed response, stream error or cut short
  kTimeout,      // no complete response within --request-timeout
  kDropped,      // over --max-in-flight when it arrived (never sent)
  kNoEndpoints,  // no ready endpoint when it arrived (never sent)
  kAborted,      // cut by LoadGenerator::abort()
};
const char* to_string(Outcome outcome);  // "completed", "rejected_429", "server_error", ...

struct RequestResult {
  Outcome outcome = Outcome::kCompleted;
  double latency_s = 0;  // arrival -> last byte (completed requests)
  double ttft_s = 0;     // arrival -> first content (streams); = latency_s otherwise
  std::string detail;    // what went wrong, one line ("" when completed)
};

// The q-quantile (0 < q <= 1) by nearest rank: the smallest value with at least q*n values at or
// below it. Reorders `values` (nth_element, O(n)); NaN when empty.
double percentile(std::vector<double>& values, double q);

// Latencies in logarithmic buckets 1% wide from 1 us to about 2 days: constant memory for runs of
// any length; a quantile is the bucket's geometric middle (within 0.5% of the exact value).
class LatencyHistogram {
 public:
  void add(double seconds);
  double quantile(double q) const;  // NaN when empty
  std::uint64_t count() const { return count_; }

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
};

// One second of arrivals, with everything that became of them so far.
struct SecondRow {
  std::int64_t unix_time = 0;
  std::uint64_t offered = 0, completed = 0, rejected = 0, errors = 0;
  std::uint64_t in_flight = 0;  // arrived in this second, not finished yet
  double p50_s = 0, p99_s = 0, ttft_p50_s = 0, ttft_p99_s = 0;  // NaN: nothing completed
  int ready_endpoints = 0;  // the last count seen in this second (or carried from before)
  bool violation = false;   // see violates()
};

struct Totals {
  std::uint64_t offered = 0, completed = 0, rejected = 0, errors = 0, in_flight = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;  // to_string(Outcome) -> count
  std::string last_error;                               // the detail of the latest 429 or error
  std::uint64_t violation_seconds = 0;
  double p50_s = 0, p99_s = 0, ttft_p50_s = 0, ttft_p99_s = 0;  // over all completed; NaN: none
  int ready_endpoints = 0;                                      // now
};

struct Snapshot {
  std::vector<SecondRow> rows;  // consecutive seconds from the first arrival's to `now`
  Totals totals;
};

// A second violates the SLO when its p99 latency is above `slo_p99_s` or any of its requests was
// rejected (429) or failed.
bool violates(const SecondRow& row, double slo_p99_s);

// Aggregates requests by the wall-clock second they arrived in. Rows are kept for every second
// from the first event on; a second's latencies are reduced to percentiles (and freed) once it is
// over and nothing from it is in flight, so memory grows by one small row per second.
class Recorder {
 public:
  explicit Recorder(double slo_p99_s) : slo_p99_s_(slo_p99_s) {}

  // A request arrived in `second`; counted as offered and in flight until outcome().
  void arrival(std::int64_t second);
  // A request that arrived in `second` ended. kDropped / kNoEndpoints may come without arrival():
  // they are counted as offered too.
  void outcome(std::int64_t second, const RequestResult& result);
  // The ready endpoint count changed (or was observed) in `second`.
  void endpoints(std::int64_t second, int ready);

  // The totals without violation_seconds (that needs the rows). Cost: a pass over the histograms.
  Totals totals() const;
  // Rows up to `now_second` (empty seconds included) and the totals. Cost O(seconds + requests of
  // seconds still open).
  Snapshot snapshot(std::int64_t now_second) const;

 private:
  struct Bucket {
    SecondRow row;
    std::vector<double> latencies, ttfts;  // until reduced
    bool reduced = false;
  };
  Bucket& bucket(std::int64_t second);
  void reduce_if_over(Bucket& b);
  SecondRow finish_row(const Bucket& b) const;

  double slo_p99_s_;
  std::deque<Bucket> buckets_;  // buckets_[i] is second first_ + i
  std::int64_t first_ = 0;
  std::int64_t latest_arrival_ = 0;
  int ready_ = 0;
  Totals totals_;  // counters only; percentiles come from the histograms
  LatencyHistogram latency_, ttft_;
};

}  // namespace dso::loadgen
