// Request parsing and OpenAI error bodies (see openai_request.h).
#include "server/openai_request.h"

#include <nlohmann/json.hpp>

namespace dso::inference {
namespace {

using nlohmann::json;

ApiError bad(std::string message, std::string param) {
  return ApiError{400, "invalid_request_error", std::move(message), std::move(param), ""};
}

const char* type_name(const json& v) {
  return v.type_name();
}

// A client's string as it may appear in an error message: control characters, quotes and
// backslashes escaped as in JSON, so that the message stays one line whatever the client sent.
std::string printable(const std::string& s) {
  const std::string quoted = json_string(s);
  return quoted.substr(1, quoted.size() - 2);
}

// Reads an optional integer field within [lo, hi].
std::optional<ApiError> read_int(const json& body, const char* name, std::int64_t lo,
                                 std::int64_t hi, std::optional<std::int64_t>& out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    return bad(std::string("'") + name + "' must be an integer, got " + type_name(*it), name);
  }
  bool in_range;
  std::int64_t v = 0;
  if (it->is_number_unsigned()) {
    auto u = it->get<std::uint64_t>();
    in_range = u <= static_cast<std::uint64_t>(hi) && static_cast<std::int64_t>(u) >= lo;
    v = in_range ? static_cast<std::int64_t>(u) : 0;
  } else {
    v = it->get<std::int64_t>();
    in_range = v >= lo && v <= hi;
  }
  if (!in_range) {
    return bad(std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                   std::to_string(hi) + ", got " + it->dump(),
               name);
  }
  out = v;
  return std::nullopt;
}

std::optional<ApiError> read_number(const json& body, const char* name, double lo, double hi,
                                    double& out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) {
    return bad(std::string("'") + name + "' must be a number, got " + type_name(*it), name);
  }
  double v = it->get<double>();
  if (!(v >= lo && v <= hi)) {
    return bad(std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                   json(hi).dump() + ", got " + it->dump(),
               name);
  }
  out = v;
  return std::nullopt;
}

std::optional<ApiError> read_messages(const json& body, std::vector<ChatMessage>& out) {
  auto it = body.find("messages");
  if (it == body.end()) return bad("'messages' is required", "messages");
  if (!it->is_array())
    return bad("'messages' must be an array, got " + std::string(type_name(*it)), "messages");
  if (it->empty()) return bad("'messages' must not be empty", "messages");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad("'" + where + "' must be an object", where);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return bad("'" + where + ".role' must be a string", where + ".role");
    }
    const auto& r = role->get_ref<const std::string&>();
    if (r != "system" && r != "user" && r != "assistant" && r != "developer" && r != "tool") {
      return bad("'" + where + ".role' must be system, developer, user, assistant or tool, got '" +
                     printable(r) + "'",
                 where + ".role");
    }
    ChatMessage message{r, ""};
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      // assistant messages may carry only tool calls; treat as empty text
    } else if (content->is_string()) {
      message.content = content->get<std::string>();
    } else if (content->is_array()) {
      for (std::size_t j = 0; j < content->size(); ++j) {
        const json& part = (*content)[j];
        const std::string pwhere = where + ".content[" + std::to_string(j) + "]";
        auto type = part.is_object() ? part.find("type") : part.end();
        auto text = part.is_object() ? part.find("text") : part.end();
        if (!part.is_object() || type == part.end() || *type != "text" || text == part.end() ||
            !text->is_string()) {
          return bad("'" + pwhere + "' must be {\"type\": \"text\", \"text\": string}", pwhere);
        }
        message.content += text->get<std::string>();
      }
    } else {
      return bad("'" + where + ".content' must be a string or an array of text parts",
                 where + ".content");
    }
    out.push_back(std::move(message));
  }
  return std::nullopt;
}

std::optional<ApiError> read_prompt(const json& body, std::string& out) {
  auto it = body.find("prompt");
  if (it == body.end()) return bad("'prompt' is required", "prompt");
  if (it->is_string()) {
    out = it->get<std::string>();
    return std::nullopt;
  }
  if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
    out = (*it)[0].get<std::string>();
    return std::nullopt;
  }
  if (it->is_array() && !it->empty() && (*it)[0].is_string()) {
    return bad(
        "'prompt': only one prompt per request is supported, got " + std::to_string(it->size()),
        "prompt");
  }
  return bad("'prompt' must be a string, got " + std::string(type_name(*it)), "prompt");
}

}  // namespace

const char* endpoint_name(Endpoint endpoint) {
  return endpoint == Endpoint::kCompletions ? "completions" : "chat_completions";
}

const char* priority_name(Priority priority) {
  return priority == Priority::kHigh ? "high" : "normal";
}

std::string error_body(const ApiError& error) {
  json body = {{"error",
                {{"message", error.message},
                 {"type", error.type},
                 {"param", error.param.empty() ? json(nullptr) : json(error.param)},
                 {"code", error.code.empty() ? json(nullptr) : json(error.code)}}}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ApiError> parse_completion_request_into(std::string_view text, Endpoint endpoint,
                                                      const RequestLimits& limits,
                                                      CompletionRequest& out) {
  json body = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return bad("request body is not valid JSON", "");
  }
  if (!body.is_object()) {
    return bad("request body must be a JSON object, got " + std::string(type_name(body)), "");
  }
  try {
    out = CompletionRequest{};
    out.endpoint = endpoint;
    auto model = body.find("model");
    if (model == body.end()) return bad("'model' is required", "model");
    if (!model->is_string()) return bad("'model' must be a string", "model");
    out.model = model->get<std::string>();
    if (out.model != limits.served_model) {
      return ApiError{404, "invalid_request_error",
                      "The model '" + printable(out.model) +
                          "' does not exist; this server serves '" + limits.served_model + "'",
                      "model", "model_not_found"};
    }
    if (endpoint == Endpoint::kCompletions) {
      if (auto e = read_prompt(body, out.prompt)) return e;
    } else {
      if (auto e = read_messages(body, out.messages)) return e;
      out.prompt = render_chat_prompt(out.messages);
    }
    if (out.prompt.size() > limits.max_prompt_bytes) {
      return ApiError{400, "invalid_request_error",
                      "prompt is " + std::to_string(out.prompt.size()) + " bytes; the limit is " +
                          std::to_string(limits.max_prompt_bytes),
                      endpoint == Endpoint::kCompletions ? "prompt" : "messages",
                      "context_length_exceeded"};
    }
    std::optional<std::int64_t> max_tokens;
    const char* max_name = "max_tokens";
    if (endpoint == Endpoint::kChatCompletions && body.contains("max_completion_tokens")) {
      max_name = "max_completion_tokens";
    }
    if (auto e = read_int(body, max_name, 1, limits.max_tokens_limit, max_tokens)) return e;
    out.max_tokens = static_cast<int>(max_tokens.value_or(limits.default_max_tokens));
    if (auto e = read_number(body, "temperature", 0.0, 2.0, out.temperature)) return e;
    if (auto e = read_number(body, "top_p", 0.0, 1.0, out.top_p)) return e;
    if (out.top_p == 0.0) return bad("'top_p' must be greater than 0", "top_p");
    std::optional<std::int64_t> n;
    if (auto e = read_int(body, "n", 1, 1, n)) return e;
    std::optional<std::int64_t> seed;
    if (auto e = read_int(body, "seed", INT64_MIN, INT64_MAX, seed)) return e;
    if (seed) out.seed = static_cast<std::uint64_t>(*seed);
    if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return bad("'stream' must be a boolean", "stream");
      out.stream = it->get<bool>();
    }
    if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
      if (it->is_string()) {
        out.stop.push_back(it->get<std::string>());
      } else if (it->is_array() && it->size() <= 4) {
        for (const auto& s : *it) {
          if (!s.is_string()) return bad("'stop' must be a string or up to 4 strings", "stop");
          out.stop.push_back(s.get<std::string>());
        }
      } else {
        return bad("'stop' must be a string or up to 4 strings", "stop");
      }
      for (const auto& s : out.stop) {
        if (s.empty() || s.size() > 64) return bad("'stop' strings must be 1 to 64 bytes", "stop");
      }
    }
  } catch (const json::exception& e) {
    // Type checks above make this unreachable; kept so that a missed case is a 400, not a crash.
    return bad(std::string("request body: ") + e.what(), "");
  }
  return std::nullopt;
}

std::string render_chat_prompt(const std::vector<ChatMessage>& messages) {
  std::string prompt;
  for (const auto& m : messages) {
    prompt += "<|" + m.role + "|>\n" + m.content + "\n";
  }
  prompt += "<|assistant|>\n";
  return prompt;
}

std::size_t complete_utf8_prefix(std::string_view text) {
  // Look back at most 3 bytes for the start of an unfinished multi-byte sequence.
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead byte
    std::size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string json_string(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dso::inference
