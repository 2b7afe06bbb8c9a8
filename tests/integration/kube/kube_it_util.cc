#include "kube_it_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace dso::kube::it {

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  cut();
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  ::close(listen_fd_);
}

void TcpProxy::cut() {
  cut_ = true;
  std::lock_guard lock(mu_);
  for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
}

void TcpProxy::restore() {
  cut_ = false;
}

void TcpProxy::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    if (cut_) {
      ::close(fd);
      continue;
    }
    ++accepted_;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, fd] { pump(fd); });
  }
}

void TcpProxy::pump(int client_fd) {
  const int up = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
  if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(up);
    ::close(client_fd);
    return;
  }
  {
    std::lock_guard lock(mu_);
    live_.push_back(client_fd);
    live_.push_back(up);
  }
  char buf[65536];
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {up, POLLIN, 0}};
  bool open = true;
  while (open && !stop_) {
    if (::poll(fds, 2, 100) < 0) break;
    for (int i = 0; i < 2 && open; ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          open = false;
          break;
        }
        ssize_t off = 0;
        while (off < n) {
          const ssize_t w = ::write(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) {
            open = false;
            break;
          }
          off += w;
        }
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    live_.erase(std::remove_if(live_.begin(), live_.end(),
                               [&](int fd) { return fd == client_fd || fd == up; }),
                live_.end());
  }
  ::close(client_fd);
  ::close(up);
}

}  // namespace dso::kube::it
