#include "metrics/prometheus_client.h"

#include <cpprest/http_client.h>
#include <cpprest/uri.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>

namespace dso::metrics {
namespace {

namespace http = web::http;
using nlohmann::json;

// One line, at most `max` characters: messages quote queries and bodies.
std::string one_line(std::string_view text, std::size_t max = 300) {
  std::string out;
  for (const char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

std::string format_time(double t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

PrometheusError error(PrometheusError::Kind kind, std::string message, int status = 0,
                      std::string error_type = "") {
  PrometheusError e;
  e.kind = kind;
  e.http_status = status;
  e.error_type = std::move(error_type);
  e.message = std::move(message);
  return e;
}

std::expected<double, std::string> parse_time(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    auto d = parse_sample_value(v.get<std::string>());
    if (d && std::isfinite(*d)) return *d;
  }
  return std::unexpected("timestamp " + one_line(v.dump(), 40) + " is not a number");
}

// [time, "value"] as Prometheus writes a sample.
std::expected<Point, std::string> parse_point(const json& pair) {
  if (!pair.is_array() || pair.size() != 2)
    return std::unexpected("sample " + one_line(pair.dump(), 60) + " is not [time, \"value\"]");
  auto t = parse_time(pair[0]);
  if (!t) return std::unexpected(t.error());
  double value = 0;
  if (pair[1].is_string()) {
    auto v = parse_sample_value(pair[1].get<std::string>());
    if (!v) return std::unexpected(v.error());
    value = *v;
  } else if (pair[1].is_number()) {
    value = pair[1].get<double>();
  } else {
    return std::unexpected("sample value " + one_line(pair[1].dump(), 40) + " is not a string");
  }
  return Point{*t, value};
}

std::expected<std::map<std::string, std::string>, std::string> parse_labels(const json& item) {
  std::map<std::string, std::string> labels;
  if (!item.contains("metric")) return labels;
  const json& m = item["metric"];
  if (!m.is_object()) return std::unexpected("\"metric\" is not an object");
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) return std::unexpected("label " + k + " is not a string");
    labels[k] = v.get<std::string>();
  }
  return labels;
}

std::expected<QueryResult, std::string> parse_data(const json& data) {
  if (!data.is_object()) return std::unexpected("\"data\" is not an object");
  if (!data.contains("resultType") || !data["resultType"].is_string())
    return std::unexpected("\"data.resultType\" is missing");
  if (!data.contains("result")) return std::unexpected("\"data.result\" is missing");
  const std::string type = data["resultType"].get<std::string>();
  const json& result = data["result"];
  QueryResult out;
  if (type == "vector" || type == "matrix") {
    out.type = type == "vector" ? ResultType::kVector : ResultType::kMatrix;
    if (!result.is_array())
      return std::unexpected("\"data.result\" of a " + type + " is not a list");
    for (const json& item : result) {
      if (!item.is_object()) return std::unexpected("a " + type + " element is not an object");
      auto labels = parse_labels(item);
      if (!labels) return std::unexpected(labels.error());
      Series s;
      s.labels = std::move(*labels);
      if (out.type == ResultType::kVector) {
        if (!item.contains("value")) {
          if (item.contains("histogram"))
            return std::unexpected("native histogram samples are not supported");
          return std::unexpected("a vector element has no \"value\"");
        }
        auto p = parse_point(item["value"]);
        if (!p) return std::unexpected(p.error());
        s.points.push_back(*p);
      } else {
        if (!item.contains("values")) {
          if (item.contains("histograms"))
            return std::unexpected("native histogram samples are not supported");
          return std::unexpected("a matrix element has no \"values\"");
        }
        const json& values = item["values"];
        if (!values.is_array()) return std::unexpected("\"values\" is not a list");
        s.points.reserve(values.size());
        for (const json& v : values) {
          auto p = parse_point(v);
          if (!p) return std::unexpected(p.error());
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
    if (!p) return std::unexpected(p.error());
    out.series.push_back(Series{{}, {*p}});
    return out;
  }
  if (type == "string") {
    out.type = ResultType::kString;
    if (!result.is_array() || result.size() != 2 || !result[1].is_string())
      return std::unexpected("a string result is not [time, \"text\"]");
    auto t = parse_time(result[0]);
    if (!t) return std::unexpected(t.error());
    out.string_time = *t;
    out.string_value = result[1].get<std::string>();
    return out;
  }
  return std::unexpected("unknown resultType \"" + one_line(type, 40) + "\"");
}

double uniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

bool retryable(const PrometheusError& e) {
  switch (e.kind) {
    case PrometheusError::Kind::kUnreachable:
    case PrometheusError::Kind::kTimeout:
      return true;
    case PrometheusError::Kind::kHttp:
    case PrometheusError::Kind::kApi:
    case PrometheusError::Kind::kMalformed:
      return e.http_status == 429 || e.http_status >= 500;
    case PrometheusError::Kind::kConfig:
      return false;
  }
  return false;
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

std::expected<double, std::string> parse_sample_value(std::string_view text) {
  // Prometheus writes NaN, +Inf and -Inf as such; strtod also reads them (and numbers).
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  const std::string s(text);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front())))
    return std::unexpected("sample value \"" + one_line(s, 40) + "\" is not a number");
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size())
    return std::unexpected("sample value \"" + one_line(s, 40) + "\" is not a number");
  return v;  // overflow gives ±HUGE_VAL = ±Inf, as Prometheus would
}

PromResult<QueryResult> parse_query_response(std::string_view body, int http_status,
                                             std::string_view what) {
  const std::string where(what);
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  const bool ok_status = http_status >= 200 && http_status < 300;
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("status") ||
      !doc["status"].is_string()) {
    if (!ok_status) {
      return std::unexpected(
          error(PrometheusError::Kind::kHttp,
                where + ": HTTP " + std::to_string(http_status) + ": " + one_line(body, 200),
                http_status));
    }
    return std::unexpected(
        error(PrometheusError::Kind::kMalformed,
              where + ": response is not a Prometheus API answer: " +
                  (doc.is_discarded() ? std::string("not JSON") : std::string("no \"status\"")) +
                  " (" + one_line(body, 80) + ")",
              http_status));
  }
  const std::string status = doc["status"].get<std::string>();
  if (status == "error") {
    const std::string type = doc.contains("errorType") && doc["errorType"].is_string()
                                 ? doc["errorType"].get<std::string>()
                                 : "";
    const std::string message =
        doc.contains("error") && doc["error"].is_string() ? doc["error"].get<std::string>() : "";
    return std::unexpected(error(PrometheusError::Kind::kApi,
                                 where + ": Prometheus error" + (type.empty() ? "" : " " + type) +
                                     " (HTTP " + std::to_string(http_status) +
                                     "): " + one_line(message, 300),
                                 http_status, type));
  }
  if (status != "success" && !ok_status) {  // not Prometheus (a proxy, another server)
    return std::unexpected(error(
        PrometheusError::Kind::kHttp,
        where + ": HTTP " + std::to_string(http_status) + ": " + one_line(body, 200), http_status));
  }
  if (status != "success") {
    return std::unexpected(error(PrometheusError::Kind::kMalformed,
                                 where + ": unknown status \"" + one_line(status, 40) + "\"",
                                 http_status));
  }
  if (!ok_status) {
    return std::unexpected(error(
        PrometheusError::Kind::kHttp,
        where + ": HTTP " + std::to_string(http_status) + " with status success", http_status));
  }
  if (!doc.contains("data")) {
    return std::unexpected(
        error(PrometheusError::Kind::kMalformed, where + ": \"data\" is missing", http_status));
  }
  auto result = parse_data(doc["data"]);
  if (!result) {
    return std::unexpected(
        error(PrometheusError::Kind::kMalformed, where + ": " + result.error(), http_status));
  }
  if (doc.contains("warnings") && doc["warnings"].is_array()) {
    for (const json& w : doc["warnings"]) {
      result->warnings.push_back(w.is_string() ? w.get<std::string>() : w.dump());
    }
  }
  return std::move(*result);
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

struct PrometheusClient::Impl {
  std::unique_ptr<http::client::http_client> client;
  std::string base;  // the URL without a trailing slash, for messages
  std::atomic<std::uint64_t> requests{0};
};

PrometheusClient::PrometheusClient(PrometheusConfig config)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {}

PrometheusClient::~PrometheusClient() = default;

std::uint64_t PrometheusClient::requests_sent() const {
  return impl_->requests.load();
}

PromResult<std::shared_ptr<PrometheusClient>> PrometheusClient::create(PrometheusConfig config) {
  std::string url = config.url;
  while (url.ends_with('/')) url.pop_back();
  const bool scheme_ok = url.starts_with("http://") || url.starts_with("https://");
  if (!scheme_ok || !web::uri::validate(url) || web::uri(url).host().empty()) {
    return std::unexpected(
        error(PrometheusError::Kind::kConfig, "Prometheus URL \"" + one_line(config.url, 200) +
                                                  "\" is not http(s)://host[:port][/path]"));
  }
  if (config.max_attempts < 1) config.max_attempts = 1;
  if (config.max_points_per_series < 2) config.max_points_per_series = 2;
  if (config.timeout <= std::chrono::milliseconds(0)) config.timeout = std::chrono::seconds(10);
  std::string ca;
  if (!config.ca_file.empty()) {
    std::ifstream in(config.ca_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty()) {
      return std::unexpected(error(PrometheusError::Kind::kConfig,
                                   "Prometheus CA file " + config.ca_file + ": cannot read"));
    }
    ca = text.str();
  }
  http::client::http_client_config hc;
  hc.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(config.timeout));
  hc.set_validate_certificates(true);
  if (!ca.empty()) {
    hc.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
      ctx.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
    });
  }
  std::shared_ptr<PrometheusClient> client(new PrometheusClient(config));
  client->impl_->base = url;
  try {
    client->impl_->client = std::make_unique<http::client::http_client>(web::uri(url), hc);
  } catch (const std::exception& e) {
    return std::unexpected(
        error(PrometheusError::Kind::kConfig, "Prometheus URL " + url + ": " + one_line(e.what())));
  }
  return client;
}

namespace {

struct Attempt {
  int status = 0;
  std::string body;
  std::optional<std::chrono::milliseconds> retry_after;
};

}  // namespace

// One API call with retries. `params` are the form/query parameters (not yet encoded).
PromResult<QueryResult> PrometheusClient::send(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
    const std::string& what_query) {
  Impl& impl = *impl_;
  const PrometheusConfig& config = config_;
  std::string form;
  for (const auto& [k, v] : params) {
    if (!form.empty()) form += '&';
    form += k + "=" + web::uri::encode_data_string(v);
  }
  const std::string url = impl.base + path;
  const std::string what = "Prometheus " + what_query + " at " + url;
  PrometheusError last;
  for (int attempt = 1; attempt <= config.max_attempts; ++attempt) {
    http::http_request req(config.use_post ? http::methods::POST : http::methods::GET);
    req.set_request_uri(config.use_post ? path : path + "?" + form);
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", "deepseek-operator");
    if (!config.bearer_token_file.empty()) {
      std::ifstream in(config.bearer_token_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
      if (!in || token.empty()) {
        auto e = error(
            PrometheusError::Kind::kConfig,
            what + ": bearer token file " + config.bearer_token_file + ": cannot read or empty");
        e.attempts = attempt - 1;
        return std::unexpected(e);
      }
      req.headers().add("Authorization", "Bearer " + token);
    }
    if (config.use_post) req.set_body(form, "application/x-www-form-urlencoded");

    const auto started = std::chrono::steady_clock::now();
    Attempt a;
    bool answered = false;
    impl.requests.fetch_add(1);
    try {
      http::http_response r = impl.client->request(req).get();
      a.status = r.status_code();
      if (r.headers().has("Retry-After")) {
        try {
          a.retry_after = std::chrono::seconds(std::stol(r.headers()["Retry-After"]));
        } catch (const std::exception&) {
        }
      }
      a.body = r.extract_utf8string(true).get();
      answered = true;
    } catch (const http::http_exception& e) {
      const auto elapsed = std::chrono::steady_clock::now() - started;
      const bool timed_out = e.error_code() == std::errc::timed_out ||
                             elapsed >= config.timeout - std::chrono::milliseconds(50);
      last =
          timed_out
              ? error(PrometheusError::Kind::kTimeout,
                      what + ": no answer within " + std::to_string(config.timeout.count()) + " ms")
              : error(PrometheusError::Kind::kUnreachable,
                      what + ": unreachable: " + one_line(e.what(), 200));
    } catch (const std::exception& e) {
      last = error(PrometheusError::Kind::kUnreachable,
                   what + ": unreachable: " + one_line(e.what(), 200));
    }
    if (answered) {
      auto parsed = parse_query_response(a.body, a.status, what);
      if (parsed) return parsed;
      last = parsed.error();
    }
    last.attempts = attempt;
    if (!retryable(last) || attempt == config.max_attempts) break;
    // Exponential backoff with "equal jitter": half fixed, half random.
    double base = static_cast<double>(config.backoff.count()) * std::pow(2.0, attempt - 1);
    base = std::min(base, static_cast<double>(config.max_backoff.count()));
    auto delay =
        std::chrono::milliseconds(static_cast<std::int64_t>(base * (0.5 + 0.5 * uniform01())));
    if (a.retry_after) delay = std::min(std::max(delay, *a.retry_after), config.max_backoff);
    std::this_thread::sleep_for(delay);
  }
  if (last.attempts > 1) last.message += " (after " + std::to_string(last.attempts) + " attempts)";
  return std::unexpected(last);
}

PromResult<QueryResult> PrometheusClient::query(const std::string& promql,
                                                std::optional<double> time) {
  std::vector<std::pair<std::string, std::string>> params{{"query", promql}};
  if (time) params.emplace_back("time", format_time(*time));
  params.emplace_back("timeout", std::to_string(config_.timeout.count()) + "ms");
  return send("/api/v1/query", params, "query \"" + one_line(promql) + "\"");
}

PromResult<QueryResult> PrometheusClient::query_range(const std::string& promql, std::int64_t start,
                                                      std::int64_t end, std::int64_t step) {
  const std::string what = "query_range \"" + one_line(promql) + "\"";
  if (step <= 0 || end < start) {
    return std::unexpected(error(PrometheusError::Kind::kConfig,
                                 "Prometheus " + what + ": bad range [" + std::to_string(start) +
                                     ", " + std::to_string(end) + "] step " +
                                     std::to_string(step)));
  }
  QueryResult joined;
  joined.type = ResultType::kMatrix;
  std::map<std::map<std::string, std::string>, std::size_t> index;
  for (const auto& [s, e] : range_chunks(start, end, step, config_.max_points_per_series)) {
    std::vector<std::pair<std::string, std::string>> params{
        {"query", promql},
        {"start", std::to_string(s)},
        {"end", std::to_string(e)},
        {"step", std::to_string(step)},
        {"timeout", std::to_string(config_.timeout.count()) + "ms"}};
    auto chunk = send("/api/v1/query_range", params,
                      what + " [" + std::to_string(s) + ", " + std::to_string(e) + "] step " +
                          std::to_string(step) + "s");
    if (!chunk) return std::unexpected(chunk.error());
    if (chunk->type != ResultType::kMatrix) {
      return std::unexpected(error(PrometheusError::Kind::kMalformed,
                                   "Prometheus " + what + ": resultType " +
                                       std::string(to_string(chunk->type)) + ", expected matrix"));
    }
    for (auto& w : chunk->warnings) {
      if (std::find(joined.warnings.begin(), joined.warnings.end(), w) == joined.warnings.end())
        joined.warnings.push_back(std::move(w));
    }
    for (auto& series : chunk->series) {
      auto [it, inserted] = index.emplace(series.labels, joined.series.size());
      if (inserted) {
        joined.series.push_back(std::move(series));
      } else {
        auto& points = joined.series[it->second].points;
        points.insert(points.end(), series.points.begin(), series.points.end());
      }
    }
  }
  return joined;
}

}  // namespace dso::metrics
