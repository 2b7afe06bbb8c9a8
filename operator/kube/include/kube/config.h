// How to reach a Kubernetes API server: loading kubeconfig files (with KUBECONFIG merging and the
// inline *-data fields) and the in-cluster service-account configuration, the way client-go does.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/clock.h"

namespace dso::kube {

// Everything the REST client needs. PEM material is either a file path or inline data (the
// *-data fields, already base64-decoded); when both are set the inline data wins, as in client-go.
struct Config {
  std::string server;  // "https://host:port" (IPv6 hosts in brackets)
  std::string ca_file;
  std::string ca_data;
  std::string client_certificate_file;
  std::string client_certificate_data;
  std::string client_key_file;
  std::string client_key_data;
  std::string token;       // static bearer token
  std::string token_file;  // bearer token re-read from this file (takes precedence over token)
  bool insecure_skip_tls_verify = false;  // only ever true when the kubeconfig says so
  std::string tls_server_name;
  std::string default_namespace = "default";
  std::string origin;  // where this came from: "kubeconfig FILE context NAME" or "in-cluster"
  std::string user_agent = "deepseek-operator";
};

// Where load_config looks, captured from the process environment by from_environment() or filled
// in by tests.
struct ConfigSources {
  std::string kubeconfig_flag;                // --kubeconfig (empty: not given)
  std::optional<std::string> kubeconfig_env;  // $KUBECONFIG
  std::optional<std::string> home;            // $HOME
  std::optional<std::string> service_host;    // $KUBERNETES_SERVICE_HOST
  std::optional<std::string> service_port;    // $KUBERNETES_SERVICE_PORT
  std::filesystem::path service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string context;  // --context (empty: the file's current-context)

  static ConfigSources from_environment();
};

// Loads and merges kubeconfig files in order: for clusters, users and contexts the first file that
// defines a name wins, and current-context comes from the first file that sets it (KUBECONFIG
// semantics). Files that do not exist are skipped; if none exists that is an error. Relative paths
// inside a file resolve against that file's folder. Errors name the file and the field, e.g.
// "kubeconfig /x/config: users[0].user.client-key-data: not valid base64".
std::expected<Config, std::string> load_kubeconfig(const std::vector<std::filesystem::path>& files,
                                                   const std::string& context = "");

// Parses kubeconfig text (no merging); `where` names it in errors and `base_dir` resolves
// relative paths.
std::expected<Config, std::string> parse_kubeconfig(const std::string& text,
                                                    const std::string& where,
                                                    const std::filesystem::path& base_dir,
                                                    const std::string& context = "");

// The in-cluster configuration: https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT (IPv6
// literals bracketed), the service-account token file (re-read by TokenSource) and ca.crt.
std::expected<Config, std::string> in_cluster_config(const ConfigSources& sources);

// The controller-runtime order: --kubeconfig, then $KUBECONFIG (colon-separated, merged), then
// in-cluster when KUBERNETES_SERVICE_HOST is set, then ~/.kube/config.
std::expected<Config, std::string> load_config(const ConfigSources& sources);

// Decodes standard base64 (with or without padding, whitespace ignored); nullopt when malformed.
std::optional<std::string> base64_decode(const std::string& text);

// Supplies the bearer token for each request. A token file is re-read when the cached copy is
// older than `refresh` (client-go: one minute), so rotated service-account tokens are picked up;
// if a re-read fails the last good token is kept. Thread-safe.
class TokenSource {
 public:
  TokenSource(std::string token, std::string token_file, ClockPtr clock = real_clock(),
              Duration refresh = std::chrono::minutes(1));
  // The current token ("" when none is configured). Costs a file read at most once per refresh.
  std::string token();
  // Drops the cache so the next token() re-reads the file (called after a 401).
  void invalidate();

 private:
  std::string static_token_;
  std::string file_;
  ClockPtr clock_;
  Duration refresh_;
  std::mutex mu_;
  std::string cached_;
  std::optional<TimePoint> read_at_;
};

}  // namespace dso::kube
