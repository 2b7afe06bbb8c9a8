// A LanguageModel that stands in for a GPU on machines without one: each forward pass takes a
// fixed wall time for the whole batch and uses no CPU (the thread sleeps), as a GPU's decode step
// does for batches within its width. A replica's throughput is then set by its own batch size and
// step time, not by how many processes share the host's cores, so N replicas on a 2-core test
// machine serve about N times one replica's load (docs/e2e.md measures it).
//
// The server runs it for `--model builtin:gpu-sim` with --gpu-sim-step-ms (and --gpu-sim-load-s,
// the time "loading the weights" takes before the server listens). It samples printable ASCII
// uniformly, never a stop sequence on its own, so a request generates exactly max_tokens tokens.
// For testbeds and load tests only: it is not a model.
#pragma once

#include <array>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "model/language_model.h"

namespace dso::inference {

class GpuSimModel final : public LanguageModel {
 public:
  explicit GpuSimModel(std::chrono::microseconds step) : step_(step) {
    row_.fill(-1e9f);
    for (int c = 'a'; c <= 'z'; ++c) row_[static_cast<std::size_t>(c)] = 0.0f;
    row_[' '] = 0.0f;
  }

  int vocab_size() const override { return kVocab; }
  int context_length() const override { return 1 << 16; }
  std::string device() const override { return "gpu-sim"; }

  // Sleeps one step (whatever the batch holds), then writes sequences.size() rows of logits that
  // allow only 'a'..'z' and ' '.
  void next_token_logits(std::span<const SequenceRef> sequences,
                         std::vector<float>& logits) override {
    std::this_thread::sleep_for(step_);
    logits.resize(sequences.size() * kVocab);
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      std::copy(row_.begin(), row_.end(), logits.begin() + static_cast<std::ptrdiff_t>(i * kVocab));
    }
  }

  std::chrono::microseconds step() const { return step_; }

 private:
  static constexpr int kVocab = 256;
  std::chrono::microseconds step_;
  std::array<float, kVocab> row_{};
};

}  // namespace dso::inference
