// `deepseek-operator explain` rendering (see explain.h).
#include "scaling/explain.h"

#include <cstdio>

namespace dso::scaling {
namespace {

using kube::Json;

std::string text(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  if (j.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", j.get<double>());
    return buf;
  }
  return j.dump();
}

std::string field(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) ? text(o[key]) : "-";
}

}  // namespace

std::string explain_text(const Json& object) {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  const Json meta = object.value("metadata", Json::object());
  const Json spec = object.value("spec", Json::object());
  const Json status = object.value("status", Json::object());
  const Json as = spec.value("autoscaling", Json::object());
  const Json pred = as.value("predictive", Json::object());
  line("DeepSeekService " + field(meta, "namespace") + "/" + field(meta, "name"));
  const bool enabled = as.value("enabled", true);
  line("  autoscaling:   " + std::string(enabled ? "enabled" : "disabled") + ", mode " +
       (pred.contains("mode") ? text(pred["mode"]) : std::string("Auto")) + ", replicas " +
       (as.contains("minReplicas") ? text(as["minReplicas"]) : "1") + ".." +
       (as.contains("maxReplicas") ? text(as["maxReplicas"]) : "10"));
  line("  replicas:      " + field(status, "replicas") + " set, " + field(status, "readyReplicas") +
       " ready");
  for (const auto& c : status.value("conditions", Json::array())) {
    const std::string type = c.value("type", "");
    if (type != "ScalingActive" && type != "ScalingLimited" && type != "MetricsUnavailable")
      continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-20s", (type + ":").c_str());
    line(buf + c.value("status", "?") + " (" + c.value("reason", "") + ") " +
         c.value("message", ""));
  }
  if (!status.contains("autoscaler")) {
    line("");
    line(enabled ? "No autoscaler decision published yet (is the operator running, and is this "
                   "its leader's view?)."
                 : "Autoscaling is disabled: spec.replicas sets the replicas.");
    return out;
  }
  const Json a = status["autoscaler"];
  line("");
  line("What the autoscaler saw at " + field(a, "lastDecisionTime") + ":");
  line("  metrics:       " + field(a, "metricsState"));
  for (const auto& m : a.value("metrics", Json::array())) {
    std::string s = "    " + field(m, "name") + " = " + field(m, "value") + " (target " +
                    field(m, "target") + ")";
    if (m.contains("replicas")) s += " -> " + text(m["replicas"]) + " replicas";
    if (m.contains("problem")) s += "  [" + text(m["problem"]) + "]";
    line(s);
  }
  line("  demand:        " + field(a, "demand") + " req/s, capacity " +
       field(a, "capacityPerReplica") + " req/s per replica");
  line("  cold start:    " + field(status, "coldStartSeconds") + " s (" +
       (a.value("coldStartMeasured", false) ? "measured" : "configured, no measurements yet") +
       "), horizon " + field(a, "horizonSeconds") + " s");
  if (status.contains("forecast") && status["forecast"].is_object()) {
    const Json f = status["forecast"];
    line("  forecast:      " + field(f, "summary"));
    if (f.contains("time")) {
      line("                 at " + field(f, "time") + ": point " + field(f, "demand") + ", q" +
           field(f, "quantile") + " " + field(f, "demandQuantile") + " req/s; model " +
           field(f, "model") + ", fitted " + field(f, "fittedAt"));
    }
    line("                 recent error " + field(f, "recentError") +
         (f.value("gated", false) ? " (GATED: the forecast is not used)" : ""));
  }
  line("");
  line("Why: " + field(a, "desiredReplicas") + " replicas, rule " + field(a, "rule") +
       (a.value("acting", true) ? "" : " (preview: not applied)"));
  auto opt = [&](const char* key, const char* label) {
    if (a.contains(key)) line(std::string("  ") + label + text(a[key]));
  };
  opt("reactiveReplicas", "reactive (metrics):   ");
  opt("predictiveReplicas", "predictive (forecast): ");
  opt("demandReplicas", "current demand needs: ");
  for (const auto& l : a.value("limits", Json::array())) line("  limit: " + text(l));
  for (const auto& p : a.value("problems", Json::array())) line("  problem: " + text(p));
  line("  " + field(a, "explanation"));
  const Json decisions = status.value("decisions", Json::array());
  if (!decisions.empty()) {
    line("");
    line("Recent decisions (newest first):");
    for (const auto& d : decisions) {
      line("  " + field(d, "time") + "  " + field(d, "previous") + " -> " + field(d, "replicas") +
           "  " + field(d, "rule") + (d.value("acted", true) ? "" : " (preview)"));
      line("      " + field(d, "explanation"));
    }
  }
  return out;
}

}  // namespace dso::scaling
