// Cold-start measurement from pod conditions (see cold_start.h).
#include "scaling/cold_start.h"

#include <algorithm>
#include <cmath>

#include "traces/csv.h"

namespace dso::scaling {
namespace {

constexpr const char* kServiceLabel = "inference.deepseek.io/service";

std::optional<Seconds> time_of(const kube::Json& value) {
  if (!value.is_string()) return std::nullopt;
  const auto t = traces::parse_timestamp(value.get<std::string>());
  if (!t) return std::nullopt;
  return *t;
}

}  // namespace

std::optional<PodStart> pod_cold_start(const kube::Json& pod) {
  if (!pod.is_object() || !pod.contains("metadata") || !pod.contains("status")) return std::nullopt;
  const kube::Json& meta = pod["metadata"];
  const kube::Json labels = meta.value("labels", kube::Json::object());
  if (!labels.contains(kServiceLabel) || !labels[kServiceLabel].is_string()) return std::nullopt;
  const auto created = time_of(meta.value("creationTimestamp", kube::Json()));
  if (!created) return std::nullopt;
  const kube::Json& status = pod["status"];
  for (const auto& cs : status.value("containerStatuses", kube::Json::array())) {
    if (cs.value("restartCount", 0) > 0) return std::nullopt;
  }
  for (const auto& c : status.value("conditions", kube::Json::array())) {
    if (c.value("type", "") != "Ready") continue;
    if (c.value("status", "") != "True") return std::nullopt;
    const auto ready = time_of(c.value("lastTransitionTime", kube::Json()));
    if (!ready || *ready < *created) return std::nullopt;
    return PodStart{
        kube::meta_string(pod, "namespace") + "/" + labels[kServiceLabel].get<std::string>(),
        kube::meta_string(pod, "uid"), *ready, *ready - *created};
  }
  return std::nullopt;
}

bool ColdStartTracker::observe(const kube::Json& pod) {
  auto start = pod_cold_start(pod);
  if (!start) return false;
  std::lock_guard lock(mu_);
  const std::string id =
      start->uid.empty() ? start->service + "/" + kube::meta_string(pod, "name") : start->uid;
  if (!counted_.insert(id).second) return false;
  PerService& s = services_[start->service];
  const auto at = std::upper_bound(s.starts.begin(), s.starts.end(), start->ready_at,
                                   [](Seconds t, const PodStart& p) { return t < p.ready_at; });
  s.starts.insert(at, *start);
  while (s.starts.size() > keep_) s.starts.pop_front();
  s.fresh.push_back(start->seconds);
  return true;
}

void ColdStartTracker::pod_deleted(const kube::Json& pod) {
  std::lock_guard lock(mu_);
  counted_.erase(kube::meta_string(pod, "uid"));
}

void ColdStartTracker::forget(const std::string& service) {
  std::lock_guard lock(mu_);
  const auto it = services_.find(service);
  if (it == services_.end()) return;
  services_.erase(it);
}

std::vector<Seconds> ColdStartTracker::take_new(const std::string& service) {
  std::lock_guard lock(mu_);
  const auto it = services_.find(service);
  if (it == services_.end()) return {};
  return std::exchange(it->second.fresh, {});
}

std::optional<Seconds> ColdStartTracker::estimate(const std::string& service, double percentile,
                                                  std::size_t samples) const {
  std::vector<Seconds> values = recent(service);
  if (values.empty() || samples == 0) return std::nullopt;
  if (values.size() > samples)
    values.erase(values.begin(), values.end() - static_cast<long>(samples));
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least `percentile` of the samples at or below it.
  const auto rank = static_cast<std::size_t>(
      std::ceil(std::clamp(percentile, 0.0, 1.0) * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

std::vector<Seconds> ColdStartTracker::recent(const std::string& service) const {
  std::lock_guard lock(mu_);
  const auto it = services_.find(service);
  if (it == services_.end()) return {};
  std::vector<Seconds> out;
  for (const auto& p : it->second.starts) out.push_back(p.seconds);
  return out;
}

}  // namespace dso::scaling
