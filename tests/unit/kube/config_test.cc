// Kubeconfig and in-cluster configuration: precedence, KUBECONFIG merging, inline *-data,
// relative paths, TLS defaults, token re-reading and errors that name the field.
#include "kube/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fakes/fake_clock.h"

namespace dso::kube {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kube-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

constexpr const char* kBasic = R"(apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: pki/ca.crt
- name: c2
  cluster:
    server: https://10.0.0.2:6443
    certificate-authority-data: aGVsbG8gY2E=
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    token: secret-token
- name: u2
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: team-a}
- name: two
  context: {cluster: c2, user: u2}
current-context: one
)";

TEST_F(ConfigTest, CurrentContextWithTokenAndRelativeCaPath) {
  const fs::path file = write("kc/config", kBasic);
  auto config = load_kubeconfig({file});
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_file, (dir_ / "kc" / "pki" / "ca.crt").string());
  EXPECT_EQ(config->token, "secret-token");
  EXPECT_EQ(config->default_namespace, "team-a");
  EXPECT_FALSE(config->insecure_skip_tls_verify);  // verification on unless the file says so
  EXPECT_NE(config->origin.find("context one"), std::string::npos);
}

TEST_F(ConfigTest, ExplicitContextWithInlineDataAndInsecureFlag) {
  const fs::path file = write("config", kBasic);
  auto config = load_kubeconfig({file}, "two");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->ca_data, "hello ca");
  EXPECT_EQ(config->client_certificate_data, "cert");
  EXPECT_EQ(config->client_key_data, "key");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->default_namespace, "default");
}

TEST_F(ConfigTest, KubeconfigEnvMergesFirstDefinitionWins) {
  const fs::path a = write("a", R"(
clusters:
- name: shared
  cluster: {server: https://first:443}
users:
- name: me
  user: {token: from-a}
contexts:
- name: ctx
  context: {cluster: shared, user: me}
)");
  const fs::path b = write("b", R"(
clusters:
- name: shared
  cluster: {server: https://second:443}
- name: only-b
  cluster: {server: https://b:443}
users:
- name: me
  user: {token: from-b}
contexts:
- name: ctx-b
  context: {cluster: only-b, user: me}
current-context: ctx
)");
  ConfigSources sources;
  sources.kubeconfig_env = a.string() + ":" + (dir_ / "missing").string() + ":" + b.string();
  auto config = load_config(sources);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://first:443");  // first file's cluster wins
  EXPECT_EQ(config->token, "from-a");
  sources.context = "ctx-b";
  config = load_config(sources);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://b:443");  // a name only the second file defines
}

TEST_F(ConfigTest, FlagBeatsEnvAndEnvBeatsHome) {
  write("home/.kube/config", R"(
clusters: [{name: h, cluster: {server: https://home:1}}]
contexts: [{name: h, context: {cluster: h}}]
current-context: h
)");
  const fs::path env = write("env", R"(
clusters: [{name: e, cluster: {server: https://env:1}}]
contexts: [{name: e, context: {cluster: e}}]
current-context: e
)");
  const fs::path flag = write("flag", R"(
clusters: [{name: f, cluster: {server: https://flag:1}}]
contexts: [{name: f, context: {cluster: f}}]
current-context: f
)");
  ConfigSources s;
  s.home = (dir_ / "home").string();
  EXPECT_EQ(load_config(s)->server, "https://home:1");
  s.kubeconfig_env = env.string();
  EXPECT_EQ(load_config(s)->server, "https://env:1");
  s.kubeconfig_flag = flag.string();
  EXPECT_EQ(load_config(s)->server, "https://flag:1");
  s.kubeconfig_flag = (dir_ / "nope").string();
  auto missing = load_config(s);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("--kubeconfig"), std::string::npos) << missing.error();
}

TEST_F(ConfigTest, ErrorsNameFileAndField) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
       "current-context: x\n",
       "clusters[0].cluster.server: missing"},
      {"clusters: [{name: c, cluster: {server: https://a}}]\n"
       "users: [{name: u, user: {client-key-data: '!!notbase64'}}]\n"
       "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
       "users[0].user.client-key-data: not valid base64"},
      {"clusters: [{name: c, cluster: {server: https://a}}]\n"
       "contexts: [{name: x, context: {cluster: nope}}]\ncurrent-context: x\n",
       "contexts[0].context.cluster: no cluster named \"nope\""},
      {"clusters: [{name: c, cluster: {server: https://a}}]\n"
       "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: y\n",
       "no context named \"y\""},
      {"clusters: {name: c}\n", "clusters: expected a list"},
      {"clusters: [{cluster: {server: https://a}}]\n", "clusters[0].name: missing"},
      {"clusters: [{name: c, cluster: {server: ftp://a}}]\ncontexts: [{name: x, context: {cluster: "
       "c}}]\n"
       "current-context: x\n",
       "clusters[0].cluster.server: \"ftp://a\" is not an http(s) URL"},
      {"clusters: [{name: c, cluster: {server: https://a, insecure-skip-tls-verify: maybe}}]\n"
       "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
       "clusters[0].cluster.insecure-skip-tls-verify: expected true or false"},
      {"clusters: [{name: c, cluster: {server: https://a}}]\n"
       "users: [{name: u, user: {client-certificate: /c.crt}}]\n"
       "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
       "users[0].user.client-key: missing"},
      {"clusters: [{name: c\n", "not valid YAML at line"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const fs::path file = write("bad" + std::to_string(i++), c.text);
    auto config = load_kubeconfig({file});
    ASSERT_FALSE(config) << c.text;
    EXPECT_NE(config.error().find(c.expect), std::string::npos) << config.error();
    EXPECT_NE(config.error().find(file.string()), std::string::npos) << config.error();
  }
}

TEST_F(ConfigTest, InClusterIpv4AndIpv6) {
  write("sa/token", "sa-token\n");
  write("sa/ca.crt", "PEM");
  write("sa/namespace", "ops\n");
  ConfigSources s;
  s.service_account_dir = dir_ / "sa";
  s.service_host = "10.96.0.1";
  s.service_port = "443";
  auto config = load_config(s);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, (dir_ / "sa" / "token").string());
  EXPECT_EQ(config->ca_file, (dir_ / "sa" / "ca.crt").string());
  EXPECT_EQ(config->default_namespace, "ops");
  EXPECT_EQ(config->origin, "in-cluster");
  s.service_host = "fd00:10:96::1";
  EXPECT_EQ(in_cluster_config(s)->server, "https://[fd00:10:96::1]:443");
  s.service_port = "https";
  auto bad = in_cluster_config(s);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("KUBERNETES_SERVICE_PORT"), std::string::npos);
  s.service_port = "443";
  fs::remove(dir_ / "sa" / "token");
  bad = in_cluster_config(s);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("token: missing"), std::string::npos) << bad.error();
}

TEST_F(ConfigTest, TokenFileIsReReadAfterRefreshPeriod) {
  const fs::path token = write("token", "first\n");
  auto clock = std::make_shared<FakeClock>();
  TokenSource source("", token.string(), clock, std::chrono::minutes(1));
  EXPECT_EQ(source.token(), "first");
  std::ofstream(token) << "second";
  clock->advance(std::chrono::seconds(59));
  EXPECT_EQ(source.token(), "first");  // cached within the minute
  clock->advance(std::chrono::seconds(1));
  EXPECT_EQ(source.token(), "second");
  fs::remove(token);
  clock->advance(std::chrono::minutes(2));
  EXPECT_EQ(source.token(), "second");  // unreadable: keep the last good token
  std::ofstream(token) << "third";
  source.invalidate();
  EXPECT_EQ(source.token(), "third");
}

TEST(Base64, DecodesWithAndWithoutPaddingRejectsGarbage) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8="), "hello");
  EXPECT_FALSE(base64_decode("aGVsbG8=x"));
  EXPECT_FALSE(base64_decode("a$=="));
  EXPECT_FALSE(base64_decode("a"));
}

}  // namespace
}  // namespace dso::kube
