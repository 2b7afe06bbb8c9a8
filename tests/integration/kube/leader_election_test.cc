// Leader election between separate processes (kube_it_elector) on the real API server, with the
// default timings (15 s lease, 10 s renew deadline, 2 s retry): kill -9 the leader and the other
// leads within one lease duration (plus one retry period); SIGTERM releases at once; from the
// shared log, leadership intervals never overlap.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "kube_it_util.h"

namespace dso::kube::it {
namespace {

using namespace std::chrono_literals;

long long realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

struct Proc {
  pid_t pid = -1;
  std::string id;
};

Proc spawn(const std::string& kubeconfig, const std::string& ns, const std::string& lease,
           const std::string& log) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    const char* exe = std::getenv("DSO_KUBE_ELECTOR");
    ::execl(exe, exe, kubeconfig.c_str(), ns.c_str(), lease.c_str(), log.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::string id;
  char ch;
  while (::read(out[0], &ch, 1) == 1 && ch != '\n') id += ch;
  ::close(out[0]);
  return {pid, id};
}

struct Line {
  std::string id, what;
  long long t;
};

std::vector<Line> read_log(const std::string& path) {
  std::vector<Line> out;
  std::ifstream in(path);
  for (std::string s; std::getline(in, s);) {
    std::istringstream ls(s);
    Line l;
    if (ls >> l.id >> l.what >> l.t) out.push_back(l);
  }
  return out;
}

// The moment `id` logged START, or -1.
long long started_at(const std::vector<Line>& log, const std::string& id) {
  for (const auto& l : log) {
    if (l.id == id && l.what == "START") return l.t;
  }
  return -1;
}

TEST(LeaderElection, KillNineHandsOverWithinALeaseAndLeadersNeverOverlap) {
  ASSERT_NE(std::getenv("DSO_KUBE_ELECTOR"), nullptr);
  const auto cluster =
      dso::testing::LocalCluster::open(cluster_name("DSO_KUBE_IT_CLUSTER", "ctest"));
  auto client = make_client(cluster);
  const std::string ns = "kube-it-election-" + std::to_string(::getpid());
  ensure_namespace(*client, ns);
  const std::string log = "/tmp/kube-it-election-" + std::to_string(::getpid()) + ".log";
  std::remove(log.c_str());

  Proc a = spawn(cluster.kubeconfig.string(), ns, "lock", log);
  ASSERT_TRUE(eventually([&] { return started_at(read_log(log), a.id) > 0; }, 20s));
  Proc b = spawn(cluster.kubeconfig.string(), ns, "lock", log);
  std::this_thread::sleep_for(5s);  // b follows while a renews
  EXPECT_EQ(started_at(read_log(log), b.id), -1);

  ::kill(a.pid, SIGKILL);
  ::waitpid(a.pid, nullptr, 0);
  const long long killed = realtime_ns();
  ASSERT_TRUE(eventually([&] { return started_at(read_log(log), b.id) > 0; }, 25s));
  const double takeover_s = (started_at(read_log(log), b.id) - killed) / 1e9;
  // One lease duration, counted from when b saw a's last renewal (at its poll after it: up to one
  // jittered 2.4 s retry period late), noticed at a poll (up to another): 15 + 2 x 2.4 s, plus
  // the requests' time. At least the lease duration less the renewal a may have made just before
  // the kill: b waited for the lease to expire.
  EXPECT_LE(takeover_s, 15.0 + 2 * 2.4 + 1.0);
  EXPECT_GE(takeover_s, 15.0 - 2.4);

  // A third participant; SIGTERM b: it releases and c leads without waiting for expiry.
  Proc c = spawn(cluster.kubeconfig.string(), ns, "lock", log);
  std::this_thread::sleep_for(3s);
  ::kill(b.pid, SIGTERM);
  int status = 0;
  ::waitpid(b.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const long long released = realtime_ns();
  ASSERT_TRUE(eventually([&] { return started_at(read_log(log), c.id) > 0; }, 25s));
  const double handover_s = (started_at(read_log(log), c.id) - released) / 1e9;
  EXPECT_LE(handover_s, 2 * 2.4);
  std::this_thread::sleep_for(1s);
  ::kill(c.pid, SIGTERM);
  ::waitpid(c.pid, nullptr, 0);

  // Leadership intervals from the shared log: [START, last ACT]: the work a leader does must not
  // overlap. (Not STOP: an elector releases the Lease before it logs STOP, so a successor that
  // is fast can log START first; a was killed and logged none.)
  const auto lines = read_log(log);
  struct Interval {
    std::string id;
    long long from, to;
  };
  std::vector<Interval> intervals;
  for (const auto& p : {a.id, b.id, c.id}) {
    long long from = -1, to = -1;
    for (const auto& l : lines) {
      if (l.id != p) continue;
      if (l.what == "START") from = l.t;
      if (l.what == "ACT") to = std::max(to, l.t);
    }
    ASSERT_GT(from, 0) << p;
    intervals.push_back({p, from, to});
  }
  std::sort(intervals.begin(), intervals.end(), [](auto& x, auto& y) { return x.from < y.from; });
  for (std::size_t i = 1; i < intervals.size(); ++i) {
    EXPECT_GT(intervals[i].from, intervals[i - 1].to)
        << intervals[i - 1].id << " still acted when " << intervals[i].id << " started";
  }
  std::printf(
      "kill -9 -> new leader after %.2f s; SIGTERM release -> new leader after %.2f s; "
      "gaps between intervals: %.2f s, %.2f s\n",
      takeover_s, handover_s, (intervals[1].from - intervals[0].to) / 1e9,
      (intervals[2].from - intervals[1].to) / 1e9);
  client->remove(Resource::namespaces(), "", ns);
  std::remove(log.c_str());
}

}  // namespace
}  // namespace dso::kube::it
