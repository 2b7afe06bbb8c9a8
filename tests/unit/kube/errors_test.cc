// ApiError mapping from API Status bodies and the REST client's retry decisions.
#include <gtest/gtest.h>

#include "kube/rest_client.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

TEST(ApiError, MapsStatusObject) {
  const std::string body = R"({"kind":"Status","apiVersion":"v1","status":"Failure",
    "message":"configmaps \"x\" not found","reason":"NotFound",
    "details":{"name":"x","kind":"configmaps"},"code":404})";
  const ApiError e = ApiError::from_response(404, body, "GET /api/v1/namespaces/a/configmaps/x");
  EXPECT_EQ(e.code, 404);
  EXPECT_EQ(e.reason, "NotFound");
  EXPECT_TRUE(e.is_not_found());
  EXPECT_EQ(e.details["name"], "x");
  EXPECT_EQ(e.message, "GET /api/v1/namespaces/a/configmaps/x: configmaps \"x\" not found");
}

TEST(ApiError, ConflictAlreadyExistsGoneAndRetryAfter) {
  const ApiError conflict = ApiError::from_response(
      409, R"({"kind":"Status","reason":"Conflict","message":"stale","code":409})", "PUT x");
  EXPECT_TRUE(conflict.is_conflict());
  EXPECT_FALSE(conflict.is_already_exists());
  const ApiError exists = ApiError::from_response(
      409, R"({"kind":"Status","reason":"AlreadyExists","message":"dup","code":409})", "POST x");
  EXPECT_TRUE(exists.is_already_exists());
  EXPECT_FALSE(exists.is_conflict());
  const ApiError expired = ApiError::from_response(
      410,
      R"({"kind":"Status","reason":"Expired","message":"too old resource version","code":410})",
      "WATCH x");
  EXPECT_TRUE(expired.is_gone());
  const ApiError busy = ApiError::from_response(
      429,
      R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3},"code":429})",
      "GET x");
  ASSERT_TRUE(busy.retry_after);
  EXPECT_EQ(*busy.retry_after, 3s);
  EXPECT_TRUE(busy.is_retryable());
}

TEST(ApiError, NonStatusBodyKeepsHttpCodeAndDefaultReason) {
  const ApiError e = ApiError::from_response(503, "upstream\nunavailable", "GET /x");
  EXPECT_EQ(e.code, 503);
  EXPECT_EQ(e.reason, "ServiceUnavailable");
  EXPECT_EQ(e.message, "GET /x: HTTP 503: upstream unavailable");
  EXPECT_EQ(e.to_string(), "503 ServiceUnavailable: GET /x: HTTP 503: upstream unavailable");
}

TEST(RetryDelay, WhichFailuresAreRetried) {
  RetryPolicy p;
  const ApiError too_many{429, "TooManyRequests", "", nullptr, std::nullopt};
  const ApiError internal{500, "InternalError", "", nullptr, std::nullopt};
  const ApiError conn = ApiError::transport("refused");
  const ApiError not_found{404, "NotFound", "", nullptr, std::nullopt};
  EXPECT_TRUE(retry_delay("POST", too_many, 1, p, 1.0));
  EXPECT_TRUE(retry_delay("GET", internal, 1, p, 1.0));
  EXPECT_FALSE(retry_delay("POST", internal, 1, p, 1.0));  // may have been applied
  EXPECT_FALSE(retry_delay("PATCH", conn, 1, p, 1.0));
  EXPECT_TRUE(retry_delay("PUT", conn, 1, p, 1.0));
  EXPECT_FALSE(retry_delay("GET", not_found, 1, p, 1.0));
  EXPECT_FALSE(retry_delay("GET", internal, p.max_attempts, p, 1.0));  // out of attempts
  ApiError internal_retry_after = internal;
  internal_retry_after.retry_after = 2s;
  EXPECT_EQ(retry_delay("POST", internal_retry_after, 1, p, 0.0), 2s);  // server said when
}

TEST(RetryDelay, ExponentialWithJitterCappedAndRetryAfterCapped) {
  RetryPolicy p;
  p.max_attempts = 20;
  const ApiError e = ApiError::transport("reset");
  EXPECT_EQ(*retry_delay("GET", e, 1, p, 1.0), 100ms);
  EXPECT_EQ(*retry_delay("GET", e, 2, p, 1.0), 200ms);
  EXPECT_EQ(*retry_delay("GET", e, 3, p, 0.0), 200ms);  // jitter scales to 50%..100%
  EXPECT_EQ(*retry_delay("GET", e, 15, p, 1.0), 5s);
  ApiError slow{429, "", "", nullptr, std::chrono::seconds(3600)};
  EXPECT_EQ(*retry_delay("GET", slow, 1, p, 1.0), 60s);
}

TEST(ResourcePath, CoreGroupsNamespacesAndSubresources) {
  EXPECT_EQ(resource_path(Resource::config_maps(), "ns", "a"),
            "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(resource_path(Resource::config_maps(), ""), "/api/v1/configmaps");
  EXPECT_EQ(resource_path({"apps", "v1", "deployments", true}, "ns", "d", "scale"),
            "/apis/apps/v1/namespaces/ns/deployments/d/scale");
  EXPECT_EQ(resource_path(Resource::namespaces(), "ignored", "kube-system"),
            "/api/v1/namespaces/kube-system");
}

TEST(Keys, MakeAndSplit) {
  const Json cm = {{"metadata", {{"namespace", "a"}, {"name", "b"}}}};
  EXPECT_EQ(object_key(cm), "a/b");
  EXPECT_EQ(object_key(Json{{"metadata", {{"name", "n"}}}}), "n");
  EXPECT_EQ(split_key("a/b"), (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_EQ(split_key("n"), (std::pair<std::string, std::string>{"", "n"}));
}

}  // namespace
}  // namespace dso::kube
