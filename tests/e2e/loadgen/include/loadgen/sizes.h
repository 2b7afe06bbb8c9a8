// loadgen/sizes.h: how big each request is. Prompt and output sizes are sampled (seeded, by the
// caller's generator) from recorded requests, e.g. tests/data/azure_llm_conv.csv (columns
// TIMESTAMP,ContextTokens,GeneratedTokens), scaled and clamped to what the test server takes. The
// project's server is byte-level: a prompt of N "tokens" is N ASCII bytes.
#pragma once

#include <cstdint>
#include <expected>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dso::loadgen {

struct RequestSize {
  int prompt_bytes = 1;
  int output_tokens = 1;
  auto operator<=>(const RequestSize&) const = default;
};

struct SizeScaling {
  double prompt_scale = 0.125, output_scale = 0.125;
  int max_prompt_bytes = 2048, max_output_tokens = 64;
};

// One recorded request scaled: round(tokens * scale) clamped to [1, max].
RequestSize scale_size(double context_tokens, double generated_tokens, const SizeScaling& scaling);

class SizeSampler {
 public:
  // Parses the CSV text (a header naming ContextTokens and GeneratedTokens, in any position);
  // `name` prefixes errors ("NAME:LINE: ..."). Error when a value is not a number >= 0 or there is
  // no row.
  static std::expected<SizeSampler, std::string> parse(std::string_view csv, std::string_view name,
                                                       const SizeScaling& scaling);
  // Reads and parses a file; a missing file is an error naming it.
  static std::expected<SizeSampler, std::string> load(const std::string& path,
                                                      const SizeScaling& scaling);

  // A uniformly chosen recorded request, already scaled. Cost O(1).
  RequestSize sample(std::mt19937_64& rng) const;
  const std::vector<RequestSize>& sizes() const { return sizes_; }

 private:
  std::vector<RequestSize> sizes_;
};

}  // namespace dso::loadgen
