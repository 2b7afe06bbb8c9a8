// The pod discovery endpoint; see chart_render/pod_sd_server.h.
#include "chart_render/pod_sd_server.h"

#include <cpprest/http_listener.h>

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "chart_render/pod_targets.h"

namespace dso::chart_render {
namespace {

using web::http::http_request;
using web::http::status_codes;

std::vector<std::string> split_namespaces(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string ns; std::getline(in, ns, ',');)
    if (!ns.empty()) out.push_back(ns);
  return out;
}

// The pods of `namespaces` (all when empty), or the first API error.
std::expected<std::vector<kube::Json>, std::string> list_pods(
    kube::KubeClient& client, const std::vector<std::string>& namespaces) {
  const kube::Resource pods{"", "v1", "pods", true};
  std::vector<kube::Json> out;
  for (const auto& ns : namespaces.empty() ? std::vector<std::string>{""} : namespaces) {
    const auto list = client.list(pods, ns, {});
    if (!list)
      return std::unexpected("listing pods" + (ns.empty() ? "" : " in " + ns) + ": " +
                             list.error().to_string());
    out.insert(out.end(), list->items.begin(), list->items.end());
  }
  return out;
}

}  // namespace

struct PodSdServer::Impl {
  kube::KubeClientPtr client;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;

  void handle(const http_request& request) const {
    if (request.relative_uri().path() != "/pods") {
      request.reply(status_codes::NotFound, "dso-chart-render pod-sd serves GET /pods\n");
      return;
    }
    const auto query = web::uri::split_query(request.relative_uri().query());
    const auto it = query.find("namespaces");
    const auto pods =
        list_pods(*client, split_namespaces(it == query.end() ? "" : web::uri::decode(it->second)));
    if (!pods) {
      std::cerr << "dso-chart-render pod-sd: " << pods.error() << "\n";
      request.reply(status_codes::ServiceUnavailable, pods.error() + "\n");
      return;
    }
    request.reply(status_codes::OK, pod_target_groups(*pods).dump(), "application/json");
  }
};

PodSdServer::PodSdServer(kube::KubeClientPtr client, const std::string& listen)
    : impl_(std::make_unique<Impl>()) {
  impl_->client = std::move(client);
  try {
    impl_->listener = std::make_unique<web::http::experimental::listener::http_listener>(
        web::uri("http://" + listen));
    impl_->listener->support(web::http::methods::GET,
                             [impl = impl_.get()](const http_request& r) { impl->handle(r); });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
}

PodSdServer::~PodSdServer() {
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
    // Closing at exit: nothing left to tell anyone.
  }
}

}  // namespace dso::chart_render
