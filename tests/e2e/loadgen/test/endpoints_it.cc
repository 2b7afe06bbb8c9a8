// dso-loadgen following a Service's Endpoints on the local control plane (fixture kube): the
// admin client writes an Endpoints object that points at a fake server on this machine's
// non-loopback address (the API server refuses loopback endpoint IPs), then takes it away and
// gives it back; arrivals meanwhile are errors "no endpoints".
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include "fake_server.h"
#include "loadgen/load_generator.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace dso::loadgen {
namespace {

using testing::FakeAnswer;
using testing::FakeServer;
constexpr Millis kHangGuard{120'000};  // only to turn a hang into a failure; never expected
const kube::Resource kEndpoints{"", "v1", "endpoints", true};

// An IPv4 address of an interface that is up and not loopback; "" when there is none.
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN];
    const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text) != nullptr) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

kube::Json endpoints(const std::string& name, const Address& a, bool ready) {
  const kube::Json address = {{"ip", a.ip}};
  kube::Json subset = {{"ports", {{{"name", "http"}, {"port", a.port}, {"protocol", "TCP"}}}}};
  subset[ready ? "addresses" : "notReadyAddresses"] = kube::Json::array({address});
  return {{"apiVersion", "v1"},
          {"kind", "Endpoints"},
          {"metadata", {{"name", name}}},
          {"subsets", kube::Json::array({subset})}};
}

TEST(LoadgenEndpoints, FollowsReadyAddressesOfAService) {
  const std::string ip = non_loopback_ipv4();
  if (ip.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  FakeServer server([](const std::string&) { return FakeAnswer{testing::stream_answer()}; }, ip);
  const auto cluster = dso::testing::LocalCluster::open("ctest");
  const auto admin = dso::testing::admin_client(cluster.kubeconfig);
  const std::string ns = "loadgen-it-" + std::to_string(::getpid());
  ASSERT_TRUE(
      admin->create(kube::Resource::namespaces(), "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}));
  ASSERT_TRUE(admin->create(kEndpoints, ns, endpoints("lg-svc", server.address(), true)));

  Options o;
  o.rate = 100;
  o.kubeconfig = cluster.kubeconfig.string();
  o.service_namespace = ns;
  o.service_name = "lg-svc";
  o.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  auto gen = LoadGenerator::create(o);
  ASSERT_TRUE(gen) << gen.error();
  ASSERT_TRUE((*gen)->start());
  EXPECT_EQ((*gen)->snapshot().totals.ready_endpoints, 1);  // listed before start() returns
  ASSERT_TRUE((*gen)->wait_for_completed(20, kHangGuard));

  // Not ready: arrivals find no endpoint.
  ASSERT_TRUE(admin->update_with_retry(kEndpoints, ns, "lg-svc", [&](kube::Json& e) {
    e["subsets"] = endpoints("lg-svc", server.address(), false)["subsets"];
    return true;
  }));
  ASSERT_TRUE((*gen)->wait_until(
      [](const Totals& t) {
        return t.ready_endpoints == 0 && t.errors_by_kind.contains("no_endpoints") &&
               t.errors_by_kind.at("no_endpoints") >= 10;
      },
      kHangGuard));
  // Ready again: requests complete again.
  const std::uint64_t completed = (*gen)->snapshot().totals.completed;
  ASSERT_TRUE(admin->update_with_retry(kEndpoints, ns, "lg-svc", [&](kube::Json& e) {
    e["subsets"] = endpoints("lg-svc", server.address(), true)["subsets"];
    return true;
  }));
  ASSERT_TRUE((*gen)->wait_for_completed(completed + 20, kHangGuard));
  // Deleted: none.
  ASSERT_TRUE(admin->remove(kEndpoints, ns, "lg-svc"));
  ASSERT_TRUE(
      (*gen)->wait_until([](const Totals& t) { return t.ready_endpoints == 0; }, kHangGuard));
  (*gen)->stop();
  (*gen)->wait();
  const Snapshot s = (*gen)->snapshot();
  EXPECT_EQ(s.totals.errors, s.totals.errors_by_kind.at("no_endpoints")) << s.totals.last_error;
  EXPECT_EQ(s.totals.completed + s.totals.errors, s.totals.offered);
  ASSERT_FALSE(s.rows.empty());
  EXPECT_EQ(s.rows.back().ready_endpoints, 0);  // a row holds the last count seen in its second
  admin->remove(kube::Resource::namespaces(), "", ns);
}

}  // namespace
}  // namespace dso::loadgen
