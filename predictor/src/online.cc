#include "predictor/online.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dso::predictor {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

OnlineForecaster::OnlineForecaster(std::int64_t step, ForecastOptions options)
    : options_(std::move(options)) {
  series_.step = step > 0 ? step : 1;
  const double days = options_.max_history_days > 0 ? options_.max_history_days : 56;
  window_ = std::max<std::size_t>(
      1, static_cast<std::size_t>(days * 86400.0 / static_cast<double>(series_.step)));
}

std::expected<void, std::string> OnlineForecaster::observe(std::int64_t t, double value) {
  if (!std::isfinite(value)) {
    return std::unexpected("observe: value at " + std::to_string(t) + " is not finite");
  }
  const std::int64_t slot = floor_div(t, series_.step) * series_.step;
  if (series_.values.empty()) {
    series_.start = slot;
    series_.values.push_back(value);
    count_ = 1;
    return {};
  }
  const std::int64_t last = series_.time_at(series_.values.size() - 1);
  if (slot < last) {
    return std::unexpected("observe: time " + std::to_string(t) + " is before the current step " +
                           std::to_string(last));
  }
  if (slot == last) {
    double& v = series_.values.back();
    v = std::isnan(v) ? value
                      : (v * static_cast<double>(count_) + value) / static_cast<double>(count_ + 1);
    ++count_;
    return {};
  }
  const auto missing = static_cast<std::size_t>((slot - last) / series_.step - 1);
  if (missing >= window_) {
    // A gap longer than the window: start afresh.
    series_.values.clear();
    series_.start = slot;
  } else {
    series_.values.insert(series_.values.end(), missing, std::numeric_limits<double>::quiet_NaN());
  }
  series_.values.push_back(value);
  count_ = 1;
  trim();
  return {};
}

void OnlineForecaster::trim() {
  // Drop the oldest steps in batches, so that the cost per observation stays O(1) amortised.
  if (series_.values.size() < window_ + window_ / 4 + 1) return;
  const std::size_t drop = series_.values.size() - window_;
  series_.values.erase(series_.values.begin(),
                       series_.values.begin() + static_cast<std::ptrdiff_t>(drop));
  series_.start += static_cast<std::int64_t>(drop) * series_.step;
}

std::expected<Forecast, std::string> OnlineForecaster::forecast(std::size_t horizon) const {
  ForecastOptions o = options_;
  o.horizon = horizon;
  return predictor::forecast(series_, o);
}

}  // namespace dso::predictor
