// The OpenAI-compatible API logic (see api_service.h).
#include "server/api_service.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "inference/server_contract.h"

namespace dso::inference {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

json usage_json(int prompt, int completion) {
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion}};
}

// The full (non-streamed) response body. Written directly rather than through a json object (a
// std::map per level, then dump): the same bytes, keys in the same sorted order, at a fraction of
// the cost on every answer.
std::string completion_body(Endpoint endpoint, const std::string& id, const std::string& model,
                            const std::string& text, const std::string& finish, int prompt_tokens,
                            int completion_tokens) {
  std::string body;
  body.reserve(256 + text.size() + model.size());
  body += R"({"choices":[{"finish_reason":)";
  body += json_string(finish);
  body += R"(,"index":0,"logprobs":null,)";
  if (endpoint == Endpoint::kCompletions) {
    body += R"("text":)";
    body += json_string(text);
    body += '}';
  } else {
    body += R"("message":{"content":)";
    body += json_string(text);
    body += R"(,"role":"assistant"}})";
  }
  body += R"(],"created":)";
  body += std::to_string(unix_now());
  body += R"(,"id":)";
  body += json_string(id);
  body += R"(,"model":)";
  body += json_string(model);
  body += R"(,"object":)";
  body += endpoint == Endpoint::kCompletions ? R"("text_completion")" : R"("chat.completion")";
  body += R"(,"usage":{"completion_tokens":)";
  body += std::to_string(completion_tokens);
  body += R"(,"prompt_tokens":)";
  body += std::to_string(prompt_tokens);
  body += R"(,"total_tokens":)";
  body += std::to_string(prompt_tokens + completion_tokens);
  body += "}}";
  return body;
}

// One server-sent event carrying a streamed chunk. `finish` empty: null.
std::string stream_event(Endpoint endpoint, const std::string& id, const std::string& model,
                         std::int64_t created, const std::string& text, const std::string& finish,
                         bool first, const json* usage) {
  json chunk;
  chunk["id"] = id;
  chunk["created"] = created;
  chunk["model"] = model;
  json finish_json = finish.empty() ? json(nullptr) : json(finish);
  if (endpoint == Endpoint::kCompletions) {
    chunk["object"] = "text_completion";
    chunk["choices"] = json::array(
        {{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_json}}});
  } else {
    chunk["object"] = "chat.completion.chunk";
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    chunk["choices"] =
        json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish_json}}});
  }
  if (usage) chunk["usage"] = *usage;
  return "data: " + dump(chunk) + "\n\n";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string HttpRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string cache_key(const CompletionRequest& r, std::string_view tenant) {
  std::string key;
  key.reserve(tenant.size() + r.prompt.size() + 64);
  key += std::to_string(tenant.size());  // length-prefixed: no tenant can end where another begins
  key += ':';
  key += tenant;
  key += endpoint_name(r.endpoint);
  key += '\0';
  key += r.model;
  key += '\0';
  key += std::to_string(r.max_tokens);
  for (const auto& s : r.stop) {
    key += '\0';
    key += s;
  }
  key += '\x01';
  key += r.prompt;
  return key;
}

// Answers one generation request as the scheduler produces it.
class ApiService::Completion final : public GenerationSink {
 public:
  Completion(ApiService& service, CompletionRequest request, ResponderPtr responder,
             std::string priority, Clock::time_point arrived, std::string cache_key)
      : service_(service),
        request_(std::move(request)),
        responder_(std::move(responder)),
        priority_(std::move(priority)),
        arrived_(arrived),
        cache_key_(std::move(cache_key)),
        id_(service_.next_id(request_.endpoint)),
        created_(unix_now()) {}

  // Sends the stream's headers and whatever the scheduler produced meanwhile (streamed requests
  // only). Called once the job is queued: a refused job still gets a plain 429.
  void start() {
    if (!request_.stream) return;
    std::lock_guard lock(mu_);
    responder_->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    responder_->write(
        stream_event(request_.endpoint, id_, request_.model, created_, "", "", true, nullptr));
    for (auto& event : pending_) responder_->write(std::move(event));
    pending_.clear();
    if (ended_) responder_->end();
    started_ = true;
  }

  void on_first_token() override {
    service_.metrics_.observe_time_to_first_token(endpoint_name(request_.endpoint),
                                                  seconds_since(arrived_));
  }

  void on_text(std::string_view delta) override {
    if (!request_.stream || delta.empty()) return;
    send(stream_event(request_.endpoint, id_, request_.model, created_, std::string(delta), "",
                      false, nullptr));
  }

  void on_finish(const GenerationResult& result) override {
    const std::string endpoint = endpoint_name(request_.endpoint);
    int code = 200;
    if (result.finish == FinishReason::kError) {
      const bool shutting_down = result.error == "server shutting down";
      ApiError error{shutting_down ? 503 : 500, "server_error", result.error, "",
                     shutting_down ? "server_shutting_down" : "model_error"};
      if (request_.stream) {
        send("data: " + error_body(error) + "\n\n");
        send("data: [DONE]\n\n");
        end_stream();
      } else {
        responder_->reply(HttpResponse{error.status, "application/json", {}, error_body(error)});
        code = error.status;
      }
    } else {
      const std::string finish = finish_reason_name(result.finish);
      // Cached before answering, so that a repeat sent right after the answer hits.
      if (!cache_key_.empty() && service_.cache_) {
        service_.cache_->put(
            cache_key_,
            CachedCompletion{result.text, finish, result.prompt_tokens, result.completion_tokens},
            Clock::now());
      }
      if (request_.stream) {
        json usage = usage_json(result.prompt_tokens, result.completion_tokens);
        send(stream_event(request_.endpoint, id_, request_.model, created_, "", finish, false,
                          &usage));
        send("data: [DONE]\n\n");
        end_stream();
      } else {
        responder_->reply(
            HttpResponse{200,
                         "application/json",
                         {},
                         completion_body(request_.endpoint, id_, request_.model, result.text,
                                         finish, result.prompt_tokens, result.completion_tokens)});
      }
    }
    service_.metrics_.observe_request(endpoint, code, priority_, seconds_since(arrived_));
    service_.metrics_.add_in_flight(-1);
    service_.in_flight_.fetch_sub(1);
  }

 private:
  void send(std::string event) {
    std::lock_guard lock(mu_);
    if (started_) {
      responder_->write(std::move(event));
    } else {
      pending_.push_back(std::move(event));
    }
  }
  void end_stream() {
    std::lock_guard lock(mu_);
    if (started_) {
      responder_->end();
    } else {
      ended_ = true;
    }
  }

  std::mutex mu_;
  bool started_ = false;
  bool ended_ = false;
  std::vector<std::string> pending_;
  ApiService& service_;
  CompletionRequest request_;
  ResponderPtr responder_;
  std::string priority_;
  Clock::time_point arrived_;
  std::string cache_key_;
  std::string id_;
  std::int64_t created_;
};

ApiService::ApiService(ServiceOptions options, BatchScheduler& scheduler, RateLimiter& limiter,
                       const ApiKeyStore* keys, ResponseCache* cache, ServerMetrics& metrics)
    : options_(std::move(options)),
      scheduler_(scheduler),
      limiter_(limiter),
      keys_(keys),
      cache_(cache),
      metrics_(metrics) {
  if (options_.created_unix_seconds == 0) options_.created_unix_seconds = unix_now();
}

void ApiService::set_ready(bool ready) {
  ready_ = ready;
  metrics_.set_ready(ready && !draining_);
}

void ApiService::begin_drain() {
  draining_ = true;
  metrics_.set_ready(false);
  metrics_.set_draining(true);
}

std::string ApiService::next_id(Endpoint endpoint) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx%06llx", static_cast<unsigned long long>(unix_now()),
                static_cast<unsigned long long>(ids_.fetch_add(1) & 0xFFFFFF));
  return std::string(endpoint == Endpoint::kCompletions ? "cmpl-" : "chatcmpl-") + buf;
}

void ApiService::reply_error(const HttpRequest& request, const ResponderPtr& responder,
                             const ApiError& error, const std::string& endpoint,
                             const std::string& priority, Headers extra_headers) {
  responder->reply(
      HttpResponse{error.status, "application/json", std::move(extra_headers), error_body(error)});
  if (!endpoint.empty()) {
    metrics_.observe_request(endpoint, error.status, priority, seconds_since(request.arrived));
  }
}

void ApiService::handle(const HttpRequest& request, const ResponderPtr& responder) {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path == contract::kHealthPath) {
    if (!get)
      return reply_error(request, responder, {405, "invalid_request_error", "use GET", "", ""}, "",
                         "");
    return responder->reply(HttpResponse{200, "text/plain", {}, "ok\n"});
  }
  if (path == contract::kReadyPath) {
    if (!get)
      return reply_error(request, responder, {405, "invalid_request_error", "use GET", "", ""}, "",
                         "");
    if (draining_) return responder->reply(HttpResponse{503, "text/plain", {}, "draining\n"});
    if (!ready_) return responder->reply(HttpResponse{503, "text/plain", {}, "warming up\n"});
    return responder->reply(HttpResponse{200, "text/plain", {}, "ready\n"});
  }
  if (path == contract::kMetricsPath) {
    if (!get)
      return reply_error(request, responder, {405, "invalid_request_error", "use GET", "", ""}, "",
                         "");
    return responder->reply(
        HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", {}, metrics_.serialize()});
  }
  std::optional<Endpoint> endpoint;
  if (path == "/v1/completions") endpoint = Endpoint::kCompletions;
  if (path == "/v1/chat/completions") endpoint = Endpoint::kChatCompletions;
  const bool models = path == "/v1/models" || path.starts_with("/v1/models/");
  if (!endpoint && !models) {
    return reply_error(request, responder,
                       {404, "invalid_request_error",
                        "Unknown request URL: " + request.method + " " + path, "", "unknown_url"},
                       "", "");
  }
  if (keys_) {
    const auto key =
        presented_api_key(request.header("authorization"), request.header("x-api-key"));
    if (!keys_->contains(key)) {
      metrics_.unauthorized();
      return reply_error(request, responder,
                         {401, "invalid_request_error",
                          key.empty() ? "Missing API key: send 'Authorization: Bearer KEY'"
                                      : "Incorrect API key provided",
                          "", "invalid_api_key"},
                         endpoint ? endpoint_name(*endpoint) : "models", "normal",
                         {{"WWW-Authenticate", "Bearer"}});
    }
  }
  if (models) {
    if (!get)
      return reply_error(request, responder, {405, "invalid_request_error", "use GET", "", ""},
                         "models", "normal");
    json model = {{"id", options_.limits.served_model},
                  {"object", "model"},
                  {"created", options_.created_unix_seconds},
                  {"owned_by", "deepseek-operator"}};
    if (path == "/v1/models") {
      metrics_.observe_request("models", 200, "normal", seconds_since(request.arrived));
      return responder->reply(
          HttpResponse{200, "application/json", {}, dump({{"object", "list"}, {"data", {model}}})});
    }
    if (path.substr(std::string_view("/v1/models/").size()) != options_.limits.served_model) {
      return reply_error(
          request, responder,
          {404, "invalid_request_error", "The model '" + path.substr(11) + "' does not exist",
           "model", "model_not_found"},
          "models", "normal");
    }
    metrics_.observe_request("models", 200, "normal", seconds_since(request.arrived));
    return responder->reply(HttpResponse{200, "application/json", {}, dump(model)});
  }
  if (request.method != "POST") {
    return reply_error(request, responder,
                       {405, "invalid_request_error", "use POST for " + path, "", ""},
                       endpoint_name(*endpoint), "normal");
  }
  handle_generation(request, *endpoint, responder);
}

void ApiService::handle_generation(const HttpRequest& request, Endpoint endpoint,
                                   const ResponderPtr& responder) {
  const std::string name = endpoint_name(endpoint);
  // With API keys (checked in handle()), the key is the client: its rate limit, its cache and
  // whether it may jump the queue.
  const std::string api_key =
      keys_ ? presented_api_key(request.header("authorization"), request.header("x-api-key")) : "";
  const bool may_prioritise =
      !keys_ || (options_.priority_keys && options_.priority_keys->contains(api_key));
  const Priority priority = may_prioritise && lower(request.header("x-priority")) == "high"
                                ? Priority::kHigh
                                : Priority::kNormal;
  const std::string prio = priority_name(priority);
  if (draining_) {
    return reply_error(request, responder,
                       {503, "server_error", "server is shutting down; retry on another replica",
                        "", "server_shutting_down"},
                       name, prio, {{"Retry-After", "1"}, {"Connection", "close"}});
  }
  if (request.body_too_large || request.body.size() > options_.max_body_bytes) {
    return reply_error(
        request, responder,
        {413, "invalid_request_error",
         "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes", "",
         "request_too_large"},
        name, prio);
  }
  const std::string client = keys_ ? "key:" + api_key : "addr:" + request.client_address;
  if (auto decision = limiter_.admit(client, Clock::now()); !decision.allowed) {
    metrics_.rate_limited(decision.window);
    return reply_error(request, responder,
                       {429, "rate_limit_error",
                        std::string("Rate limit reached: too many requests per ") +
                            decision.window + " for this client",
                        "", "rate_limit_exceeded"},
                       name, prio, {{"Retry-After", std::to_string(decision.retry_after_seconds)}});
  }
  CompletionRequest parsed;
  if (auto error = parse_completion_request_into(request.body, endpoint, options_.limits, parsed)) {
    return reply_error(request, responder, *error, name, prio);
  }
  std::string key;
  if (cache_ && parsed.temperature == 0.0) {
    key = cache_key(parsed, api_key);
    CachedCompletion cached;
    switch (cache_->get(key, Clock::now(), cached)) {
      case CacheLookup::kHit:
        metrics_.cache_hit();
        return reply_from_cache(parsed, cached, request, prio, responder);
      case CacheLookup::kMiss:
        metrics_.cache_miss(false);
        break;
      case CacheLookup::kBloomNegative:
        metrics_.cache_miss(true);
        break;
    }
  }
  GenerationJob job;
  job.prompt = parsed.prompt;
  job.params = GenerationParams{parsed.max_tokens, parsed.temperature, parsed.top_p, parsed.stop,
                                parsed.seed};
  job.priority = priority;
  const auto prompt_bytes = parsed.prompt.size();
  auto sink = std::make_shared<Completion>(*this, std::move(parsed), responder, prio,
                                           request.arrived, std::move(key));
  job.sink = sink;
  in_flight_.fetch_add(1);
  metrics_.add_in_flight(1);
  if (auto queued = scheduler_.submit(std::move(job)); !queued) {
    in_flight_.fetch_sub(1);
    metrics_.add_in_flight(-1);
    metrics_.queue_rejected();
    ApiError error{429, "rate_limit_error",
                   "Server busy: the request queue is full (" +
                       std::to_string(scheduler_.options().max_queue) + " waiting); retry later",
                   "", "queue_full"};
    return reply_error(request, responder, error, name, prio,
                       {{"Retry-After", std::to_string(queued.error().retry_after_seconds)}});
  }
  sink->start();
  metrics_.add_prompt_tokens(prompt_bytes);
}

void ApiService::reply_from_cache(const CompletionRequest& request, const CachedCompletion& cached,
                                  const HttpRequest& http, const std::string& priority,
                                  const ResponderPtr& responder) {
  const std::string id = next_id(request.endpoint);
  if (request.stream) {
    const auto created = unix_now();
    responder->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    responder->write(
        stream_event(request.endpoint, id, request.model, created, "", "", true, nullptr));
    if (!cached.text.empty()) {
      responder->write(stream_event(request.endpoint, id, request.model, created, cached.text, "",
                                    false, nullptr));
    }
    json usage = usage_json(cached.prompt_tokens, cached.completion_tokens);
    responder->write(stream_event(request.endpoint, id, request.model, created, "",
                                  cached.finish_reason, false, &usage));
    responder->write("data: [DONE]\n\n");
    responder->end();
  } else {
    responder->reply(HttpResponse{
        200,
        "application/json",
        {{"X-Cache", "hit"}},
        completion_body(request.endpoint, id, request.model, cached.text, cached.finish_reason,
                        cached.prompt_tokens, cached.completion_tokens)});
  }
  metrics_.observe_time_to_first_token(endpoint_name(request.endpoint),
                                       seconds_since(http.arrived));
  metrics_.observe_request(endpoint_name(request.endpoint), 200, priority,
                           seconds_since(http.arrived));
}

}  // namespace dso::inference
