// Request sizes: scaling, clamping and seeded sampling from recorded requests.
#include "loadgen/sizes.h"

#include <gtest/gtest.h>

#include <map>

namespace dso::loadgen {
namespace {

TEST(Sizes, ScaleAndClamp) {
  const SizeScaling s;                                      // 1/8, 1/8, caps 2048 and 64
  EXPECT_EQ(scale_size(374, 44, s), (RequestSize{47, 6}));  // round(46.75), round(5.5)
  EXPECT_EQ(scale_size(0, 0, s), (RequestSize{1, 1}));      // at least 1
  EXPECT_EQ(scale_size(100'000, 10'000, s), (RequestSize{2048, 64}));
  const SizeScaling custom{
      .prompt_scale = 1, .output_scale = 2, .max_prompt_bytes = 10, .max_output_tokens = 100};
  EXPECT_EQ(scale_size(7, 7, custom), (RequestSize{7, 14}));
}

TEST(Sizes, ParsesColumnsByNameAndSamplesUniformly) {
  const auto sampler = SizeSampler::parse(
      "GeneratedTokens,x,ContextTokens\r\n8,a,80\r\n\r\n16,b,160\n", "t.csv", {});
  ASSERT_TRUE(sampler) << sampler.error();
  ASSERT_EQ(sampler->sizes().size(), 2u);
  EXPECT_EQ(sampler->sizes()[0], (RequestSize{10, 1}));
  EXPECT_EQ(sampler->sizes()[1], (RequestSize{20, 2}));
  std::mt19937_64 rng(5);
  std::map<int, int> seen;
  for (int i = 0; i < 10'000; ++i) ++seen[sampler->sample(rng).prompt_bytes];
  EXPECT_NEAR(seen[10], 5'000, 5 * 50);  // binomial sd = sqrt(10,000 / 4) = 50
  EXPECT_EQ(seen[10] + seen[20], 10'000);
}

TEST(Sizes, Errors) {
  EXPECT_EQ(SizeSampler::parse("a,b\n1,2\n", "t.csv", {}).error(),
            "t.csv:1: the header names no ContextTokens and GeneratedTokens columns");
  EXPECT_EQ(SizeSampler::parse("ContextTokens,GeneratedTokens\n1,x\n", "t.csv", {}).error(),
            "t.csv:2: GeneratedTokens is not a number >= 0: \"x\"");
  EXPECT_EQ(SizeSampler::parse("ContextTokens,GeneratedTokens\n-1,2\n", "t.csv", {}).error(),
            "t.csv:2: ContextTokens is not a number >= 0: \"-1\"");
  EXPECT_EQ(SizeSampler::parse("ContextTokens,GeneratedTokens\n", "t.csv", {}).error(),
            "t.csv: no rows");
  EXPECT_EQ(SizeSampler::load("/nonexistent.csv", {}).error(),
            "/nonexistent.csv: cannot read the file");
}

TEST(Sizes, TheProjectsAzureTrace) {
  const auto sampler =
      SizeSampler::load(std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv", SizeScaling{});
  ASSERT_TRUE(sampler) << sampler.error();
  EXPECT_EQ(sampler->sizes().size(), 19'366u);           // the last row has no newline
  EXPECT_EQ(sampler->sizes()[0], (RequestSize{47, 6}));  // 374, 44
  for (const auto& s : sampler->sizes()) {
    ASSERT_GE(s.prompt_bytes, 1);
    ASSERT_LE(s.prompt_bytes, 2048);
    ASSERT_GE(s.output_tokens, 1);
    ASSERT_LE(s.output_tokens, 64);
  }
}

}  // namespace
}  // namespace dso::loadgen
