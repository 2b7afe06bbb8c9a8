// The HTTP front end: a cpprestsdk http_listener that turns each request into an HttpRequest for
// ApiService and sends its answer back, streaming server-sent events with chunked transfer
// encoding.
#pragma once

#include <cstddef>
#include <expected>
#include <memory>
#include <string>

#include "server/api_service.h"

namespace dso::inference {

// Sizes cpprestsdk's I/O thread pool and makes its PPL continuations run inline (http_server.cc
// says why); both are process-wide and settle at the first call, which must come before any other
// cpprestsdk use (an HTTP client included). Later calls return the first one's result.
std::expected<void, std::string> configure_http_runtime(std::size_t io_threads);

class HttpServer {
 public:
  // `url` like "http://0.0.0.0:8000". Bodies above max_body_bytes (by Content-Length) are not read.
  // `io_threads`: cpprestsdk's I/O threads (parsing, routing, writing answers). One is the
  // default and the fastest per request: asio then hands a request's steps (headers, body,
  // answer) from one handler to the next on the same thread instead of waking another one.
  HttpServer(std::string url, ApiService& service, std::size_t max_body_bytes,
             std::size_t io_threads = 1);
  ~HttpServer();

  // Starts listening. Fails (naming the URL) when the address cannot be bound. Calls
  // configure_http_runtime(io_threads) first.
  std::expected<void, std::string> open();
  // Stops listening; connections still open are closed. Idempotent.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dso::inference
