// inference_bench: load generator and benchmark for deepseek-inference-server. It starts the real
// server (as a child process, on loopback) with the configurations being compared and replays
// request sizes from the Azure LLM conversation trace, scaled to the test model. Prints markdown
// tables (recorded in docs/inference-server.md with the command that made them).
//
//   inference_bench --server BIN --model PT --trace CSV [--mode
//   all|throughput|overhead|overload|soak|forward]
//                   [--device cpu|cuda] [--bound-ms 2000] [--duration-s 5] [--soak-s 600]
//                   [--threads 1] [--max-batch 32] [--overhead-model PT]
//                   [--overhead-requests 1000] [--baseline-server BIN]
//
// Modes:
//   throughput  closed-loop clients 1, 2, 4, ... per configuration (batching off: max batch 1;
//               on: --max-batch); the best throughput whose p99 stays within --bound-ms.
//   overhead    one client, max_tokens 1, batching off, no wait: median latency over HTTP minus the
//               median of calling the model directly (same prompt, same threads) in this process,
//               and mean latency minus the server's own mean forward time (from /metrics), with a
//               breakdown: a loopback floor without HTTP library, /healthz, the server with a
//               model that does no work (--model builtin:null). Uses --overhead-model (a tiny
//               model) when given, so that model time does not drown it. --baseline-server BIN
//               measures an older server binary in the same rounds (A/B on a noisy machine).
//   overload    open-loop Poisson arrivals at 2x the measured capacity against a bounded queue:
//               p99 of admitted requests, share shed with 429, errors, server memory.
//   soak        overload for --soak-s seconds, server RSS sampled every 30 s.
//   forward     the model alone: ms per forward pass by batch size and sequence length.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loopback_http.h"
#include "model/null_model.h"
#include "model/torchscript_model.h"
#include "server/api_service.h"
#include "server/batch_scheduler.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server_process.h"

namespace {

using namespace dso::inference;
using namespace dso::inference::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::string server, baseline, model, tiny_model, trace, mode = "all", device = "cpu";
  double bound_ms = 2000;
  int duration_s = 5;
  int soak_s = 600;
  int threads = 1;
  int max_batch = 32;
  int overhead_requests = 1000;
};

struct RequestSize {
  int prompt_bytes;
  int max_tokens;
};

// Trace rows scaled to the byte-level test models (context 128 and 256): prompt = ContextTokens /
// 16 in [1, 96] bytes (median 63), output = GeneratedTokens / 4 in [1, 32] tokens (median 32).
std::vector<RequestSize> load_trace(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("trace '" + path + "': cannot open");
  std::string line;
  std::getline(in, line);
  std::vector<RequestSize> sizes;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string ts, context, generated;
    std::getline(row, ts, ',');
    std::getline(row, context, ',');
    std::getline(row, generated, ',');
    if (context.empty() || generated.empty()) continue;
    sizes.push_back(
        {std::clamp(std::stoi(context) / 16, 1, 96), std::clamp(std::stoi(generated) / 4, 1, 32)});
  }
  if (sizes.empty()) throw std::runtime_error("trace '" + path + "': no rows");
  return sizes;
}

std::string body_for(const RequestSize& s) {
  static const std::string text =
      "The quick brown fox jumps over the lazy dog while the operator scales the fleet. ";
  std::string prompt;
  while (static_cast<int>(prompt.size()) < s.prompt_bytes) prompt += text;
  prompt.resize(s.prompt_bytes);
  return R"({"model":"deepseek-byte-lm","prompt":")" + prompt + R"(","max_tokens":)" +
         std::to_string(s.max_tokens) + "}";
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(std::ceil(q * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::unique_ptr<ServerProcess> start_server(const Options& o, int max_batch, int max_wait_us,
                                            int max_queue, int max_queue_wait_ms = 0) {
  auto server =
      std::make_unique<ServerProcess>(o.server,
                                      std::vector<std::string>{"--model",
                                                               o.model,
                                                               "--device",
                                                               o.device,
                                                               "--threads",
                                                               std::to_string(o.threads),
                                                               "--max-batch-size",
                                                               std::to_string(max_batch),
                                                               "--max-wait-us",
                                                               std::to_string(max_wait_us),
                                                               "--max-queue-wait-ms",
                                                               std::to_string(max_queue_wait_ms),
                                                               "--max-queue",
                                                               std::to_string(max_queue),
                                                               "--rate-limit-per-second",
                                                               "0",
                                                               "--rate-limit-per-hour",
                                                               "0",
                                                               "--cache-max-bytes",
                                                               "0",
                                                               "--max-tokens-limit",
                                                               "64"},
                                      "/tmp/inference_bench_server.log");
  if (!server->wait_ready(120s)) throw std::runtime_error("server did not become ready");
  return server;
}

struct RunResult {
  double seconds = 0;
  std::vector<double> ok_latencies;  // seconds, 200s only
  long ok = 0, shed = 0, errors = 0;
  long tokens = 0;  // completion tokens of the 200s
  double throughput() const { return ok / seconds; }

  // One request that started (or was due) at `since` and ended now with `status`.
  void record(int status, Clock::time_point since, int max_tokens) {
    if (status == 200) {
      ++ok;
      tokens += max_tokens;
      ok_latencies.push_back(std::chrono::duration<double>(Clock::now() - since).count());
    } else if (status == 429) {
      ++shed;
    } else {
      ++errors;
    }
  }
  void merge(const RunResult& other) {
    ok_latencies.insert(ok_latencies.end(), other.ok_latencies.begin(), other.ok_latencies.end());
    ok += other.ok;
    shed += other.shed;
    errors += other.errors;
    tokens += other.tokens;
  }
};

// POSTs a completion; the status, or 0 when the connection failed (it is reopened next time).
int post_completion(LoopbackHttp& http, const std::string& body) {
  try {
    return http.request("POST", "/v1/completions", body).status;
  } catch (const std::exception&) {
    http.disconnect();
    return 0;
  }
}

// Closed loop: `clients` threads, each sending its next request when the previous one returns.
RunResult closed_loop(int port, int clients, const std::vector<RequestSize>& sizes,
                      std::chrono::seconds duration) {
  RunResult result;
  std::mutex mu;
  const auto end = Clock::now() + duration;
  std::vector<std::thread> threads;
  // All clients walk one shared sequence of trace rows: the request mix does not depend on the
  // number of clients.
  std::atomic<std::size_t> next{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      LoopbackHttp http(port);
      RunResult mine;
      while (Clock::now() < end) {
        const auto& size = sizes[next.fetch_add(1) % sizes.size()];
        const auto body = body_for(size);
        const auto t0 = Clock::now();
        mine.record(post_completion(http, body), t0, size.max_tokens);
      }
      std::lock_guard lock(mu);
      result.merge(mine);
    });
  }
  const auto start = Clock::now();
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

// Open loop: Poisson arrivals at `rate` per second served by a pool of connections; latency counts
// from the scheduled arrival (no coordinated omission while the pool has a free connection).
RunResult open_loop(int port, double rate, const std::vector<RequestSize>& sizes,
                    std::chrono::seconds duration, int pool = 192) {
  RunResult result;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<Clock::time_point, std::size_t>> arrivals;
  bool done = false;
  std::vector<std::thread> workers;
  for (int w = 0; w < pool; ++w) {
    workers.emplace_back([&] {
      LoopbackHttp http(port);
      RunResult mine;
      for (;;) {
        std::pair<Clock::time_point, std::size_t> next;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return done || !arrivals.empty(); });
          if (arrivals.empty()) break;
          next = arrivals.front();
          arrivals.pop_front();
        }
        const auto& size = sizes[next.second % sizes.size()];
        mine.record(post_completion(http, body_for(size)), next.first, size.max_tokens);
      }
      std::lock_guard lock(mu);
      result.merge(mine);
    });
  }
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> gap(rate);
  const auto start = Clock::now();
  auto at = start;
  std::size_t i = 0;
  while (at < start + duration) {
    at += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
    std::this_thread::sleep_until(at);
    {
      std::lock_guard lock(mu);
      arrivals.emplace_back(at, i++);
    }
    cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : workers) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

struct Capacity {
  double throughput = 0;
  int clients = 0;
  double p50 = 0, p99 = 0;
};

Capacity sweep(const Options& o, const std::string& name, int max_batch, int max_wait_us,
               const std::vector<RequestSize>& sizes) {
  auto server = start_server(o, max_batch, max_wait_us, 4096);
  Capacity best;
  std::printf("\n%s (max batch %d, max wait %d us)\n\n", name.c_str(), max_batch, max_wait_us);
  std::printf(
      "| clients | req/s | tokens/s | p50 ms | p99 ms | within bound "
      "|\n|---:|---:|---:|---:|---:|:---:|\n");
  for (int clients = 1; clients <= 128; clients *= 2) {
    auto r = closed_loop(server->port(), clients, sizes, std::chrono::seconds(o.duration_s));
    const double p50 = percentile(r.ok_latencies, 0.5) * 1e3,
                 p99 = percentile(r.ok_latencies, 0.99) * 1e3;
    const bool within = p99 <= o.bound_ms && r.errors == 0;
    std::printf("| %d | %.1f | %.0f | %.1f | %.1f | %s |\n", clients, r.throughput(),
                r.tokens / r.seconds, p50, p99, within ? "yes" : "no");
    std::fflush(stdout);
    if (within && r.throughput() > best.throughput) best = {r.throughput(), clients, p50, p99};
    if (p99 > 2 * o.bound_ms) break;
  }
  return best;
}

void throughput_mode(const Options& o, const std::vector<RequestSize>& sizes, Capacity* on_out) {
  std::printf("\n## Throughput at p99 <= %.0f ms (closed loop, %d s per point)\n", o.bound_ms,
              o.duration_s);
  auto off = sweep(o, "Batching off", 1, 0, sizes);
  auto on = sweep(o, "Batching on", o.max_batch, 2000, sizes);
  std::printf(
      "\n| configuration | best req/s within bound | clients | p50 ms | p99 ms |\n"
      "|---|---:|---:|---:|---:|\n");
  std::printf("| batching off | %.1f | %d | %.1f | %.1f |\n", off.throughput, off.clients, off.p50,
              off.p99);
  std::printf("| batching on (max %d) | %.1f | %d | %.1f | %.1f |\n", o.max_batch, on.throughput,
              on.clients, on.p50, on.p99);
  std::printf("\nspeed-up: %.2fx\n", off.throughput > 0 ? on.throughput / off.throughput : NAN);
  if (on_out) *on_out = on;
}

// The floor under any HTTP server on this machine: a blocking responder on one kept-alive loopback
// connection that answers every request with a fixed 3-byte body. What the benchmark's client, the
// kernel's loopback and one thread wake-up each way cost, with no HTTP library at all.
class MinimalResponder {
 public:
  MinimalResponder() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("minimal responder: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~MinimalResponder() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (conn_fd_ >= 0) ::shutdown(conn_fd_, SHUT_RDWR);
    thread_.join();
    if (conn_fd_ >= 0) ::close(conn_fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    conn_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (conn_fd_ < 0) return;
    int one = 1;
    ::setsockopt(conn_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static constexpr std::string_view kReply = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    std::string in;
    char buf[16384];
    for (;;) {
      // One request: headers, then Content-Length bytes of body.
      std::size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        auto n = ::recv(conn_fd_, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<std::size_t>(n));
      }
      std::size_t body = 0;
      if (auto at = in.find("Content-Length: "); at != std::string::npos && at < head_end) {
        body = std::strtoul(in.c_str() + at + 16, nullptr, 10);
      }
      while (in.size() < head_end + 4 + body) {
        auto n = ::recv(conn_fd_, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<std::size_t>(n));
      }
      in.erase(0, head_end + 4 + body);
      if (::send(conn_fd_, kReply.data(), kReply.size(), MSG_NOSIGNAL) <= 0) return;
    }
  }

  int listen_fd_ = -1, conn_fd_ = -1, port_ = 0;
  std::thread thread_;
};

// A metric's value in Prometheus text (`series` is the name with its labels, as printed); NaN when
// absent.
double metric_value(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? NAN : std::stod(text.substr(at + series.size() + 2));
}

// One measured path of the overhead breakdown: `call` does one request (or model call).
struct OverheadPath {
  OverheadPath(std::string n, std::string s, std::function<void()> c)
      : name(std::move(n)), server(std::move(s)), call(std::move(c)) {}
  std::string name, server;  // server: "new", "baseline" or "" (not a server)
  std::function<void()> call;
  std::vector<double> seconds;
  double mean_us() const {
    double sum = 0;
    for (double x : seconds) sum += x;
    return sum / std::max<std::size_t>(1, seconds.size()) * 1e6;
  }
  double p(double q) const { return percentile(seconds, q) * 1e6; }
};

// Server-side sums from /metrics: forward passes and requests as the server timed them.
struct ServerTotals {
  double forward_sum = 0, forward_count = 0, request_sum = 0, request_count = 0;
  static ServerTotals read(LoopbackHttp& http) {
    auto text = http.request("GET", "/metrics").body;
    const std::string completions = "{endpoint=\"completions\"}";
    return {metric_value(text, "deepseek_inference_forward_duration_seconds_sum"),
            metric_value(text, "deepseek_inference_forward_duration_seconds_count"),
            metric_value(text, "deepseek_inference_request_duration_seconds_sum" + completions),
            metric_value(text, "deepseek_inference_request_duration_seconds_count" + completions)};
  }
  ServerTotals since(const ServerTotals& before) const {
    return {forward_sum - before.forward_sum, forward_count - before.forward_count,
            request_sum - before.request_sum, request_count - before.request_count};
  }
};

// Where a max_tokens-1 request's time goes. Every path is measured in the same rounds, one call of
// each per round in a random order, so that a noisy neighbour slows all of them alike; with
// --baseline-server the same paths through an older server binary are measured in the same rounds
// too (A/B).
void overhead_mode(const Options& o) {
  const int n = o.overhead_requests;
  const RequestSize size{64, 1};
  Options tiny = o;
  if (!o.tiny_model.empty()) tiny.model = o.tiny_model;
  auto model = load_torchscript_model({tiny.model, o.device, 256, o.threads});
  if (!model) throw std::runtime_error(model.error());
  const std::string body = body_for(size);
  std::vector<TokenId> tokens(64);
  for (int i = 0; i < 64; ++i) {
    tokens[i] = static_cast<unsigned char>("The quick brown fox "[i % 20]);
  }
  std::vector<float> logits;
  std::uint64_t next_id = 1;

  struct Server {
    std::string label;
    std::unique_ptr<ServerProcess> null_model, tiny_model;
    std::unique_ptr<LoopbackHttp> null_http, tiny_http, metrics_http;
  };
  std::vector<Server> servers;
  for (const auto& [label, binary] :
       {std::pair{std::string("new"), o.server}, std::pair{std::string("baseline"), o.baseline}}) {
    if (binary.empty()) continue;
    Options null_options = tiny, tiny_options = tiny;
    null_options.server = tiny_options.server = binary;
    null_options.model = std::string(kNullModelPath);
    Server s{label,
             start_server(null_options, 1, 0, 64),
             start_server(tiny_options, 1, 0, 64),
             nullptr,
             nullptr,
             nullptr};
    s.null_http = std::make_unique<LoopbackHttp>(s.null_model->port());
    s.tiny_http = std::make_unique<LoopbackHttp>(s.tiny_model->port());
    s.metrics_http = std::make_unique<LoopbackHttp>(s.tiny_model->port());
    servers.push_back(std::move(s));
  }
  MinimalResponder floor;
  LoopbackHttp floor_http(floor.port());

  // The server's own request logic without HTTP: ApiService::handle in this process, wired as
  // main.cc wires it (builtin:null model, first step on the caller, no limits, no cache).
  struct StatusResponder final : Responder {
    std::atomic<int> status{0};
    void reply(HttpResponse r) override { status = r.status; }
    void start_stream(int, const std::string&, Headers) override {}
    void write(std::string) override {}
    void end() override {}
  };
  NullModel null_model;
  ServerMetrics metrics({"deepseek-byte-lm", "cpu", 1, 64});
  SchedulerOptions scheduler_options{1, std::chrono::microseconds(0), 64};
  scheduler_options.first_step_on_caller = true;
  BatchScheduler scheduler(null_model, scheduler_options, &metrics);
  RateLimiter limiter({0, 0});
  ServiceOptions service_options;
  service_options.limits = {"deepseek-byte-lm", 64, 16, 1 << 20};
  ApiService service(service_options, scheduler, limiter, nullptr, nullptr, metrics);
  service.set_ready(true);
  auto in_process_once = [&] {
    HttpRequest request;
    request.method = "POST";
    request.path = "/v1/completions";
    request.headers = {{"host", "127.0.0.1"},
                       {"content-type", "application/json"},
                       {"content-length", std::to_string(body.size())}};
    request.body = body;
    request.client_address = "127.0.0.1";
    auto responder = std::make_shared<StatusResponder>();
    service.handle(request, responder);
    return responder->status.load();
  };
  // The scheduler thread goes idle shortly after it starts; from then on (nothing else uses it)
  // every request is answered by the caller's step before handle() returns.
  for (int i = 0; i < 1000 && in_process_once() != 200; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  auto in_process = [&] {
    if (int status = in_process_once(); status != 200) {
      throw std::runtime_error("overhead: in-process request answered " + std::to_string(status));
    }
  };

  auto expect_200 = [](const LoopbackResponse& r, const std::string& what) {
    if (r.status != 200) {
      throw std::runtime_error("overhead: " + what + " answered " + std::to_string(r.status));
    }
  };
  std::vector<OverheadPath> paths;
  paths.emplace_back("loopback floor: a blocking 20-line responder, no HTTP library", "",
                     [&] { expect_200(floor_http.request("POST", "/", body), "floor"); });
  paths.emplace_back(
      "ApiService::handle in this process, builtin:null model (JSON + queue + scheduler, no "
      "HTTP)",
      "", in_process);
  for (auto& s : servers) {
    paths.emplace_back("GET /healthz (HTTP only)", s.label,
                       [&] { expect_200(s.null_http->request("GET", "/healthz"), "/healthz"); });
  }
  for (auto& s : servers) {
    paths.emplace_back("POST, builtin:null model (HTTP + JSON + queue + scheduler, no model)",
                       s.label, [&] {
                         expect_200(s.null_http->request("POST", "/v1/completions", body),
                                    "null-model completion");
                       });
  }
  paths.emplace_back("tiny model called directly (prompt pass, release)", "", [&] {
    std::vector<SequenceRef> batch{{next_id++, tokens}};
    (*model)->next_token_logits(batch, logits);
    (*model)->release(batch[0].id);
  });
  const std::size_t direct = paths.size() - 1;
  std::vector<std::size_t> served;
  for (auto& s : servers) {
    served.push_back(paths.size());
    paths.emplace_back("POST, tiny model (everything)", s.label, [&] {
      expect_200(s.tiny_http->request("POST", "/v1/completions", body), "completion");
    });
  }

  for (int i = 0; i < 50; ++i) {
    for (auto& path : paths) path.call();
  }
  std::vector<ServerTotals> before;
  for (auto& s : servers) before.push_back(ServerTotals::read(*s.metrics_http));
  // Each round in a new random order: no path always follows the model call (cold caches) or
  // another server's request.
  std::vector<std::size_t> order(paths.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(7);
  for (int i = 0; i < n; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    for (auto k : order) {
      const auto t0 = Clock::now();
      paths[k].call();
      paths[k].seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  std::printf(
      "\n## Server overhead per request (model %s; %d rounds, each one call of every path in "
      "turn; 64-byte prompt, max_tokens 1; servers with max batch 1, max wait 0)\n\n",
      tiny.model.c_str(), n);
  std::printf(
      "| path | server | p50 us | p90 us | p99 us | mean us |\n|---|---|---:|---:|---:|---:|\n");
  for (const auto& path : paths) {
    std::printf("| %s | %s | %.0f | %.0f | %.0f | %.0f |\n", path.name.c_str(),
                path.server.empty() ? "-" : path.server.c_str(), path.p(0.5), path.p(0.9),
                path.p(0.99), path.mean_us());
  }
  std::printf(
      "\n| server | overhead at the median (served p50 - direct p50) us | overhead on average "
      "(served mean - server's forward mean) us | server's forward mean us | inside the server's "
      "handler (arrival to reply), mean us | outside it (listener, kernel, client), mean us | "
      "target < 200 us at the median |\n|---|---:|---:|---:|---:|---:|:---:|\n");
  for (std::size_t k = 0; k < servers.size(); ++k) {
    const auto totals = ServerTotals::read(*servers[k].metrics_http).since(before[k]);
    const auto& path = paths[served[k]];
    const double forward_mean = totals.forward_sum / totals.forward_count * 1e6;
    const double handler_mean = totals.request_sum / totals.request_count * 1e6;
    const double overhead = path.p(0.5) - paths[direct].p(0.5);
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", servers[k].label.c_str(),
                overhead, path.mean_us() - forward_mean, forward_mean, handler_mean,
                path.mean_us() - handler_mean, overhead < 200 ? "met" : "not met");
  }
}

// Cost of one forward pass by batch size and sequence length: where batching's gain comes from.
void forward_mode(const Options& o) {
  auto model = load_torchscript_model({o.model, o.device, 256, o.threads});
  if (!model) throw std::runtime_error(model.error());
  auto& lm = **model;
  std::printf("\n## Forward pass cost (%s, context %d, %d LibTorch threads)\n\n", o.model.c_str(),
              lm.context_length(), o.threads);
  std::printf(
      "| tokens per sequence | batch | ms per generation step (median of 20) | us per sequence "
      "|\n|---:|---:|---:|---:|\n");
  std::uint64_t next_id = 1;
  for (int t : {8, 32, 64, 128}) {
    if (t + 30 > lm.context_length()) break;
    for (int b : {1, 4, 16, 32}) {
      std::vector<std::vector<TokenId>> seqs(b, std::vector<TokenId>(t, 65));
      std::vector<std::uint64_t> ids(b);
      for (auto& id : ids) id = next_id++;
      auto refs = [&] {
        std::vector<SequenceRef> r;
        for (int i = 0; i < b; ++i) r.push_back({ids[i], seqs[i]});
        return r;
      };
      std::vector<float> logits;
      std::vector<double> times;
      lm.next_token_logits(refs(), logits);  // prompt pass (fills a KV cache if the model has one)
      for (int i = 0; i < 23; ++i) {
        for (auto& s : seqs) s.push_back(66);
        auto r = refs();
        auto t0 = Clock::now();
        lm.next_token_logits(r, logits);
        if (i >= 3) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      for (auto id : ids) lm.release(id);
      const double ms = percentile(times, 0.5) * 1e3;
      std::printf("| %d | %d | %.2f | %.0f |\n", t, b, ms, ms * 1e3 / b);
      std::fflush(stdout);
    }
  }
}

void overload_mode(const Options& o, const std::vector<RequestSize>& sizes, Capacity capacity,
                   int seconds, bool soak) {
  if (capacity.throughput <= 0) {
    std::printf("\n(capacity unknown: measuring it)\n");
    capacity = sweep(o, "Batching on", o.max_batch, 2000, sizes);
  }
  // A queue that drains within about half the bound at capacity keeps admitted p99 within it.
  // The queue is bounded by expected wait, measured by the server itself, not by a count derived
  // from the capacity measured here. A quarter of the bound leaves the rest for the generation
  // itself (a full batch of 32-token requests) and for scheduling noise.
  const int queue = 4096;
  const int queue_wait_ms = static_cast<int>(o.bound_ms / 4);
  auto server = start_server(o, o.max_batch, 2000, queue, queue_wait_ms);
  const long rss_start = rss_kib(server->pid());
  const double rate = 2 * capacity.throughput;
  std::printf(
      "\n## %s: open loop at 2x capacity (%.1f req/s offered, capacity %.1f), max queue %d, "
      "max queue wait %d ms, %d s\n\n",
      soak ? "Soak" : "Overload", rate, capacity.throughput, queue, queue_wait_ms, seconds);
  std::vector<std::pair<int, long>> rss_samples{{0, rss_start}};
  RunResult r;
  if (soak) {
    std::atomic<bool> stop{false};
    std::thread sampler([&] {
      for (int t = 30; t <= seconds && !stop; t += 30) {
        for (int i = 0; i < 300 && !stop; ++i) std::this_thread::sleep_for(100ms);
        if (!stop) rss_samples.emplace_back(t, rss_kib(server->pid()));
      }
    });
    r = open_loop(server->port(), rate, sizes, std::chrono::seconds(seconds));
    stop = true;
    sampler.join();
  } else {
    r = open_loop(server->port(), rate, sizes, std::chrono::seconds(seconds));
  }
  const long rss_end = rss_kib(server->pid());
  LoopbackHttp probe(server->port());
  const bool alive = probe.request("GET", "/healthz").status == 200;
  const long total = r.ok + r.shed + r.errors;
  std::printf(
      "| offered | admitted (200) | shed (429) | errors | admitted req/s | admitted p50 ms | "
      "admitted p99 ms | p99 within %.0f ms | server alive | RSS start MiB | RSS end MiB |\n"
      "|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|---:|---:|\n",
      o.bound_ms);
  std::printf("| %ld | %ld | %ld (%.0f%%) | %ld | %.1f | %.1f | %.1f | %s | %s | %.1f | %.1f |\n",
              total, r.ok, r.shed, 100.0 * r.shed / std::max(1L, total), r.errors, r.throughput(),
              percentile(r.ok_latencies, 0.5) * 1e3, percentile(r.ok_latencies, 0.99) * 1e3,
              percentile(r.ok_latencies, 0.99) * 1e3 <= o.bound_ms ? "yes" : "no",
              alive ? "yes" : "no", rss_start / 1024.0, rss_end / 1024.0);
  if (soak) {
    std::printf("\n| seconds | server RSS MiB |\n|---:|---:|\n");
    for (auto [t, kib] : rss_samples) std::printf("| %d | %.1f |\n", t, kib / 1024.0);
    std::printf("| %d | %.1f |\n", seconds, rss_end / 1024.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "inference_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--server")
      o.server = value();
    else if (a == "--baseline-server")
      o.baseline = value();
    else if (a == "--overhead-requests")
      o.overhead_requests = std::stoi(value());
    else if (a == "--model")
      o.model = value();
    else if (a == "--overhead-model")
      o.tiny_model = value();
    else if (a == "--trace")
      o.trace = value();
    else if (a == "--mode")
      o.mode = value();
    else if (a == "--device")
      o.device = value();
    else if (a == "--bound-ms")
      o.bound_ms = std::stod(value());
    else if (a == "--duration-s")
      o.duration_s = std::stoi(value());
    else if (a == "--soak-s")
      o.soak_s = std::stoi(value());
    else if (a == "--threads")
      o.threads = std::stoi(value());
    else if (a == "--max-batch")
      o.max_batch = std::stoi(value());
    else if (a == "-h" || a == "--help") {
      std::cout
          << "usage: inference_bench --server BIN --model PT --trace CSV [--mode "
             "all|throughput|overhead|overload|soak|forward] [--device cpu|cuda] [--bound-ms N] "
             "[--duration-s N] [--soak-s N] [--threads N] [--max-batch N] [--overhead-model PT] "
             "[--overhead-requests N] [--baseline-server BIN]\n";
      return 0;
    } else {
      std::cerr << "inference_bench: unknown argument '" << a << "' (try --help)\n";
      return 2;
    }
  }
  if (o.server.empty() || o.model.empty() || o.trace.empty()) {
    std::cerr << "inference_bench: need --server, --model and --trace (try --help)\n";
    return 2;
  }
  try {
    const auto sizes = load_trace(o.trace);
    std::printf(
        "# inference_bench: device %s, LibTorch threads %d, p99 bound %.0f ms, %zu trace rows\n",
        o.device.c_str(), o.threads, o.bound_ms, sizes.size());
    Capacity capacity;
    if (o.mode == "all" || o.mode == "overhead") overhead_mode(o);
    if (o.mode == "all" || o.mode == "throughput") throughput_mode(o, sizes, &capacity);
    if (o.mode == "all" || o.mode == "overload") overload_mode(o, sizes, capacity, 20, false);
    if (o.mode == "forward") forward_mode(o);
    if (o.mode == "soak") overload_mode(o, sizes, capacity, o.soak_s, true);
  } catch (const std::exception& e) {
    std::cerr << "inference_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
