// The OpenAI-compatible API as plain request -> response logic, independent of the HTTP library:
// routing, body limits, authentication, rate limits, request parsing, the response cache, queueing
// on the batch scheduler, JSON and server-sent-event responses, metrics, readiness and draining.
// http_server.h adapts it to cpprestsdk; unit tests drive it directly with a fake model.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/api_keys.h"
#include "server/batch_scheduler.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/rate_limiter.h"
#include "server/response_cache.h"

namespace dso::inference {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;                                    // "GET", "POST", ...
  std::string path;                                      // without the query string
  std::unordered_map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool body_too_large = false;  // the adapter did not read a body above the limit
  std::string client_address;
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();

  std::string header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;
  std::string body;
};

// Where a response goes. reply() once, or start_stream() then write()* then end(). The service may
// call these from the scheduler thread; implementations must not block for long.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void reply(HttpResponse response) = 0;
  virtual void start_stream(int status, const std::string& content_type, Headers headers) = 0;
  virtual void write(std::string chunk) = 0;
  virtual void end() = 0;
};
using ResponderPtr = std::shared_ptr<Responder>;

struct ServiceOptions {
  RequestLimits limits;
  std::size_t max_body_bytes = 1 << 20;
  std::int64_t created_unix_seconds = 0;  // "created" of the model in /v1/models
  // With API keys: the keys whose requests may ask for `X-Priority: high` (null: none may; the
  // header is then ignored). Without API keys the header is honoured from any client: there is no
  // identity to check it against.
  const ApiKeyStore* priority_keys = nullptr;
};

class ApiService {
 public:
  // Everything passed by reference or pointer must outlive the service. `keys` null: no
  // authentication; `cache` null: no response cache.
  ApiService(ServiceOptions options, BatchScheduler& scheduler, RateLimiter& limiter,
             const ApiKeyStore* keys, ResponseCache* cache, ServerMetrics& metrics);

  // Answers `request` through `responder`, now or later (generation). Never throws for bad input.
  // Thread-safe.
  void handle(const HttpRequest& request, const ResponderPtr& responder);

  void set_ready(bool ready);
  // After this, /readyz answers 503 and new generation requests get 503; accepted ones finish.
  void begin_drain();
  bool draining() const { return draining_.load(); }
  // Generation requests accepted and not yet fully answered.
  std::size_t in_flight() const { return in_flight_.load(); }

 private:
  class Completion;  // a GenerationSink that answers one request
  friend class Completion;

  void handle_generation(const HttpRequest& request, Endpoint endpoint,
                         const ResponderPtr& responder);
  void reply_error(const HttpRequest& request, const ResponderPtr& responder, const ApiError& error,
                   const std::string& endpoint, const std::string& priority,
                   Headers extra_headers = {});
  void reply_from_cache(const CompletionRequest& request, const CachedCompletion& cached,
                        const HttpRequest& http, const std::string& priority,
                        const ResponderPtr& responder);
  std::string next_id(Endpoint endpoint);

  ServiceOptions options_;
  BatchScheduler& scheduler_;
  RateLimiter& limiter_;
  const ApiKeyStore* keys_;
  ResponseCache* cache_;
  ServerMetrics& metrics_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> ids_{0};
};

// The cache key of a deterministic request (same key: same greedy completion) made by `tenant`:
// with API keys, the key the request presented, so that one key's completions are never another
// key's cache hits; empty without API keys (one shared cache).
std::string cache_key(const CompletionRequest& request, std::string_view tenant);

}  // namespace dso::inference
