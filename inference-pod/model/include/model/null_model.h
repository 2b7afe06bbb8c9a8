// A LanguageModel that does no work: every logit is zero over a 256-byte vocabulary. The server
// serves it for `--model builtin:null`, so that its own cost per request (HTTP, JSON, limits,
// queue, scheduler) can be measured without a model's (tests/bench/inference, --mode overhead).
// Never a model to serve users: it samples uniformly random bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inference/server_contract.h"
#include "model/language_model.h"

namespace dso::inference {

// The --model value that selects NullModel.
inline constexpr std::string_view kNullModelPath = contract::kNullModel;

class NullModel final : public LanguageModel {
 public:
  int vocab_size() const override { return 256; }
  int context_length() const override { return 256; }
  std::string device() const override { return "cpu"; }
  // Cost: writing sequences.size() * 256 zeros.
  void next_token_logits(std::span<const SequenceRef> sequences,
                         std::vector<float>& logits) override {
    logits.assign(sequences.size() * 256, 0.0f);
  }
};

}  // namespace dso::inference
