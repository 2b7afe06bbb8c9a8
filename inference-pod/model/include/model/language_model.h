// The model interface the inference server runs: one forward pass over a batch of token sequences,
// returning the next-token logits of each. Torch-free so that the scheduler, HTTP and tests build
// fast and unit tests can use a fake model; the TorchScript implementation lives in
// torchscript_model.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dso::inference {

using TokenId = std::int32_t;

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  // Number of logits per sequence (256 for the byte-level test model).
  virtual int vocab_size() const = 0;
  // Longest sequence one forward pass accepts; callers pass at most the last context_length()
  // tokens of each sequence.
  virtual int context_length() const = 0;
  // "cpu", "cuda:0", ... where the forward pass runs.
  virtual std::string device() const = 0;

  // One forward pass for the whole batch. Each sequence is 1..context_length() tokens, each in
  // [0, vocab_size()). On return `logits` holds sequences.size() * vocab_size() floats: row i is
  // the distribution over the token following sequences[i]. Not thread-safe: one caller at a time
  // (the scheduler's thread). Throws std::runtime_error if the model itself fails.
  virtual void next_token_logits(std::span<const std::span<const TokenId>> sequences,
                                 std::vector<float>& logits) = 0;
};

using LanguageModelPtr = std::unique_ptr<LanguageModel>;

}  // namespace dso::inference
