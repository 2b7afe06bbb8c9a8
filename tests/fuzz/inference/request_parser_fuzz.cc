// libFuzzer target for the inference server's request parser: any byte string, as a completions or
// a chat body, must give either a valid request within the limits or an OpenAI error whose body is
// valid JSON -- never a crash, a hang, an exception or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "server/openai_request.h"

using namespace dso::inference;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const RequestLimits limits{"m", 64, 16, 4096};
  for (auto endpoint : {Endpoint::kCompletions, Endpoint::kChatCompletions}) {
    CompletionRequest request;
    if (auto error = parse_completion_request_into(body, endpoint, limits, request)) {
      if (error->status != 400 && error->status != 404) __builtin_trap();
      if (error->message.empty() || error->message.find('\n') != std::string::npos)
        __builtin_trap();
      auto rendered = nlohmann::json::parse(error_body(*error), nullptr, false);
      if (rendered.is_discarded() || !rendered["error"].is_object()) __builtin_trap();
    } else {
      if (request.model != "m") __builtin_trap();
      if (request.max_tokens < 1 || request.max_tokens > 64) __builtin_trap();
      if (request.prompt.size() > 4096) __builtin_trap();
      if (!(request.temperature >= 0 && request.temperature <= 2)) __builtin_trap();
      if (!(request.top_p > 0 && request.top_p <= 1)) __builtin_trap();
      if (request.stop.size() > 4) __builtin_trap();
      if (json_string(request.prompt).empty()) __builtin_trap();
    }
  }
  if (complete_utf8_prefix(body) > body.size()) __builtin_trap();
  return 0;
}
