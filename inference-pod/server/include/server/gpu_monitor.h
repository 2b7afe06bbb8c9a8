// GPU utilisation and memory for the metrics, read through NVML (libnvidia-ml.so.1, loaded at run
// time so that the server builds and runs on machines without a GPU driver).
#pragma once

#include <memory>
#include <optional>
#include <vector>

namespace dso::inference {

struct GpuSample {
  int index = 0;
  double utilization_ratio = 0;  // 0..1, NVML's last sample period
  double memory_used_bytes = 0;
  double memory_total_bytes = 0;
};

class GpuMonitor {
 public:
  // Loads NVML and initialises it; nullopt when no driver or no GPU is present.
  static std::unique_ptr<GpuMonitor> open();
  virtual ~GpuMonitor() = default;
  // One sample per GPU. Cost: a few NVML calls (microseconds).
  virtual std::vector<GpuSample> sample() = 0;
};

}  // namespace dso::inference
