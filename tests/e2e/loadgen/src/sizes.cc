// Sampling request sizes from recorded LLM requests.
#include "loadgen/sizes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace dso::loadgen {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto comma = line.find(',');
    fields.push_back(line.substr(0, comma));
    if (comma == std::string_view::npos) return fields;
    line.remove_prefix(comma + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

int clamp_scaled(double tokens, double scale, int max) {
  const double v = std::round(tokens * scale);
  return static_cast<int>(std::clamp(v, 1.0, static_cast<double>(max)));
}

}  // namespace

RequestSize scale_size(double context_tokens, double generated_tokens, const SizeScaling& scaling) {
  return {clamp_scaled(context_tokens, scaling.prompt_scale, scaling.max_prompt_bytes),
          clamp_scaled(generated_tokens, scaling.output_scale, scaling.max_output_tokens)};
}

std::expected<SizeSampler, std::string> SizeSampler::parse(std::string_view csv,
                                                           std::string_view name,
                                                           const SizeScaling& scaling) {
  const std::string where(name);
  std::size_t line_no = 0, context_col = SIZE_MAX, generated_col = SIZE_MAX;
  SizeSampler sampler;
  while (!csv.empty()) {
    const auto eol = csv.find('\n');
    const std::string_view line = trim(csv.substr(0, eol));
    csv.remove_prefix(eol == std::string_view::npos ? csv.size() : eol + 1);
    ++line_no;
    if (line.empty()) continue;
    const auto fields = split(line);
    if (context_col == SIZE_MAX) {  // the header
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (trim(fields[i]) == "ContextTokens") context_col = i;
        if (trim(fields[i]) == "GeneratedTokens") generated_col = i;
      }
      if (context_col == SIZE_MAX || generated_col == SIZE_MAX) {
        return std::unexpected(where + ":" + std::to_string(line_no) +
                               ": the header names no ContextTokens and GeneratedTokens columns");
      }
      continue;
    }
    double value[2] = {0, 0};
    const std::size_t cols[2] = {context_col, generated_col};
    for (int k = 0; k < 2; ++k) {
      const auto f = cols[k] < fields.size() ? trim(fields[cols[k]]) : std::string_view();
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), value[k]);
      if (f.empty() || ec != std::errc{} || end != f.data() + f.size() || !(value[k] >= 0)) {
        return std::unexpected(where + ":" + std::to_string(line_no) + ": " +
                               (k == 0 ? "ContextTokens" : "GeneratedTokens") +
                               " is not a number >= 0: \"" + std::string(f) + "\"");
      }
    }
    sampler.sizes_.push_back(scale_size(value[0], value[1], scaling));
  }
  if (sampler.sizes_.empty()) return std::unexpected(where + ": no rows");
  return sampler;
}

std::expected<SizeSampler, std::string> SizeSampler::load(const std::string& path,
                                                          const SizeScaling& scaling) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, scaling);
}

RequestSize SizeSampler::sample(std::mt19937_64& rng) const {
  std::uniform_int_distribution<std::size_t> pick(0, sizes_.size() - 1);
  return sizes_[pick(rng)];
}

}  // namespace dso::loadgen
