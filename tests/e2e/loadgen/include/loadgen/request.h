// loadgen/request.h: the chat completion request one arrival sends, and how its answer is judged
// (complete, first content, outcome). Pure: no sockets, no clocks.
#pragma once

#include <string>
#include <string_view>

#include "loadgen/address.h"
#include "loadgen/http_client.h"
#include "loadgen/sizes.h"
#include "loadgen/stats.h"

namespace dso::loadgen {

// What every request of a run shares: the model, streaming, the API key.
struct RequestShape {
  std::string model = "deepseek-byte-lm";
  bool stream = true;
  std::string api_key;  // Authorization: Bearer KEY when not empty
};

// The whole HTTP/1.1 request: POST /v1/chat/completions to `host`, body
// {"model","messages":[{"role":"user","content":PROMPT}],"max_tokens","stream"} where PROMPT is
// size.prompt_bytes printable ASCII bytes (no JSON escapes, so bytes = "tokens" on the byte-level
// server); X-Priority: high when `high_priority`.
std::string chat_request(const RequestShape& shape, const Address& host, const RequestSize& size,
                         bool high_priority);

// Follows the body of one 2xx answer. A stream is complete after `data: [DONE]` with no error
// event (`data: {"error": ...}`) before it; a plain answer is complete when its body was read
// whole (the caller knows). Not thread-safe.
class ChatAnswer {
 public:
  explicit ChatAnswer(bool stream) : stream_(stream) {}
  // Feeds body bytes; true the first time content arrives (a stream chunk whose
  // choices[0].delta.content is not empty; any non-empty body when not streaming).
  bool feed(std::string_view body);
  bool complete() const { return !stream_ || (done_ && !error_event_); }
  // Why a stream is not complete, one line ("" when it is).
  std::string problem() const;

 private:
  void on_data(std::string_view payload, bool& first);
  bool stream_;
  SseReader sse_;
  bool content_ = false, done_ = false, error_event_ = false;
};

// The outcome of an exchange that got a status: 2xx and complete -> completed, 2xx incomplete ->
// broken, 429 -> rejected, 5xx -> server error, anything else -> client error.
Outcome classify(int status, bool complete);
// The outcome of an exchange that failed below HTTP.
Outcome classify(TransportError error);

}  // namespace dso::loadgen
