// NVML through dlopen (see gpu_monitor.h). The few NVML declarations needed are restated here
// (they are part of NVML's stable C ABI) so that no CUDA header is required to build.
#include "server/gpu_monitor.h"

#include <dlfcn.h>

namespace dso::inference {
namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = void*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

class NvmlMonitor final : public GpuMonitor {
 public:
  using InitFn = nvmlReturn_t (*)();
  using CountFn = nvmlReturn_t (*)(unsigned int*);
  using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
  using UtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
  using MemFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);

  explicit NvmlMonitor(void* lib) : lib_(lib) {}
  ~NvmlMonitor() override {
    if (shutdown_) shutdown_();
    dlclose(lib_);
  }

  bool init() {
    auto init_fn = reinterpret_cast<InitFn>(dlsym(lib_, "nvmlInit_v2"));
    count_ = reinterpret_cast<CountFn>(dlsym(lib_, "nvmlDeviceGetCount_v2"));
    handle_ = reinterpret_cast<HandleFn>(dlsym(lib_, "nvmlDeviceGetHandleByIndex_v2"));
    util_ = reinterpret_cast<UtilFn>(dlsym(lib_, "nvmlDeviceGetUtilizationRates"));
    mem_ = reinterpret_cast<MemFn>(dlsym(lib_, "nvmlDeviceGetMemoryInfo"));
    if (!init_fn || !count_ || !handle_ || !util_ || !mem_ || init_fn() != 0) return false;
    shutdown_ = reinterpret_cast<InitFn>(dlsym(lib_, "nvmlShutdown"));
    unsigned int n = 0;
    return count_(&n) == 0 && n > 0;
  }

  std::vector<GpuSample> sample() override {
    std::vector<GpuSample> out;
    unsigned int n = 0;
    if (count_(&n) != 0) return out;
    for (unsigned int i = 0; i < n; ++i) {
      nvmlDevice_t device = nullptr;
      nvmlUtilization_t util{};
      nvmlMemory_t mem{};
      if (handle_(i, &device) != 0 || util_(device, &util) != 0 || mem_(device, &mem) != 0)
        continue;
      out.push_back(GpuSample{static_cast<int>(i), util.gpu / 100.0, static_cast<double>(mem.used),
                              static_cast<double>(mem.total)});
    }
    return out;
  }

 private:
  void* lib_;
  CountFn count_ = nullptr;
  HandleFn handle_ = nullptr;
  UtilFn util_ = nullptr;
  MemFn mem_ = nullptr;
  InitFn shutdown_ = nullptr;
};

}  // namespace

std::unique_ptr<GpuMonitor> GpuMonitor::open() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  auto monitor = std::make_unique<NvmlMonitor>(lib);
  if (!monitor->init()) return nullptr;
  return monitor;
}

}  // namespace dso::inference
