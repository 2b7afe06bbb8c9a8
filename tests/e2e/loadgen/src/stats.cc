// Per-second aggregation of request results, percentiles and the SLO test.
#include "loadgen/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dso::loadgen {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kHistogramMin = 1e-6;  // seconds
constexpr double kHistogramRatio = 1.01;
constexpr std::size_t kHistogramBuckets = 2600;  // up to 1e-6 * 1.01^2600 s, about 2 days

// p50, p99 of a copy (percentile reorders).
std::pair<double, double> p50_p99(std::vector<double> values) {
  const double p50 = percentile(values, 0.5);
  return {p50, percentile(values, 0.99)};
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCompleted:
      return "completed";
    case Outcome::kRejected:
      return "rejected_429";
    case Outcome::kServerError:
      return "server_error";
    case Outcome::kClientError:
      return "client_error";
    case Outcome::kConnect:
      return "connect";
    case Outcome::kBroken:
      return "broken";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kDropped:
      return "dropped";
    case Outcome::kNoEndpoints:
      return "no_endpoints";
    case Outcome::kAborted:
      return "aborted";
  }
  return "unknown";
}

double percentile(std::vector<double>& values, double q) {
  if (values.empty()) return kNaN;
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const auto index = static_cast<std::size_t>(std::clamp(rank, 1.0, 1.0 * values.size())) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

void LatencyHistogram::add(double seconds) {
  if (buckets_.empty()) buckets_.assign(kHistogramBuckets, 0);
  const double steps =
      std::log(std::max(seconds, kHistogramMin) / kHistogramMin) / std::log(kHistogramRatio);
  const auto index = static_cast<std::size_t>(std::min(steps, kHistogramBuckets - 1.0));
  ++buckets_[index];
  ++count_;
}

double LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return kNaN;
  const auto rank = static_cast<std::uint64_t>(
      std::clamp(std::ceil(q * static_cast<double>(count_)), 1.0, 1.0 * count_));
  std::uint64_t seen = 0;
  std::size_t i = 0;
  for (; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) break;
  }
  return kHistogramMin * std::pow(kHistogramRatio, static_cast<double>(i) + 0.5);
}

bool violates(const SecondRow& row, double slo_p99_s) {
  return row.rejected > 0 || row.errors > 0 || (row.completed > 0 && row.p99_s > slo_p99_s);
}

Recorder::Bucket& Recorder::bucket(std::int64_t second) {
  if (buckets_.empty()) first_ = second;
  if (second < first_) second = first_;  // a clock step backwards: file it with the first
  while (first_ + static_cast<std::int64_t>(buckets_.size()) <= second) {
    Bucket b;
    b.row.unix_time = first_ + static_cast<std::int64_t>(buckets_.size());
    b.row.ready_endpoints = ready_;
    buckets_.push_back(std::move(b));
  }
  return buckets_[static_cast<std::size_t>(second - first_)];
}

void Recorder::arrival(std::int64_t second) {
  Bucket& b = bucket(second);
  ++b.row.offered;
  ++b.row.in_flight;
  ++totals_.offered;
  ++totals_.in_flight;
  if (second > latest_arrival_) {
    latest_arrival_ = second;
    // Seconds before this one get no more arrivals: reduce those that are settled.
    for (auto it = buckets_.rbegin() + 1; it != buckets_.rend() && !it->reduced; ++it) {
      reduce_if_over(*it);
    }
  }
}

void Recorder::outcome(std::int64_t second, const RequestResult& r) {
  if (r.outcome == Outcome::kDropped || r.outcome == Outcome::kNoEndpoints) arrival(second);
  Bucket& b = bucket(second);
  --b.row.in_flight;
  --totals_.in_flight;
  if (r.outcome == Outcome::kCompleted) {
    ++b.row.completed;
    ++totals_.completed;
    b.latencies.push_back(r.latency_s);
    b.ttfts.push_back(r.ttft_s);
    latency_.add(r.latency_s);
    ttft_.add(r.ttft_s);
  } else if (r.outcome == Outcome::kRejected) {
    ++b.row.rejected;
    ++totals_.rejected;
  } else {
    ++b.row.errors;
    ++totals_.errors;
    ++totals_.errors_by_kind[to_string(r.outcome)];
  }
  if (r.outcome != Outcome::kCompleted && !r.detail.empty()) totals_.last_error = r.detail;
  reduce_if_over(b);
}

void Recorder::endpoints(std::int64_t second, int ready) {
  bucket(second).row.ready_endpoints = ready;  // seconds before it keep the old count
  ready_ = ready;
}

void Recorder::reduce_if_over(Bucket& b) {
  if (b.reduced || b.row.in_flight > 0 || b.row.unix_time >= latest_arrival_) return;
  b.row = finish_row(b);
  b.latencies = {};
  b.ttfts = {};
  b.reduced = true;
}

SecondRow Recorder::finish_row(const Bucket& b) const {
  if (b.reduced) return b.row;
  SecondRow row = b.row;
  std::tie(row.p50_s, row.p99_s) = p50_p99(b.latencies);
  std::tie(row.ttft_p50_s, row.ttft_p99_s) = p50_p99(b.ttfts);
  row.violation = violates(row, slo_p99_s_);
  return row;
}

Snapshot Recorder::snapshot(std::int64_t now_second) const {
  Snapshot s;
  s.rows.reserve(buckets_.size());
  for (const Bucket& b : buckets_) s.rows.push_back(finish_row(b));
  if (!buckets_.empty()) {
    for (std::int64_t t = first_ + static_cast<std::int64_t>(buckets_.size()); t <= now_second;
         ++t) {
      SecondRow empty;
      empty.unix_time = t;
      empty.ready_endpoints = ready_;
      empty.p50_s = empty.p99_s = empty.ttft_p50_s = empty.ttft_p99_s = kNaN;
      s.rows.push_back(empty);
    }
  }
  s.totals = totals();
  for (const SecondRow& row : s.rows) s.totals.violation_seconds += row.violation ? 1 : 0;
  return s;
}

Totals Recorder::totals() const {
  Totals t = totals_;
  t.p50_s = latency_.quantile(0.5);
  t.p99_s = latency_.quantile(0.99);
  t.ttft_p50_s = ttft_.quantile(0.5);
  t.ttft_p99_s = ttft_.quantile(0.99);
  t.ready_endpoints = ready_;
  return t;
}

}  // namespace dso::loadgen
