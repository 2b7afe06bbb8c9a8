// Static targets, and the ready addresses of a Kubernetes Endpoints object.
#include "loadgen/endpoints.h"

#include <algorithm>

#include "kube/config.h"
#include "kube/rest_client.h"

namespace dso::loadgen {
namespace {

// The port of one subset that we send to: the one named `name`, or the only one when unnamed.
std::optional<std::uint16_t> subset_port(const kube::Json& ports, const std::string& name) {
  if (!ports.is_array()) return std::nullopt;
  for (const auto& p : ports) {
    const bool only_unnamed = ports.size() == 1 && p.value("name", "").empty();
    if ((p.value("name", "") == name || only_unnamed) && p.value("protocol", "TCP") == "TCP") {
      const int port = p.value("port", 0);
      if (port > 0 && port <= 65535) return static_cast<std::uint16_t>(port);
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<Address> ready_addresses(const kube::Json& endpoints, const std::string& port_name) {
  std::vector<Address> out;
  if (!endpoints.is_object() || !endpoints.contains("subsets")) return out;
  for (const auto& subset : endpoints["subsets"]) {
    const auto port = subset_port(subset.value("ports", kube::Json::array()), port_name);
    if (!port || !subset.contains("addresses")) continue;
    for (const auto& a : subset["addresses"]) {
      if (auto parsed = parse_address(a.value("ip", "") + ":" + std::to_string(*port))) {
        out.push_back(*parsed);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::expected<void, std::string> StaticEndpoints::start(EndpointsCallback on_change) {
  on_change(addresses_);
  return {};
}

ServiceEndpoints::ServiceEndpoints(kube::KubeClientPtr client, std::string ns, std::string name,
                                   std::string port_name)
    : client_(std::move(client)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      port_name_(std::move(port_name)) {}

void ServiceEndpoints::report() {
  // Under one lock, so that the set reported last is read last: a report from start() cannot
  // overtake a newer one from the informer's thread.
  std::lock_guard lock(report_mu_);
  const auto object = informer_->store().get(kube::make_key(ns_, name_));
  on_change_(object ? ready_addresses(*object, port_name_) : std::vector<Address>{});
}

std::expected<void, std::string> ServiceEndpoints::start(EndpointsCallback on_change) {
  on_change_ = std::move(on_change);
  kube::InformerOptions options;
  options.resource = {"", "v1", "endpoints", true};
  options.ns = ns_;
  options.field_selector = "metadata.name=" + name_;
  options.storage = kube::CacheStorage::kParsed;
  options.on_log = [this](const std::string& message) {
    std::lock_guard lock(log_mu_);
    last_log_ = message;
  };
  informer_ = std::make_unique<kube::Informer>(client_, options);
  // One object at most: every event re-reads it from the cache and reports the whole set.
  kube::EventHandlers handlers;
  handlers.on_add = [this](const kube::ObjectPtr&) { report(); };
  handlers.on_update = [this](const kube::ObjectPtr&, const kube::ObjectPtr&) { report(); };
  handlers.on_delete = [this](const kube::ObjectPtr&, bool) { report(); };
  informer_->add_handlers(std::move(handlers));
  informer_->start();
  if (!informer_->wait_for_sync(std::chrono::seconds(30))) {
    informer_->stop();
    std::lock_guard lock(log_mu_);
    return std::unexpected("endpoints " + ns_ + "/" + name_ + ": not listed within 30 s" +
                           (last_log_.empty() ? "" : ": " + last_log_));
  }
  report();  // also when the object does not exist (yet): no endpoints
  return {};
}

void ServiceEndpoints::stop() {
  if (informer_) informer_->stop();
}

std::expected<EndpointSourcePtr, std::string> service_endpoints(const std::string& kubeconfig,
                                                                const std::string& ns,
                                                                const std::string& name,
                                                                const std::string& port_name) {
  kube::ConfigSources sources = kube::ConfigSources::from_environment();
  sources.kubeconfig_flag = kubeconfig;
  auto config = kube::load_config(sources);
  if (!config) return std::unexpected(config.error());
  config->user_agent = "dso-loadgen";
  auto client = kube::RestClient::create(*config);
  if (!client) return std::unexpected(client.error());
  return std::make_unique<ServiceEndpoints>(*client, ns, name, port_name);
}

}  // namespace dso::loadgen
