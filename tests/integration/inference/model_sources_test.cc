// Where the server's model comes from, on the real server process: a directory (a mounted volume)
// holding model.pt, an https URL downloaded into that directory before loading (TLS verified),
// and builtin:gpu-sim, the testbed's stand-in for a GPU.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "loopback_http.h"
#include "server_process.h"

namespace dso::inference::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ModelSources : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dso-model-sources-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "served");
    fs::create_directories(dir_ / "volume");
  }
  void TearDown() override {
    if (s_server_pid_ > 0) {
      ::kill(s_server_pid_, SIGKILL);
      ::waitpid(s_server_pid_, nullptr, 0);
    }
    ::unsetenv("SSL_CERT_FILE");
    fs::remove_all(dir_);
  }

  // `openssl s_server -WWW` serving DIR/served over TLS with a certificate for 127.0.0.1.
  int serve_https() {
    const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
    const std::string make =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(make.c_str()), 0);
    const int port = 20000 + static_cast<int>(std::random_device{}() % 20000);
    if (s_server_pid_ > 0) {  // one at a time
      ::kill(s_server_pid_, SIGKILL);
      ::waitpid(s_server_pid_, nullptr, 0);
    }
    s_server_pid_ = ::fork();
    if (s_server_pid_ == 0) {
      if (::chdir((dir_ / "served").c_str()) != 0) ::_exit(127);
      const int fd = ::open((dir_ / "s_server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execlp("openssl", "openssl", "s_server", "-WWW", "-accept", std::to_string(port).c_str(),
               "-cert", cert.c_str(), "-key", key.c_str(), nullptr);
      ::_exit(127);
    }
    // Started, not yet listening: s_server prints ACCEPT once it listens (a server started before
    // that failed its download with "connection refused").
    const fs::path log = dir_ / "s_server.log";
    for (int i = 0; i < 400 && read(log).find("ACCEPT") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    EXPECT_NE(read(log).find("ACCEPT"), std::string::npos) << "openssl s_server: " << read(log);
    return port;
  }

  fs::path dir_;
  pid_t s_server_pid_ = -1;
};

TEST_F(ModelSources, AnHttpsModelIsDownloadedIntoTheVolumeThenServed) {
  fs::copy_file(DSO_BYTE_LM, dir_ / "served" / "model.pt");
  std::string url = "https://127.0.0.1:" + std::to_string(serve_https()) + "/model.pt";
  // The system trust store does not know the test CA: the download must fail, and say why.
  {
    ServerProcess untrusted(DSO_INFERENCE_SERVER,
                            {"--model", (dir_ / "volume").string(), "--model-url", url},
                            (dir_ / "untrusted.log").string());
    EXPECT_EQ(untrusted.wait_exit(60s), 1) << read(dir_ / "untrusted.log");
    EXPECT_NE(read(dir_ / "untrusted.log").find("--model-url " + url), std::string::npos)
        << read(dir_ / "untrusted.log");
    EXPECT_FALSE(fs::exists(dir_ / "volume" / "model.pt"));
    EXPECT_FALSE(fs::exists(dir_ / "volume" / "model.pt.part"));
  }
  url = "https://127.0.0.1:" + std::to_string(serve_https()) + "/model.pt";
  ::setenv("SSL_CERT_FILE", (dir_ / "cert.pem").c_str(), 1);  // OpenSSL's default trust
  ServerProcess server(
      DSO_INFERENCE_SERVER,
      {"--model", (dir_ / "volume").string(), "--model-url", url, "--model-name", "downloaded"},
      (dir_ / "server.log").string());
  ASSERT_TRUE(server.wait_ready(120s)) << read(dir_ / "server.log") << read(dir_ / "s_server.log");
  EXPECT_EQ(fs::file_size(dir_ / "volume" / "model.pt"), fs::file_size(DSO_BYTE_LM));
  EXPECT_NE(read(dir_ / "server.log").find("downloaded " + url), std::string::npos);
  LoopbackHttp http(server.port());
  const auto r = http.request("POST", "/v1/completions",
                              R"({"model":"downloaded","prompt":"hi","max_tokens":4})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ModelSources, AnExistingModelIsNotDownloadedAgain) {
  fs::copy_file(DSO_BYTE_LM, dir_ / "volume" / "model.pt");
  // Nothing listens there: a download attempt would fail the start.
  ServerProcess server(
      DSO_INFERENCE_SERVER,
      {"--model", (dir_ / "volume").string(), "--model-url", "https://127.0.0.1:1/model.pt"},
      (dir_ / "server.log").string());
  ASSERT_TRUE(server.wait_ready(120s)) << read(dir_ / "server.log") << read(dir_ / "s_server.log");
}

TEST_F(ModelSources, GpuSimGeneratesMaxTokensOfLettersAfterItsLoadTime) {
  const auto started = std::chrono::steady_clock::now();
  ServerProcess server(DSO_INFERENCE_SERVER,
                       {"--model", "builtin:gpu-sim", "--gpu-sim-step-ms", "10", "--gpu-sim-load-s",
                        "2", "--warmup-batches", "0", "--model-name", "sim"},
                       (dir_ / "server.log").string());
  ASSERT_TRUE(server.wait_ready(60s)) << read(dir_ / "server.log");
  // The load time is a lower bound on readiness (nothing listens until the "weights" are in).
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2s);
  LoopbackHttp http(server.port());
  const auto r = http.request(
      "POST", "/v1/chat/completions",
      R"({"model":"sim","messages":[{"role":"user","content":"hello"}],"max_tokens":12})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  const std::string text = body["choices"][0]["message"]["content"];
  EXPECT_EQ(text.size(), 12u);
  EXPECT_EQ(text.find_first_not_of("abcdefghijklmnopqrstuvwxyz "), std::string::npos) << text;
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_NE(http.request("GET", "/metrics").body.find("device=\"gpu-sim\""), std::string::npos);
}

// A pod deleted during its cold start: nothing is served yet, so SIGTERM ends the load at once
// (exit 0) instead of waiting out the load and then the grace period.
TEST_F(ModelSources, SigtermWhileLoadingExitsAtOnce) {
  const fs::path log = dir_ / "server.log";
  ServerProcess server(DSO_INFERENCE_SERVER,
                       {"--model", "builtin:gpu-sim", "--gpu-sim-load-s", "600"}, log.string());
  for (int i = 0; i < 2400 && read(log).find("loading for 600 s") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_NE(read(log).find("loading for 600 s"), std::string::npos) << read(log);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(60s), 0) << read(log);
  EXPECT_NE(read(log).find("SIGTERM while loading the model"), std::string::npos) << read(log);
}

}  // namespace
}  // namespace dso::inference::testing
