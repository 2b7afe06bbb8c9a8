// Integration test: the real deepseek-inference-server with the build's generated TorchScript
// model, on a loopback port, exercised over HTTP: completions, chat, streaming, models, errors,
// 401, 429 (rate limit), metrics names, and SIGTERM drain (in-flight request finishes, exit 0).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "loopback_http.h"
#include "server_process.h"

namespace dso::inference::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using Hdrs = std::vector<std::pair<std::string, std::string>>;

class InferenceServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir =
        std::filesystem::temp_directory_path() / ("dso_inference_it_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "keys") << "# test keys\nkey-main\nkey-limit\nkey-drain\nkey-bad\n";
    log_ = (dir / "server.log").string();
    server_ = new ServerProcess(
        DSO_INFERENCE_SERVER,
        {"--model", DSO_BYTE_LM, "--model-name", "byte-lm", "--api-keys", (dir / "keys").string(),
         "--rate-limit-per-second", "20", "--rate-limit-per-hour", "1000", "--max-body-bytes",
         "4096", "--max-batch-size", "8", "--drain-timeout-s", "20"},
        log_);
    ready_ = server_->wait_ready(120s);
  }
  static void TearDownTestSuite() { delete server_; }

  void SetUp() override { ASSERT_TRUE(ready_) << "server did not become ready; log: " << log_; }

  static LoopbackResponse post(const std::string& path, const std::string& body,
                               const std::string& key = "key-main", Hdrs extra = {}) {
    LoopbackHttp http(server_->port());
    if (!key.empty()) extra.emplace_back("Authorization", "Bearer " + key);
    return http.request("POST", path, body, extra);
  }

  static ServerProcess* server_;
  static bool ready_;
  static std::string log_;
};
ServerProcess* InferenceServer::server_ = nullptr;
bool InferenceServer::ready_ = false;
std::string InferenceServer::log_;

TEST_F(InferenceServer, CompletionWithUsage) {
  auto r = post("/v1/completions",
                R"({"model":"byte-lm","prompt":"Hello","max_tokens":12,"temperature":0})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(body["usage"]["completion_tokens"], 12);
  EXPECT_EQ(body["usage"]["total_tokens"], 17);
  // Byte-level: up to 12 bytes of text (invalid UTF-8 becomes U+FFFD, 3 bytes each).
  EXPECT_FALSE(body["choices"][0]["text"].get<std::string>().empty());
}

TEST_F(InferenceServer, ChatCompletion) {
  auto r =
      post("/v1/chat/completions",
           R"({"model":"byte-lm","messages":[{"role":"user","content":"hi"}],"max_tokens":4})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["usage"]["completion_tokens"], 4);
}

TEST_F(InferenceServer, StreamingIsServerSentEvents) {
  auto r =
      post("/v1/completions", R"({"model":"byte-lm","prompt":"abc","max_tokens":6,"stream":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_NE(r.header("transfer-encoding").find("chunked"), std::string::npos);
  ASSERT_TRUE(r.body.ends_with("data: [DONE]\n\n")) << r.body;
  int events = 0;
  bool saw_usage = false;
  for (std::size_t at = 0; (at = r.body.find("data: {", at)) != std::string::npos; ++at) {
    auto end = r.body.find("\n\n", at);
    auto event = json::parse(r.body.substr(at + 6, end - at - 6));
    EXPECT_EQ(event["object"], "text_completion");
    if (event.contains("usage")) {
      saw_usage = true;
      EXPECT_EQ(event["usage"]["completion_tokens"], 6);
    }
    ++events;
  }
  EXPECT_GE(events, 2);
  EXPECT_TRUE(saw_usage);
}

TEST_F(InferenceServer, ModelsAndProbes) {
  LoopbackHttp http(server_->port());
  auto models = http.request("GET", "/v1/models", "", {{"Authorization", "Bearer key-main"}});
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(json::parse(models.body)["data"][0]["id"], "byte-lm");
  EXPECT_EQ(http.request("GET", "/healthz").status, 200);
  EXPECT_EQ(http.request("GET", "/readyz").status, 200);
}

TEST_F(InferenceServer, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  auto post = [](const std::string& path, const std::string& body) {
    return InferenceServer::post(path, body, "key-bad");
  };
  auto not_json = post("/v1/completions", "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(json::parse(not_json.body)["error"]["type"], "invalid_request_error");
  EXPECT_EQ(post("/v1/completions", R"({"model":"gpt-4","prompt":"x"})").status, 404);
  EXPECT_EQ(
      post("/v1/completions", R"({"model":"byte-lm","prompt":"x","max_tokens":100000})").status,
      400);
  EXPECT_EQ(post("/v1/completions", R"({"model":"byte-lm","prompt":7})").status, 400);
  auto big = post("/v1/completions", std::string(5000, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(json::parse(big.body)["error"]["code"], "request_too_large");
  EXPECT_EQ(post("/v1/unknown", "{}").status, 404);
  EXPECT_EQ(post("/v1/completions", R"({"model":"byte-lm","prompt":"x","max_tokens":1})").status,
            200);
}

TEST_F(InferenceServer, MissingOrWrongApiKeyIs401) {
  auto none = post("/v1/completions", R"({"model":"byte-lm","prompt":"x"})", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(json::parse(none.body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(post("/v1/completions", R"({"model":"byte-lm","prompt":"x"})", "key-wrong").status,
            401);
}

TEST_F(InferenceServer, RateLimitIs429WithRetryAfter) {
  // Requests with a body that fails validation (400) after the limiter: they cost a token each
  // but no model time, so the burst is spent faster than the bucket refills.
  int ok = 0, limited = 0;
  std::string retry_after;
  // Until the first 429 (30 requests normally; more if a loaded machine sends them slower than
  // the bucket refills).
  for (int i = 0; i < 200 && (i < 30 || limited == 0); ++i) {
    auto r = post("/v1/completions", R"({"model":"byte-lm"})", "key-limit");
    if (r.status == 400) ++ok;
    if (r.status == 429) {
      ++limited;
      retry_after = r.header("retry-after");
      EXPECT_EQ(json::parse(r.body)["error"]["code"], "rate_limit_exceeded");
    }
  }
  EXPECT_GE(ok, 20);  // the 20/s burst, plus whatever refilled meanwhile
  EXPECT_GE(limited, 1);
  EXPECT_EQ(retry_after, "1");
}

TEST_F(InferenceServer, MetricsHaveTheDocumentedNames) {
  LoopbackHttp http(server_->port());
  auto r = http.request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  for (const char* name :
       {"deepseek_inference_request_duration_seconds_bucket",
        "deepseek_inference_time_to_first_token_seconds_bucket",
        "deepseek_inference_requests_total{code=\"200\"",
        "deepseek_inference_requests_total{code=\"429\"",
        "deepseek_inference_queue_depth{priority=\"normal\"}",
        "deepseek_inference_batch_size_bucket", "deepseek_inference_tokens_generated_total",
        "deepseek_inference_requests_in_flight", "deepseek_inference_cache_hits_total",
        "deepseek_inference_cache_misses_total",
        "deepseek_inference_rate_limited_total{window=\"second\"}", "deepseek_inference_ready 1",
        "deepseek_inference_info{device=\"cpu\",model=\"byte-lm\"} 1"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
}

// Last (gtest runs a suite's tests in order): SIGTERM with a request in flight.
TEST_F(InferenceServer, SigtermDrainsInFlightRequestsAndExitsZero) {
  auto in_flight = std::async(std::launch::async, [] {
    return post("/v1/completions",
                R"({"model":"byte-lm","prompt":"drain me","max_tokens":500,"stream":true})",
                "key-drain");
  });
  // Wait until the request is running (in_flight gauge 1).
  LoopbackHttp probe(server_->port());
  for (int i = 0; i < 200; ++i) {
    auto m = probe.request("GET", "/metrics");
    if (m.body.find("deepseek_inference_requests_in_flight 1") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  server_->signal(SIGTERM);
  // The drain starts at once; the 500-token stream keeps the server up for a while after that
  // (about a quarter of a second here), so look as soon as not-ready shows.
  LoopbackHttp after(server_->port());
  int ready_status = 0;
  for (int i = 0; i < 400 && ready_status != 503; ++i) {
    ready_status = after.request("GET", "/readyz").status;
    if (ready_status != 503) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(ready_status, 503);
  EXPECT_EQ(after
                .request("POST", "/v1/completions", R"({"model":"byte-lm","prompt":"x"})",
                         {{"Authorization", "Bearer key-main"}})
                .status,
            503);
  auto finished = in_flight.get();
  EXPECT_EQ(finished.status, 200);
  EXPECT_TRUE(finished.body.ends_with("data: [DONE]\n\n"));
  EXPECT_NE(finished.body.find("\"completion_tokens\":500"), std::string::npos);
  EXPECT_EQ(server_->wait_exit(30s), 0);
}

}  // namespace
}  // namespace dso::inference::testing
