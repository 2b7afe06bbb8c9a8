// loadgen/http_client.h: a small blocking HTTP/1.1 client over TCP for the load generator: an
// incremental response parser (Content-Length, chunked and close-delimited bodies), a reader of
// server-sent events' `data:` lines, and a keep-alive connection pool per endpoint. No TLS, no
// redirects, no pipelining: one request per connection at a time, every byte it sends obvious.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/address.h"

namespace dso::loadgen {

using SteadyTime = std::chrono::steady_clock::time_point;

// Receives a response's body as it arrives (de-chunked), with the response's status.
using BodySink = std::function<void(int status, std::string_view data)>;

// Parses one HTTP/1.1 response fed in pieces of any size. Not thread-safe.
class ResponseParser {
 public:
  // Consumes bytes up to the end of the response; returns how many it used (bytes after the end
  // are not this response's). Body bytes go to `sink`. Error: one line saying what was malformed.
  std::expected<std::size_t, std::string> feed(std::string_view data, const BodySink& sink);
  // The peer closed the connection: ends a body that runs until the close; error when the
  // response was incomplete.
  std::expected<void, std::string> finish();

  bool started() const { return state_ != State::kStatusLine || !line_.empty(); }
  bool done() const { return state_ == State::kDone; }
  int status() const { return status_; }
  // HTTP/1.1 without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive() const { return keep_alive_; }
  const std::map<std::string, std::string>& headers() const { return headers_; }  // lower case

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kBody,        // Content-Length: remaining_ bytes left
    kChunkSize,   // a chunk-size line
    kChunkData,   // remaining_ bytes of the chunk left
    kChunkEnd,    // the CRLF after a chunk
    kTrailers,    // after the last chunk, up to the empty line
    kUntilClose,  // no length: the body runs until the connection closes
    kDone,
  };
  // Takes one CRLF-terminated line from data (buffering partial lines); false when incomplete.
  bool take_line(std::string_view data, std::size_t& used, std::string& line);
  std::expected<void, std::string> on_status_line(const std::string& line);
  std::expected<void, std::string> on_header_line(const std::string& line);
  std::expected<void, std::string> on_chunk_size(const std::string& line);
  void start_body();

  State state_ = State::kStatusLine;
  std::string line_;  // a partial line
  int status_ = 0;
  bool http10_ = false;
  bool keep_alive_ = true;
  std::map<std::string, std::string> headers_;
  std::uint64_t remaining_ = 0;
};

// Splits an event stream (text/event-stream) into the payloads of its `data:` lines, one leading
// space dropped. Lines end in LF or CRLF; other fields, comments and blank lines are skipped.
class SseReader {
 public:
  void feed(std::string_view bytes, const std::function<void(std::string_view data)>& on_data);

 private:
  void line(std::string_view text, const std::function<void(std::string_view)>& on_data);
  std::string partial_;  // a line not yet ended
};

// How an exchange failed below HTTP.
enum class TransportError {
  kConnect,    // connect() failed (refused, unreachable, out of descriptors)
  kBroken,     // reset or closed mid-response, or a malformed response
  kTimeout,    // the deadline passed
  kCancelled,  // the cancel descriptor became readable
};
struct HttpFailure {
  TransportError kind = TransportError::kBroken;
  std::string message;  // one line, naming the address
};

// Keep-alive connections to one address. Thread-safe; each exchange uses its own connection.
class ConnectionPool {
 public:
  explicit ConnectionPool(Address address) : address_(std::move(address)) {}
  ~ConnectionPool();  // closes the idle connections
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Sends `request` (complete bytes) on an idle connection, or a new one, and reads the response,
  // passing its body to `sink`; returns the status. Blocks until the response ends, `deadline`
  // passes or `cancel_fd` (when >= 0) becomes readable. A kept-alive connection that the server
  // closed before answering is replaced once by a new one. The connection goes back to the pool
  // when the response was read whole and allows keep-alive.
  std::expected<int, HttpFailure> exchange(std::string_view request, SteadyTime deadline,
                                           int cancel_fd, const BodySink& sink);

  std::size_t idle() const;

 private:
  std::expected<int, HttpFailure> take_or_connect(bool& reused, SteadyTime deadline, int cancel_fd);
  void give_back(int fd);

  const Address address_;
  mutable std::mutex mu_;
  std::vector<int> idle_;  // most recently used last
};

}  // namespace dso::loadgen
