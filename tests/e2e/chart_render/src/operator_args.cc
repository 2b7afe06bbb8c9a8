// The operator container's args from the chart's Deployment; see chart_render/operator_args.h.
#include "chart_render/operator_args.h"

namespace dso::chart_render {
namespace {

using kube::Json;

std::string deployment_name(const Json& doc) {
  const Json metadata = doc.value("metadata", Json::object());
  return "Deployment " + metadata.value("namespace", "") + "/" + metadata.value("name", "");
}

// The container named `name` of a Deployment, or nullptr.
const Json* find_container(const Json& deployment, const std::string& name) {
  const Json::json_pointer path("/spec/template/spec/containers");
  if (!deployment.contains(path) || !deployment.at(path).is_array()) return nullptr;
  for (const auto& c : deployment.at(path))
    if (c.is_object() && c.value("name", "") == name) return &c;
  return nullptr;
}

std::expected<std::vector<std::string>, std::string> read_args(const Json& container,
                                                               const std::string& where) {
  std::vector<std::string> out;
  const auto it = container.find("args");
  if (it == container.end() || it->is_null()) return out;
  if (!it->is_array()) return std::unexpected(where + ": args: expected a list");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& arg = (*it)[i];
    const std::string at = where + ": args[" + std::to_string(i) + "]";
    if (!arg.is_string()) return std::unexpected(at + ": expected a string");
    // One argument per output line: a newline inside one could not be told apart.
    if (arg.get<std::string>().find('\n') != std::string::npos)
      return std::unexpected(at + ": contains a newline");
    out.push_back(arg.get<std::string>());
  }
  return out;
}

}  // namespace

std::expected<std::vector<std::string>, std::string> operator_args(
    const std::vector<kube::Json>& manifests, const std::string& container) {
  const Json* found = nullptr;
  std::string where;
  for (const auto& doc : manifests) {
    if (!doc.is_object() || doc.value("kind", "") != "Deployment") continue;
    const Json* c = find_container(doc, container);
    if (c == nullptr) continue;
    if (found != nullptr) {
      return std::unexpected("two Deployments have a container \"" + container + "\": " + where +
                             " and " + deployment_name(doc));
    }
    found = c;
    where = deployment_name(doc);
  }
  if (found == nullptr)
    return std::unexpected("no Deployment with a container \"" + container + "\" in the manifests");
  return read_args(*found, where + ": container \"" + container + "\"");
}

}  // namespace dso::chart_render
