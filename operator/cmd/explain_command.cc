// `deepseek-operator explain NAMESPACE/NAME`: what the autoscaler sees for one DeepSeekService and
// why it chose what it chose, read from the service's status (published by the leader's scaling
// loop), so it works from any machine with read access to DeepSeekServices.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "command.h"
#include "controller/reconciler.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "scaling/explain.h"

namespace dso::cmd {
namespace {

constexpr const char* kUsage =
    R"(Usage: deepseek-operator explain NAMESPACE/NAME [--kubeconfig FILE] [--context NAME]

Prints what the autoscaler saw for one DeepSeekService at its last decision and why it chose what
it chose: mode and replicas; the conditions ScalingActive, ScalingLimited and MetricsUnavailable;
each metric's value, target and proposal; demand and capacity; the cold-start estimate and the
horizon; the forecast at the horizon and its recent error; the limits applied; the recent
decisions with their explanations. Read from the service's status (kubectl get dss NAME -o yaml
shows the same fields).

  --kubeconfig FILE   kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME      kubeconfig context
  -h, --help          this text

Exit status: 0 ok, 1 the service cannot be read, 2 usage error.
)";

int explain(std::span<char* const> args) {
  std::string target, kubeconfig, context;
  const auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "deepseek-operator explain: %s\n", message.c_str());
    return 2;
  };
  cli::ArgReader reader(args);
  while (const auto arg = reader.next()) {
    if (arg->is_help()) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg->name == "--kubeconfig" || arg->name == "--context") {
      const auto value = reader.value();
      if (!value) return usage_error(value.error());
      (arg->name == "--kubeconfig" ? kubeconfig : context) = *value;
      continue;
    }
    if (arg->is_flag()) return usage_error(arg->unknown());
    if (!target.empty()) return usage_error("one NAMESPACE/NAME only");
    target = arg->text;
  }
  const auto slash = target.find('/');
  if (target.empty() || slash == std::string::npos || slash == 0 || slash + 1 == target.size())
    return usage_error("expected NAMESPACE/NAME, got \"" + target + "\"");
  auto sources = kube::ConfigSources::from_environment();
  sources.kubeconfig_flag = kubeconfig;
  sources.context = context;
  const auto config = kube::load_config(sources);
  if (!config) {
    std::fprintf(stderr, "deepseek-operator explain: %s\n", config.error().c_str());
    return 1;
  }
  auto client = kube::RestClient::create(*config, {});
  if (!client) {
    std::fprintf(stderr, "deepseek-operator explain: %s\n", client.error().c_str());
    return 1;
  }
  const auto object = (*client)->get(controller::DeepSeekServiceReconciler::deepseek_services(),
                                     target.substr(0, slash), target.substr(slash + 1));
  if (!object) {
    std::fprintf(stderr, "deepseek-operator explain: DeepSeekService %s: %s\n", target.c_str(),
                 object.error().to_string().c_str());
    return 1;
  }
  std::fputs(scaling::explain_text(*object).c_str(), stdout);
  return 0;
}

const CommandRegistration kRegistration{
    Command{"explain", "why the autoscaler chose a service's replicas (NAMESPACE/NAME)", explain}};

}  // namespace
}  // namespace dso::cmd
