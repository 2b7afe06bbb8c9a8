// scaling/explain.h: `deepseek-operator explain NAMESPACE/NAME` — what the autoscaler sees for one
// service and why it chose what it chose, rendered from the service's status (which the scaling
// loop publishes), so it needs nothing but read access to DeepSeekServices.
#pragma once

#include <string>

#include "kube/types.h"

namespace dso::scaling {

// A human-readable report of a DeepSeekService object's autoscaling: mode and replicas, the
// conditions ScalingActive / ScalingLimited / MetricsUnavailable, the metrics and demand the
// engine saw with each metric's proposal, the cold-start estimate and horizon, the forecast, the
// limits applied, and the recent decisions with their explanations. Never fails: missing parts
// are said to be missing.
std::string explain_text(const kube::Json& object);

}  // namespace dso::scaling
