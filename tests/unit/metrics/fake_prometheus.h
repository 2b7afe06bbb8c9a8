// Test support: a scripted HTTP server standing in for Prometheus (cpprestsdk http_listener on
// loopback). Each request takes the next scripted answer (the last one repeats) and is recorded.
#pragma once

#include <cpprest/http_listener.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dso::metrics::testing {

struct Answer {
  Answer() = default;
  Answer(int status_, std::string body_, int delay_ms_ = 0, std::string retry_after_ = "")
      : status(status_),
        body(std::move(body_)),
        delay_ms(delay_ms_),
        retry_after(std::move(retry_after_)) {}
  int status = 200;
  std::string body;
  int delay_ms = 0;
  std::string retry_after;  // Retry-After header when non-empty
};

struct Recorded {
  std::string method;
  std::string path;   // e.g. /api/v1/query
  std::string query;  // the URL's query string (GET)
  std::string body;   // the form body (POST)
  std::string authorization;
};

class FakePrometheus {
 public:
  FakePrometheus() {
    std::mt19937 rng{std::random_device{}()};
    for (int tries = 0; tries < 50; ++tries) {
      port_ = 20000 + static_cast<int>(rng() % 20000);
      try {
        listener_ = std::make_unique<web::http::experimental::listener::http_listener>(
            web::uri("http://127.0.0.1:" + std::to_string(port_)));
        listener_->support([this](web::http::http_request r) { handle(std::move(r)); });
        listener_->open().wait();
        return;
      } catch (const std::exception&) {
        listener_.reset();
      }
    }
    throw std::runtime_error("FakePrometheus: no free port");
  }
  ~FakePrometheus() {
    if (listener_) listener_->close().wait();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void script(std::vector<Answer> answers) {
    std::lock_guard lock(mu_);
    answers_.assign(answers.begin(), answers.end());
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void handle(web::http::http_request r) {
    Recorded rec;
    rec.method = r.method();
    rec.path = r.relative_uri().path();
    rec.query = r.relative_uri().query();
    rec.body = r.extract_utf8string(true).get();
    if (r.headers().has("Authorization")) rec.authorization = r.headers()["Authorization"];
    Answer a;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(rec);
      if (!answers_.empty()) {
        a = answers_.front();
        if (answers_.size() > 1) answers_.pop_front();
      }
    }
    if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
    web::http::http_response response(static_cast<web::http::status_code>(a.status));
    if (!a.retry_after.empty()) response.headers().add("Retry-After", a.retry_after);
    response.set_body(a.body, "application/json");
    try {
      r.reply(response).wait();
    } catch (const std::exception&) {
      // the client gave up (timeout tests)
    }
  }

  int port_ = 0;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  mutable std::mutex mu_;
  std::deque<Answer> answers_;
  std::vector<Recorded> requests_;
};

}  // namespace dso::metrics::testing
