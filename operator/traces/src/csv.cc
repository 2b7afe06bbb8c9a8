#include "traces/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace dso::traces {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '"')) {
    s.remove_suffix(1);
  }
  return s;
}

bool parse_int(std::string_view s, int& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_missing_value(std::string_view s) {
  if (s.empty()) return true;
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "nan" || lower == "na" || lower == "null" || lower == "-nan";
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::expected<std::int64_t, std::string> parse_timestamp(std::string_view text) {
  text = trim(text);
  const auto fail = [&] {
    return std::unexpected("invalid timestamp '" + std::string(text) +
                           "' (expected YYYY-MM-DD HH:MM:SS or unix seconds)");
  };
  if (text.empty()) return fail();
  // Unix seconds: an integer or a decimal number.
  if (text.find('-', 1) == std::string_view::npos && text.find(':') == std::string_view::npos) {
    const auto v = parse_double(text);
    if (!v) return fail();
    return static_cast<std::int64_t>(std::floor(*v));
  }
  if (text.back() == 'Z') text.remove_suffix(1);
  if (text.size() != 19 && text.size() != 16 && text.size() != 10) return fail();
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text[4] != '-' || text[7] != '-' || !parse_int(text.substr(0, 4), year) ||
      !parse_int(text.substr(5, 2), month) || !parse_int(text.substr(8, 2), day)) {
    return fail();
  }
  if (text.size() >= 16) {
    if ((text[10] != ' ' && text[10] != 'T') || text[13] != ':' ||
        !parse_int(text.substr(11, 2), hour) || !parse_int(text.substr(14, 2), minute)) {
      return fail();
    }
  }
  if (text.size() == 19 && (text[16] != ':' || !parse_int(text.substr(17, 2), second))) {
    return fail();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 ||
      hour < 0 || minute < 0 || second < 0) {
    return fail();
  }
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

std::string format_timestamp(std::int64_t unix_seconds, TimestampFormat format) {
  if (format == TimestampFormat::kUnixSeconds) return std::to_string(unix_seconds);
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

predictor::Series resample_mean(const predictor::Series& series, std::int64_t step) {
  predictor::Series out;
  out.step = step;
  if (series.values.empty() || step <= 0) return out;
  const std::int64_t first = floor_div(series.start, step);
  const std::int64_t last = floor_div(series.time_at(series.values.size() - 1), step);
  std::vector<double> sum(static_cast<std::size_t>(last - first + 1), 0.0);
  std::vector<int> count(sum.size(), 0);
  for (std::size_t i = 0; i < series.values.size(); ++i) {
    if (std::isnan(series.values[i])) continue;
    const auto b = static_cast<std::size_t>(floor_div(series.time_at(i), step) - first);
    sum[b] += series.values[i];
    ++count[b];
  }
  out.start = first * step;
  out.values.resize(sum.size());
  for (std::size_t b = 0; b < sum.size(); ++b) {
    out.values[b] = count[b] > 0 ? sum[b] / count[b] : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

std::size_t fill_missing(std::vector<double>& values) {
  std::size_t filled = 0;
  const std::size_t n = values.size();
  std::size_t i = 0;
  std::optional<std::size_t> prev;
  while (i < n) {
    if (!std::isnan(values[i])) {
      prev = i;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && std::isnan(values[j])) ++j;
    for (std::size_t k = i; k < j; ++k) {
      if (prev && j < n) {
        const double w = static_cast<double>(k - *prev) / static_cast<double>(j - *prev);
        values[k] = values[*prev] * (1 - w) + values[j] * w;
      } else if (prev) {
        values[k] = values[*prev];
      } else if (j < n) {
        values[k] = values[j];
      } else {
        return filled;  // nothing observed at all
      }
      ++filled;
    }
    i = j;
  }
  return filled;
}

std::expected<LoadedSeries, std::string> parse_series_csv(std::string_view text,
                                                          std::string_view name,
                                                          const ReadOptions& options) {
  const std::string where(name);
  const auto fail = [&](std::size_t line, const std::string& why) {
    return std::unexpected(where + ":" + std::to_string(line) + ": " + why);
  };
  if (options.step && *options.step <= 0) return std::unexpected(where + ": step must be positive");

  LoadedSeries out;
  std::vector<std::int64_t> times;
  std::vector<double> values;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  bool header_seen = false;
  std::size_t missing_values = 0;
  std::size_t first_missing_line = 0;
  bool saw_unix = false;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const std::size_t comma = line.find(',');
    if (!header_seen) {
      header_seen = true;
      // A header is a line whose first field is not a timestamp or whose second is not a number.
      if (comma != std::string_view::npos) {
        std::string_view second = line.substr(comma + 1);
        second = second.substr(0, second.find(','));
        if (parse_timestamp(line.substr(0, comma)) && parse_double(trim(second))) {
          return fail(line_no, "no header line (expected e.g. 'timestamp,value' before the data)");
        }
      }
      continue;
    }
    if (comma == std::string_view::npos) {
      return fail(line_no, "expected 'timestamp,value', found '" + std::string(line) + "'");
    }
    const std::string_view ts_text = trim(line.substr(0, comma));
    std::string_view value_text = line.substr(comma + 1);
    value_text = trim(value_text.substr(0, value_text.find(',')));
    const auto ts = parse_timestamp(ts_text);
    if (!ts) return fail(line_no, ts.error());
    if (ts_text.find(':') == std::string_view::npos &&
        ts_text.find('-', 1) == std::string_view::npos) {
      saw_unix = true;
    }
    double v = std::numeric_limits<double>::quiet_NaN();
    if (is_missing_value(value_text)) {
      if (missing_values++ == 0) first_missing_line = line_no;
    } else {
      const auto parsed = parse_double(value_text);
      if (!parsed) {
        return fail(line_no, "non-numeric value '" + std::string(value_text) + "'");
      }
      v = *parsed;
    }
    if (!times.empty() && *ts <= times.back()) {
      return fail(line_no,
                  std::string(*ts == times.back() ? "duplicate" : "out-of-order") + " timestamp '" +
                      std::string(ts_text) + "' (previous row is " +
                      format_timestamp(times.back(), saw_unix ? TimestampFormat::kUnixSeconds
                                                              : TimestampFormat::kDateTime) +
                      ")");
    }
    times.push_back(*ts);
    values.push_back(v);
  }
  if (!header_seen) return std::unexpected(where + ":1: empty file (expected a header line)");
  if (times.empty()) return fail(line_no, "no data rows after the header");
  out.rows = times.size();
  out.format = saw_unix ? TimestampFormat::kUnixSeconds : TimestampFormat::kDateTime;
  if (missing_values > 0) {
    out.warnings.push_back(where + ":" + std::to_string(first_missing_line) + ": " +
                           std::to_string(missing_values) + " missing or NaN value(s)" +
                           (options.fill_gaps ? ", filled by interpolation" : ""));
  }

  std::int64_t step = 0;
  if (options.step) {
    step = *options.step;
  } else {
    if (times.size() < 2) {
      return fail(line_no, "only one data row: cannot infer the step (give it explicitly)");
    }
    std::map<std::int64_t, std::size_t> spacing;
    for (std::size_t i = 1; i < times.size(); ++i) ++spacing[times[i] - times[i - 1]];
    step = std::max_element(spacing.begin(), spacing.end(), [](const auto& a, const auto& b) {
             return a.second < b.second;
           })->first;
  }

  // Bucket by the step, aligned to multiples of it (mean of the rows in each bucket).
  const std::int64_t first = floor_div(times.front(), step);
  const std::int64_t last = floor_div(times.back(), step);
  if (last - first > 50'000'000) {
    return std::unexpected(where + ": span / step is too large (" + std::to_string(last - first) +
                           " steps)");
  }
  std::vector<double> sum(static_cast<std::size_t>(last - first + 1), 0.0);
  std::vector<int> count(sum.size(), 0);
  std::vector<int> rows_in(sum.size(), 0);
  for (std::size_t i = 0; i < times.size(); ++i) {
    const auto b = static_cast<std::size_t>(floor_div(times[i], step) - first);
    ++rows_in[b];
    if (std::isnan(values[i])) continue;
    sum[b] += values[i];
    ++count[b];
  }
  predictor::Series& s = out.series;
  s.step = step;
  s.start = first * step;
  s.values.resize(sum.size());
  std::size_t gaps = 0, gap_steps = 0, observed = 0, merged = 0;
  for (std::size_t b = 0; b < sum.size(); ++b) {
    if (rows_in[b] > 1) ++merged;
    if (count[b] > 0) {
      s.values[b] = sum[b] / count[b];
      ++observed;
    } else {
      s.values[b] = std::numeric_limits<double>::quiet_NaN();
      if (rows_in[b] == 0) {
        ++gap_steps;
        if (b == 0 || rows_in[b - 1] > 0) ++gaps;
      }
    }
  }
  if (merged > 0 && !options.step) {
    out.warnings.push_back(where + ": " + std::to_string(merged) +
                           " step(s) hold several rows (irregular spacing): averaged");
  }
  if (gaps > 0) {
    out.warnings.push_back(where + ": " + std::to_string(gaps) + " gap(s), " +
                           std::to_string(gap_steps) + " missing step(s) of " +
                           std::to_string(step) + " s" +
                           (options.fill_gaps ? ", filled by interpolation" : ""));
  }
  if (observed < std::max<std::size_t>(options.min_points, 1)) {
    return fail(line_no, "too few points: " + std::to_string(observed) +
                             " observed step(s), at least " + std::to_string(options.min_points) +
                             " needed");
  }
  if (options.fill_gaps) fill_missing(s.values);
  return out;
}

std::expected<LoadedSeries, std::string> read_series_csv(const std::string& path,
                                                         const ReadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::unexpected(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) return std::unexpected(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::unexpected(path + ": read error");
  return parse_series_csv(text.str(), path, options);
}

std::string format_forecast_csv(const predictor::Forecast& forecast, TimestampFormat format) {
  std::string out = "timestamp,value";
  for (const double level : forecast.quantile_levels) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ",q%g", level);
    out += buf;
  }
  out += '\n';
  char buf[64];
  for (std::size_t i = 0; i < forecast.point.size(); ++i) {
    out += format_timestamp(forecast.start + static_cast<std::int64_t>(i) * forecast.step, format);
    std::snprintf(buf, sizeof buf, ",%.6g", forecast.point[i]);
    out += buf;
    for (const auto& band : forecast.quantiles) {
      std::snprintf(buf, sizeof buf, ",%.6g", band[i]);
      out += buf;
    }
    out += '\n';
  }
  return out;
}

std::expected<void, std::string> write_forecast_csv(const std::string& path,
                                                    const predictor::Forecast& forecast,
                                                    TimestampFormat format) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return std::unexpected(path + ": cannot open for writing");
    out << format_forecast_csv(forecast, format);
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return std::unexpected(path + ": write error");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return std::unexpected(path + ": cannot rename the temporary file into place");
  }
  return {};
}

}  // namespace dso::traces
