#include "kube/health_server.h"

#include <cpprest/http_listener.h>
#include <prometheus/text_serializer.h>

namespace dso::kube {

struct HealthServer::Impl {
  std::string address;
  std::shared_ptr<prometheus::Registry> registry;
  mutable std::mutex mu;
  std::vector<std::pair<std::string, HealthCheck>> liveness, readiness;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
};

HealthServer::HealthServer(std::string address, std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->registry = std::move(registry);
}

HealthServer::~HealthServer() {
  stop();
}

void HealthServer::add_liveness_check(const std::string& name, HealthCheck check) {
  std::lock_guard lock(impl_->mu);
  impl_->liveness.emplace_back(name, std::move(check));
}

void HealthServer::add_readiness_check(const std::string& name, HealthCheck check) {
  std::lock_guard lock(impl_->mu);
  impl_->readiness.emplace_back(name, std::move(check));
}

std::pair<int, std::string> HealthServer::evaluate(const std::string& path, bool verbose) const {
  if (path == "/metrics") {
    if (!impl_->registry) return {404, "no metrics registry\n"};
    return {200, prometheus::TextSerializer().Serialize(impl_->registry->Collect())};
  }
  std::vector<std::pair<std::string, HealthCheck>> checks;
  {
    std::lock_guard lock(impl_->mu);
    if (path == "/healthz" || path == "/livez") {
      checks = impl_->liveness;
    } else if (path == "/readyz") {
      checks = impl_->readiness;
    } else {
      return {404, "not found: " + path + "\n"};
    }
  }
  bool healthy = true;
  std::string body;
  for (const auto& [name, check] : checks) {
    std::expected<void, std::string> r;
    try {
      r = check();
    } catch (const std::exception& e) {
      r = std::unexpected(std::string("threw: ") + e.what());
    }
    if (!r) {
      healthy = false;
      body += "[-]" + name + " failed: " + r.error() + "\n";
    } else if (verbose) {
      body += "[+]" + name + " ok\n";
    }
  }
  if (healthy) return {200, verbose ? body + "ok\n" : "ok"};
  return {500, body + path.substr(1) + " check failed\n"};
}

std::expected<void, std::string> HealthServer::start() {
  using web::http::experimental::listener::http_listener;
  try {
    impl_->listener = std::make_unique<http_listener>(web::uri(impl_->address));
    impl_->listener->support(web::http::methods::GET, [this](web::http::http_request req) {
      const auto uri = req.relative_uri();
      const auto query = web::uri::split_query(uri.query());
      const auto [code, body] = evaluate(uri.path(), query.contains("verbose"));
      req.reply(static_cast<web::http::status_code>(code), body,
                uri.path() == "/metrics" ? "text/plain; version=0.0.4" : "text/plain");
    });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    return std::unexpected("health server " + impl_->address + ": " + e.what());
  }
  return {};
}

void HealthServer::stop() {
  if (!impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
  impl_->listener.reset();
}

}  // namespace dso::kube
