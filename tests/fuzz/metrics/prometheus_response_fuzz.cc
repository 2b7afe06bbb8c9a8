// libFuzzer target: parse_query_response on arbitrary bodies and statuses. It must never crash,
// and its promises must hold on whatever it accepts or refuses: a refusal is one line naming the
// query, a vector sample has exactly one point, a scalar is one unlabelled series.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/prometheus_result.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // First byte picks the HTTP status, the rest is the body.
  static constexpr int kStatuses[] = {200, 400, 422, 429, 500, 503, 502, 404};
  const int status = kStatuses[data[0] % 8];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  dso::metrics::QueryResult out;
  dso::metrics::PrometheusError error;
  if (!dso::metrics::parse_query_response_into(body, status, "Q", out, error)) {
    const auto& m = error.message;
    if (m.rfind("Q: ", 0) != 0 || m.find('\n') != std::string::npos) std::abort();
    if (error.http_status != status) std::abort();
    return 0;
  }
  const auto* r = &out;
  if (status != 200) std::abort();  // success needs a 2xx status
  using dso::metrics::ResultType;
  for (const auto& s : r->series) {
    if (r->type == ResultType::kVector && s.points.size() != 1) std::abort();
  }
  if (r->type == ResultType::kScalar && (r->series.size() != 1 || !r->series[0].labels.empty()))
    std::abort();
  if (r->type == ResultType::kString && !r->series.empty()) std::abort();
  double v = 0;
  std::string message;
  (void)dso::metrics::parse_sample_value_into(body, v, message);
  return 0;
}
