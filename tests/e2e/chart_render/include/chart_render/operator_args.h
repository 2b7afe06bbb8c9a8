// chart_render/operator_args.h: the command-line arguments the chart gives the operator, read from
// its rendered Deployment, so that a script runs the deepseek-operator binary exactly as the
// chart would (the same --prometheus-*-label values its PodMonitor relabels into).
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "kube/types.h"

namespace dso::chart_render {

// spec.template.spec.containers[name == `container`].args of the one Deployment among `manifests`
// that has such a container. Errors: no such Deployment, several, or args that are not a list of
// strings, e.g. "Deployment ops/x: container \"operator\": args[2]: expected a string".
std::expected<std::vector<std::string>, std::string> operator_args(
    const std::vector<kube::Json>& manifests, const std::string& container = "operator");

}  // namespace dso::chart_render
