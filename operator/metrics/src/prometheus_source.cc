#include "metrics/prometheus_source.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace dso::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string quote_query(const std::string& query) {
  constexpr std::size_t kMax = 300;
  std::string q = query.size() > kMax ? query.substr(0, kMax) + "..." : query;
  std::replace(q.begin(), q.end(), '\n', ' ');
  return "\"" + q + "\"";
}

std::string value_text(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace

PrometheusSource::PrometheusSource(PrometheusClientPtr client, PrometheusSourceOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

PrometheusSource::Value PrometheusSource::read_one(const std::string& what,
                                                   const std::string& query, Seconds now,
                                                   std::vector<std::string>& problems) {
  queries_.fetch_add(1);
  auto result = client_->query(query, static_cast<double>(now));
  if (!result) {
    failures_.fetch_add(1);
    problems.push_back(what + ": " + result.error().message);
    return {kNaN, now};
  }
  std::string warning;
  for (const auto& w : result->warnings) {
    problems.push_back(what + ": query " + quote_query(query) + " returned partial data: " + w);
    if (warning.empty()) warning = w;
  }
  if (result->type == ResultType::kString) {
    problems.push_back(what + ": query " + quote_query(query) + " returned a string, not a number");
    return {kNaN, now};
  }
  if (result->series.empty()) {
    problems.push_back(what + ": query " + quote_query(query) +
                       " returned no series (no pods scraped, or no samples in the window)");
    return {kNaN, now};
  }
  if (result->series.size() > 1) {
    problems.push_back(what + ": query " + quote_query(query) + " returned " +
                       std::to_string(result->series.size()) +
                       " series; it must return one (aggregate with sum() or avg())");
    return {kNaN, now};
  }
  const auto& points = result->series.front().points;
  if (points.empty()) {
    problems.push_back(what + ": query " + quote_query(query) +
                       " returned a series without samples");
    return {kNaN, now};
  }
  const Point p = points.back();
  const auto at = static_cast<Seconds>(std::floor(p.time));
  if (!std::isfinite(p.value)) {
    problems.push_back(what + ": query " + quote_query(query) + " returned " + value_text(p.value));
    return {kNaN, at};
  }
  return {p.value, at, warning};
}

PrometheusSource::Value PrometheusSource::read_demand(const std::string& query, Seconds now,
                                                      std::vector<std::string>& problems,
                                                      std::optional<int>* instances) {
  queries_.fetch_add(1);
  auto result = client_->query(query, static_cast<double>(now));
  if (!result) {
    failures_.fetch_add(1);
    problems.push_back("demand: " + result.error().message);
    return {kNaN, now};
  }
  std::string warning;
  for (const auto& w : result->warnings) {
    problems.push_back("demand: query " + quote_query(query) + " returned partial data: " + w);
    if (warning.empty()) warning = w;
  }
  if (result->type == ResultType::kString || result->series.empty()) {
    problems.push_back("demand: query " + quote_query(query) +
                       " returned no series (no pods scraped, or no samples in the window)");
    return {kNaN, now};
  }
  double total = 0;
  Seconds at = now;
  int pods = 0;
  for (const auto& series : result->series) {
    const auto pod = series.labels.find("pod");
    if (pod != series.labels.end() && !pod->second.empty()) ++pods;
    if (series.points.empty() || !std::isfinite(series.points.back().value)) {
      problems.push_back("demand: query " + quote_query(query) + " returned a non-finite value");
      return {kNaN, now};
    }
    total += series.points.back().value;
    at = static_cast<Seconds>(std::floor(series.points.back().time));
  }
  if (pods > 0) *instances = pods;
  return {total, at, warning};
}

ServiceLoad PrometheusSource::current(const api::DeepSeekService& service, Seconds now) {
  ServiceLoad load;
  // Demand is read per pod (its sum is the demand, its series count the pods that reported); a
  // RequestsPerSecond metric of the same query takes that sum instead of a query of its own.
  const auto demand = demand_query(service, options_.queries);
  std::optional<Value> demand_value;
  auto read_demand_once = [&]() -> const Value& {
    if (!demand_value) {
      demand_value = read_demand(*demand_by_instance_query(service, options_.queries), now,
                                 load.problems, &load.reporting_pods);
    }
    return *demand_value;
  };
  const auto& metrics = service.spec.autoscaling.metrics;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    autoscaler::MetricSample sample;
    sample.name = scaling_metric_name(service.spec, i);
    sample.value = kNaN;
    sample.sampled_at = now;
    auto query = metric_query(service, i, options_.queries);
    if (!query) {
      load.problems.push_back(sample.name + ": " + query.error());
    } else {
      const Value v = demand && *query == *demand
                          ? read_demand_once()
                          : read_one(sample.name, *query, now, load.problems);
      sample.value = v.value;
      sample.sampled_at = v.sampled_at;
      if (!v.warning.empty()) {
        sample.partial = true;
        sample.partial_note = "Prometheus warned: " + v.warning;
      }
    }
    load.metrics.push_back(std::move(sample));
  }
  if (!demand) {
    load.problems.push_back("demand: " + demand.error());
    load.demand_sampled_at = now;
  } else {
    const Value& v = read_demand_once();
    load.demand = v.value;
    load.demand_sampled_at = v.sampled_at;
  }
  return load;
}

std::expected<predictor::Series, std::string> PrometheusSource::demand_history(
    const api::DeepSeekService& service, Seconds start, Seconds end, Seconds step) {
  const std::string who = service.metadata.ns + "/" + service.metadata.name;
  if (step <= 0) {
    return std::unexpected("demand history of " + who + ": step " + std::to_string(step) +
                           " s is not positive");
  }
  predictor::Series series;
  series.start = start;
  series.step = step;
  if (end <= start) return series;
  const auto n = static_cast<std::size_t>((end - start + step - 1) / step);
  series.values.assign(n, kNaN);
  auto query =
      demand_query(service, options_.queries, std::max(options_.queries.rate_window, step));
  if (!query) return std::unexpected("demand history of " + who + ": " + query.error());
  // rate() at t covers the window that ends at t: the point for [t, t + step) is evaluated at
  // t + step, so a minute's load is stamped with the minute it happened in (as a trace's rows are),
  // not one step late.
  const Seconds last = start + static_cast<Seconds>(n - 1) * step;
  queries_.fetch_add(1);
  auto result = client_->query_range(*query, start + step, last + step, step);
  if (!result) {
    failures_.fetch_add(1);
    return std::unexpected("demand history of " + who + ": " + result.error().message);
  }
  if (result->series.size() > 1) {
    return std::unexpected("demand history of " + who + ": query " + quote_query(*query) +
                           " returned " + std::to_string(result->series.size()) +
                           " series, expected one");
  }
  if (result->series.empty()) return series;
  for (const Point& p : result->series.front().points) {
    const double offset = (p.time - static_cast<double>(start + step)) / static_cast<double>(step);
    const auto i = static_cast<long long>(std::llround(offset));
    if (i < 0 || static_cast<std::size_t>(i) >= n) continue;
    if (std::isfinite(p.value)) series.values[static_cast<std::size_t>(i)] = p.value;
  }
  return series;
}

}  // namespace dso::metrics
