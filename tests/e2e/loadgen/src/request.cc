// The chat completion request of one arrival, and the judging of its answer.
#include "loadgen/request.h"

#include <nlohmann/json.hpp>

namespace dso::loadgen {
namespace {

// Printable ASCII without JSON escapes; a prompt is this, repeated and cut to size.
constexpr std::string_view kFiller = "The quick brown fox jumps over the lazy dog; 0123456789. ";

std::string prompt(int bytes) {
  std::string out;
  out.reserve(static_cast<std::size_t>(bytes));
  while (out.size() < static_cast<std::size_t>(bytes)) {
    out.append(kFiller.substr(0, static_cast<std::size_t>(bytes) - out.size()));
  }
  return out;
}

}  // namespace

std::string chat_request(const RequestShape& shape, const Address& host, const RequestSize& size,
                         bool high_priority) {
  const std::string body = "{\"model\":" + nlohmann::json(shape.model).dump() +
                           ",\"messages\":[{\"role\":\"user\",\"content\":\"" +
                           prompt(size.prompt_bytes) +
                           "\"}],\"max_tokens\":" + std::to_string(size.output_tokens) +
                           ",\"stream\":" + (shape.stream ? "true" : "false") + "}";
  std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.to_string() +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  if (shape.stream) req += "Accept: text/event-stream\r\n";
  if (high_priority) req += "X-Priority: high\r\n";
  if (!shape.api_key.empty()) req += "Authorization: Bearer " + shape.api_key + "\r\n";
  req += "\r\n";
  req += body;
  return req;
}

void ChatAnswer::on_data(std::string_view payload, bool& first) {
  if (payload == "[DONE]") {
    done_ = true;
    return;
  }
  const auto start = payload.find_first_not_of(" \t");
  if (start != std::string_view::npos && payload.substr(start).starts_with("{\"error\"")) {
    error_event_ = true;
    return;
  }
  if (content_) return;  // only the first content chunk is worth parsing
  const auto chunk = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!chunk.is_object() || !chunk.contains("choices") || !chunk["choices"].is_array()) return;
  for (const auto& choice : chunk["choices"]) {
    const auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object()) continue;
    const auto content = delta->find("content");
    if (content != delta->end() && content->is_string() &&
        !content->get_ref<const std::string&>().empty()) {
      content_ = first = true;
      return;
    }
  }
}

bool ChatAnswer::feed(std::string_view body) {
  bool first = false;
  if (!stream_) {
    if (!content_ && !body.empty()) content_ = first = true;
    return first;
  }
  sse_.feed(body, [&](std::string_view payload) { on_data(payload, first); });
  return first;
}

std::string ChatAnswer::problem() const {
  if (complete()) return "";
  return error_event_ ? "the stream carried an error event" : "the stream ended without [DONE]";
}

Outcome classify(int status, bool complete) {
  if (status >= 200 && status < 300) return complete ? Outcome::kCompleted : Outcome::kBroken;
  if (status == 429) return Outcome::kRejected;
  if (status >= 500) return Outcome::kServerError;
  return Outcome::kClientError;
}

Outcome classify(TransportError error) {
  switch (error) {
    case TransportError::kConnect:
      return Outcome::kConnect;
    case TransportError::kTimeout:
      return Outcome::kTimeout;
    case TransportError::kCancelled:
      return Outcome::kAborted;
    case TransportError::kBroken:
      break;
  }
  return Outcome::kBroken;
}

}  // namespace dso::loadgen
