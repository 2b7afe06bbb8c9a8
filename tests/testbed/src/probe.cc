// Probes and lifecycle handlers: see probe.h.
#include "testbed/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dso::testbed {
namespace {

using kube::Json;
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

// A non-blocking connect bounded by `deadline`; the socket, or -1 with *error set.
int connect_with_deadline(const std::string& ip, int port, Clock::time_point deadline,
                          std::string* error) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
    *error = "bad address " + ip;
    return -1;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "socket failed";
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    *error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, remaining_ms(deadline)) != 1) {
    *error = "connect timed out";
    ::close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    *error = std::strerror(so_error);
    ::close(fd);
    return -1;
  }
  return fd;
}

ProbeResult exec_handler(const Json& exec, const Sandbox& sandbox, ProcessSpec context,
                         std::chrono::milliseconds timeout) {
  context.argv.clear();
  for (const Json& word : exec.value("command", Json::array())) context.argv.push_back(word);
  const auto status = sandbox.run(context, timeout);
  if (!status) return {false, status.error()};
  if (*status != 0) return {false, "exit " + std::to_string(*status)};
  return {true, ""};
}

}  // namespace

ProbeTiming ProbeTiming::of(const Json& probe) {
  ProbeTiming t;
  t.initial_delay_seconds = probe.value("initialDelaySeconds", t.initial_delay_seconds);
  t.period_seconds = std::max(1, probe.value("periodSeconds", t.period_seconds));
  t.timeout_seconds = std::max(1, probe.value("timeoutSeconds", t.timeout_seconds));
  t.success_threshold = std::max(1, probe.value("successThreshold", t.success_threshold));
  t.failure_threshold = std::max(1, probe.value("failureThreshold", t.failure_threshold));
  return t;
}

int resolve_port(const Json& port, const Json& container) {
  if (port.is_number_integer()) return port.get<int>();
  if (!port.is_string()) return 0;
  const std::string name = port.get<std::string>();
  for (const Json& p : container.value("ports", Json::array())) {
    if (p.value("name", "") == name) return p.value("containerPort", 0);
  }
  // A numeric string is a number.
  return std::all_of(name.begin(), name.end(), ::isdigit) && !name.empty() ? std::stoi(name) : 0;
}

int http_get_status(const std::string& ip, int port, const std::string& path,
                    std::chrono::milliseconds timeout, std::string* error) {
  const auto deadline = Clock::now() + timeout;
  const int fd = connect_with_deadline(ip, port, deadline, error);
  if (fd < 0) return 0;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + ip + ":" +
                              std::to_string(port) +
                              "\r\nUser-Agent: kube-probe/1.20\r\nAccept: */*\r\n"
                              "Connection: close\r\n\r\n";
  std::size_t sent = 0;
  std::string response;
  while (sent < request.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) break;
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  // The status line is all a probe needs.
  while (sent == request.size() && response.find("\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) break;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  int status = 0;
  if (response.starts_with("HTTP/1.") && response.size() >= 12)
    status = std::atoi(response.c_str() + 9);
  if (status == 0) *error = sent < request.size() ? "send failed" : "no HTTP status in time";
  return status;
}

ProbeResult run_handler(const Json& handler, const Json& container, const std::string& pod_ip,
                        const Sandbox& sandbox, const ProcessSpec& exec_context,
                        std::chrono::milliseconds timeout) {
  if (handler.contains("exec"))
    return exec_handler(handler["exec"], sandbox, exec_context, timeout);
  const bool http = handler.contains("httpGet");
  const Json& target = http ? handler["httpGet"] : handler.value("tcpSocket", Json::object());
  if (!http && !handler.contains("tcpSocket")) return {false, "no handler the testbed runs"};
  const int port = resolve_port(target.value("port", Json()), container);
  if (port <= 0) return {false, "port " + target.value("port", Json()).dump() + " not found"};
  const std::string host = target.value("host", pod_ip);
  std::string error;
  if (!http) {
    const int fd = connect_with_deadline(host, port, Clock::now() + timeout, &error);
    if (fd < 0) return {false, "dial tcp " + host + ":" + std::to_string(port) + ": " + error};
    ::close(fd);
    return {true, ""};
  }
  const int status = http_get_status(host, port, target.value("path", "/"), timeout, &error);
  if (status == 0) return {false, "Get http://" + host + ":" + std::to_string(port) + ": " + error};
  if (status < 200 || status >= 400)
    return {false, "HTTP probe failed with statuscode: " + std::to_string(status)};
  return {true, ""};
}

}  // namespace dso::testbed
