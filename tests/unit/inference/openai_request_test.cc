// Request parsing: valid bodies, and every kind of bad input giving a 400/404 in OpenAI's format.
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dso::inference {
namespace {

const RequestLimits kLimits{"m", 100, 16, 1000};

std::expected<CompletionRequest, ApiError> completions(const std::string& body) {
  return parse_completion_request(body, Endpoint::kCompletions, kLimits);
}
std::expected<CompletionRequest, ApiError> chat(const std::string& body) {
  return parse_completion_request(body, Endpoint::kChatCompletions, kLimits);
}

TEST(OpenAiRequest, ParsesACompletionsRequest) {
  auto r = completions(
      R"({"model":"m","prompt":"hi","max_tokens":5,"temperature":0,"top_p":0.5,"stream":true,
          "stop":["\n","END"],"seed":42,"user":"u","logprobs":null})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->prompt, "hi");
  EXPECT_EQ(r->max_tokens, 5);
  EXPECT_EQ(r->temperature, 0.0);
  EXPECT_EQ(r->top_p, 0.5);
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(r->seed, 42u);
  auto defaults = completions(R"({"model":"m","prompt":["one"]})");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->prompt, "one");
  EXPECT_EQ(defaults->max_tokens, 16);
  EXPECT_EQ(defaults->temperature, 1.0);
  EXPECT_FALSE(defaults->stream);
}

TEST(OpenAiRequest, ParsesAChatRequestAndRendersThePrompt) {
  auto r = chat(R"({"model":"m","messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"hel"},{"type":"text","text":"lo"}]}],
      "max_completion_tokens":7,"stop":"x"})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->prompt, "<|system|>\nbe brief\n<|user|>\nhello\n<|assistant|>\n");
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_EQ(r->stop, std::vector<std::string>{"x"});
}

struct BadCase {
  std::string body;
  int status;
  std::string param;
  std::string message_part;
};

TEST(OpenAiRequest, BadBodiesGiveOneLineErrorsNamingTheField) {
  const std::vector<BadCase> cases = {
      {"", 400, "", "not valid JSON"},
      {"{\"model\":", 400, "", "not valid JSON"},
      {"[1,2]", 400, "", "must be a JSON object"},
      {R"({"prompt":"x"})", 400, "model", "'model' is required"},
      {R"({"model":7,"prompt":"x"})", 400, "model", "must be a string"},
      {R"({"model":"other","prompt":"x"})", 404, "model", "does not exist"},
      {R"({"model":"a\r\nb","prompt":"x"})", 404, "model", R"(The model 'a\r\nb' does not)"},
      {R"({"model":"m"})", 400, "prompt", "'prompt' is required"},
      {R"({"model":"m","prompt":5})", 400, "prompt", "must be a string"},
      {R"({"model":"m","prompt":["a","b"]})", 400, "prompt", "only one prompt"},
      {R"({"model":"m","prompt":"x","max_tokens":"5"})", 400, "max_tokens", "must be an integer"},
      {R"({"model":"m","prompt":"x","max_tokens":1.5})", 400, "max_tokens", "must be an integer"},
      {R"({"model":"m","prompt":"x","max_tokens":101})", 400, "max_tokens", "between 1 and 100"},
      {R"({"model":"m","prompt":"x","max_tokens":0})", 400, "max_tokens", "between 1 and 100"},
      {R"({"model":"m","prompt":"x","max_tokens":18446744073709551615})", 400, "max_tokens",
       "between"},
      {R"({"model":"m","prompt":"x","temperature":"hot"})", 400, "temperature", "must be a number"},
      {R"({"model":"m","prompt":"x","temperature":3})", 400, "temperature", "between"},
      {R"({"model":"m","prompt":"x","top_p":0})", 400, "top_p", "greater than 0"},
      {R"({"model":"m","prompt":"x","n":2})", 400, "n", "between 1 and 1"},
      {R"({"model":"m","prompt":"x","stream":"yes"})", 400, "stream", "boolean"},
      {R"({"model":"m","prompt":"x","stop":["a","b","c","d","e"]})", 400, "stop", "up to 4"},
      {R"({"model":"m","prompt":"x","stop":[1]})", 400, "stop", "up to 4"},
      {R"({"model":"m","prompt":"x","stop":""})", 400, "stop", "1 to 64 bytes"},
      {R"({"model":"m","prompt":")" + std::string(1001, 'a') + R"("})", 400, "prompt",
       "limit is 1000"},
  };
  for (const auto& c : cases) {
    auto r = completions(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().status, c.status) << c.body;
    EXPECT_EQ(r.error().param, c.param) << c.body;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos)
        << c.body << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(OpenAiRequest, BadChatMessages) {
  const std::vector<BadCase> cases = {
      {R"({"model":"m"})", 400, "messages", "'messages' is required"},
      {R"({"model":"m","messages":{}})", 400, "messages", "must be an array"},
      {R"({"model":"m","messages":[]})", 400, "messages", "must not be empty"},
      {R"({"model":"m","messages":[1]})", 400, "messages[0]", "must be an object"},
      {R"({"model":"m","messages":[{"content":"x"}]})", 400, "messages[0].role",
       "must be a string"},
      {R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", 400, "messages[0].role",
       "got 'robot'"},
      // A client's string is echoed escaped: the message stays one line (found by the fuzzer).
      {R"({"model":"m","messages":[{"role":"assist\nt","content":"x"}]})", 400, "messages[0].role",
       R"(got 'assist\nt')"},
      {R"({"model":"m","messages":[{"role":"user","content":3}]})", 400, "messages[0].content",
       "string or an array"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400,
       "messages[0].content[0]", "type"},
  };
  for (const auto& c : cases) {
    auto r = chat(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().status, c.status) << c.body;
    EXPECT_EQ(r.error().param, c.param) << c.body;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST(OpenAiRequest, ErrorBodyHasOpenAiShape) {
  auto body = nlohmann::json::parse(
      error_body({429, "rate_limit_error", "slow down", "", "rate_limit_exceeded"}));
  EXPECT_EQ(body["error"]["message"], "slow down");
  EXPECT_EQ(body["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], "rate_limit_exceeded");
}

TEST(OpenAiRequest, Utf8HelpersNeverSplitACharacterAndReplaceInvalidBytes) {
  const std::string euro = "\xE2\x82\xAC";  // 3 bytes
  EXPECT_EQ(complete_utf8_prefix("ab"), 2u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro), 4u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 2)), 1u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 1)), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xFF"), 2u);  // invalid: passes through
  EXPECT_EQ(json_string("a\xFF"), "\"a\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace dso::inference
