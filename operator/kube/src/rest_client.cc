#include "kube/rest_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/uri.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace dso::kube {
namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

bool idempotent(const std::string& verb) {
  return verb == "GET" || verb == "LIST" || verb == "PUT" || verb == "DELETE";
}

std::string encode(const std::string& s) {
  return web::uri::encode_data_string(s);
}

void add_param(std::string& query, const char* name, const std::string& value) {
  if (value.empty()) return;
  query += query.empty() ? "?" : "&";
  query += name;
  query += "=";
  query += encode(value);
}

std::expected<std::string, std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::string(what) + " " + path + ": cannot read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double uniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

struct Response {
  int code = 0;
  std::string body;
};

// An input iterator over a response body stream, reading 64 KiB at a time, so that a large LIST
// is parsed while it is still arriving instead of after the whole body was buffered.
class BodyIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  BodyIterator() = default;  // the end
  explicit BodyIterator(concurrency::streams::streambuf<std::uint8_t> sb)
      : state_(std::make_shared<State>(std::move(sb))) {
    state_->fill();
  }
  reference operator*() const { return state_->data[state_->pos]; }
  BodyIterator& operator++() {
    if (++state_->pos >= state_->len) state_->fill();
    return *this;
  }
  BodyIterator operator++(int) {
    BodyIterator copy = *this;
    ++*this;
    return copy;
  }
  // Iterators compare equal only when both are at the end (all the parser asks).
  bool operator==(const BodyIterator& o) const { return at_end() && o.at_end(); }
  bool operator!=(const BodyIterator& o) const { return !(*this == o); }

 private:
  struct State {
    explicit State(concurrency::streams::streambuf<std::uint8_t> b)
        : sb(std::move(b)), data(1 << 16) {}
    void fill() {
      pos = 0;
      len = sb.getn(reinterpret_cast<std::uint8_t*>(data.data()), data.size()).get();
      eof = len == 0;
    }
    concurrency::streams::streambuf<std::uint8_t> sb;
    std::vector<char> data;
    std::size_t pos = 0, len = 0;
    bool eof = false;
  };
  bool at_end() const { return !state_ || state_->eof; }
  std::shared_ptr<State> state_;
};

}  // namespace

std::optional<Duration> retry_delay(const std::string& verb, const ApiError& error, int attempt,
                                    const RetryPolicy& policy, double jitter) {
  if (attempt >= policy.max_attempts) return std::nullopt;
  bool retry = false;
  if (error.code == 429) {
    retry = true;
  } else if (error.code >= 500) {
    retry = error.retry_after.has_value() || idempotent(verb);
  } else if (error.code == 0) {
    retry = idempotent(verb);
  }
  if (!retry) return std::nullopt;
  if (error.retry_after) {
    return std::chrono::duration_cast<Duration>(
        std::min(*error.retry_after, policy.max_retry_after));
  }
  Duration d = policy.initial_backoff;
  for (int i = 1; i < attempt && d < policy.max_backoff; ++i) d *= 2;
  d = std::min(d, policy.max_backoff);
  const double scale = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::duration_cast<Duration>(d * scale);
}

std::string resource_path(const Resource& r, const std::string& ns, const std::string& name,
                          const std::string& subresource) {
  std::string path = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) path += "/namespaces/" + encode(ns);
  path += "/" + r.resource;
  if (!name.empty()) path += "/" + encode(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

struct RestClient::Impl {
  Config config;
  RestOptions options;
  std::unique_ptr<TokenSource> tokens;
  std::unique_ptr<http_client> client;
  std::unique_ptr<http_client> watch_client;

  http_client_config make_http_config(std::chrono::seconds timeout, const std::string& ca,
                                      const std::string& cert, const std::string& key) const {
    http_client_config c;
    c.set_timeout(timeout);
    c.set_validate_certificates(!config.insecure_skip_tls_verify);
    const Config cfg = config;
    c.set_ssl_context_callback([cfg, ca, cert, key](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
        ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                            boost::asio::ssl::context::pem);
      }
    });
    return c;
  }

  http::http_request make_request(const http::method& method, const std::string& path_query,
                                  const std::string& body, const std::string& content_type) {
    http::http_request req(method);
    req.set_request_uri(path_query);
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", config.user_agent);
    const std::string token = tokens->token();
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    if (!content_type.empty()) req.set_body(body, content_type);
    return req;
  }

  // One HTTP exchange with retries; returns the final response (any status) or a transport error.
  Result<Response> send(const http::method& method, const std::string& verb,
                        const std::string& path_query, const std::string& body = "",
                        const std::string& content_type = "") {
    for (int attempt = 1;; ++attempt) {
      const auto start = std::chrono::steady_clock::now();
      ApiError error;
      Response response;
      bool ok = false;
      try {
        http::http_response r =
            client->request(make_request(method, path_query, body, content_type)).get();
        response.code = r.status_code();
        response.body = r.extract_utf8string(true).get();
        ok = true;
        if (response.code == 429 || response.code >= 500) {
          error = ApiError::from_response(response.code, response.body,
                                          verb + " " + config.server + path_query);
          if (r.headers().has("Retry-After")) {
            try {
              error.retry_after = std::chrono::seconds(std::stol(r.headers()["Retry-After"]));
            } catch (const std::exception&) {
            }
          }
        } else if (response.code == 401 && attempt == 1 && !config.token_file.empty()) {
          tokens->invalidate();  // a rotated token: re-read the file and try once more
          error.code = 401;
        }
      } catch (const std::exception& e) {
        error = ApiError::transport(verb + " " + config.server + path_query + ": " + e.what());
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (options.metrics) options.metrics->observe_request(verb, ok ? response.code : 0, seconds);
      if (ok && error.code == 401) continue;
      if (ok && !(response.code == 429 || response.code >= 500)) return response;
      const auto delay = retry_delay(verb, error, attempt, options.retry, uniform01());
      if (!delay) {
        if (ok) return response;
        return std::unexpected(error);
      }
      std::this_thread::sleep_for(*delay);
    }
  }

  // GET whose 2xx body is parsed while it streams in; errors and retries as in send().
  Result<Json> stream_json(const std::string& verb, const std::string& path_query) {
    for (int attempt = 1;; ++attempt) {
      const auto start = std::chrono::steady_clock::now();
      ApiError error;
      int code = 0;
      try {
        http::http_response r =
            client->request(make_request(http::methods::GET, path_query, "", "")).get();
        code = r.status_code();
        if (code >= 200 && code < 300) {
          Json parsed = Json::parse(BodyIterator(r.body().streambuf()), BodyIterator(), nullptr,
                                    /*allow_exceptions=*/false);
          if (options.metrics) {
            options.metrics->observe_request(
                verb, code,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          }
          if (parsed.is_discarded()) {
            return std::unexpected(ApiError{code, "InvalidResponse",
                                            verb + " " + path_query + ": response is not JSON",
                                            nullptr, std::nullopt});
          }
          return parsed;
        }
        error = ApiError::from_response(code, r.extract_utf8string(true).get(),
                                        verb + " " + path_query);
        if (r.headers().has("Retry-After")) {
          try {
            error.retry_after = std::chrono::seconds(std::stol(r.headers()["Retry-After"]));
          } catch (const std::exception&) {
          }
        }
      } catch (const std::exception& e) {
        error = ApiError::transport(verb + " " + config.server + path_query + ": " + e.what());
      }
      if (options.metrics) {
        options.metrics->observe_request(
            verb, code,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      if (code == 401 && attempt == 1 && !config.token_file.empty()) {
        tokens->invalidate();
        continue;
      }
      const auto delay = retry_delay(verb, error, attempt, options.retry, uniform01());
      if (!delay) return std::unexpected(error);
      std::this_thread::sleep_for(*delay);
    }
  }

  Result<Json> json_call(const http::method& method, const std::string& verb,
                         const std::string& path_query, const std::string& body = "",
                         const std::string& content_type = "") {
    auto response = send(method, verb, path_query, body, content_type);
    if (!response) return std::unexpected(response.error());
    const std::string where = verb + " " + path_query;
    if (response->code < 200 || response->code >= 300) {
      return std::unexpected(ApiError::from_response(response->code, response->body, where));
    }
    Json parsed = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return std::unexpected(ApiError{response->code, "InvalidResponse",
                                      where + ": response is not JSON", nullptr, std::nullopt});
    }
    return parsed;
  }
};

std::expected<std::shared_ptr<RestClient>, std::string> RestClient::create(const Config& config,
                                                                           RestOptions options) {
  if (config.server.empty())
    return std::unexpected("kube config (" + config.origin + "): server: empty");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = std::move(options);
  std::string ca = config.ca_data, cert = config.client_certificate_data,
              key = config.client_key_data;
  if (ca.empty() && !config.ca_file.empty()) {
    auto r = read_file(config.ca_file, "certificate-authority");
    if (!r) return std::unexpected(r.error());
    ca = *r;
  }
  if (cert.empty() && !config.client_certificate_file.empty()) {
    auto r = read_file(config.client_certificate_file, "client-certificate");
    if (!r) return std::unexpected(r.error());
    cert = *r;
  }
  if (key.empty() && !config.client_key_file.empty()) {
    auto r = read_file(config.client_key_file, "client-key");
    if (!r) return std::unexpected(r.error());
    key = *r;
  }
  impl->tokens = std::make_unique<TokenSource>(config.token, config.token_file);
  try {
    const web::uri base(config.server);
    impl->client = std::make_unique<http_client>(
        base, impl->make_http_config(impl->options.request_timeout, ca, cert, key));
    impl->watch_client = std::make_unique<http_client>(
        base, impl->make_http_config(impl->options.watch_timeout, ca, cert, key));
  } catch (const std::exception& e) {
    return std::unexpected("kube config (" + config.origin + "): server \"" + config.server +
                           "\": " + e.what());
  }
  return std::shared_ptr<RestClient>(new RestClient(std::move(impl)));
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

const Config& RestClient::config() const {
  return impl_->config;
}

Result<Json> RestClient::get(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& subresource) {
  return impl_->json_call(http::methods::GET, "GET", resource_path(r, ns, name, subresource));
}

Result<ObjectList> RestClient::list(const Resource& r, const std::string& ns,
                                    const ListOptions& options) {
  std::string query;
  add_param(query, "labelSelector", options.label_selector);
  add_param(query, "fieldSelector", options.field_selector);
  add_param(query, "resourceVersion", options.resource_version);
  add_param(query, "resourceVersionMatch", options.resource_version_match);
  if (options.limit > 0) add_param(query, "limit", std::to_string(options.limit));
  add_param(query, "continue", options.continue_token);
  auto body = impl_->stream_json("LIST", resource_path(r, ns) + query);
  if (!body) return std::unexpected(body.error());
  ObjectList out;
  if (auto meta = body->find("metadata"); meta != body->end() && meta->is_object()) {
    out.resource_version = meta->value("resourceVersion", "");
    out.continue_token = meta->value("continue", "");
  }
  if (auto items = body->find("items"); items != body->end() && items->is_array()) {
    out.items.reserve(items->size());
    for (auto& item : *items) out.items.push_back(std::move(item));
  }
  return out;
}

Result<Json> RestClient::create(const Resource& r, const std::string& ns, const Json& object) {
  return impl_->json_call(http::methods::POST, "POST", resource_path(r, ns), object.dump(),
                          "application/json");
}

Result<Json> RestClient::update(const Resource& r, const std::string& ns, const Json& object,
                                const std::string& subresource) {
  return impl_->json_call(http::methods::PUT, "PUT",
                          resource_path(r, ns, meta_string(object, "name"), subresource),
                          object.dump(), "application/json");
}

Result<Json> RestClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const Json& patch, const PatchOptions& options,
                               const std::string& subresource) {
  std::string query;
  add_param(query, "fieldManager", options.field_manager);
  if (type == PatchType::kApply) {
    if (options.field_manager.empty()) {
      return std::unexpected(ApiError{
          400, "BadRequest",
          "PATCH " + resource_path(r, ns, name) + ": server-side apply needs a fieldManager",
          nullptr, std::nullopt});
    }
    if (options.force) add_param(query, "force", "true");
  }
  return impl_->json_call(http::methods::PATCH, "PATCH",
                          resource_path(r, ns, name, subresource) + query, patch.dump(),
                          to_string(type));
}

Result<Json> RestClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                                const DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.propagation != Propagation::kDefault) {
    body["propagationPolicy"] = to_string(options.propagation);
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  return impl_->json_call(http::methods::DEL, "DELETE", resource_path(r, ns, name), body.dump(),
                          "application/json");
}

Result<void> RestClient::watch(const Resource& r, const std::string& ns,
                               const WatchOptions& options,
                               const std::function<void(WatchEvent&&)>& on_event,
                               std::stop_token stop) {
  std::string query = "?watch=1";
  add_param(query, "resourceVersion", options.resource_version);
  add_param(query, "labelSelector", options.label_selector);
  add_param(query, "fieldSelector", options.field_selector);
  if (options.allow_bookmarks) query += "&allowWatchBookmarks=true";
  if (options.timeout_seconds > 0)
    query += "&timeoutSeconds=" + std::to_string(options.timeout_seconds);
  const std::string path = resource_path(r, ns) + query;
  const std::string where = "WATCH " + path;
  pplx::cancellation_token_source cancel;
  std::stop_callback on_stop(stop, [&cancel] { cancel.cancel(); });
  const auto start = std::chrono::steady_clock::now();
  try {
    http::http_response response =
        impl_->watch_client
            ->request(impl_->make_request(http::methods::GET, path, "", ""), cancel.get_token())
            .get();
    if (impl_->options.metrics) {
      impl_->options.metrics->observe_request(
          "WATCH", response.status_code(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    if (response.status_code() != 200) {
      ApiError e = ApiError::from_response(response.status_code(),
                                           response.extract_utf8string(true).get(), where);
      if (response.status_code() == 401) impl_->tokens->invalidate();
      return std::unexpected(e);
    }
    auto body = response.body();
    while (!stop.stop_requested()) {
      concurrency::streams::container_buffer<std::string> line;
      const std::size_t n = body.read_line(line).get();
      std::string& text = line.collection();
      if (n == 0 && text.empty()) {
        if (body.is_eof()) break;
        continue;
      }
      Json event = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded() || !event.is_object()) {
        return std::unexpected(
            ApiError::transport(where + ": malformed watch event: " + text.substr(0, 120)));
      }
      WatchEvent e;
      e.type = event.value("type", "");
      if (auto o = event.find("object"); o != event.end()) e.object = std::move(*o);
      on_event(std::move(e));
    }
  } catch (const std::exception& e) {
    if (stop.stop_requested()) return {};
    if (impl_->options.metrics) impl_->options.metrics->observe_request("WATCH", 0, 0);
    return std::unexpected(ApiError::transport(where + ": " + e.what()));
  }
  return {};
}

Result<std::vector<ApiResource>> RestClient::discover(const std::string& group_version) {
  const std::string path = group_version.find('/') == std::string::npos ? "/api/" + group_version
                                                                        : "/apis/" + group_version;
  auto body = impl_->json_call(http::methods::GET, "GET", path);
  if (!body) return std::unexpected(body.error());
  std::vector<ApiResource> out;
  for (const auto& item : body->value("resources", Json::array())) {
    ApiResource a;
    a.name = item.value("name", "");
    a.kind = item.value("kind", "");
    a.namespaced = item.value("namespaced", false);
    for (const auto& v : item.value("verbs", Json::array()))
      a.verbs.push_back(v.get<std::string>());
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<std::string>> RestClient::server_group_versions() {
  std::vector<std::string> out;
  auto core = impl_->json_call(http::methods::GET, "GET", "/api");
  if (!core) return std::unexpected(core.error());
  for (const auto& v : core->value("versions", Json::array())) out.push_back(v.get<std::string>());
  auto groups = impl_->json_call(http::methods::GET, "GET", "/apis");
  if (!groups) return std::unexpected(groups.error());
  for (const auto& g : groups->value("groups", Json::array())) {
    const std::string preferred =
        g.value("preferredVersion", Json::object()).value("groupVersion", "");
    if (!preferred.empty()) out.push_back(preferred);
    for (const auto& v : g.value("versions", Json::array())) {
      const std::string gv = v.value("groupVersion", "");
      if (gv != preferred) out.push_back(gv);
    }
  }
  return out;
}

Result<std::string> RestClient::get_raw(const std::string& path) {
  auto response = impl_->send(http::methods::GET, "GET", path);
  if (!response) return std::unexpected(response.error());
  if (response->code < 200 || response->code >= 300) {
    return std::unexpected(ApiError::from_response(response->code, response->body, "GET " + path));
  }
  return response->body;
}

}  // namespace dso::kube
