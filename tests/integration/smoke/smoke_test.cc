// Smoke test of the test foundation: the local control plane and Prometheus started by the ctest
// fixtures are real servers that the project's C++ code reaches over HTTP(S).
#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include <string>

#include "support/local_cluster.h"

namespace {

using dso::testing::LocalCluster;
using dso::testing::LocalPrometheus;
namespace http = web::http;

http::client::http_client_config tls_config(const LocalCluster& cluster) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(30));
  const std::string ca = cluster.ca_file.string();
  config.set_ssl_context_callback(
      [ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
  return config;
}

TEST(Smoke, ReadsConfigMapCreatedWithKubectlOverVerifiedTls) {
  const LocalCluster cluster = LocalCluster::open();
  std::string out;
  ASSERT_EQ(
      cluster.sh("kubectl create namespace smoke --dry-run=client -o yaml | kubectl apply -f -",
                 &out),
      0)
      << out;
  ASSERT_EQ(
      cluster.sh("kubectl -n smoke delete configmap greeting --ignore-not-found && "
                 "kubectl -n smoke create configmap greeting --from-literal=text='hello, cluster'",
                 &out),
      0)
      << out;

  http::client::http_client client(cluster.server, tls_config(cluster));
  http::http_request request(http::methods::GET);
  request.set_request_uri("/api/v1/namespaces/smoke/configmaps/greeting");
  request.headers().add("Authorization", "Bearer " + cluster.admin_token);
  const http::http_response response = client.request(request).get();
  ASSERT_EQ(response.status_code(), http::status_codes::OK);
  const auto body = response.extract_json().get();
  EXPECT_EQ(body.at("metadata").at("name").as_string(), "greeting");
  EXPECT_EQ(body.at("metadata").at("namespace").as_string(), "smoke");
  EXPECT_EQ(body.at("data").at("text").as_string(), "hello, cluster");
}

TEST(Smoke, RejectsServerWhoseCertificateIsNotFromTheConfiguredCa) {
  const LocalCluster cluster = LocalCluster::open();
  // Default trust store only: the local CA is unknown, so the TLS handshake must fail.
  http::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(10));
  http::client::http_client client(cluster.server, config);
  EXPECT_THROW(client.request(http::methods::GET, "/readyz").get(), http::http_exception);
}

TEST(Smoke, UnauthenticatedRequestIsRefused) {
  const LocalCluster cluster = LocalCluster::open();
  http::client::http_client client(cluster.server, tls_config(cluster));
  const auto response =
      client.request(http::methods::GET, "/api/v1/namespaces/smoke/configmaps").get();
  EXPECT_TRUE(response.status_code() == http::status_codes::Unauthorized ||
              response.status_code() == http::status_codes::Forbidden)
      << response.status_code();
}

TEST(Smoke, PrometheusAnswersQueries) {
  const LocalPrometheus prometheus = LocalPrometheus::open();
  http::client::http_client client(prometheus.url);
  const auto response = client.request(http::methods::GET, "/api/v1/query?query=vector(42)").get();
  ASSERT_EQ(response.status_code(), http::status_codes::OK);
  const auto body = response.extract_json().get();
  EXPECT_EQ(body.at("status").as_string(), "success");
  EXPECT_EQ(body.at("data").at("result").at(0).at("value").at(1).as_string(), "42");
}

}  // namespace
