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

// One sequence of a batch: a stable id (the same for every step of one request) and all its
// tokens so far (prompt then generated), never cut to the context.
struct SequenceRef {
  std::uint64_t id = 0;
  std::span<const TokenId> tokens;
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  // Number of logits per sequence (256 for the byte-level test model).
  virtual int vocab_size() const = 0;
  // Longest window the model attends to; longer sequences are cut (from the front) by the model.
  virtual int context_length() const = 0;
  // "cpu", "cuda:0", ... where the forward pass runs.
  virtual std::string device() const = 0;

  // One generation step for the whole batch. Each sequence has >= 1 tokens, each in
  // [0, vocab_size()). On return `logits` holds sequences.size() * vocab_size() floats: row i is
  // the distribution over the token following sequences[i]. A model may keep per-id state (a KV
  // cache) between calls and then only processes each sequence's new token. Not thread-safe: one
  // caller at a time (the scheduler's thread). Throws std::runtime_error if the model fails.
  virtual void next_token_logits(std::span<const SequenceRef> sequences,
                                 std::vector<float>& logits) = 0;

  // The sequence `id` is finished: drop whatever state was kept for it.
  virtual void release(std::uint64_t id) { (void)id; }
};

using LanguageModelPtr = std::unique_ptr<LanguageModel>;

}  // namespace dso::inference
