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
#include <mutex>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>

#include "prometheus_internal.h"

namespace dso::metrics {
namespace {

namespace http = web::http;
using detail::make_error;
using detail::one_line;

std::string format_time(double t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
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

struct PrometheusClient::Impl {
  std::unique_ptr<http::client::http_client> client;
  std::string base;  // the URL without a trailing slash, for messages
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> short_circuited{0};
  // The circuit breaker: open while now < open_until; `tripped` by the failure in `cause`.
  std::mutex breaker_mu;
  bool tripped = false;
  std::chrono::steady_clock::time_point open_until{};
  PrometheusError cause;
};

PrometheusClient::PrometheusClient(PrometheusConfig config)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {}

PrometheusClient::~PrometheusClient() = default;

std::uint64_t PrometheusClient::requests_sent() const {
  return impl_->requests.load();
}

std::uint64_t PrometheusClient::queries_short_circuited() const {
  return impl_->short_circuited.load();
}

PromResult<std::shared_ptr<PrometheusClient>> PrometheusClient::create(PrometheusConfig config) {
  std::string url = config.url;
  while (url.ends_with('/')) url.pop_back();
  const bool scheme_ok = url.starts_with("http://") || url.starts_with("https://");
  if (!scheme_ok || !web::uri::validate(url) || web::uri(url).host().empty()) {
    return std::unexpected(
        make_error(PrometheusError::Kind::kConfig, "Prometheus URL \"" + one_line(config.url, 200) +
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
      return std::unexpected(make_error(PrometheusError::Kind::kConfig,
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
    return std::unexpected(make_error(PrometheusError::Kind::kConfig,
                                      "Prometheus URL " + url + ": " + one_line(e.what())));
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
  int max_attempts = config.max_attempts;
  if (config.breaker_cooldown.count() > 0) {
    std::lock_guard lock(impl.breaker_mu);
    if (impl.tripped) {
      const auto now = std::chrono::steady_clock::now();
      if (now < impl.open_until) {
        impl.short_circuited.fetch_add(1);
        PrometheusError e = impl.cause;
        e.attempts = 0;
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(impl.open_until - now);
        e.message = what + ": not sent: " + impl.base + " failed recently (" +
                    one_line(impl.cause.message, 200) + "); next try in " +
                    std::to_string((wait.count() + 999) / 1000) + " s";
        return std::unexpected(e);
      }
      max_attempts = 1;  // half open: one probe decides
    }
  }
  auto settle = [&](const PromResult<QueryResult>& r) {
    if (config.breaker_cooldown.count() <= 0) return;
    std::lock_guard lock(impl.breaker_mu);
    if (r || !retryable(r.error())) {
      impl.tripped = false;  // Prometheus answered (a bad query is still an answer)
    } else {
      impl.tripped = true;
      impl.open_until = std::chrono::steady_clock::now() + config.breaker_cooldown;
      impl.cause = r.error();
    }
  };
  PrometheusError last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
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
        auto e = make_error(
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
      last = timed_out ? make_error(PrometheusError::Kind::kTimeout,
                                    what + ": no answer within " +
                                        std::to_string(config.timeout.count()) + " ms")
                       : make_error(PrometheusError::Kind::kUnreachable,
                                    what + ": unreachable: " + one_line(e.what(), 200));
    } catch (const std::exception& e) {
      last = make_error(PrometheusError::Kind::kUnreachable,
                        what + ": unreachable: " + one_line(e.what(), 200));
    }
    if (answered) {
      auto parsed = parse_query_response(a.body, a.status, what);
      if (parsed) {
        settle(parsed);
        return parsed;
      }
      last = parsed.error();
    }
    last.attempts = attempt;
    if (!retryable(last) || attempt == max_attempts) break;
    // Exponential backoff with "equal jitter": half fixed, half random.
    double base = static_cast<double>(config.backoff.count()) * std::pow(2.0, attempt - 1);
    base = std::min(base, static_cast<double>(config.max_backoff.count()));
    auto delay =
        std::chrono::milliseconds(static_cast<std::int64_t>(base * (0.5 + 0.5 * uniform01())));
    if (a.retry_after) delay = std::min(std::max(delay, *a.retry_after), config.max_backoff);
    std::this_thread::sleep_for(delay);
  }
  if (last.attempts > 1) last.message += " (after " + std::to_string(last.attempts) + " attempts)";
  PromResult<QueryResult> failed = std::unexpected(last);
  settle(failed);
  return failed;
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
    return std::unexpected(make_error(PrometheusError::Kind::kConfig,
                                      "Prometheus " + what + ": bad range [" +
                                          std::to_string(start) + ", " + std::to_string(end) +
                                          "] step " + std::to_string(step)));
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
      return std::unexpected(
          make_error(PrometheusError::Kind::kMalformed, "Prometheus " + what + ": resultType " +
                                                            std::string(to_string(chunk->type)) +
                                                            ", expected matrix"));
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
