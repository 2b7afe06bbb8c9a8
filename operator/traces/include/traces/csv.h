// traces/csv.h: time series in and out of CSV files.
//
// Input: a header line, then `timestamp,value` rows (extra columns are ignored). A timestamp is
// `YYYY-MM-DD HH:MM:SS` (UTC; a `T` separator and a trailing `Z` are accepted) or unix seconds.
// Rows must be in strictly increasing time order. The series is put on a regular step (inferred
// as the most common spacing, or given) by averaging the rows that fall in each step-aligned
// bucket; empty buckets (gaps) and NaN/empty values are filled by linear interpolation and
// reported as warnings, never as errors.
//
// Output: a forecast as `timestamp,value[,q0.9...]`, one row per future step.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "predictor/forecast.h"

namespace dso::traces {

enum class TimestampFormat { kDateTime, kUnixSeconds };

struct ReadOptions {
  // Resampling step in seconds; nullopt infers it from the data (the most common spacing).
  std::optional<std::int64_t> step{};
  // Fewer observed (non-NaN) points after resampling than this is an error.
  std::size_t min_points = 2;
  // Fill gaps and NaN by linear interpolation (reported in warnings). When false they stay NaN
  // in the series (the predictor treats NaN as missing).
  bool fill_gaps = true;
};

struct LoadedSeries {
  predictor::Series series;           // regular, step-aligned: start is a multiple of step
  std::vector<std::string> warnings;  // one line each: gaps, NaN values, resampling
  std::size_t rows = 0;               // data rows read
  TimestampFormat format = TimestampFormat::kDateTime;  // as found in the file
};

// Parses CSV text; `name` is used in messages ("name:LINE: problem"). Errors: no header, a row
// with fewer than 2 columns, an unparsable timestamp or value, timestamps out of order or
// duplicated, no rows, a non-positive step, too few points. Cost: O(rows + span / step).
std::expected<LoadedSeries, std::string> parse_series_csv(std::string_view text,
                                                          std::string_view name,
                                                          const ReadOptions& options = {});

// Reads and parses a file; a missing or unreadable file is an error naming the path.
std::expected<LoadedSeries, std::string> read_series_csv(const std::string& path,
                                                         const ReadOptions& options = {});

// Puts a regular series on a coarser step (a multiple of series.step is not required) by the
// mean of the values in each step-aligned bucket; NaN values are skipped, empty buckets are NaN.
predictor::Series resample_mean(const predictor::Series& series, std::int64_t step);

// Fills NaN runs by linear interpolation (leading/trailing runs take the nearest value). Returns
// how many values were filled.
std::size_t fill_missing(std::vector<double>& values);

// Timestamps: "2014-07-01 00:30:00" (UTC) <-> unix seconds.
std::expected<std::int64_t, std::string> parse_timestamp(std::string_view text);
std::string format_timestamp(std::int64_t unix_seconds, TimestampFormat format);

// The forecast as CSV: header `timestamp,value,q0.9,...`, then one row per step.
std::string format_forecast_csv(const predictor::Forecast& forecast,
                                TimestampFormat format = TimestampFormat::kDateTime);

// Writes format_forecast_csv() to `path` through a temporary file renamed into place, so a
// failure never leaves a half-written file.
std::expected<void, std::string> write_forecast_csv(
    const std::string& path, const predictor::Forecast& forecast,
    TimestampFormat format = TimestampFormat::kDateTime);

}  // namespace dso::traces
