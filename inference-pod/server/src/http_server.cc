// cpprestsdk adapter for ApiService (see http_server.h). The only translation unit that includes
// cpprestsdk's listener headers.
#include "server/http_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <mutex>

namespace dso::inference {
namespace {

namespace http = web::http;

// Runs each PPL task on the thread that schedules it, instead of posting it to cpprestsdk's
// thread pool. cpprestsdk chains every step of a request through PPL continuations (body read,
// hand-over to the handler, response headers, response body); with the default scheduler each
// one is a wake-up of another pool thread, and those hand-offs were most of the server's overhead
// per request (docs/inference-server.md, "Server overhead"). Inline is safe here: no continuation
// in the listener or in this file blocks, and each I/O step that follows one is an asio operation
// whose completion comes back through the I/O threads, so the recursion is bounded.
// (pplx's interface has no virtual destructor; the shared_ptr made by make_shared deletes the
// derived type.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class InlineScheduler final : public pplx::scheduler_interface {
 public:
  void schedule(pplx::TaskProc_t proc, void* param) override { proc(param); }
};
#pragma GCC diagnostic pop

void ignore_failure(pplx::task<void> task) {
  task.then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (const std::exception&) {
      // The client went away; nothing to do.
    }
  });
}

class CppRestResponder final : public Responder {
 public:
  explicit CppRestResponder(http::http_request request) : request_(std::move(request)) {}

  // On an I/O thread (routing, errors, cache hits): answers now. Elsewhere (the scheduler thread):
  // builds the response there and posts the sending to the I/O thread, so that the status line,
  // headers and body leave together from one thread; sent from the scheduler thread, cpprestsdk
  // would write the headers there and the body only after a hand-off to an I/O thread.
  void reply(HttpResponse r) override {
    http::http_response response(static_cast<http::status_code>(r.status));
    for (auto& [name, value] : r.headers) response.headers().add(name, value);
    if (request_.method() == http::methods::HEAD) r.body.clear();
    response.set_body(std::move(r.body), r.content_type);
    auto& io = crossplat::threadpool::shared_instance().service();
    if (io.get_executor().running_in_this_thread()) {
      ignore_failure(request_.reply(response));
    } else {
      io.post(
          [request = request_, response]() mutable { ignore_failure(request.reply(response)); });
    }
  }

  void start_stream(int status, const std::string& content_type, Headers headers) override {
    http::http_response response(static_cast<http::status_code>(status));
    for (auto& [name, value] : headers) response.headers().add(name, value);
    response.set_body(concurrency::streams::istream(buffer_), content_type);
    ignore_failure(request_.reply(response));
  }

  void write(std::string chunk) override {
    auto data = std::make_shared<std::string>(std::move(chunk));
    buffer_.putn_nocopy(reinterpret_cast<const std::uint8_t*>(data->data()), data->size())
        .then([data](pplx::task<std::size_t> t) {
          try {
            t.get();
          } catch (const std::exception&) {
          }
        });
    buffer_.sync().then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
      }
    });
  }

  void end() override { buffer_.close(std::ios_base::out); }

 private:
  http::http_request request_;
  concurrency::streams::producer_consumer_buffer<std::uint8_t> buffer_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(std::string u, ApiService& s, std::size_t max_body, std::size_t threads)
      : url(std::move(u)), service(s), max_body_bytes(max_body), io_threads(threads) {}

  void handle(http::http_request request) {
    auto responder = std::make_shared<CppRestResponder>(request);
    auto r = std::make_shared<HttpRequest>();
    r->method = request.method();
    r->path = request.request_uri().path();
    for (const auto& [name, value] : request.headers()) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r->headers[lower] = value;
    }
    r->client_address = request.remote_address();
    if (r->method != http::methods::POST) {
      dispatch(*r, responder);
      return;
    }
    if (request.headers().content_length() > max_body_bytes) {
      r->body_too_large = true;
      dispatch(*r, responder);
      return;
    }
    request.extract_vector().then([this, r, responder](pplx::task<std::vector<unsigned char>> t) {
      try {
        auto body = t.get();
        r->body.assign(body.begin(), body.end());
        r->body_too_large = r->body.size() > max_body_bytes;
      } catch (const std::exception&) {
        responder->reply(HttpResponse{
            400,
            "application/json",
            {},
            error_body({400, "invalid_request_error", "could not read the request body", "", ""})});
        return;
      }
      dispatch(*r, responder);
    });
  }

  void dispatch(const HttpRequest& r, const std::shared_ptr<CppRestResponder>& responder) {
    try {
      service.handle(r, responder);
    } catch (const std::exception& e) {
      // A bug, not bad input: answer 500 and keep serving.
      std::cerr << "deepseek-inference-server: internal error on " << r.method << " " << r.path
                << ": " << e.what() << "\n";
      responder->reply(HttpResponse{500,
                                    "application/json",
                                    {},
                                    error_body({500, "server_error", "internal error", "", ""})});
    }
  }

  std::string url;
  ApiService& service;
  std::size_t max_body_bytes;
  std::size_t io_threads;
  std::unique_ptr<http::experimental::listener::http_listener> listener;
};

HttpServer::HttpServer(std::string url, ApiService& service, std::size_t max_body_bytes,
                       std::size_t io_threads)
    : impl_(std::make_unique<Impl>(std::move(url), service, max_body_bytes,
                                   std::max<std::size_t>(1, io_threads))) {}

HttpServer::~HttpServer() {
  close();
}

std::expected<void, std::string> configure_http_runtime(std::size_t io_threads) {
  static std::once_flag configured;
  static std::string failure;
  std::call_once(configured, [&] {
    try {
      crossplat::threadpool::initialize_with_threads(std::max<std::size_t>(1, io_threads));
    } catch (const std::exception& e) {
      failure = std::string("cpprestsdk thread pool already started: ") + e.what();
    }
    pplx::set_ambient_scheduler(std::make_shared<InlineScheduler>());
  });
  if (!failure.empty()) return std::unexpected(failure);
  return {};
}

std::expected<void, std::string> HttpServer::open() {
  if (auto configured = configure_http_runtime(impl_->io_threads); !configured)
    return std::unexpected("listen on " + impl_->url + ": " + configured.error());
  try {
    impl_->listener =
        std::make_unique<http::experimental::listener::http_listener>(web::uri(impl_->url));
    impl_->listener->support(
        [impl = impl_.get()](http::http_request request) { impl->handle(std::move(request)); });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    return std::unexpected("listen on " + impl_->url + ": " + e.what());
  }
  return {};
}

void HttpServer::close() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
  impl_->listener.reset();
}

}  // namespace dso::inference
