// The connection pool against a loopback fake server: keep-alive reuse, a stale kept-alive
// connection replaced, refused connections, answers cut short, deadlines and cancellation.
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include "fake_server.h"
#include "loadgen/http_client.h"

namespace dso::loadgen {
namespace {

using testing::FakeAnswer;
using testing::FakeServer;

SteadyTime in(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}
constexpr std::chrono::seconds kGenerous{60};  // a deadline that is not part of the test

std::expected<int, HttpFailure> get(ConnectionPool& pool, std::string* body = nullptr,
                                    SteadyTime deadline = in(kGenerous), int cancel_fd = -1) {
  return pool.exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", deadline, cancel_fd,
                       [&](int, std::string_view d) {
                         if (body) body->append(d);
                       });
}

TEST(ConnectionPool, KeepsConnectionsAlive) {
  FakeServer server([](const std::string&) { return FakeAnswer{testing::plain_answer("ok")}; });
  ConnectionPool pool(server.address());
  std::string body;
  ASSERT_EQ(get(pool, &body).value_or(-1), 200);
  ASSERT_EQ(get(pool, &body).value_or(-1), 200);
  EXPECT_EQ(body, "okok");
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(pool.idle(), 1u);
}

TEST(ConnectionPool, ReplacesAConnectionTheServerClosed) {
  // The server closes after each answer without saying so: the kept connection is stale.
  FakeServer server([](const std::string&) {
    return FakeAnswer{testing::plain_answer("ok"), /*close_after=*/true};
  });
  ConnectionPool pool(server.address());
  ASSERT_EQ(get(pool).value_or(-1), 200);
  ASSERT_EQ(get(pool).value_or(-1), 200);
  EXPECT_EQ(server.accepted(), 2);
}

TEST(ConnectionPool, ConnectionClosePreventsReuse) {
  FakeServer server([](const std::string&) {
    return FakeAnswer{"HTTP/1.1 429 X\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"};
  });
  ConnectionPool pool(server.address());
  EXPECT_EQ(get(pool).value_or(-1), 429);
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(ConnectionPool, RefusedIsAConnectFailure) {
  ConnectionPool pool({"127.0.0.1", testing::closed_port()});
  const auto r = get(pool);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, TransportError::kConnect);
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos) << r.error().message;
}

TEST(ConnectionPool, AnswerCutShortIsBroken) {
  FakeServer server([](const std::string&) {
    return FakeAnswer{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true};
  });
  ConnectionPool pool(server.address());
  const auto r = get(pool);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, TransportError::kBroken);
  EXPECT_NE(r.error().message.find("connection closed mid-response"), std::string::npos);
  EXPECT_EQ(server.accepted(), 1);  // not retried: the server had started answering
}

TEST(ConnectionPool, DeadlineAndCancel) {
  FakeServer silent([](const std::string&) { return std::optional<FakeAnswer>(); });
  ConnectionPool pool(silent.address());
  const auto late = get(pool, nullptr, in(std::chrono::milliseconds(50)));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, TransportError::kTimeout);
  const int cancel = ::eventfd(1, EFD_CLOEXEC);  // already readable
  const auto cut = get(pool, nullptr, in(kGenerous), cancel);
  ::close(cancel);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().kind, TransportError::kCancelled);
}

}  // namespace
}  // namespace dso::loadgen
