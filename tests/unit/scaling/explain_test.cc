// `deepseek-operator explain` rendering (scaling/explain.h).
#include "scaling/explain.h"

#include <gtest/gtest.h>

namespace dso::scaling {
namespace {

using kube::Json;

TEST(Explain, RendersWhatTheAutoscalerSawAndWhy) {
  const Json object = Json::parse(R"json({
    "metadata": {"name": "chat", "namespace": "ml"},
    "spec": {"autoscaling": {"minReplicas": 1, "maxReplicas": 10, "predictive": {"mode": "Auto"}}},
    "status": {
      "replicas": 6, "readyReplicas": 5, "coldStartSeconds": 240,
      "conditions": [
        {"type": "Ready", "status": "False", "reason": "ReplicasNotReady", "message": "5/6"},
        {"type": "ScalingActive", "status": "True", "reason": "AutoscalerDecided", "message": "m"},
        {"type": "MetricsUnavailable", "status": "False", "reason": "MetricsAvailable", "message": "ok"}],
      "forecast": {"summary": "8 in 4m15s (q0.9 75/s)", "time": "2026-11-28T12:00:00Z",
                   "demand": 61.5, "quantile": 0.9, "demandQuantile": 75, "model": "snaive-day",
                   "fittedAt": "2026-11-28T11:00:00Z", "recentError": 0.12, "gated": false},
      "autoscaler": {"lastDecisionTime": "2026-11-28T11:55:45Z", "metricsState": "ok",
                     "metrics": [{"name": "RequestsPerSecond", "value": 48.0, "target": 10, "replicas": 5}],
                     "demand": 48.0, "capacityPerReplica": 10, "coldStartMeasured": true,
                     "horizonSeconds": 255, "desiredReplicas": 8, "rule": "predictive", "acting": true,
                     "reactiveReplicas": 5, "predictiveReplicas": 8, "limits": ["scale-up rate 9->8"],
                     "problems": [], "explanation": "8 (rule predictive): metrics ok"},
      "decisions": [{"time": "2026-11-28T11:55:45Z", "replicas": 8, "previous": 6,
                     "rule": "predictive", "acted": true, "explanation": "8 (rule predictive): ..."}]
    }})json");
  const std::string text = explain_text(object);
  for (const char* want :
       {"DeepSeekService ml/chat", "mode Auto", "6 set, 5 ready",
        "ScalingActive:", "RequestsPerSecond = 48 (target 10) -> 5 replicas", "240 s (measured)",
        "8 in 4m15s (q0.9 75/s)", "model snaive-day", "Why: 8 replicas, rule predictive",
        "predictive (forecast): 8", "limit: scale-up rate 9->8", "6 -> 8  predictive"}) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing '" << want << "' in:\n" << text;
  }
  EXPECT_EQ(text.find("Ready:"), std::string::npos);  // only the scaling conditions
}

TEST(Explain, SaysWhatIsMissing) {
  const Json object = Json::parse(
      R"({"metadata": {"name": "a", "namespace": "b"}, "spec": {"autoscaling": {"enabled": false}}})");
  const std::string text = explain_text(object);
  EXPECT_NE(text.find("Autoscaling is disabled"), std::string::npos) << text;
}

}  // namespace
}  // namespace dso::scaling
