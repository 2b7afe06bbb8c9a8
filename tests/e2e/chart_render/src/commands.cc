// The dso-chart-render subcommands; see chart_render/commands.h.
#include "chart_render/commands.h"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "chart_render/operator_args.h"
#include "chart_render/pod_monitor.h"
#include "chart_render/pod_sd_server.h"
#include "chart_render/scrape_config.h"
#include "cli/args.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "kube/yaml.h"

namespace dso::chart_render {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr const char* kHelp =
    R"(dso-chart-render: Prometheus configuration and operator flags from the rendered Helm chart

  dso-chart-render scrape-config --manifests FILE --api-server URL --ca-file F
                   --bearer-token-file F [--scrape-interval DUR] [--namespace NS ...]
      prometheus.yml on stdout: one scrape job per podMetricsEndpoints entry of each PodMonitor in
      FILE (`helm template` output; - reads stdin), generated as the Prometheus Operator does
      (kubernetes_sd_configs role pod against URL, the same relabelling).
      --scrape-interval  global scrape and evaluation interval (default 15s)
      --namespace        discover pods only in NS (repeatable; narrows the PodMonitor's selector)
      --pod-sd-url URL   discover through `dso-chart-render pod-sd` at URL (http_sd_configs)
                         instead, for a Prometheus without Kubernetes discovery (Debian's); then
                         --api-server, --ca-file and --bearer-token-file go to pod-sd
  dso-chart-render operator-args --manifests FILE [--container NAME]
      the args of container NAME (default operator) of the chart's Deployment, one per line
  dso-chart-render pod-sd --listen HOST:PORT --api-server URL --ca-file F --bearer-token-file F
      serves GET /pods?namespaces=a,b: the pods as Prometheus' Kubernetes pod discovery labels
      them, in the HTTP SD format; runs until SIGINT or SIGTERM

Exit status: 0 done, 1 bad manifests or cluster error, 2 usage error.
)";

int usage(std::ostream& err, const std::string& command, const std::string& message) {
  err << "dso-chart-render " << command << ": " << message << " (see --help)\n";
  return kUsage;
}

int failed(std::ostream& err, const std::string& command, const std::string& message) {
  err << "dso-chart-render " << command << ": " << message << "\n";
  return kFailed;
}

int help(std::ostream& err) {
  err << kHelp;
  return 0;
}

std::expected<std::vector<kube::Json>, std::string> read_manifests(const std::string& file,
                                                                   std::istream& in) {
  std::ostringstream text;
  if (file == "-") {
    text << in.rdbuf();
  } else {
    std::ifstream f(file, std::ios::binary);
    if (!f) return std::unexpected("--manifests " + file + ": cannot read");
    text << f.rdbuf();
  }
  auto docs = kube::parse_yaml_documents(text.str());
  if (!docs) return std::unexpected("--manifests " + file + ": " + docs.error());
  return docs;
}

bool is_namespace_name(const std::string& ns) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return ns.size() <= 63 && std::regex_match(ns, kLabel);
}

// The flags of scrape-config and pod-sd.
struct Flags {
  std::string manifests;
  std::string api_server;
  std::string ca_file;
  std::string bearer_token_file;
  std::string scrape_interval = "15s";
  std::vector<std::string> namespaces;
  std::string pod_sd_url;
  std::string listen;
  std::string container = "operator";
  bool help = false;
};

// The flags that take one string value, by name.
std::map<std::string, std::string*> string_flags(Flags& f) {
  return {{"--manifests", &f.manifests},
          {"--api-server", &f.api_server},
          {"--ca-file", &f.ca_file},
          {"--bearer-token-file", &f.bearer_token_file},
          {"--scrape-interval", &f.scrape_interval},
          {"--pod-sd-url", &f.pod_sd_url},
          {"--listen", &f.listen},
          {"--container", &f.container}};
}

// Reads `args` into Flags, accepting only the flags named in `known`.
std::expected<Flags, std::string> parse_flags(std::span<const std::string> args,
                                              const std::vector<std::string>& known) {
  Flags f;
  cli::ArgReader reader(args);
  while (const auto arg = reader.next()) {
    if (arg->is_help()) {
      f.help = true;
      continue;
    }
    if (std::find(known.begin(), known.end(), arg->name) == known.end()) {
      return std::unexpected(arg->is_flag() ? "unknown flag " + arg->name
                                            : "unexpected argument \"" + arg->text + "\"");
    }
    const auto value = reader.value();
    if (!value) return std::unexpected(value.error());
    if (arg->name == "--namespace") {
      if (!is_namespace_name(*value))
        return std::unexpected("--namespace: \"" + *value + "\" is not a namespace name");
      f.namespaces.push_back(*value);
    } else {
      *string_flags(f).at(arg->name) = *value;
    }
  }
  return f;
}

// The first of `names` whose value is empty in `f`, or "".
std::string missing(Flags f, const std::vector<std::string>& names) {
  const auto values = string_flags(f);
  for (const auto& n : names)
    if (values.at(n)->empty()) return n;
  return "";
}

std::string check_scrape_config_flags(const Flags& f) {
  if (const auto m = missing(f, {"--manifests"}); !m.empty()) return m + " is required";
  if (!is_prometheus_duration(f.scrape_interval))
    return "--scrape-interval: \"" + f.scrape_interval + "\" is not a Prometheus duration";
  if (f.pod_sd_url.empty()) {
    const auto m = missing(f, {"--api-server", "--ca-file", "--bearer-token-file"});
    return m.empty() ? "" : m + " is required";
  }
  if (!f.pod_sd_url.starts_with("http://") && !f.pod_sd_url.starts_with("https://"))
    return "--pod-sd-url: \"" + f.pod_sd_url + "\" is not an http(s) URL";
  if (!f.api_server.empty() || !f.ca_file.empty() || !f.bearer_token_file.empty())
    return "--api-server, --ca-file and --bearer-token-file go to pod-sd with --pod-sd-url";
  return "";
}

int scrape_config(std::span<const std::string> args, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  const auto flags =
      parse_flags(args, {"--manifests", "--api-server", "--ca-file", "--bearer-token-file",
                         "--scrape-interval", "--namespace", "--pod-sd-url"});
  if (!flags) return usage(err, "scrape-config", flags.error());
  if (flags->help) return help(err);
  if (const auto problem = check_scrape_config_flags(*flags); !problem.empty())
    return usage(err, "scrape-config", problem);
  const auto docs = read_manifests(flags->manifests, in);
  if (!docs) return failed(err, "scrape-config", docs.error());
  const auto monitors = read_pod_monitors(*docs);
  if (!monitors) return failed(err, "scrape-config", monitors.error());
  std::vector<ScrapeJob> jobs;
  for (const auto& m : *monitors) {
    auto more = scrape_jobs(m, flags->namespaces);
    if (!more) return failed(err, "scrape-config", more.error());
    jobs.insert(jobs.end(), more->begin(), more->end());
  }
  out << prometheus_yml(jobs, {.scrape_interval = flags->scrape_interval,
                               .api_server = flags->api_server,
                               .ca_file = flags->ca_file,
                               .bearer_token_file = flags->bearer_token_file,
                               .pod_sd_url = flags->pod_sd_url});
  return 0;
}

int operator_args_command(std::span<const std::string> args, std::istream& in, std::ostream& out,
                          std::ostream& err) {
  const auto flags = parse_flags(args, {"--manifests", "--container"});
  if (!flags) return usage(err, "operator-args", flags.error());
  if (flags->help) return help(err);
  if (const auto m = missing(*flags, {"--manifests", "--container"}); !m.empty())
    return usage(err, "operator-args", m + " is required");
  const auto docs = read_manifests(flags->manifests, in);
  if (!docs) return failed(err, "operator-args", docs.error());
  const auto result = operator_args(*docs, flags->container);
  if (!result) return failed(err, "operator-args", result.error());
  for (const auto& a : *result) out << a << "\n";
  return 0;
}

int pod_sd(std::span<const std::string> args, std::ostream& err) {
  const auto flags =
      parse_flags(args, {"--listen", "--api-server", "--ca-file", "--bearer-token-file"});
  if (!flags) return usage(err, "pod-sd", flags.error());
  if (flags->help) return help(err);
  if (const auto m =
          missing(*flags, {"--listen", "--api-server", "--ca-file", "--bearer-token-file"});
      !m.empty())
    return usage(err, "pod-sd", m + " is required");
  kube::Config config;
  config.server = flags->api_server;
  config.ca_file = flags->ca_file;
  config.token_file = flags->bearer_token_file;
  config.origin = "dso-chart-render pod-sd flags";
  config.user_agent = "dso-chart-render";
  auto client = kube::RestClient::create(config);
  if (!client) return failed(err, "pod-sd", client.error());
  // Block the stop signals before cpprestsdk starts its threads, so that sigwait gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  try {
    PodSdServer server(*client, flags->listen);
    err << "dso-chart-render pod-sd: serving http://" << flags->listen << "/pods" << std::endl;
    int signal = 0;
    sigwait(&stop, &signal);
  } catch (const std::runtime_error& e) {
    return failed(err, "pod-sd", e.what());
  }
  return 0;
}

}  // namespace

int run_command(std::span<const std::string> args, std::istream& in, std::ostream& out,
                std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    err << kHelp;
    return args.empty() ? kUsage : 0;
  }
  const std::string& command = args[0];
  const auto rest = args.subspan(1);
  if (command == "scrape-config") return scrape_config(rest, in, out, err);
  if (command == "operator-args") return operator_args_command(rest, in, out, err);
  if (command == "pod-sd") return pod_sd(rest, err);
  err << "dso-chart-render: unknown command \"" << command
      << "\" (scrape-config, operator-args, pod-sd; see --help)\n";
  return kUsage;
}

}  // namespace dso::chart_render
