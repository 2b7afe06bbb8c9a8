#include "kube/types.h"

namespace dso::kube {

std::string Resource::to_string() const {
  return group.empty() ? resource + "." + version : resource + "." + version + "." + group;
}

std::string ApiError::to_string() const {
  std::string out = std::to_string(code);
  if (!reason.empty()) out += " " + reason;
  return out + ": " + message;
}

ApiError ApiError::from_response(int http_code, const std::string& body, const std::string& where) {
  ApiError e;
  e.code = http_code;
  const Json status = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    if (status.contains("code") && status["code"].is_number_integer()) e.code = status["code"];
    e.reason = status.value("reason", "");
    e.message = where + ": " + status.value("message", "");
    if (status.contains("details")) {
      e.details = status["details"];
      if (e.details.contains("retryAfterSeconds") && e.details["retryAfterSeconds"].is_number()) {
        e.retry_after = std::chrono::seconds(e.details["retryAfterSeconds"].get<long>());
      }
    }
  } else {
    std::string text = body.substr(0, 200);
    for (char& ch : text) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    e.message = where + ": HTTP " + std::to_string(http_code) + (text.empty() ? "" : ": " + text);
  }
  if (e.reason.empty()) {
    switch (e.code) {
      case 400:
        e.reason = "BadRequest";
        break;
      case 401:
        e.reason = "Unauthorized";
        break;
      case 403:
        e.reason = "Forbidden";
        break;
      case 404:
        e.reason = "NotFound";
        break;
      case 405:
        e.reason = "MethodNotAllowed";
        break;
      case 409:
        e.reason = "Conflict";
        break;
      case 410:
        e.reason = "Gone";
        break;
      case 415:
        e.reason = "UnsupportedMediaType";
        break;
      case 422:
        e.reason = "Invalid";
        break;
      case 429:
        e.reason = "TooManyRequests";
        break;
      case 500:
        e.reason = "InternalError";
        break;
      case 503:
        e.reason = "ServiceUnavailable";
        break;
      case 504:
        e.reason = "Timeout";
        break;
      default:
        break;
    }
  }
  return e;
}

ApiError ApiError::transport(const std::string& message) {
  ApiError e;
  e.code = 0;
  e.reason = "ConnectionFailure";
  e.message = message;
  return e;
}

std::string meta_string(const Json& object, const char* field) {
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return "";
  const auto f = m->find(field);
  if (f == m->end() || !f->is_string()) return "";
  return f->get<std::string>();
}

Json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message) {
  return Json{{"type", type},
              {"status", status ? "True" : "False"},
              {"reason", reason},
              {"message", message}};
}

std::string make_key(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string object_key(const Json& object) {
  return make_key(meta_string(object, "namespace"), meta_string(object, "name"));
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace dso::kube
