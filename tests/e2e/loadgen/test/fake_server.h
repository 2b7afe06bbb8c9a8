// A loopback HTTP/1.1 server for the load generator's own tests: a thread per connection reads
// each request whole and answers what the handler returns (or nothing, for a server that hangs).
// Not a model of the inference server; the integration test runs the real one.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/address.h"

namespace dso::loadgen::testing {

struct FakeAnswer {
  std::string bytes;         // the whole response
  bool close_after = false;  // close the connection after sending it (without saying so)
};
// Returns the answer to one request (its head and body), or nothing to never answer.
using FakeHandler = std::function<std::optional<FakeAnswer>(const std::string& request)>;

class FakeServer {
 public:
  // Listens on a free port of `ip` (an address of this machine).
  explicit FakeServer(FakeHandler handler, std::string ip = "127.0.0.1")
      : handler_(std::move(handler)), ip_(std::move(ip)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1024) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("fake server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    for (const int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }

  Address address() const { return {ip_, port_}; }
  int accepted() const { return accepted_; }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 || stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      ++accepted_;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // Reads requests (head, then Content-Length bytes of body) and answers each.
  void serve(int fd) {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      const auto head_end = buffer.find("\r\n\r\n");
      std::size_t length = 0;
      if (head_end != std::string::npos) {
        const auto cl = buffer.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(buffer.substr(cl + 16));
        if (buffer.size() >= head_end + 4 + length) {
          const std::string request = buffer.substr(0, head_end + 4 + length);
          buffer.erase(0, request.size());
          const auto answer = handler_(request);
          if (!answer) continue;  // never answer: keep reading until shut down
          ::send(fd, answer->bytes.data(), answer->bytes.size(), MSG_NOSIGNAL);
          if (answer->close_after) {
            ::shutdown(fd, SHUT_RDWR);
            return;
          }
          continue;
        }
      }
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }

  FakeHandler handler_;
  std::string ip_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

// "HTTP/1.1 200 OK" with a Content-Length body.
inline std::string plain_answer(const std::string& body, int status = 200) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A streamed chat answer as the inference server sends it: role chunk, content, [DONE].
inline std::string stream_answer() {
  const auto chunk = [](const std::string& data) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  };
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
         "chunked\r\n\r\n" +
         chunk("data: {\"choices\":[{\"delta\":{\"content\":\"\",\"role\":\"assistant\"}}]}\n\n") +
         chunk("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n") +
         chunk("data: [DONE]\n\n") + "0\r\n\r\n";
}

// A loopback port with nothing listening on it (bound, then released).
inline std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace dso::loadgen::testing
