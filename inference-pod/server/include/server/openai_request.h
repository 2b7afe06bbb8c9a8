// Parsing and validating OpenAI-compatible request bodies (POST /v1/completions and
// /v1/chat/completions), and the OpenAI error format every failure is answered in.
//
// Nothing here throws on bad input: every malformed body gives an ApiError with a one-line message
// naming the field. The core entry point avoids std::expected so that the libFuzzer target (clang
// 14, whose libstdc++ <expected> it cannot compile) can call it; parse_completion_request wraps it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <version>
#if defined(__cpp_lib_expected)
#include <expected>
#endif

namespace dso::inference {

enum class Endpoint { kCompletions, kChatCompletions };
enum class Priority { kHigh, kNormal };

const char* endpoint_name(Endpoint endpoint);  // "completions" / "chat_completions"
const char* priority_name(Priority priority);  // "high" / "normal"

// An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // empty: null
  std::string code;   // empty: null
};

// The JSON body of an error response.
std::string error_body(const ApiError& error);

struct ChatMessage {
  std::string role;
  std::string content;
};

// A validated generation request.
struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;
  std::string prompt;  // completions: as sent; chat: the messages rendered by render_chat_prompt
  std::vector<ChatMessage> messages;
  int max_tokens = 16;
  double temperature = 1.0;
  double top_p = 1.0;
  bool stream = false;
  std::vector<std::string> stop;
  std::optional<std::uint64_t> seed;
};

struct RequestLimits {
  std::string served_model;     // other model names get 404 model_not_found
  int max_tokens_limit = 512;   // max_tokens above this: 400
  int default_max_tokens = 16;  // when the request has no max_tokens
  std::size_t max_prompt_bytes = 256 * 1024;
};

// Parses `body` for `endpoint`. Returns std::nullopt and fills `out` on success; otherwise the
// error (400 for malformed JSON or fields, 404 for an unknown model). Cost: linear in the body
// size.
std::optional<ApiError> parse_completion_request_into(std::string_view body, Endpoint endpoint,
                                                      const RequestLimits& limits,
                                                      CompletionRequest& out);

// The text the byte-level model sees for a chat: "<|role|>\ncontent\n" per message, then
// "<|assistant|>\n".
std::string render_chat_prompt(const std::vector<ChatMessage>& messages);

#if defined(__cpp_lib_expected)
inline std::expected<CompletionRequest, ApiError> parse_completion_request(
    std::string_view body, Endpoint endpoint, const RequestLimits& limits) {
  CompletionRequest request;
  if (auto error = parse_completion_request_into(body, endpoint, limits, request)) {
    return std::unexpected(std::move(*error));
  }
  return request;
}
#endif

// Number of leading bytes of `text` that form complete UTF-8 sequences: a streamed chunk never ends
// inside a multi-byte character. Invalid bytes count as complete (they are replaced when encoded).
std::size_t complete_utf8_prefix(std::string_view text);

// JSON-encodes a string, replacing invalid UTF-8 with U+FFFD (model output is raw bytes).
std::string json_string(std::string_view text);

}  // namespace dso::inference
