#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace dso::kube {
namespace {

namespace fs = std::filesystem;

std::expected<std::string, std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// One named entry (cluster, user or context) with the file it came from.
struct Entry {
  YAML::Node body;
  std::string field;  // "clusters[2].cluster"
  std::string where;  // "kubeconfig /path"
  fs::path base_dir;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::string current_context_where;
};

std::string scalar_or_error(const YAML::Node& node, const std::string& field, std::string* error) {
  if (!node) return "";
  if (!node.IsScalar()) {
    *error = field + ": expected a string";
    return "";
  }
  return node.as<std::string>();
}

// Adds one file's entries to `merged`; the first definition of a name wins.
std::expected<void, std::string> merge_file(const std::string& text, const std::string& where,
                                            const fs::path& base_dir, Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return std::unexpected(where + ": not valid YAML at line " + std::to_string(e.mark.line + 1) +
                           ": " + e.msg);
  }
  if (root.IsNull()) return {};  // an empty file is allowed (client-go treats it as empty config)
  if (!root.IsMap()) return std::unexpected(where + ": top level: expected a mapping");
  const auto section = [&](const char* list, const char* inner,
                           std::map<std::string, Entry>& into) -> std::expected<void, std::string> {
    const YAML::Node items = root[list];
    if (!items || items.IsNull()) return {};
    if (!items.IsSequence()) return std::unexpected(where + ": " + list + ": expected a list");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string field = std::string(list) + "[" + std::to_string(i) + "]";
      const YAML::Node item = items[i];
      if (!item.IsMap()) return std::unexpected(where + ": " + field + ": expected a mapping");
      std::string error;
      const std::string name = scalar_or_error(item["name"], field + ".name", &error);
      if (!error.empty()) return std::unexpected(where + ": " + error);
      if (name.empty()) return std::unexpected(where + ": " + field + ".name: missing");
      const YAML::Node body = item[inner];
      if (!body || !body.IsMap()) {
        return std::unexpected(where + ": " + field + "." + inner + ": missing or not a mapping");
      }
      into.try_emplace(name, Entry{body, field + "." + inner, where, base_dir});
    }
    return {};
  };
  if (auto r = section("clusters", "cluster", merged.clusters); !r) return r;
  if (auto r = section("users", "user", merged.users); !r) return r;
  if (auto r = section("contexts", "context", merged.contexts); !r) return r;
  std::string error;
  const std::string current = scalar_or_error(root["current-context"], "current-context", &error);
  if (!error.empty()) return std::unexpected(where + ": " + error);
  if (merged.current_context.empty() && !current.empty()) {
    merged.current_context = current;
    merged.current_context_where = where;
  }
  return {};
}

// Reads FIELD (a path) and FIELD-data (inline base64 PEM) of an entry.
std::expected<void, std::string> read_pem(const Entry& e, const std::string& field,
                                          std::string* file, std::string* data) {
  std::string error;
  const std::string path = scalar_or_error(e.body[field], e.field + "." + field, &error);
  if (!error.empty()) return std::unexpected(e.where + ": " + error);
  const std::string encoded =
      scalar_or_error(e.body[field + "-data"], e.field + "." + field + "-data", &error);
  if (!error.empty()) return std::unexpected(e.where + ": " + error);
  if (!encoded.empty()) {
    auto decoded = base64_decode(encoded);
    if (!decoded) {
      return std::unexpected(e.where + ": " + e.field + "." + field + "-data: not valid base64");
    }
    *data = std::move(*decoded);
  }
  if (!path.empty()) *file = fs::path(path).is_absolute() ? path : (e.base_dir / path).string();
  return {};
}

std::expected<Config, std::string> resolve(const Merged& merged, const std::string& context,
                                           const std::string& origin_files) {
  const std::string ctx_name = context.empty() ? merged.current_context : context;
  if (ctx_name.empty()) {
    return std::unexpected(origin_files + ": current-context: not set and no context was given");
  }
  const auto ctx = merged.contexts.find(ctx_name);
  if (ctx == merged.contexts.end()) {
    return std::unexpected(origin_files + ": contexts: no context named \"" + ctx_name + "\"" +
                           (context.empty() ? " (from current-context)" : ""));
  }
  const Entry& c = ctx->second;
  std::string error;
  const std::string cluster_name = scalar_or_error(c.body["cluster"], c.field + ".cluster", &error);
  const std::string user_name = scalar_or_error(c.body["user"], c.field + ".user", &error);
  const std::string ns = scalar_or_error(c.body["namespace"], c.field + ".namespace", &error);
  if (!error.empty()) return std::unexpected(c.where + ": " + error);
  if (cluster_name.empty()) return std::unexpected(c.where + ": " + c.field + ".cluster: missing");

  Config config;
  config.origin = "kubeconfig " + origin_files + " context " + ctx_name;
  if (!ns.empty()) config.default_namespace = ns;

  const auto cl = merged.clusters.find(cluster_name);
  if (cl == merged.clusters.end()) {
    return std::unexpected(c.where + ": " + c.field + ".cluster: no cluster named \"" +
                           cluster_name + "\"");
  }
  const Entry& k = cl->second;
  config.server = scalar_or_error(k.body["server"], k.field + ".server", &error);
  if (!error.empty()) return std::unexpected(k.where + ": " + error);
  if (config.server.empty()) return std::unexpected(k.where + ": " + k.field + ".server: missing");
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return std::unexpected(k.where + ": " + k.field + ".server: \"" + config.server +
                           "\" is not an http(s) URL");
  }
  while (config.server.size() > 8 && config.server.back() == '/') config.server.pop_back();
  if (auto r = read_pem(k, "certificate-authority", &config.ca_file, &config.ca_data); !r) {
    return std::unexpected(r.error());
  }
  if (const YAML::Node insecure = k.body["insecure-skip-tls-verify"]; insecure) {
    try {
      config.insecure_skip_tls_verify = insecure.as<bool>();
    } catch (const YAML::Exception&) {
      return std::unexpected(k.where + ": " + k.field +
                             ".insecure-skip-tls-verify: expected true or false");
    }
  }
  config.tls_server_name =
      scalar_or_error(k.body["tls-server-name"], k.field + ".tls-server-name", &error);
  if (!error.empty()) return std::unexpected(k.where + ": " + error);

  if (!user_name.empty()) {
    const auto us = merged.users.find(user_name);
    if (us == merged.users.end()) {
      return std::unexpected(c.where + ": " + c.field + ".user: no user named \"" + user_name +
                             "\"");
    }
    const Entry& u = us->second;
    if (auto r = read_pem(u, "client-certificate", &config.client_certificate_file,
                          &config.client_certificate_data);
        !r) {
      return std::unexpected(r.error());
    }
    if (auto r = read_pem(u, "client-key", &config.client_key_file, &config.client_key_data); !r) {
      return std::unexpected(r.error());
    }
    const bool has_cert =
        !config.client_certificate_file.empty() || !config.client_certificate_data.empty();
    const bool has_key = !config.client_key_file.empty() || !config.client_key_data.empty();
    if (has_cert != has_key) {
      return std::unexpected(u.where + ": " + u.field +
                             (has_cert ? ".client-key" : ".client-certificate") +
                             ": missing (client-certificate and client-key go together)");
    }
    config.token = scalar_or_error(u.body["token"], u.field + ".token", &error);
    const std::string token_file =
        scalar_or_error(u.body["tokenFile"], u.field + ".tokenFile", &error);
    if (!error.empty()) return std::unexpected(u.where + ": " + error);
    if (!token_file.empty()) {
      config.token_file =
          fs::path(token_file).is_absolute() ? token_file : (u.base_dir / token_file).string();
    }
    for (const char* unsupported : {"exec", "auth-provider", "username"}) {
      if (u.body[unsupported] && config.token.empty() && config.token_file.empty() && !has_cert) {
        return std::unexpected(u.where + ": " + u.field + "." + unsupported +
                               ": not supported (use a token or client certificate)");
      }
    }
  }
  return config;
}

}  // namespace

std::optional<std::string> base64_decode(const std::string& text) {
  static constexpr auto value = [](char ch) -> int {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  std::size_t symbols = 0;
  for (char ch : text) {
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    if (ch == '=') {
      padding = true;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    const int v = value(ch);
    if (v < 0) return std::nullopt;
    ++symbols;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (symbols % 4 == 1) return std::nullopt;
  return out;
}

std::expected<Config, std::string> parse_kubeconfig(const std::string& text,
                                                    const std::string& where,
                                                    const fs::path& base_dir,
                                                    const std::string& context) {
  Merged merged;
  if (auto r = merge_file(text, where, base_dir, merged); !r) return std::unexpected(r.error());
  return resolve(merged, context, where);
}

std::expected<Config, std::string> load_kubeconfig(const std::vector<fs::path>& files,
                                                   const std::string& context) {
  Merged merged;
  std::string names;
  for (const fs::path& file : files) {
    if (file.empty()) continue;
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    auto text = read_text(file);
    if (!text) return std::unexpected("kubeconfig " + file.string() + ": " + text.error());
    const std::string where = "kubeconfig " + file.string();
    if (auto r = merge_file(*text, where, fs::absolute(file).parent_path(), merged); !r) {
      return std::unexpected(r.error());
    }
    names += (names.empty() ? "" : ":") + file.string();
  }
  if (names.empty()) {
    std::string list;
    for (const auto& f : files) list += (list.empty() ? "" : ":") + f.string();
    return std::unexpected("kubeconfig: none of the files exists: " + list);
  }
  auto config = resolve(merged, context, "kubeconfig " + names);
  if (!config) {
    // resolve() names a single file when it can; for merged lists say which ones were read.
    return config;
  }
  return config;
}

std::expected<Config, std::string> in_cluster_config(const ConfigSources& sources) {
  if (!sources.service_host || sources.service_host->empty() || !sources.service_port ||
      sources.service_port->empty()) {
    return std::unexpected(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  const std::string& port = *sources.service_port;
  if (port.find_first_not_of("0123456789") != std::string::npos) {
    return std::unexpected("in-cluster config: KUBERNETES_SERVICE_PORT: \"" + port +
                           "\" is not a port number");
  }
  std::string host = *sources.service_host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  Config config;
  config.server = "https://" + host + ":" + port;
  const fs::path token = sources.service_account_dir / "token";
  const fs::path ca = sources.service_account_dir / "ca.crt";
  std::error_code ec;
  if (!fs::exists(token, ec))
    return std::unexpected("in-cluster config: " + token.string() + ": missing");
  if (!fs::exists(ca, ec))
    return std::unexpected("in-cluster config: " + ca.string() + ": missing");
  config.token_file = token.string();
  config.ca_file = ca.string();
  if (auto ns = read_text(sources.service_account_dir / "namespace"); ns && !trim(*ns).empty()) {
    config.default_namespace = trim(*ns);
  }
  config.origin = "in-cluster";
  return config;
}

std::expected<Config, std::string> load_config(const ConfigSources& sources) {
  if (!sources.kubeconfig_flag.empty()) {
    std::error_code ec;
    if (!fs::exists(sources.kubeconfig_flag, ec)) {
      return std::unexpected("--kubeconfig " + sources.kubeconfig_flag + ": file does not exist");
    }
    return load_kubeconfig({sources.kubeconfig_flag}, sources.context);
  }
  if (sources.kubeconfig_env && !sources.kubeconfig_env->empty()) {
    std::vector<fs::path> files;
    std::stringstream list(*sources.kubeconfig_env);
    for (std::string item; std::getline(list, item, ':');) {
      if (!item.empty()) files.emplace_back(item);
    }
    return load_kubeconfig(files, sources.context);
  }
  if (sources.service_host && !sources.service_host->empty()) return in_cluster_config(sources);
  if (sources.home && !sources.home->empty()) {
    const fs::path file = fs::path(*sources.home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(file, ec)) return load_kubeconfig({file}, sources.context);
  }
  return std::unexpected(
      "no Kubernetes configuration: no --kubeconfig, no KUBECONFIG, not in a cluster "
      "(KUBERNETES_SERVICE_HOST unset) and no ~/.kube/config");
}

ConfigSources ConfigSources::from_environment() {
  ConfigSources s;
  const auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v == nullptr ? std::nullopt : std::optional<std::string>(v);
  };
  s.kubeconfig_env = env("KUBECONFIG");
  s.home = env("HOME");
  s.service_host = env("KUBERNETES_SERVICE_HOST");
  s.service_port = env("KUBERNETES_SERVICE_PORT");
  return s;
}

TokenSource::TokenSource(std::string token, std::string token_file, ClockPtr clock,
                         Duration refresh)
    : static_token_(std::move(token)),
      file_(std::move(token_file)),
      clock_(std::move(clock)),
      refresh_(refresh) {}

std::string TokenSource::token() {
  if (file_.empty()) return static_token_;
  std::lock_guard lock(mu_);
  const TimePoint now = clock_->now();
  if (!read_at_ || now - *read_at_ >= refresh_) {
    if (auto text = read_text(file_); text && !trim(*text).empty()) {
      cached_ = trim(*text);
      read_at_ = now;
    } else if (!read_at_) {
      return static_token_;  // unreadable on first use: fall back; retried next call
    }
  }
  return cached_;
}

void TokenSource::invalidate() {
  std::lock_guard lock(mu_);
  read_at_.reset();
}

ClockPtr real_clock() {
  static const ClockPtr clock = std::make_shared<RealClock>();
  return clock;
}

}  // namespace dso::kube
