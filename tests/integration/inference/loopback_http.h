// A minimal blocking HTTP/1.1 client over a loopback TCP socket, for the inference server's
// integration test and load generator: keep-alive, Content-Length and chunked bodies. Not a general
// client (no TLS, no redirects); small enough that every byte it sends is obvious.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dso::inference::testing {

struct LoopbackResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // de-chunked
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class LoopbackHttp {
 public:
  explicit LoopbackHttp(int port) : port_(port) {}
  ~LoopbackHttp() { disconnect(); }
  LoopbackHttp(const LoopbackHttp&) = delete;
  LoopbackHttp& operator=(const LoopbackHttp&) = delete;

  // Sends one request (reconnecting if needed) and reads the whole response. Throws
  // std::runtime_error when the connection fails.
  LoopbackResponse request(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) connect_now();
      std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      for (const auto& [n, v] : headers) req += n + ": " + v + "\r\n";
      if (!body.empty() || method == "POST") {
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n";
      }
      req += "\r\n" + body;
      if (!send_all(req)) {
        disconnect();
        continue;  // a kept-alive connection the server closed: retry once on a new one
      }
      LoopbackResponse response;
      if (read_response(response)) return response;
      disconnect();
      if (attempt == 1) break;
    }
    throw std::runtime_error("loopback http: no response from 127.0.0.1:" + std::to_string(port_));
  }

  void disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

 private:
  void connect_now() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("loopback http: cannot connect to 127.0.0.1:" +
                               std::to_string(port_));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  bool send_all(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  bool fill() {
    char chunk[16384];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  bool read_line(std::string& line) {
    for (;;) {
      auto eol = buffer_.find("\r\n");
      if (eol != std::string::npos) {
        line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 2);
        return true;
      }
      if (!fill()) return false;
    }
  }

  bool read_exact(std::size_t n, std::string& out) {
    while (buffer_.size() < n) {
      if (!fill()) return false;
    }
    out.append(buffer_, 0, n);
    buffer_.erase(0, n);
    return true;
  }

  bool read_response(LoopbackResponse& r) {
    std::string line;
    if (!read_line(line) || line.size() < 12) return false;
    r.status = std::atoi(line.c_str() + 9);
    while (read_line(line) && !line.empty()) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    if (r.header("transfer-encoding").find("chunked") != std::string::npos) {
      for (;;) {
        if (!read_line(line)) return false;
        auto size = std::strtoul(line.c_str(), nullptr, 16);
        if (size == 0) {
          read_line(line);
          break;
        }
        if (!read_exact(size, r.body)) return false;
        if (!read_line(line)) return false;
      }
    } else if (auto len = r.header("content-length"); !len.empty()) {
      if (!read_exact(std::strtoul(len.c_str(), nullptr, 10), r.body)) return false;
    }
    if (r.header("connection") == "close") disconnect();
    return true;
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace dso::inference::testing
