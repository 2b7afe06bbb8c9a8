// A container's environment as the kubelet builds it: the image's ENV, then envFrom sources, then
// env entries in order (later names win), with values from ConfigMaps, Secrets and the pod's own
// fields (fieldRef), and $(VAR) references expanded in values, command and args.
#pragma once

#include <expected>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kube/types.h"
#include "testbed/image_table.h"

namespace dso::testbed {

using StringMap = std::map<std::string, std::string>;

// Where ConfigMaps and Secrets come from (the API server; a map in unit tests). Secret data is
// returned decoded. Errors are one line ("secret ns/name: not found").
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  virtual std::expected<StringMap, std::string> config_map(const std::string& ns,
                                                           const std::string& name) = 0;
  virtual std::expected<StringMap, std::string> secret(const std::string& ns,
                                                       const std::string& name) = 0;
};

// What fieldRef can name: metadata.name, metadata.namespace, metadata.uid, spec.nodeName,
// spec.serviceAccountName, status.podIP, status.hostIP, metadata.labels['k'],
// metadata.annotations['k'].
struct PodFacts {
  std::string name, ns, uid, node_name, service_account, pod_ip, host_ip;
  StringMap labels, annotations;
  static PodFacts of(const kube::Json& pod, std::string pod_ip, std::string host_ip);
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

// The environment of `container` (a core/v1 Container), in the order a process gets it, each name
// once. Errors name the entry (what the kubelet reports as CreateContainerConfigError).
std::expected<EnvList, std::string> container_env(const kube::Json& container, const Image& image,
                                                  const PodFacts& pod, ObjectSource& objects);

// Expands $(NAME) with `env`; $$ is a literal $; an unknown $(NAME) stays as written (Kubernetes'
// rule).
std::string expand(const std::string& text, const StringMap& env);

}  // namespace dso::testbed
