// TorchScript implementation of LanguageModel: the only server translation unit that includes
// LibTorch (compiling it takes tens of seconds; keep it small).
#include "model/torchscript_model.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <optional>
#include <stdexcept>

namespace dso::inference {
namespace {

class TorchScriptModel final : public LanguageModel {
 public:
  TorchScriptModel(torch::jit::Module module, torch::Device device, int context_length,
                   int vocab_size)
      : module_(std::move(module)),
        device_(device),
        context_length_(context_length),
        vocab_size_(vocab_size) {}

  int vocab_size() const override { return vocab_size_; }
  int context_length() const override { return context_length_; }
  std::string device() const override { return device_.str(); }

  void next_token_logits(std::span<const std::span<const TokenId>> sequences,
                         std::vector<float>& logits) override {
    const auto batch = static_cast<int64_t>(sequences.size());
    int64_t longest = 1;
    for (const auto& s : sequences) longest = std::max<int64_t>(longest, s.size());
    auto tokens = torch::zeros({batch, longest}, torch::kLong);
    std::vector<int64_t> last_index(batch);
    auto* data = tokens.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      const auto& s = sequences[b];
      for (size_t t = 0; t < s.size(); ++t) data[b * longest + t] = s[t];
      last_index[b] = b * longest + std::max<int64_t>(1, s.size()) - 1;
    }
    c10::InferenceMode inference_mode;
    auto output = module_.forward({tokens.to(device_)}).toTensor();
    if (output.dim() != 3 || output.size(0) != batch || output.size(1) != longest ||
        output.size(2) != vocab_size_) {
      throw std::runtime_error("model forward returned shape " + c10::str(output.sizes()) +
                               ", want [" + std::to_string(batch) + ", " + std::to_string(longest) +
                               ", " + std::to_string(vocab_size_) + "]");
    }
    auto index = torch::from_blob(last_index.data(), {batch}, torch::kLong).to(device_);
    auto rows = output.reshape({batch * longest, vocab_size_})
                    .index_select(0, index)
                    .to(torch::kCPU, torch::kFloat)
                    .contiguous();
    logits.assign(rows.data_ptr<float>(), rows.data_ptr<float>() + batch * vocab_size_);
  }

 private:
  torch::jit::Module module_;
  torch::Device device_;
  int context_length_;
  int vocab_size_;
};

}  // namespace

std::expected<LanguageModelPtr, std::string> load_torchscript_model(
    const TorchScriptModelOptions& options) {
  if (options.intra_op_threads > 0) at::set_num_threads(options.intra_op_threads);
  std::optional<torch::Device> device;
  try {
    device.emplace(options.device);
  } catch (const std::exception&) {
    return std::unexpected("--device '" + options.device + "': not a device name");
  }
  if (device->is_cuda() && !torch::cuda::is_available()) {
    return std::unexpected("--device '" + options.device +
                           "': CUDA is not available in this LibTorch build or on this machine");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(options.path, *device);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return std::unexpected("model '" + options.path + "': cannot load TorchScript: " + what);
  }
  module.eval();
  int context = options.fallback_context_length;
  if (module.hasattr("max_context")) {
    auto value = module.attr("max_context");
    if (value.isInt() && value.toInt() > 0) context = static_cast<int>(value.toInt());
  }
  // Probe the signature and learn the vocabulary size from a one-token forward pass.
  int vocab = 0;
  try {
    c10::InferenceMode inference_mode;
    std::vector<torch::jit::IValue> probe{torch::zeros({1, 1}, torch::kLong).to(*device)};
    auto out = module.forward(probe).toTensor();
    if (out.dim() != 3 || out.size(0) != 1 || out.size(1) != 1 || out.size(2) < 2) {
      return std::unexpected("model '" + options.path + "': forward(tokens[1,1]) returned shape " +
                             c10::str(out.sizes()) + ", want [1, 1, vocab]");
    }
    vocab = static_cast<int>(out.size(2));
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return std::unexpected("model '" + options.path +
                           "': forward(tokens: Tensor[1,1] int64) failed: " + what);
  }
  return std::make_unique<TorchScriptModel>(std::move(module), *device, context, vocab);
}

}  // namespace dso::inference
