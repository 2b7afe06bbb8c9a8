// scaling/scaling_status.h: what one decision publishes in the DeepSeekService's status:
// status.autoscaler, status.forecast, status.decisions, status.coldStartSeconds and the
// ScalingActive, ScalingLimited and MetricsUnavailable conditions (docs/autoscaling.md lists the
// fields). Pure: JSON built from the decision's parts, no clock and no I/O.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "api/deepseek_service.h"
#include "autoscaler/decision.h"
#include "kube/types.h"
#include "scaling/service_scaler.h"

namespace dso::scaling {

// One decision and what surrounds it, as ScalingLoop hands it to decision_status().
struct PublishedDecision {
  api::PredictiveMode mode = api::PredictiveMode::kOff;
  Seconds now = 0;
  int current = 0;  // the replicas the decision started from
  int ready = 0;
  bool predictive_enabled = false;  // the policy forecasts (status.forecast is filled)
  const StepResult& step;
  const std::deque<DecisionRecord>& recent;  // oldest first
};

// The status part a decision publishes (ScalingLoop::status_part).
kube::Json decision_status(const PublishedDecision& d);
// The part published for a spec the engine cannot run: ScalingActive=False/InvalidPolicy.
kube::Json invalid_policy_status(const std::string& error);

// ScalingLimited from the limits the engine applied (stabilization is not a limit: HPA reports
// it under AbleToScale). The reason is the last limit applied: min/max and the GPU budget come
// after the rate policies, so a decision held at max reads TooManyReplicas.
kube::Json limited_condition(const autoscaler::Explanation& ex);
// The metrics could not all be used (MetricsUnavailable=True).
bool metrics_unavailable(autoscaler::MetricsState s);

// A decision as status.decisions keeps it, and back (nullopt for an entry that is not one).
kube::Json decision_json(const DecisionRecord& d);
std::optional<DecisionRecord> decision_from_json(const kube::Json& j);

// Unix seconds as RFC 3339 ("2026-11-28T07:15:05Z").
std::string rfc3339(Seconds t);

}  // namespace dso::scaling
