#include "metrics/prometheus_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_prometheus.h"

namespace dso::metrics {
namespace {

using testing::Answer;
using testing::FakePrometheus;
using Kind = PrometheusError::Kind;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(PrometheusParse, VectorKeepsLabelsAndNaNInfStrings) {
  const auto r =
      parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"pod":"a"},"value":[1700000000.5,"1.25"]},
      {"metric":{"pod":"b"},"value":[1700000000.5,"NaN"]},
      {"metric":{"pod":"c"},"value":[1700000000.5,"+Inf"]},
      {"metric":{"pod":"d"},"value":[1700000000.5,"-Inf"]},
      {"metric":{"pod":"e"},"value":[1700000000.5,"0"]}]}})",
                           200, "q");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->type, ResultType::kVector);
  ASSERT_EQ(r->series.size(), 5u);
  EXPECT_EQ(r->series[0].labels.at("pod"), "a");
  EXPECT_DOUBLE_EQ(r->series[0].points[0].time, 1700000000.5);
  EXPECT_DOUBLE_EQ(r->series[0].points[0].value, 1.25);
  EXPECT_TRUE(std::isnan(r->series[1].points[0].value));
  EXPECT_EQ(r->series[2].points[0].value, INFINITY);
  EXPECT_EQ(r->series[3].points[0].value, -INFINITY);
  EXPECT_EQ(r->series[4].points[0].value, 0.0);
  EXPECT_FALSE(r->empty());
  EXPECT_TRUE(r->warnings.empty());
}

TEST(PrometheusParse, EmptyResultIsNotAZero) {
  const auto r = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[]}})", 200, "q");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(r->series.empty());
}

TEST(PrometheusParse, MatrixScalarString) {
  const auto m =
      parse_query_response(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"__name__":"up","job":"x"},"values":[[10,"1"],[20,"NaN"],[30,"3e2"]]},
      {"metric":{},"values":[]}]}})",
                           200, "q");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->type, ResultType::kMatrix);
  ASSERT_EQ(m->series.size(), 2u);
  EXPECT_EQ(m->series[0].labels.at("__name__"), "up");
  ASSERT_EQ(m->series[0].points.size(), 3u);
  EXPECT_EQ(m->series[0].points[2].time, 30);
  EXPECT_EQ(m->series[0].points[2].value, 300);
  EXPECT_TRUE(std::isnan(m->series[0].points[1].value));
  EXPECT_TRUE(m->series[1].points.empty());

  const auto s = parse_query_response(
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"-Inf"]}})", 200,
      "q");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->type, ResultType::kScalar);
  ASSERT_EQ(s->series.size(), 1u);
  EXPECT_TRUE(s->series[0].labels.empty());
  EXPECT_EQ(s->series[0].points[0].value, -INFINITY);

  const auto t = parse_query_response(
      R"({"status":"success","data":{"resultType":"string","result":[1700000000,"hello"]}})", 200,
      "q");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->type, ResultType::kString);
  EXPECT_EQ(t->string_value, "hello");
  EXPECT_EQ(t->string_time, 1700000000);
  EXPECT_FALSE(t->empty());
}

TEST(PrometheusParse, WarningsMarkPartialResults) {
  const auto r = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]},
          "warnings":["remote read of store x failed: partial response"]})",
      200, "q");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "remote read of store x failed: partial response");
  EXPECT_EQ(r->series[0].points[0].value, 0.0);
}

TEST(PrometheusParse, ApiErrorsNameTheQueryAndType) {
  const auto bad = parse_query_response(
      R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""})",
      400, R"x(Prometheus query "sum(x})" at http://p:9090/api/v1/query)x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, Kind::kApi);
  EXPECT_EQ(bad.error().error_type, "bad_data");
  EXPECT_EQ(bad.error().http_status, 400);
  EXPECT_EQ(bad.error().message,
            R"x(Prometheus query "sum(x})" at http://p:9090/api/v1/query: Prometheus error )x"
            R"x(bad_data (HTTP 400): 1:5: parse error: unexpected "}")x");

  const auto timeout = parse_query_response(
      R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})",
      503, "q");
  ASSERT_FALSE(timeout.has_value());
  EXPECT_EQ(timeout.error().error_type, "timeout");
  EXPECT_EQ(timeout.error().http_status, 503);
}

TEST(PrometheusParse, MalformedBodiesAreClearErrors) {
  struct Case {
    std::string body;
    int status;
    Kind kind;
    std::string part;
  };
  const std::vector<Case> cases = {
      {"{not json", 200, Kind::kMalformed, "q: response is not a Prometheus API answer: not JSON"},
      {R"({"data":{}})", 200, Kind::kMalformed, "no \"status\""},
      {R"({"status":"success"})", 200, Kind::kMalformed, "\"data\" is missing"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"abc"]}]}})", 200,
       Kind::kMalformed, "sample value \"abc\" is not a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}})", 200,
       Kind::kMalformed, "is not [time, \"value\"]"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})", 200,
       Kind::kMalformed, "has no \"values\""},
      {R"({"status":"success","data":{"resultType":"blob","result":[]}})", 200, Kind::kMalformed,
       "unknown resultType \"blob\""},
      {"<html>Bad Gateway</html>", 502, Kind::kHttp, "q: HTTP 502: <html>Bad Gateway</html>"},
      {R"({"kind":"Status","status":"Failure","code":404})", 404, Kind::kHttp, "q: HTTP 404: {"},
      {R"({"status":"Failure"})", 200, Kind::kMalformed, "unknown status \"Failure\""},
  };
  for (const auto& c : cases) {
    const auto r = parse_query_response(c.body, c.status, "q");
    ASSERT_FALSE(r.has_value()) << c.body;
    EXPECT_EQ(r.error().kind, c.kind) << c.body;
    EXPECT_TRUE(contains(r.error().message, c.part)) << r.error().message;
    EXPECT_FALSE(contains(r.error().message, "\n"));
  }
}

TEST(PrometheusParse, SampleValues) {
  EXPECT_EQ(parse_sample_value("1.5").value(), 1.5);
  EXPECT_EQ(parse_sample_value("-2e-3").value(), -0.002);
  EXPECT_EQ(parse_sample_value("+Inf").value(), INFINITY);
  EXPECT_EQ(parse_sample_value("-Inf").value(), -INFINITY);
  EXPECT_TRUE(std::isnan(parse_sample_value("NaN").value()));
  EXPECT_FALSE(parse_sample_value("").has_value());
  EXPECT_FALSE(parse_sample_value(" 1").has_value());
  EXPECT_FALSE(parse_sample_value("1x").has_value());
}

TEST(PrometheusParse, RangeChunksStayUnderThePointLimit) {
  // 14 days at 60 s: 20,161 points -> two chunks of at most 11,000.
  const std::int64_t start = 1'700'000'000, end = start + 14 * 86400;
  const auto chunks = range_chunks(start, end, 60, 11000);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].first, start);
  EXPECT_EQ(chunks[0].second, start + 10999 * 60);
  EXPECT_EQ(chunks[1].first, chunks[0].second + 60);
  EXPECT_EQ(chunks[1].second, end);
  std::int64_t points = 0;
  for (const auto& [s, e] : chunks) {
    EXPECT_LE((e - s) / 60 + 1, 11000);
    points += (e - s) / 60 + 1;
  }
  EXPECT_EQ(points, 20161);
  EXPECT_EQ(range_chunks(0, 10999 * 60, 60, 11000).size(), 1u);
  EXPECT_EQ(range_chunks(0, 11000 * 60, 60, 11000).size(), 2u);
  EXPECT_EQ(range_chunks(5, 5, 60, 11000).size(), 1u);
  EXPECT_TRUE(range_chunks(10, 5, 60, 11000).empty());
}

PrometheusConfig fast(const std::string& url) {
  PrometheusConfig c;
  c.url = url;
  c.timeout = std::chrono::milliseconds(2000);
  c.backoff = std::chrono::milliseconds(10);
  c.max_backoff = std::chrono::milliseconds(50);
  c.max_attempts = 3;
  return c;
}

const char* kOneSample =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}})";

TEST(PrometheusClient, PostsAFormAndSendsTheBearerToken) {
  FakePrometheus fake;
  fake.script({{200, kOneSample}});
  const auto token = std::filesystem::temp_directory_path() / "dso_prom_token_test";
  std::ofstream(token) << "s3cret-token\n";
  auto config = fast(fake.url() + "/");
  config.bearer_token_file = token.string();
  auto client = PrometheusClient::create(config).value();
  const auto r = client->query(R"(sum(rate(x{a="b c"}[1m])))", 1700000000.25);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->series[0].points[0].value, 7);
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/api/v1/query");
  EXPECT_EQ(reqs[0].authorization, "Bearer s3cret-token");
  EXPECT_TRUE(contains(reqs[0].body, "query=sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29%29"))
      << reqs[0].body;
  EXPECT_TRUE(contains(reqs[0].body, "time=1700000000.250")) << reqs[0].body;
  EXPECT_TRUE(contains(reqs[0].body, "timeout=2000ms")) << reqs[0].body;

  // Errors never carry the token.
  fake.script({{400, R"({"status":"error","errorType":"bad_data","error":"bad"})"}});
  const auto e = client->query("x");
  ASSERT_FALSE(e.has_value());
  EXPECT_FALSE(contains(e.error().message, "s3cret"));
  std::filesystem::remove(token);
  const auto gone = client->query("x");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().kind, Kind::kConfig);
  EXPECT_TRUE(contains(gone.error().message, "bearer token file")) << gone.error().message;
}

TEST(PrometheusClient, GetPutsTheQueryInTheUrl) {
  FakePrometheus fake;
  fake.script({{200, kOneSample}});
  auto config = fast(fake.url());
  config.use_post = false;
  auto client = PrometheusClient::create(config).value();
  ASSERT_TRUE(client->query("up").has_value());
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_TRUE(contains(reqs[0].query, "query=up")) << reqs[0].query;
}

TEST(PrometheusClient, KeepsTheUrlsPathPrefix) {
  FakePrometheus fake;
  fake.script({{200, kOneSample}});
  auto client = PrometheusClient::create(fast(fake.url() + "/prometheus/")).value();
  ASSERT_TRUE(client->query("up").has_value());
  ASSERT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(fake.requests()[0].path, "/prometheus/api/v1/query");
}

TEST(PrometheusClient, ServesConcurrentQueries) {
  FakePrometheus fake;
  fake.script({{200, kOneSample, 5}});
  auto client = PrometheusClient::create(fast(fake.url())).value();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = client->query("up");
        if (r.has_value() && r->series.size() == 1 && r->series[0].points[0].value == 7) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_EQ(client->requests_sent(), 80u);
  EXPECT_EQ(fake.requests().size(), 80u);
}

TEST(PrometheusClient, RetriesServerErrorsAndTooManyRequests) {
  FakePrometheus fake;
  fake.script({{503, R"({"status":"error","errorType":"unavailable","error":"busy"})"},
               {429, "slow down", 0, "0"},
               {200, kOneSample}});
  auto client = PrometheusClient::create(fast(fake.url())).value();
  const auto r = client->query("up");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(fake.requests().size(), 3u);
  EXPECT_EQ(client->requests_sent(), 3u);
}

TEST(PrometheusClient, GivesUpAfterMaxAttempts) {
  FakePrometheus fake;
  fake.script({{500, "boom"}});
  auto client = PrometheusClient::create(fast(fake.url())).value();
  const auto r = client->query("up");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Kind::kHttp);
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_EQ(fake.requests().size(), 3u);
  EXPECT_TRUE(contains(r.error().message, "HTTP 500: boom (after 3 attempts)"))
      << r.error().message;
}

TEST(PrometheusClient, BadQueriesAreNotRetried) {
  FakePrometheus fake;
  fake.script({{400, R"({"status":"error","errorType":"bad_data","error":"parse error"})"}});
  auto client = PrometheusClient::create(fast(fake.url())).value();
  const auto r = client->query("sum(");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Kind::kApi);
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(r.error().message, "Prometheus query \"sum(\" at " + fake.url() +
                                   "/api/v1/query: Prometheus error bad_data (HTTP 400): "
                                   "parse error");
  fake.script({{422, R"({"status":"error","errorType":"execution","error":"many-to-many"})"}});
  EXPECT_EQ(client->query("a / b").error().attempts, 1);
}

TEST(PrometheusClient, UnreachableNamesTheUrl) {
  // A port nothing listens on: bind one, close it.
  std::string url;
  {
    FakePrometheus gone;
    url = gone.url();
  }
  auto client = PrometheusClient::create(fast(url)).value();
  const auto r = client->query("up");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Kind::kUnreachable);
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_TRUE(contains(r.error().message, url + "/api/v1/query: unreachable")) << r.error().message;
}

TEST(PrometheusClient, BreakerFailsFastThenProbesOnce) {
  FakePrometheus fake;
  fake.script({{503, "down"}});
  auto config = fast(fake.url());
  config.breaker_cooldown = std::chrono::milliseconds(400);
  auto client = PrometheusClient::create(config).value();
  const auto first = client->query("up");
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().attempts, 3);
  EXPECT_EQ(fake.requests().size(), 3u);

  // Open: the next queries are not sent, and say why, with the same kind.
  for (int i = 0; i < 5; ++i) {
    const auto r = client->query_range("up", 0, 600, 60);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, Kind::kHttp);
    EXPECT_EQ(r.error().attempts, 0);
    EXPECT_TRUE(contains(r.error().message, "query_range \"up\""));
    EXPECT_TRUE(contains(r.error().message, "not sent: " + fake.url() + " failed recently"))
        << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "HTTP 503: down")) << r.error().message;
  }
  EXPECT_EQ(fake.requests().size(), 3u);
  EXPECT_EQ(client->queries_short_circuited(), 5u);

  // Half open after the cooldown: one attempt, which fails and opens it again.
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  const auto probe = client->query("up");
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().attempts, 1);
  EXPECT_EQ(fake.requests().size(), 4u);
  EXPECT_EQ(client->query("up").error().attempts, 0);
  EXPECT_EQ(fake.requests().size(), 4u);

  // Prometheus is back: the next probe closes it and queries flow again, with retries.
  fake.script({{200, kOneSample}});
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  ASSERT_TRUE(client->query("up").has_value());
  ASSERT_TRUE(client->query("up").has_value());
  EXPECT_EQ(fake.requests().size(), 6u);
  fake.script({{500, "boom"}, {200, kOneSample}});
  EXPECT_TRUE(client->query("up").has_value());  // retried once, as before the outage
  EXPECT_EQ(fake.requests().size(), 8u);
}

TEST(PrometheusClient, AnAnswerClosesTheBreakerAndCooldownZeroDisablesIt) {
  FakePrometheus fake;
  fake.script({{503, "down"}});
  auto config = fast(fake.url());
  config.breaker_cooldown = std::chrono::milliseconds(200);
  auto client = PrometheusClient::create(config).value();
  ASSERT_FALSE(client->query("up").has_value());
  // A bad query is still an answer from Prometheus: reachable, so the breaker closes.
  fake.script({{400, R"({"status":"error","errorType":"bad_data","error":"parse error"})"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(client->query("sum(").error().kind, Kind::kApi);
  fake.script({{200, kOneSample}});
  EXPECT_TRUE(client->query("up").has_value());

  FakePrometheus other;
  other.script({{503, "down"}});
  config = fast(other.url());
  config.breaker_cooldown = std::chrono::milliseconds(0);
  auto plain = PrometheusClient::create(config).value();
  EXPECT_EQ(plain->query("up").error().attempts, 3);
  EXPECT_EQ(plain->query("up").error().attempts, 3);
  EXPECT_EQ(other.requests().size(), 6u);
  EXPECT_EQ(plain->queries_short_circuited(), 0u);
}

TEST(PrometheusClient, TimeoutIsHonoured) {
  FakePrometheus fake;
  fake.script({{200, kOneSample, 1500}});
  auto config = fast(fake.url());
  config.timeout = std::chrono::milliseconds(300);
  config.max_attempts = 1;
  auto client = PrometheusClient::create(config).value();
  const auto started = std::chrono::steady_clock::now();
  const auto r = client->query("up");
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Kind::kTimeout) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "no answer within 300 ms")) << r.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST(PrometheusClient, LongRangesAreChunkedAndJoined) {
  FakePrometheus fake;
  auto matrix = [](std::vector<int> times, std::string warning) {
    std::string a = R"({"metric":{"s":"a"},"values":[)";
    std::string b = R"({"metric":{"s":"b"},"values":[)";
    for (std::size_t i = 0; i < times.size(); ++i) {
      const std::string sep = i ? "," : "";
      a += sep + "[" + std::to_string(times[i]) + ",\"" + std::to_string(times[i]) + "\"]";
      b += sep + "[" + std::to_string(times[i]) + ",\"1\"]";
    }
    std::string body =
        R"({"status":"success","data":{"resultType":"matrix","result":[)" + a + "]}," + b + "]}]}}";
    if (!warning.empty()) body.insert(body.size() - 1, R"(,"warnings":[")" + warning + "\"]");
    return body;
  };
  fake.script({{200, matrix({0, 2, 4, 6, 8}, "w1")},
               {200, matrix({10, 12, 14, 16, 18}, "w1")},
               {200, matrix({20}, "w2")}});
  auto config = fast(fake.url());
  config.max_points_per_series = 5;
  auto client = PrometheusClient::create(config).value();
  const auto r = client->query_range("x", 0, 20, 2);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].path, "/api/v1/query_range");
  EXPECT_TRUE(contains(reqs[0].body, "start=0&end=8&step=2")) << reqs[0].body;
  EXPECT_TRUE(contains(reqs[1].body, "start=10&end=18&step=2")) << reqs[1].body;
  EXPECT_TRUE(contains(reqs[2].body, "start=20&end=20&step=2")) << reqs[2].body;
  ASSERT_EQ(r->series.size(), 2u);
  ASSERT_EQ(r->series[0].points.size(), 11u);
  for (std::size_t i = 0; i < 11; ++i) {
    EXPECT_EQ(r->series[0].points[i].time, 2.0 * static_cast<double>(i));
    EXPECT_EQ(r->series[0].points[i].value, 2.0 * static_cast<double>(i));
  }
  EXPECT_EQ(r->warnings, (std::vector<std::string>{"w1", "w2"}));
}

PrometheusConfig with_url(std::string url) {
  PrometheusConfig c;
  c.url = std::move(url);
  return c;
}

TEST(PrometheusClient, BadConfigIsRefused) {
  EXPECT_EQ(PrometheusClient::create(with_url("localhost:9090")).error().kind, Kind::kConfig);
  EXPECT_EQ(PrometheusClient::create(with_url("ftp://x")).error().kind, Kind::kConfig);
  PrometheusConfig c;
  c.url = "https://prometheus:9090";
  c.ca_file = "/nonexistent/ca.pem";
  const auto r = PrometheusClient::create(c);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "Prometheus CA file /nonexistent/ca.pem: cannot read");
  EXPECT_TRUE(PrometheusClient::create(with_url("https://prometheus:9090/prom")).has_value());
}

}  // namespace
}  // namespace dso::metrics
