// Loading a TorchScript language model (torch::jit::load) behind the LanguageModel interface.
//
// Model contract ("same forward signature"): `forward(self, tokens: Tensor) -> Tensor` where tokens
// is int64 [batch, time], right-padded, and the result is float logits [batch, time, vocab]. The
// model must be causal (position t sees only positions <= t), so right padding never changes the
// logits read at each sequence's last real position. An optional int attribute `max_context` gives
// the context length; otherwise the caller's fallback is used.
#pragma once

#include <expected>
#include <string>

#include "model/language_model.h"

namespace dso::inference {

struct TorchScriptModelOptions {
  std::string path;                   // the .pt file
  std::string device = "cpu";         // "cpu", "cuda", "cuda:1"
  int fallback_context_length = 256;  // when the model has no max_context attribute
  int intra_op_threads = 0;           // 0: LibTorch's default
  bool use_kv_cache = true;           // use prefill/decode when the model has them
};

// Loads the module, moves it to the device and runs one tiny forward pass to check the signature.
// Fails with a one-line message naming the file or device (missing file, not TorchScript, CUDA
// unavailable, wrong output shape).
std::expected<LanguageModelPtr, std::string> load_torchscript_model(
    const TorchScriptModelOptions& options);

}  // namespace dso::inference
