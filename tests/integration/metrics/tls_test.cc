// PrometheusClient over TLS: certificates are verified (CA file, host name), against a real TLS
// server (`openssl s_server -WWW` serving a Prometheus answer from a file).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "metrics/prometheus_client.h"
#include "support/processes.h"

namespace dso::metrics {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

class PrometheusTls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dso-prom-tls-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_ / "api" / "v1");
    for (const std::string name : {"server", "other"}) {
      run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "
          "subjectAltName=IP:127.0.0.1 -keyout '" +
          (dir_ / (name + ".key")).string() + "' -out '" + (dir_ / (name + ".crt")).string() + "'");
    }
    // GET /api/v1/query?query=up&timeout=2000ms -> this file.
    std::ofstream(dir_ / "api" / "v1" / "query?query=up&timeout=2000ms")
        << R"({"status":"success","data":{"resultType":"scalar","result":[1,"42"]}})";
    std::ofstream(dir_ / "token") << "tls-token\n";
    port_ = 20000 + static_cast<int>(std::random_device{}() % 20000);
    server_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c",
                                 "cd '" + dir_.string() + "' && exec openssl s_server -quiet " +
                                     "-WWW -accept " + std::to_string(port_) +
                                     " -cert server.crt -key server.key"},
        dir_ / "s_server.log");
    // Ready when a verified query answers.
    for (int i = 0; i < 50; ++i) {
      if (query("127.0.0.1", dir_ / "server.crt").has_value()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "openssl s_server not ready: " << server_->log_text();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  PromResult<QueryResult> query(const std::string& host, const fs::path& ca) {
    PrometheusConfig c;
    c.url = "https://" + host + ":" + std::to_string(port_);
    c.ca_file = ca.string();
    c.bearer_token_file = (dir_ / "token").string();
    c.use_post = false;  // s_server -WWW serves GET
    c.timeout = std::chrono::milliseconds(2000);
    c.max_attempts = 1;
    auto client = PrometheusClient::create(c);
    if (!client) return std::unexpected(client.error());
    return (*client)->query("up");
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<testing::ChildProcess> server_;
};

TEST_F(PrometheusTls, TrustsTheGivenCa) {
  const auto r = query("127.0.0.1", dir_ / "server.crt");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->type, ResultType::kScalar);
  EXPECT_EQ(r->series[0].points[0].value, 42);
}

TEST_F(PrometheusTls, RefusesAnUntrustedCertificate) {
  const auto wrong_ca = query("127.0.0.1", dir_ / "other.crt");
  ASSERT_FALSE(wrong_ca.has_value());
  EXPECT_TRUE(contains(wrong_ca.error().message, "unreachable: Error in SSL handshake"))
      << wrong_ca.error().message;
  EXPECT_EQ(wrong_ca.error().kind, PrometheusError::Kind::kUnreachable) << wrong_ca.error().message;
  EXPECT_TRUE(contains(wrong_ca.error().message, "https://127.0.0.1:" + std::to_string(port_)))
      << wrong_ca.error().message;
  EXPECT_FALSE(contains(wrong_ca.error().message, "tls-token"));
  // No CA file: the system's roots, which do not hold this self-signed certificate.
  const auto system_roots = query("127.0.0.1", "");
  ASSERT_FALSE(system_roots.has_value());
  EXPECT_EQ(system_roots.error().kind, PrometheusError::Kind::kUnreachable);
}

TEST_F(PrometheusTls, ChecksTheHostName) {
  // The certificate names IP 127.0.0.1 only; "localhost" reaches the same server.
  const auto r = query("localhost", dir_ / "server.crt");
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(contains(r.error().message, "unreachable: Error in SSL handshake"))
      << r.error().message;
  EXPECT_EQ(r.error().kind, PrometheusError::Kind::kUnreachable) << r.error().message;
}

}  // namespace
}  // namespace dso::metrics
