// dso-loadgen against the real inference server (builtin:gpu-sim) on a loopback port: a constant
// rate completes whole, streamed and not; a server that dies turns into counted errors, not a
// hang. Skipped in builds without the server (DSO_BUILD_INFERENCE=OFF).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "loadgen/load_generator.h"
#include "server_process.h"

namespace dso::loadgen {
namespace {

using inference::testing::ServerProcess;
constexpr Millis kHangGuard{120'000};  // only to turn a hang into a failure; never expected

#ifdef DSO_INFERENCE_SERVER
std::unique_ptr<ServerProcess> start_server(const std::string& log) {
  auto server = std::make_unique<ServerProcess>(
      DSO_INFERENCE_SERVER,
      std::vector<std::string>{"--model", "builtin:gpu-sim", "--gpu-sim-step-ms", "20",
                               "--max-batch-size", "64", "--warmup-batches", "0", "--max-queue",
                               "1024", "--rate-limit-per-second", "0", "--rate-limit-per-hour",
                               "0"},
      ::testing::TempDir() + log);
  if (!server->wait_ready(std::chrono::seconds(60))) throw std::runtime_error("server not ready");
  return server;
}
#define REQUIRE_SERVER()
#else
#define REQUIRE_SERVER() GTEST_SKIP() << "built without deepseek-inference-server"
std::unique_ptr<ServerProcess> start_server(const std::string&) {
  return nullptr;
}
#endif

Options options(int port, double rate) {
  Options o;
  o.rate = rate;
  o.targets = {{"127.0.0.1", static_cast<std::uint16_t>(port)}};
  o.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  return o;
}

std::unique_ptr<LoadGenerator> started(const Options& o) {
  auto g = LoadGenerator::create(o);
  if (!g) throw std::runtime_error(g.error());
  if (auto ok = (*g)->start(); !ok) throw std::runtime_error(ok.error());
  return std::move(*g);
}

void expect_all_completed(const Snapshot& s) {
  const Totals& t = s.totals;
  EXPECT_GT(t.offered, 0u);
  EXPECT_EQ(t.completed, t.offered);
  EXPECT_EQ(t.errors, 0u) << t.last_error;
  EXPECT_EQ(t.rejected, 0u) << t.last_error;
  EXPECT_EQ(s.totals.violation_seconds, 0u);
  // Sane: at least one 20 ms model step, first content no later than the last byte.
  EXPECT_GE(t.p50_s, 0.02);
  EXPECT_LE(t.ttft_p50_s, t.p50_s * 1.01);
  std::uint64_t offered = 0, completed = 0;
  for (const auto& r : s.rows) offered += r.offered, completed += r.completed;
  EXPECT_EQ(offered, t.offered);
  EXPECT_EQ(completed, t.completed);
}

TEST(LoadgenServer, ConstantRateCompletesEveryRequest) {
  REQUIRE_SERVER();
  const auto server = start_server("loadgen-server-rate.log");
  auto o = options(server->port(), 40);
  o.duration = Millis(3000);
  auto gen = started(o);
  gen->wait();
  expect_all_completed(gen->snapshot());
  EXPECT_GT(gen->snapshot().totals.ttft_p50_s, 0);

  auto plain = options(server->port(), 20);
  plain.duration = Millis(2000);
  plain.stream = false;
  plain.high_priority_share = 0.5;
  auto gen2 = started(plain);
  gen2->wait();
  expect_all_completed(gen2->snapshot());
}

TEST(LoadgenServer, AServerThatDiesTurnsIntoErrorsNotAHang) {
  REQUIRE_SERVER();
  auto server = start_server("loadgen-server-kill.log");
  auto gen = started(options(server->port(), 50));
  ASSERT_TRUE(gen->wait_for_completed(20, kHangGuard));
  server->signal(SIGKILL);
  ASSERT_EQ(server->wait_exit(std::chrono::seconds(60)), -2);
  // Requests under way when the server died fail as resets or short reads, not as connects: wait
  // for the connect errors themselves (the generator's counters; bounded by the hang guard).
  auto connects = [&] {
    const auto t = gen->snapshot().totals;
    const auto it = t.errors_by_kind.find("connect");
    return it == t.errors_by_kind.end() ? std::uint64_t{0} : it->second;
  };
  const auto guard = std::chrono::steady_clock::now() + kHangGuard;
  while (connects() < 20 && std::chrono::steady_clock::now() < guard)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(connects(), 20u) << gen->snapshot().totals.last_error;
  gen->stop();
  ASSERT_TRUE(gen->wait_for(kHangGuard));
  const Totals t = gen->snapshot().totals;
  EXPECT_EQ(t.completed + t.errors + t.rejected, t.offered);
  EXPECT_EQ(t.in_flight, 0u);
  EXPECT_GE(t.errors_by_kind.at("connect"), 20u) << t.last_error;
  EXPECT_FALSE(t.errors_by_kind.contains("timeout"));  // failures are seen, not waited out
  EXPECT_NE(t.last_error.find("Connection refused"), std::string::npos) << t.last_error;
}

}  // namespace
}  // namespace dso::loadgen
