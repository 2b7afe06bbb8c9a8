// kube_it_elector: one leader-election participant for the integration test. It competes for a
// Lease with the default timings (or those given) and appends to a shared log, one line per
// write with O_APPEND:  "<identity> START|ACT|STOP <CLOCK_REALTIME ns>". ACT lines are written
// every 100 ms while is_leader() holds. SIGTERM stops it cleanly (releasing the lease); lost
// leadership exits with status 3, as a controller process would.
//
//   kube_it_elector KUBECONFIG NAMESPACE LEASE LOGFILE [LEASE_MS RENEW_MS RETRY_MS]
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "kube/config.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"

namespace {

std::atomic<bool> g_term{false};
int g_log = -1;

long long realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

void write_line(const std::string& id, const char* what) {
  const std::string line = id + " " + what + " " + std::to_string(realtime_ns()) + "\n";
  if (::write(g_log, line.data(), line.size()) < 0) std::perror("write");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dso::kube;
  if (argc != 5 && argc != 8) {
    std::fprintf(stderr,
                 "usage: %s KUBECONFIG NAMESPACE LEASE LOGFILE [LEASE_MS RENEW_MS RETRY_MS]\n",
                 argv[0]);
    return 2;
  }
  auto config = load_kubeconfig({argv[1]});
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().c_str());
    return 2;
  }
  auto client = RestClient::create(*config);
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().c_str());
    return 2;
  }
  g_log = ::open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
  std::signal(SIGTERM, [](int) { g_term = true; });
  LeaderElectionConfig c;
  c.lease_namespace = argv[2];
  c.lease_name = argv[3];
  if (argc == 8) {
    c.lease_duration = std::chrono::milliseconds(std::stol(argv[5]));
    c.renew_deadline = std::chrono::milliseconds(std::stol(argv[6]));
    c.retry_period = std::chrono::milliseconds(std::stol(argv[7]));
  }
  std::string id = default_identity();
  c.identity = id;
  std::atomic<bool> lost{false};
  std::atomic<bool> leading{false};
  c.on_started_leading = [&] {
    write_line(id, "START");
    leading = true;
  };
  c.on_stopped_leading = [&] {
    leading = false;
    write_line(id, "STOP");
    if (!g_term) lost = true;
  };
  c.on_log = [&](const std::string& m) { std::fprintf(stderr, "%s: %s\n", id.c_str(), m.c_str()); };
  LeaderElector elector(*client, c);
  std::printf("%s\n", id.c_str());
  std::fflush(stdout);
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  while (!g_term && !lost) {
    if (leading && elector.is_leader()) write_line(id, "ACT");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  runner.request_stop();
  runner.join();
  return lost ? 3 : 0;
}
