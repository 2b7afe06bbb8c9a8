// The HTTP client: response parsing fed in every split, event-stream lines, chat answers, the
// request bytes, outcome classification.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loadgen/http_client.h"
#include "loadgen/request.h"

namespace dso::loadgen {
namespace {

struct Parsed {
  int status = 0;
  std::string body;
  bool done = false, keep_alive = false;
  std::size_t used = 0;
  std::string error;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once), then the close when `eof`.
Parsed parse(const std::string& bytes, std::size_t piece = 0, bool eof = false) {
  ResponseParser p;
  Parsed out;
  const auto sink = [&](int, std::string_view d) { out.body.append(d); };
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size() && !p.done(); at += piece) {
    const auto used = p.feed(std::string_view(bytes).substr(at, piece), sink);
    if (!used) {
      out.error = used.error();
      return out;
    }
    out.used = at + *used;
  }
  if (eof) {
    if (auto f = p.finish(); !f) out.error = f.error();
  }
  out.status = p.status();
  out.done = p.done();
  out.keep_alive = p.keep_alive();
  return out;
}

TEST(ResponseParser, ContentLengthInAnySplit) {
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA";
  for (std::size_t piece : {0, 1, 2, 3, 7}) {
    const auto p = parse(r, piece);
    EXPECT_EQ(p.error, "") << piece;
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body, "hello") << piece;
    EXPECT_TRUE(p.done);
    EXPECT_TRUE(p.keep_alive);
    EXPECT_EQ(p.used, r.size() - 5) << piece;  // "EXTRA" is not this response's
  }
}

TEST(ResponseParser, ChunkedInAnySplit) {
  const std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t piece : {0, 1, 4, 13}) {
    const auto p = parse(r, piece);
    EXPECT_EQ(p.error, "") << piece;
    EXPECT_EQ(p.body, "hello 0123456789") << piece;
    EXPECT_TRUE(p.done);
    EXPECT_EQ(p.used, r.size());
  }
}

TEST(ResponseParser, CloseDelimitedAndConnectionHeaders) {
  const auto p = parse("HTTP/1.1 200 OK\r\n\r\nall of it", 4, /*eof=*/true);
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.body, "all of it");
  EXPECT_TRUE(p.done);
  EXPECT_FALSE(p.keep_alive);
  EXPECT_FALSE(
      parse("HTTP/1.1 429 Too Many\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
  const auto no_body = parse("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(no_body.done);
  EXPECT_TRUE(no_body.keep_alive);
}

TEST(ResponseParser, MalformedAndCutShort) {
  EXPECT_EQ(parse("SMTP ready\r\n").error, "malformed status line \"SMTP ready\"");
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nno colon\r\n\r\n").error,
            "malformed header line \"no colon\"");
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error,
            "malformed chunk size \"zz\"");
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n").error,
            "chunk not followed by CRLF");
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 0, true).error,
            "connection closed mid-response");
  EXPECT_EQ(parse("", 0, true).error, "connection closed before a response");
  EXPECT_EQ(parse(std::string(70'000, 'x')).error, "response line longer than 64 KiB");
}

TEST(SseReader, DataLinesAcrossPieces) {
  const std::string stream =
      ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata:[DONE]\n\ndata: tail-without-eol";
  for (std::size_t piece : {1, 3, 100}) {
    SseReader r;
    std::vector<std::string> got;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      r.feed(std::string_view(stream).substr(at, piece),
             [&](std::string_view d) { got.emplace_back(d); });
    }
    EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "[DONE]"})) << piece;
  }
}

std::string chunk(const std::string& delta) {
  return "data: {\"choices\":[{\"delta\":" + delta + ",\"index\":0}],\"object\":\"x\"}\n\n";
}

TEST(ChatAnswer, StreamFirstContentAndDone) {
  ChatAnswer a(true);
  EXPECT_FALSE(a.feed(chunk(R"({"content":"","role":"assistant"})")));  // no content yet
  EXPECT_FALSE(a.complete());
  EXPECT_EQ(a.problem(), "the stream ended without [DONE]");
  const std::string first = chunk(R"({"content":"s"})");
  EXPECT_FALSE(a.feed(first.substr(0, 10)));
  EXPECT_TRUE(a.feed(first.substr(10)));  // the first content: once
  EXPECT_FALSE(a.feed(chunk(R"({"content":"z"})")));
  EXPECT_FALSE(a.feed("data: [DONE]\n\n"));
  EXPECT_TRUE(a.complete());
  EXPECT_EQ(a.problem(), "");
}

TEST(ChatAnswer, ErrorEventIsNotComplete) {
  ChatAnswer a(true);
  a.feed(chunk(R"({"content":"error"})"));  // content that says "error" is content
  a.feed("data: {\"error\":{\"message\":\"draining\",\"type\":\"x\"}}\n\ndata: [DONE]\n\n");
  EXPECT_FALSE(a.complete());
  EXPECT_EQ(a.problem(), "the stream carried an error event");
}

TEST(ChatAnswer, PlainAnswers) {
  ChatAnswer a(false);
  EXPECT_TRUE(a.feed("{\"choices\""));
  EXPECT_FALSE(a.feed("...}"));
  EXPECT_TRUE(a.complete());
}

TEST(ChatRequest, Bytes) {
  const RequestShape shape{"m\"x", true, "sk-1"};
  const std::string r = chat_request(shape, {"10.0.0.1", 8000}, {100, 7}, true);
  const auto split = r.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const std::string head = r.substr(0, split + 4), body = r.substr(split + 4);
  EXPECT_EQ(head.rfind("POST /v1/chat/completions HTTP/1.1\r\nHost: 10.0.0.1:8000\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(head.find("X-Priority: high\r\n"), std::string::npos);
  EXPECT_NE(head.find("Authorization: Bearer sk-1\r\n"), std::string::npos);
  const auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["model"], "m\"x");
  EXPECT_EQ(json["max_tokens"], 7);
  EXPECT_EQ(json["stream"], true);
  EXPECT_EQ(json["messages"][0]["role"], "user");
  EXPECT_EQ(json["messages"][0]["content"].get<std::string>().size(), 100u);
  const std::string plain = chat_request({"m", false, ""}, {"10.0.0.1", 8000}, {1, 1}, false);
  EXPECT_EQ(plain.find("X-Priority"), std::string::npos);
  EXPECT_EQ(plain.find("Authorization"), std::string::npos);
  EXPECT_NE(plain.find("\"stream\":false"), std::string::npos);
}

TEST(Classify, StatusesAndTransport) {
  EXPECT_EQ(classify(200, true), Outcome::kCompleted);
  EXPECT_EQ(classify(200, false), Outcome::kBroken);
  EXPECT_EQ(classify(429, true), Outcome::kRejected);
  EXPECT_EQ(classify(503, true), Outcome::kServerError);
  EXPECT_EQ(classify(400, true), Outcome::kClientError);
  EXPECT_EQ(classify(TransportError::kConnect), Outcome::kConnect);
  EXPECT_EQ(classify(TransportError::kBroken), Outcome::kBroken);
  EXPECT_EQ(classify(TransportError::kTimeout), Outcome::kTimeout);
  EXPECT_EQ(classify(TransportError::kCancelled), Outcome::kAborted);
}

}  // namespace
}  // namespace dso::loadgen
