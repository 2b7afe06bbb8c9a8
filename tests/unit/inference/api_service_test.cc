// The API logic end to end with a fake model: responses, streaming, auth, limits, cache, drain,
// errors and metrics.
#include "server/api_service.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "fake_model.h"

namespace dso::inference {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeModel;
using testing::RecordingResponder;

// in_flight drops just after the reply is handed over: poll briefly.
bool settles_to_zero(const ApiService& service) {
  for (int i = 0; i < 1000 && service.in_flight() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return service.in_flight() == 0;
}

struct Harness {
  explicit Harness(RateLimitOptions limits = {0, 0, 100}, std::optional<ApiKeyStore> api_keys = {},
                   SchedulerOptions scheduler_options = {8, 0us, 64})
      : keys(std::move(api_keys)),
        metrics({"m", "fake", 8, 64}),
        scheduler(model, scheduler_options, &metrics),
        limiter(limits),
        cache({1 << 20, 60s, 1000}),
        service(options(), scheduler, limiter, keys ? &*keys : nullptr, &cache, metrics) {
    service.set_ready(true);
  }

  static ServiceOptions options() {
    ServiceOptions o;
    o.limits = {"m", 50, 4, 10000};
    o.max_body_bytes = 2000;
    return o;
  }

  std::shared_ptr<RecordingResponder> call(
      std::string method, std::string path, std::string body = "",
      std::unordered_map<std::string, std::string> headers = {}, bool wait = true) {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.client_address = "10.1.2.3";
    auto responder = std::make_shared<RecordingResponder>();
    service.handle(r, responder);
    if (wait) {
      EXPECT_TRUE(responder->wait()) << r.path;
    }
    return responder;
  }

  FakeModel model;
  std::optional<ApiKeyStore> keys;
  ServerMetrics metrics;
  BatchScheduler scheduler;
  RateLimiter limiter;
  ResponseCache cache;
  ApiService service;
};

TEST(ApiService, CompletionReturnsTextAndUsage) {
  Harness h;
  auto r = h.call("POST", "/v1/completions", R"({"model":"m","prompt":"abc","max_tokens":3})");
  ASSERT_EQ(r->status(), 200) << r->body();
  auto body = json::parse(r->body());
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["choices"][0]["text"], "def");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
  EXPECT_EQ(body["usage"]["total_tokens"], 6);
  EXPECT_TRUE(body["id"].get<std::string>().starts_with("cmpl-"));
}

TEST(ApiService, ChatCompletionReturnsAnAssistantMessage) {
  Harness h;
  auto r = h.call("POST", "/v1/chat/completions",
                  R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2})");
  ASSERT_EQ(r->status(), 200) << r->body();
  auto body = json::parse(r->body());
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  // The rendered prompt ends in "<|assistant|>\n": the fake model continues with 0x0B, 0x0C.
  EXPECT_EQ(body["choices"][0]["message"]["content"], "\x0b\x0c");
  EXPECT_EQ(body["usage"]["prompt_tokens"], std::string("<|user|>\nhi\n<|assistant|>\n").size());
}

TEST(ApiService, StreamSendsServerSentEventsEndingWithDone) {
  Harness h;
  auto r = h.call("POST", "/v1/chat/completions",
                  R"({"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":3,
                      "stream":true})");
  EXPECT_EQ(r->status(), 200);
  EXPECT_EQ(r->content_type(), "text/event-stream");
  auto chunks = r->chunks();
  ASSERT_GE(chunks.size(), 3u);
  EXPECT_EQ(chunks.back(), "data: [DONE]\n\n");
  std::string text;
  std::string finish;
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].starts_with("data: ")) << chunks[i];
    ASSERT_TRUE(chunks[i].ends_with("\n\n"));
    auto event = json::parse(chunks[i].substr(6));
    EXPECT_EQ(event["object"], "chat.completion.chunk");
    auto& choice = event["choices"][0];
    if (i == 0) {
      EXPECT_EQ(choice["delta"]["role"], "assistant");
    }
    if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) {
      finish = choice["finish_reason"];
      EXPECT_EQ(event["usage"]["completion_tokens"], 3);
    }
  }
  EXPECT_EQ(text, "\x0b\x0c\x0d");
  EXPECT_EQ(finish, "length");
}

TEST(ApiService, ApiKeysRequiredWhenConfigured) {
  Harness h({0, 0, 100}, ApiKeyStore::from_keys({"sk-good"}));
  const std::string body = R"({"model":"m","prompt":"a","max_tokens":1})";
  auto none = h.call("POST", "/v1/completions", body);
  EXPECT_EQ(none->status(), 401);
  EXPECT_EQ(json::parse(none->body())["error"]["code"], "invalid_api_key");
  EXPECT_EQ(none->header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(h.call("POST", "/v1/completions", body, {{"authorization", "Bearer sk-bad"}})->status(),
            401);
  EXPECT_EQ(h.call("GET", "/v1/models")->status(), 401);
  EXPECT_EQ(
      h.call("POST", "/v1/completions", body, {{"authorization", "Bearer sk-good"}})->status(),
      200);
  EXPECT_EQ(h.call("POST", "/v1/completions", body, {{"x-api-key", "sk-good"}})->status(), 200);
  // Probes and metrics stay open.
  EXPECT_EQ(h.call("GET", "/healthz")->status(), 200);
  EXPECT_EQ(h.call("GET", "/metrics")->status(), 200);
}

TEST(ApiService, RateLimitGives429WithRetryAfterPerClient) {
  Harness h({2, 0, 100}, ApiKeyStore::from_keys({"k1", "k2"}));
  const std::string body = R"({"model":"m","prompt":"a","max_tokens":1})";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(h.call("POST", "/v1/completions", body, {{"authorization", "Bearer k1"}})->status(),
              200);
  }
  auto limited = h.call("POST", "/v1/completions", body, {{"authorization", "Bearer k1"}});
  EXPECT_EQ(limited->status(), 429);
  EXPECT_EQ(limited->header("Retry-After"), "1");
  EXPECT_EQ(json::parse(limited->body())["error"]["code"], "rate_limit_exceeded");
  // Another key has its own bucket.
  EXPECT_EQ(h.call("POST", "/v1/completions", body, {{"authorization", "Bearer k2"}})->status(),
            200);
  EXPECT_NE(
      h.metrics.serialize().find("deepseek_inference_rate_limited_total{window=\"second\"} 1"),
      std::string::npos);
}

TEST(ApiService, FullQueueGives429WithRetryAfter) {
  Harness h({0, 0, 100}, {}, {1, 0us, 1});
  h.model.pause();
  const std::string body = R"({"model":"m","prompt":"a","max_tokens":1})";
  auto running = h.call("POST", "/v1/completions", body, {}, false);
  h.model.wait_in_forward();
  auto queued = h.call("POST", "/v1/completions", body, {}, false);
  auto refused = h.call("POST", "/v1/completions", body, {{"x-priority", "high"}});
  EXPECT_EQ(refused->status(), 429);
  EXPECT_FALSE(refused->header("Retry-After").empty());
  EXPECT_EQ(json::parse(refused->body())["error"]["code"], "queue_full");
  EXPECT_EQ(h.service.in_flight(), 2u);
  h.model.resume();
  ASSERT_TRUE(running->wait());
  ASSERT_TRUE(queued->wait());
  EXPECT_EQ(running->status(), 200);
  EXPECT_EQ(queued->status(), 200);
  EXPECT_TRUE(settles_to_zero(h.service));
  const auto metrics = h.metrics.serialize();
  EXPECT_NE(metrics.find("deepseek_inference_queue_rejected_total 1"), std::string::npos);
  EXPECT_NE(
      metrics.find(
          R"(deepseek_inference_requests_total{code="429",endpoint="completions",priority="high"} 1)"),
      std::string::npos)
      << metrics;
}

TEST(ApiService, StreamedRequestRefusedByAFullQueueGetsAPlain429) {
  Harness h({0, 0, 100}, {}, {1, 0us, 0});
  h.model.pause();
  auto r = h.call("POST", "/v1/completions", R"({"model":"m","prompt":"a","stream":true})");
  EXPECT_EQ(r->status(), 429);
  EXPECT_TRUE(r->chunks().empty());
  h.model.resume();
}

TEST(ApiService, XPriorityIsHonouredOnlyForKeysAllowedIt) {
  Harness h({0, 0, 100}, ApiKeyStore::from_keys({"vip", "anyone"}));
  const ApiKeyStore allowed = ApiKeyStore::from_keys({"vip"});
  ServiceOptions options = Harness::options();
  options.priority_keys = &allowed;
  ApiService service(options, h.scheduler, h.limiter, &*h.keys, nullptr, h.metrics);
  service.set_ready(true);
  const auto call = [&](const std::string& key) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/v1/completions";
    r.body = R"({"model":"m","prompt":"a","max_tokens":1})";
    r.headers = {{"authorization", "Bearer " + key}, {"x-priority", "high"}};
    auto responder = std::make_shared<RecordingResponder>();
    service.handle(r, responder);
    EXPECT_TRUE(responder->wait());
    EXPECT_EQ(responder->status(), 200) << responder->body();
  };
  call("vip");
  call("anyone");
  // The request counter is updated just after the answer is written: wait for both to count.
  std::string metrics;
  const auto count = [&](const std::string& priority) {
    const std::string series =
        "deepseek_inference_requests_total{code=\"200\",endpoint=\"completions\",priority=\"" +
        priority + "\"} ";
    const auto at = metrics.find(series);
    return at == std::string::npos ? std::string("absent") : metrics.substr(at + series.size(), 1);
  };
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    metrics = h.metrics.serialize();
  } while ((count("high") == "absent" || count("normal") == "absent") &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(count("high"), "1") << metrics;    // vip's
  EXPECT_EQ(count("normal"), "1") << metrics;  // anyone's header was ignored
}

TEST(ApiService, OneApiKeysCachedCompletionIsNeverAnothersHit) {
  Harness h({0, 0, 100}, ApiKeyStore::from_keys({"k1", "k2"}));
  const std::string body = R"({"model":"m","prompt":"xyz","max_tokens":4,"temperature":0})";
  auto first = h.call("POST", "/v1/completions", body, {{"authorization", "Bearer k1"}});
  ASSERT_EQ(first->status(), 200) << first->body();
  auto other = h.call("POST", "/v1/completions", body, {{"authorization", "Bearer k2"}});
  ASSERT_EQ(other->status(), 200) << other->body();
  EXPECT_EQ(other->header("X-Cache"), "");
  EXPECT_EQ(h.model.batch_sizes().size(), 8u);  // k2's request ran its own forward passes
  auto again = h.call("POST", "/v1/completions", body, {{"x-api-key", "k1"}});
  EXPECT_EQ(again->header("X-Cache"), "hit");  // the same key, however presented
}

TEST(ApiService, TemperatureZeroIsCachedAndCountedAsHits) {
  Harness h;
  const std::string body = R"({"model":"m","prompt":"xyz","max_tokens":4,"temperature":0})";
  auto first = h.call("POST", "/v1/completions", body);
  auto second = h.call("POST", "/v1/completions", body);
  ASSERT_EQ(second->status(), 200);
  EXPECT_EQ(second->header("X-Cache"), "hit");
  EXPECT_EQ(json::parse(first->body())["choices"], json::parse(second->body())["choices"]);
  EXPECT_EQ(h.model.batch_sizes().size(), 4u);  // the second request ran no forward pass
  // Sampling requests are never cached.
  h.call("POST", "/v1/completions", R"({"model":"m","prompt":"xyz","max_tokens":4})");
  EXPECT_EQ(h.model.batch_sizes().size(), 8u);
  const auto metrics = h.metrics.serialize();
  EXPECT_NE(metrics.find("deepseek_inference_cache_hits_total 1"), std::string::npos);
  EXPECT_NE(metrics.find("deepseek_inference_cache_misses_total 1"), std::string::npos);
  // A cached answer streams too.
  auto streamed =
      h.call("POST", "/v1/completions",
             R"({"model":"m","prompt":"xyz","max_tokens":4,"temperature":0,"stream":true})");
  EXPECT_NE(streamed->body().find("[DONE]"), std::string::npos);
  EXPECT_EQ(h.model.batch_sizes().size(), 8u);
}

TEST(ApiService, BadRequestsGetOpenAiErrors) {
  Harness h;
  auto not_json = h.call("POST", "/v1/completions", "{oops");
  EXPECT_EQ(not_json->status(), 400);
  EXPECT_EQ(json::parse(not_json->body())["error"]["type"], "invalid_request_error");
  EXPECT_EQ(h.call("POST", "/v1/completions", R"({"model":"nope","prompt":"a"})")->status(), 404);
  EXPECT_EQ(
      h.call("POST", "/v1/completions", R"({"model":"m","prompt":"a","max_tokens":51})")->status(),
      400);
  EXPECT_EQ(h.call("POST", "/v1/completions", std::string(2001, ' '))->status(), 413);
  EXPECT_EQ(h.call("POST", "/v1/nothing", "{}")->status(), 404);
  EXPECT_EQ(h.call("GET", "/v1/completions")->status(), 405);
  EXPECT_EQ(h.call("GET", "/v1/models/nope")->status(), 404);
}

TEST(ApiService, ModelsListsTheServedModel) {
  Harness h;
  auto r = h.call("GET", "/v1/models");
  ASSERT_EQ(r->status(), 200);
  auto body = json::parse(r->body());
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["data"][0]["id"], "m");
  EXPECT_EQ(json::parse(h.call("GET", "/v1/models/m")->body())["id"], "m");
}

TEST(ApiService, ReadinessFollowsWarmUpAndDrain) {
  Harness h;
  h.service.set_ready(false);
  EXPECT_EQ(h.call("GET", "/readyz")->status(), 503);
  h.service.set_ready(true);
  EXPECT_EQ(h.call("GET", "/readyz")->status(), 200);
  h.model.pause();
  auto in_flight =
      h.call("POST", "/v1/completions", R"({"model":"m","prompt":"a","max_tokens":2})", {}, false);
  h.model.wait_in_forward();
  h.service.begin_drain();
  EXPECT_EQ(h.call("GET", "/readyz")->status(), 503);
  EXPECT_EQ(h.call("GET", "/healthz")->status(), 200);
  auto late = h.call("POST", "/v1/completions", R"({"model":"m","prompt":"a"})");
  EXPECT_EQ(late->status(), 503);
  EXPECT_EQ(json::parse(late->body())["error"]["code"], "server_shutting_down");
  h.model.resume();
  ASSERT_TRUE(in_flight->wait());
  EXPECT_EQ(in_flight->status(), 200);  // accepted work finishes
  EXPECT_TRUE(settles_to_zero(h.service));
}

TEST(ApiService, MetricsExposeTheDocumentedNames) {
  Harness h;
  h.call("POST", "/v1/completions", R"({"model":"m","prompt":"a","max_tokens":2})");
  ASSERT_TRUE(settles_to_zero(h.service));  // request metrics are recorded just after the reply
  const auto text = h.call("GET", "/metrics")->body();
  for (const char* name :
       {"deepseek_inference_request_duration_seconds_bucket{endpoint=\"completions\"",
        "deepseek_inference_time_to_first_token_seconds_bucket",
        "deepseek_inference_requests_total{code=\"200\",endpoint=\"completions\",priority="
        "\"normal\"} 1",
        "deepseek_inference_queue_depth{priority=\"high\"}", "deepseek_inference_batch_size_bucket",
        "deepseek_inference_tokens_generated_total 2", "deepseek_inference_requests_in_flight 0",
        "deepseek_inference_cache_hits_total", "deepseek_inference_cache_misses_total",
        "deepseek_inference_rate_limited_total", "deepseek_inference_ready 1",
        "deepseek_inference_forward_duration_seconds_bucket"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace dso::inference
