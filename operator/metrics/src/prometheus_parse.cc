// The Prometheus HTTP API's JSON answers (no I/O: the fuzz target compiles this file alone).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "metrics/prometheus_result.h"
#include "prometheus_internal.h"

namespace dso::metrics {
namespace {

using detail::make_error;
using detail::one_line;
using nlohmann::json;

// A value or an error message (std::expected's part this file needs; see prometheus_result.h).
template <typename T>
struct Parsed {
  Parsed(T v) : value(std::move(v)) {}  // NOLINT: implicit, as std::expected's
  explicit operator bool() const { return value.has_value(); }
  T& operator*() { return *value; }
  T* operator->() { return &*value; }
  static Parsed failed(std::string message) {
    Parsed p;
    p.error = std::move(message);
    return p;
  }
  std::optional<T> value;
  std::string error;

 private:
  Parsed() = default;
};

struct Fail {
  std::string error;
  template <typename T>
  operator Parsed<T>() const {  // NOLINT: implicit, as std::unexpected's
    return Parsed<T>::failed(error);
  }
};

Parsed<double> sample_value(std::string_view text) {
  double v = 0;
  std::string error;
  if (!parse_sample_value_into(text, v, error)) return Fail{error};
  return v;
}

Parsed<double> parse_time(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    auto d = sample_value(v.get<std::string>());
    if (d && std::isfinite(*d)) return *d;
  }
  return Fail{"timestamp " + one_line(v.dump(), 40) + " is not a number"};
}

// [time, "value"] as Prometheus writes a sample.
Parsed<Point> parse_point(const json& pair) {
  if (!pair.is_array() || pair.size() != 2)
    return Fail{"sample " + one_line(pair.dump(), 60) + " is not [time, \"value\"]"};
  auto t = parse_time(pair[0]);
  if (!t) return Fail{t.error};
  double value = 0;
  if (pair[1].is_string()) {
    auto v = sample_value(pair[1].get<std::string>());
    if (!v) return Fail{v.error};
    value = *v;
  } else if (pair[1].is_number()) {
    value = pair[1].get<double>();
  } else {
    return Fail{"sample value " + one_line(pair[1].dump(), 40) + " is not a string"};
  }
  return Point{*t, value};
}

Parsed<std::map<std::string, std::string>> parse_labels(const json& item) {
  std::map<std::string, std::string> labels;
  if (!item.contains("metric")) return labels;
  const json& m = item["metric"];
  if (!m.is_object()) return Fail{"\"metric\" is not an object"};
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) return Fail{"label " + k + " is not a string"};
    labels[k] = v.get<std::string>();
  }
  return labels;
}

Parsed<QueryResult> parse_data(const json& data) {
  if (!data.is_object()) return Fail{"\"data\" is not an object"};
  if (!data.contains("resultType") || !data["resultType"].is_string())
    return Fail{"\"data.resultType\" is missing"};
  if (!data.contains("result")) return Fail{"\"data.result\" is missing"};
  const std::string type = data["resultType"].get<std::string>();
  const json& result = data["result"];
  QueryResult out;
  if (type == "vector" || type == "matrix") {
    out.type = type == "vector" ? ResultType::kVector : ResultType::kMatrix;
    if (!result.is_array()) return Fail{"\"data.result\" of a " + type + " is not a list"};
    for (const json& item : result) {
      if (!item.is_object()) return Fail{"a " + type + " element is not an object"};
      auto labels = parse_labels(item);
      if (!labels) return Fail{labels.error};
      Series s;
      s.labels = std::move(*labels);
      if (out.type == ResultType::kVector) {
        if (!item.contains("value")) {
          if (item.contains("histogram")) return Fail{"native histogram samples are not supported"};
          return Fail{"a vector element has no \"value\""};
        }
        auto p = parse_point(item["value"]);
        if (!p) return Fail{p.error};
        s.points.push_back(*p);
      } else {
        if (!item.contains("values")) {
          if (item.contains("histograms"))
            return Fail{"native histogram samples are not supported"};
          return Fail{"a matrix element has no \"values\""};
        }
        const json& values = item["values"];
        if (!values.is_array()) return Fail{"\"values\" is not a list"};
        s.points.reserve(values.size());
        for (const json& v : values) {
          auto p = parse_point(v);
          if (!p) return Fail{p.error};
          s.points.push_back(*p);
        }
      }
      out.series.push_back(std::move(s));
    }
    return out;
  }
  if (type == "scalar") {
    out.type = ResultType::kScalar;
    auto p = parse_point(result);
    if (!p) return Fail{p.error};
    out.series.push_back(Series{{}, {*p}});
    return out;
  }
  if (type == "string") {
    out.type = ResultType::kString;
    if (!result.is_array() || result.size() != 2 || !result[1].is_string())
      return Fail{"a string result is not [time, \"text\"]"};
    auto t = parse_time(result[0]);
    if (!t) return Fail{t.error};
    out.string_time = *t;
    out.string_value = result[1].get<std::string>();
    return out;
  }
  return Fail{"unknown resultType \"" + one_line(type, 40) + "\""};
}

}  // namespace

std::string_view to_string(ResultType type) {
  switch (type) {
    case ResultType::kVector:
      return "vector";
    case ResultType::kMatrix:
      return "matrix";
    case ResultType::kScalar:
      return "scalar";
    case ResultType::kString:
      return "string";
  }
  return "unknown";
}

bool parse_sample_value_into(std::string_view text, double& out, std::string& error) {
  // Prometheus writes NaN, +Inf and -Inf as such; strtod also reads them (and numbers).
  if (text == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf" || text == "Inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  const std::string s(text);
  char* end = nullptr;
  if (!s.empty() && !std::isspace(static_cast<unsigned char>(s.front()))) {
    errno = 0;
    out = std::strtod(s.c_str(), &end);  // overflow gives +-HUGE_VAL = +-Inf, as Prometheus would
  }
  if (end == nullptr || end != s.c_str() + s.size()) {
    error = "sample value \"" + one_line(s, 40) + "\" is not a number";
    return false;
  }
  return true;
}

bool parse_query_response_into(std::string_view body, int http_status, std::string_view what,
                               QueryResult& out, PrometheusError& error) {
  const auto fail = [&](PrometheusError e) {
    error = std::move(e);
    return false;
  };
  const std::string where(what);
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  const bool ok_status = http_status >= 200 && http_status < 300;
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("status") ||
      !doc["status"].is_string()) {
    if (!ok_status) {
      return fail(
          make_error(PrometheusError::Kind::kHttp,
                     where + ": HTTP " + std::to_string(http_status) + ": " + one_line(body, 200),
                     http_status));
    }
    return fail(make_error(
        PrometheusError::Kind::kMalformed,
        where + ": response is not a Prometheus API answer: " +
            (doc.is_discarded() ? std::string("not JSON") : std::string("no \"status\"")) + " (" +
            one_line(body, 80) + ")",
        http_status));
  }
  const std::string status = doc["status"].get<std::string>();
  if (status == "error") {
    const std::string type = doc.contains("errorType") && doc["errorType"].is_string()
                                 ? doc["errorType"].get<std::string>()
                                 : "";
    const std::string message =
        doc.contains("error") && doc["error"].is_string() ? doc["error"].get<std::string>() : "";
    return fail(make_error(PrometheusError::Kind::kApi,
                           where + ": Prometheus error" + (type.empty() ? "" : " " + type) +
                               " (HTTP " + std::to_string(http_status) +
                               "): " + one_line(message, 300),
                           http_status, type));
  }
  if (status != "success" && !ok_status) {  // not Prometheus (a proxy, another server)
    return fail(make_error(
        PrometheusError::Kind::kHttp,
        where + ": HTTP " + std::to_string(http_status) + ": " + one_line(body, 200), http_status));
  }
  if (status != "success") {
    return fail(make_error(PrometheusError::Kind::kMalformed,
                           where + ": unknown status \"" + one_line(status, 40) + "\"",
                           http_status));
  }
  if (!ok_status) {
    return fail(make_error(PrometheusError::Kind::kHttp,
                           where + ": HTTP " + std::to_string(http_status) + " with status success",
                           http_status));
  }
  if (!doc.contains("data")) {
    return fail(make_error(PrometheusError::Kind::kMalformed, where + ": \"data\" is missing",
                           http_status));
  }
  auto result = parse_data(doc["data"]);
  if (!result) {
    return fail(
        make_error(PrometheusError::Kind::kMalformed, where + ": " + result.error, http_status));
  }
  if (doc.contains("warnings") && doc["warnings"].is_array()) {
    for (const json& w : doc["warnings"]) {
      result->warnings.push_back(w.is_string() ? w.get<std::string>() : w.dump());
    }
  }
  out = std::move(*result);
  return true;
}

std::vector<std::pair<std::int64_t, std::int64_t>> range_chunks(std::int64_t start,
                                                                std::int64_t end, std::int64_t step,
                                                                std::int64_t max_points) {
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
  if (step <= 0 || end < start || max_points < 1) return chunks;
  const std::int64_t span = (max_points - 1) * step;  // a chunk of max_points points
  for (std::int64_t s = start; s <= end; s += span + step) {
    chunks.emplace_back(s, std::min(end, s + span));
  }
  return chunks;
}

}  // namespace dso::metrics
