// The load generator's HTTP/1.1 client: response parsing, event-stream lines, pooled connections.
#include "loadgen/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <optional>

namespace dso::loadgen {
namespace {

constexpr std::size_t kMaxLine = 64 * 1024;  // a status, header or chunk-size line

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// ---- ResponseParser ----

bool ResponseParser::take_line(std::string_view data, std::size_t& used, std::string& line) {
  const auto eol = data.find('\n', used);
  if (eol == std::string_view::npos) {
    line_.append(data.substr(used));
    used = data.size();
    return false;
  }
  line = std::move(line_);
  line.append(data.substr(used, eol - used));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  line_.clear();
  used = eol + 1;
  return true;
}

std::expected<void, std::string> ResponseParser::on_status_line(const std::string& line) {
  // "HTTP/1.1 200 OK"
  int status = 0;
  const bool shaped = line.size() >= 12 && line.starts_with("HTTP/1.") && line[8] == ' ';
  const auto [end, ec] = shaped ? std::from_chars(line.data() + 9, line.data() + 12, status)
                                : std::from_chars_result{};
  if (!shaped || ec != std::errc{} || end != line.data() + 12 || status < 100) {
    return std::unexpected("malformed status line \"" + line.substr(0, 80) + "\"");
  }
  status_ = status;
  http10_ = line[7] == '0';
  keep_alive_ = !http10_;
  state_ = State::kHeaders;
  return {};
}

std::expected<void, std::string> ResponseParser::on_header_line(const std::string& line) {
  const auto colon = line.find(':');
  if (colon == std::string::npos || colon == 0) {
    return std::unexpected("malformed header line \"" + line.substr(0, 80) + "\"");
  }
  std::string name = lower(std::string_view(line).substr(0, colon));
  const std::string value(trim(std::string_view(line).substr(colon + 1)));
  if (name == "connection") {
    const std::string v = lower(value);
    if (v.find("close") != std::string::npos) keep_alive_ = false;
    if (http10_ && v.find("keep-alive") != std::string::npos) keep_alive_ = true;
  }
  headers_[std::move(name)] = value;
  return {};
}

void ResponseParser::start_body() {
  const auto te = headers_.find("transfer-encoding");
  const auto cl = headers_.find("content-length");
  if (te != headers_.end() && lower(te->second).find("chunked") != std::string::npos) {
    state_ = State::kChunkSize;
  } else if (cl != headers_.end()) {
    const auto& v = cl->second;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), remaining_);
    if (ec != std::errc{} || end != v.data() + v.size()) {
      state_ = State::kUntilClose;  // unreadable length: take what comes, do not reuse
      keep_alive_ = false;
      return;
    }
    state_ = remaining_ == 0 ? State::kDone : State::kBody;
  } else if (status_ < 200 || status_ == 204 || status_ == 304) {
    state_ = State::kDone;
  } else {
    state_ = State::kUntilClose;
    keep_alive_ = false;
  }
}

std::expected<void, std::string> ResponseParser::on_chunk_size(const std::string& line) {
  const std::string_view size = trim(std::string_view(line).substr(0, line.find(';')));
  const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), remaining_, 16);
  if (size.empty() || ec != std::errc{} || end != size.data() + size.size()) {
    return std::unexpected("malformed chunk size \"" + line.substr(0, 40) + "\"");
  }
  state_ = remaining_ == 0 ? State::kTrailers : State::kChunkData;
  return {};
}

std::expected<std::size_t, std::string> ResponseParser::feed(std::string_view data,
                                                             const BodySink& sink) {
  std::size_t used = 0;
  std::string line;
  while (used < data.size() && state_ != State::kDone) {
    if (state_ == State::kBody || state_ == State::kChunkData || state_ == State::kUntilClose) {
      const std::size_t n =
          state_ == State::kUntilClose
              ? data.size() - used
              : static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - used));
      if (sink) sink(status_, data.substr(used, n));
      used += n;
      if (state_ == State::kUntilClose) continue;
      remaining_ -= n;
      if (remaining_ == 0) state_ = state_ == State::kBody ? State::kDone : State::kChunkEnd;
      continue;
    }
    if (!take_line(data, used, line)) {
      if (line_.size() > kMaxLine) return std::unexpected("response line longer than 64 KiB");
      break;
    }
    std::expected<void, std::string> ok;
    switch (state_) {
      case State::kStatusLine:
        ok = on_status_line(line);
        break;
      case State::kHeaders:
        if (line.empty()) {
          start_body();
        } else {
          ok = on_header_line(line);
        }
        break;
      case State::kChunkSize:
        ok = on_chunk_size(line);
        break;
      case State::kChunkEnd:
        if (!line.empty()) ok = std::unexpected("chunk not followed by CRLF");
        state_ = State::kChunkSize;
        break;
      default:  // kTrailers: skip trailer fields up to the empty line
        if (line.empty()) state_ = State::kDone;
        break;
    }
    if (!ok) return std::unexpected(ok.error());
  }
  return used;
}

std::expected<void, std::string> ResponseParser::finish() {
  if (state_ == State::kUntilClose) state_ = State::kDone;
  if (state_ == State::kDone) return {};
  return std::unexpected(started() ? "connection closed mid-response"
                                   : "connection closed before a response");
}

// ---- SseReader ----

void SseReader::line(std::string_view text, const std::function<void(std::string_view)>& on_data) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (!text.starts_with("data:")) return;
  text.remove_prefix(5);
  if (text.starts_with(' ')) text.remove_prefix(1);
  on_data(text);
}

void SseReader::feed(std::string_view bytes,
                     const std::function<void(std::string_view data)>& on_data) {
  while (!bytes.empty()) {
    const auto eol = bytes.find('\n');
    if (eol == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    if (partial_.empty()) {
      line(bytes.substr(0, eol), on_data);
    } else {
      partial_.append(bytes.substr(0, eol));
      line(partial_, on_data);
      partial_.clear();
    }
    bytes.remove_prefix(eol + 1);
  }
}

// ---- ConnectionPool ----

namespace {

HttpFailure failure(TransportError kind, const Address& a, const std::string& what) {
  return {kind, a.to_string() + ": " + what};
}

// Waits until `fd` is ready for `events`; nullopt when it is, else why not.
std::optional<TransportError> wait_ready(int fd, short events, SteadyTime deadline, int cancel_fd) {
  pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return TransportError::kTimeout;
    const int r = ::poll(fds, cancel_fd >= 0 ? 2 : 1,
                         static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
    if (r < 0 && errno != EINTR) return TransportError::kBroken;
    if (r <= 0) continue;
    if (cancel_fd >= 0 && fds[1].revents != 0) return TransportError::kCancelled;
    if (fds[0].revents != 0) return std::nullopt;  // errors show in the next send/recv
  }
}

std::expected<int, HttpFailure> connect_to(const Address& a, SteadyTime deadline, int cancel_fd) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(failure(TransportError::kConnect, a, std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(a.port);
  ::inet_pton(AF_INET, a.ip.c_str(), &addr.sin_addr);
  int err = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      if (const auto e = wait_ready(fd, POLLOUT, deadline, cancel_fd)) {
        ::close(fd);
        return std::unexpected(failure(*e, a, "connect did not finish"));
      }
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  if (err != 0) {
    ::close(fd);
    return std::unexpected(
        failure(TransportError::kConnect, a, std::string("connect: ") + std::strerror(err)));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::optional<HttpFailure> send_all(int fd, std::string_view data, const Address& a,
                                    SteadyTime deadline, int cancel_fd) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (const auto e = wait_ready(fd, POLLOUT, deadline, cancel_fd)) {
        return failure(*e, a, "sending the request");
      }
    } else {
      return failure(TransportError::kBroken, a, std::string("send: ") + std::strerror(errno));
    }
  }
  return std::nullopt;
}

// Reads one response into `parser`; `whole` says whether it ended exactly at its last byte.
std::optional<HttpFailure> read_response(int fd, ResponseParser& parser, const Address& a,
                                         SteadyTime deadline, int cancel_fd, const BodySink& sink,
                                         bool& whole) {
  char buf[16384];
  whole = true;
  while (!parser.done()) {
    if (const auto e = wait_ready(fd, POLLIN, deadline, cancel_fd)) {
      return failure(*e, a, "waiting for the response");
    }
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return failure(TransportError::kBroken, a, std::string("recv: ") + strerror(errno));
    if (n == 0) {
      whole = false;
      const auto ended = parser.finish();
      if (!ended) return failure(TransportError::kBroken, a, ended.error());
      break;
    }
    const auto used = parser.feed(std::string_view(buf, static_cast<std::size_t>(n)), sink);
    if (!used) return failure(TransportError::kBroken, a, used.error());
    if (*used < static_cast<std::size_t>(n)) whole = false;  // bytes after the response
  }
  return std::nullopt;
}

}  // namespace

ConnectionPool::~ConnectionPool() {
  for (const int fd : idle_) ::close(fd);
}

std::size_t ConnectionPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

std::expected<int, HttpFailure> ConnectionPool::take_or_connect(bool& reused, SteadyTime deadline,
                                                                int cancel_fd) {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      const int fd = idle_.back();
      idle_.pop_back();
      reused = true;
      return fd;
    }
  }
  reused = false;
  return connect_to(address_, deadline, cancel_fd);
}

void ConnectionPool::give_back(int fd) {
  std::lock_guard lock(mu_);
  idle_.push_back(fd);
}

std::expected<int, HttpFailure> ConnectionPool::exchange(std::string_view request,
                                                         SteadyTime deadline, int cancel_fd,
                                                         const BodySink& sink) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    const auto fd = take_or_connect(reused, deadline, cancel_fd);
    if (!fd) return std::unexpected(fd.error());
    ResponseParser parser;
    bool whole = false;
    auto failed = send_all(*fd, request, address_, deadline, cancel_fd);
    if (!failed) failed = read_response(*fd, parser, address_, deadline, cancel_fd, sink, whole);
    if (!failed) {
      if (whole && parser.keep_alive()) {
        give_back(*fd);
      } else {
        ::close(*fd);
      }
      return parser.status();
    }
    ::close(*fd);
    // A kept-alive connection the server had closed: nothing of an answer came; try a new one.
    const bool stale = reused && !parser.started() && failed->kind == TransportError::kBroken;
    if (!stale || attempt > 0) return std::unexpected(*failed);
  }
}

}  // namespace dso::loadgen
