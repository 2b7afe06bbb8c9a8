// loadgen/endpoints.h: where the targets come from. A fixed list (--target), or the ready
// addresses of one Kubernetes Endpoints object followed with an informer (--service NS/NAME), as
// an ingress in front of the Service would see them.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/informer.h"
#include "loadgen/address.h"

namespace dso::loadgen {

// Called with the whole current set each time it changes (and once at start).
using EndpointsCallback = std::function<void(std::vector<Address>)>;

class EndpointSource {
 public:
  virtual ~EndpointSource() = default;
  // Starts following; the first set is reported before this returns. Error: one line.
  virtual std::expected<void, std::string> start(EndpointsCallback on_change) = 0;
  // No callback runs after this returns.
  virtual void stop() = 0;
};
using EndpointSourcePtr = std::unique_ptr<EndpointSource>;

// The --target list, reported once.
class StaticEndpoints : public EndpointSource {
 public:
  explicit StaticEndpoints(std::vector<Address> addresses) : addresses_(std::move(addresses)) {}
  std::expected<void, std::string> start(EndpointsCallback on_change) override;
  void stop() override {}

 private:
  std::vector<Address> addresses_;
};

// The ready addresses of the v1 Endpoints object `ns`/`name` (an informer with field selector
// metadata.name=NAME). Callbacks run on the informer's thread.
class ServiceEndpoints : public EndpointSource {
 public:
  ServiceEndpoints(kube::KubeClientPtr client, std::string ns, std::string name,
                   std::string port_name);
  ~ServiceEndpoints() override { stop(); }
  // Waits up to 30 s for the informer's first list.
  std::expected<void, std::string> start(EndpointsCallback on_change) override;
  void stop() override;

 private:
  void report();

  kube::KubeClientPtr client_;
  std::string ns_, name_, port_name_;
  EndpointsCallback on_change_;
  std::mutex report_mu_;
  std::mutex log_mu_;
  std::string last_log_;  // the informer's last complaint, for start()'s error
  std::unique_ptr<kube::Informer> informer_;
};

// Makes a ServiceEndpoints from a kubeconfig path ("": the standard order, see kube::load_config).
std::expected<EndpointSourcePtr, std::string> service_endpoints(const std::string& kubeconfig,
                                                                const std::string& ns,
                                                                const std::string& name,
                                                                const std::string& port_name);

// The ready addresses of an Endpoints object: subsets[].addresses (not notReadyAddresses) with the
// port named `port_name` (or the subset's only port when it has no name), IPv4 only, sorted and
// unique. A null object (deleted) has none.
std::vector<Address> ready_addresses(const kube::Json& endpoints, const std::string& port_name);

}  // namespace dso::loadgen
