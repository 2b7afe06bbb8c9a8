// Internal to dso_metrics: helpers shared by the client (prometheus_client.cc) and the response
// parser (prometheus_parse.cc).
#pragma once

#include <string>
#include <string_view>

#include "metrics/prometheus_result.h"

namespace dso::metrics::detail {

// One line, at most `max` characters: messages quote queries and bodies.
inline std::string one_line(std::string_view text, std::size_t max = 300) {
  std::string out;
  for (const char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

inline PrometheusError make_error(PrometheusError::Kind kind, std::string message, int status = 0,
                                  std::string error_type = "") {
  PrometheusError e;
  e.kind = kind;
  e.http_status = status;
  e.error_type = std::move(error_type);
  e.message = std::move(message);
  return e;
}

}  // namespace dso::metrics::detail
