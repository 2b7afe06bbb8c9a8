// RestClient's retry loop against a local HTTP server (cpprestsdk listener on loopback): 429 with
// Retry-After is waited out and retried, a 500 on POST is not retried, API Status bodies become
// ApiErrors, connection failures on GET are retried up to max_attempts.
#include "kube/rest_client.h"

#include <cpprest/http_listener.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>

namespace dso::kube {
namespace {

using namespace std::chrono_literals;
namespace http = web::http;

class FakeServer {
 public:
  // handler(count) -> {status, body, retry_after header or ""}
  using Handler = std::function<std::tuple<int, std::string, std::string>(int)>;
  explicit FakeServer(Handler h) : handler_(std::move(h)) {
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 0; attempt < 10; ++attempt) {
      address_ = "http://127.0.0.1:" + std::to_string(30000 + rng() % 20000);
      listener_ = std::make_unique<http::experimental::listener::http_listener>(web::uri(address_));
      listener_->support([this](http::http_request req) {
        {
          std::lock_guard lock(mu_);
          const auto auth = req.headers().find("Authorization");
          authorizations_.push_back(auth == req.headers().end() ? "" : auth->second);
        }
        const int n = ++count_;
        auto [code, body, retry_after] = handler_(n);
        http::http_response r(static_cast<http::status_code>(code));
        r.set_body(body, "application/json");
        if (!retry_after.empty()) r.headers().add("Retry-After", retry_after);
        req.reply(r);
      });
      try {
        listener_->open().wait();
        return;
      } catch (const std::exception&) {
      }
    }
    throw std::runtime_error("no free port");
  }
  ~FakeServer() { listener_->close().wait(); }
  std::shared_ptr<RestClient> client(RetryPolicy retry = {}, std::string token_file = "") const {
    Config c;
    c.server = address_;
    c.token = token_file.empty() ? "t" : "";
    c.token_file = std::move(token_file);
    RestOptions o;
    o.retry = retry;
    return *RestClient::create(c, o);
  }
  int count() const { return count_; }
  // The Authorization header of every request so far, in order.
  std::vector<std::string> authorizations() const {
    std::lock_guard lock(mu_);
    return authorizations_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> authorizations_;
  Handler handler_;
  std::string address_;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  std::atomic<int> count_{0};
};

const char* kCm =
    R"({"kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","resourceVersion":"7"}})";

// A projected service-account token is rotated on disk; the client keeps the one it read until
// the API server answers 401, then re-reads the file and retries once with the new one.
TEST(RestClientRetries, A401ReReadsTheRotatedTokenFileAndRetriesOnce) {
  const std::string file = ::testing::TempDir() + "/dso-token-" + std::to_string(::getpid());
  const auto write = [&](const std::string& token) { std::ofstream(file) << token << "\n"; };
  write("old");
  FakeServer server([](int n) -> std::tuple<int, std::string, std::string> {
    if (n == 2)  // the old token, after the rotation
      return {401, R"({"kind":"Status","code":401,"reason":"Unauthorized"})", ""};
    return {200, kCm, ""};
  });
  auto client = server.client({}, file);
  ASSERT_TRUE(client->get(Resource::config_maps(), "ns", "a"));
  write("new");  // rotated: the cached token is still "old" for up to a minute
  const auto after = client->get(Resource::config_maps(), "ns", "a");
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(server.authorizations(),
            (std::vector<std::string>{"Bearer old", "Bearer old", "Bearer new"}));
  std::remove(file.c_str());
}

TEST(RestClientRetries, TooManyRequestsHonoursRetryAfter) {
  FakeServer server([](int n) -> std::tuple<int, std::string, std::string> {
    if (n <= 2)
      return {429,
              R"({"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down"})",
              "1"};
    return {200, kCm, ""};
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = server.client()->get(Resource::config_maps(), "ns", "a");
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(resource_version(*r), "7");
  EXPECT_EQ(server.count(), 3);
  EXPECT_GE(took, 2s);  // waited Retry-After twice, not the 100 ms backoff
}

TEST(RestClientRetries, ServerErrorOnPostIsNotRetriedButOnGetIs) {
  FakeServer server([](int) -> std::tuple<int, std::string, std::string> {
    return {500,
            R"({"kind":"Status","code":500,"reason":"InternalError","message":"etcd timeout"})",
            ""};
  });
  RetryPolicy fast;
  fast.initial_backoff = 1ms;
  auto client = server.client(fast);
  auto post = client->create(Resource::config_maps(), "ns", Json::parse(kCm));
  ASSERT_FALSE(post);
  EXPECT_EQ(post.error().reason, "InternalError");
  EXPECT_EQ(server.count(), 1);
  auto get = client->get(Resource::config_maps(), "ns", "a");
  ASSERT_FALSE(get);
  EXPECT_EQ(server.count(), 1 + fast.max_attempts);
  EXPECT_NE(get.error().message.find("etcd timeout"), std::string::npos);
}

TEST(RestClientRetries, NotFoundIsFinalAndCarriesTheStatus) {
  FakeServer server([](int) -> std::tuple<int, std::string, std::string> {
    return {
        404,
        R"({"kind":"Status","code":404,"reason":"NotFound","message":"configmaps \"a\" not found","details":{"name":"a","kind":"configmaps"}})",
        ""};
  });
  auto r = server.client()->get(Resource::config_maps(), "ns", "a");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is_not_found());
  EXPECT_EQ(r.error().details["kind"], "configmaps");
  EXPECT_EQ(server.count(), 1);
}

TEST(RestClientRetries, ConnectionRefusedIsRetriedForGets) {
  Config c;
  c.server = "http://127.0.0.1:1";  // nothing listens on port 1
  RestOptions o;
  o.retry.initial_backoff = 10ms;
  o.retry.max_attempts = 3;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*RestClient::create(c, o))->get(Resource::config_maps(), "ns", "a");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is_transport());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);  // two backoffs of 5..10 ms and 10..20 ms
}

}  // namespace
}  // namespace dso::kube
