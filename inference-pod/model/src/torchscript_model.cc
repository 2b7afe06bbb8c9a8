// TorchScript implementation of LanguageModel: the only server translation unit that includes
// LibTorch (compiling it takes tens of seconds; keep it small).
#include "model/torchscript_model.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <optional>
#include <stdexcept>
#include <unordered_map>

namespace dso::inference {
namespace {

class TorchScriptModel final : public LanguageModel {
 public:
  TorchScriptModel(torch::jit::Module module, torch::Device device, int context_length,
                   int vocab_size, bool kv_cache)
      : module_(std::move(module)),
        device_(device),
        context_length_(context_length),
        vocab_size_(vocab_size),
        kv_cache_(kv_cache) {}

  int vocab_size() const override { return vocab_size_; }
  int context_length() const override { return context_length_; }
  std::string device() const override { return device_.str(); }

  void next_token_logits(std::span<const SequenceRef> sequences,
                         std::vector<float>& logits) override {
    c10::InferenceMode inference_mode;
    logits.assign(sequences.size() * vocab_size_, 0.0f);
    if (kv_cache_) {
      cached_step(sequences, logits);
    } else {
      full_step(sequences, logits);
    }
  }

  void release(std::uint64_t id) override { caches_.erase(id); }

 private:
  // Keys and values of one sequence, preallocated for the whole context: [L, H, context, Dh].
  struct Cache {
    torch::Tensor keys, values;
    int64_t length = 0;        // cached positions
    std::size_t consumed = 0;  // tokens of the sequence the cache covers
  };

  std::span<const TokenId> window(std::span<const TokenId> tokens, std::size_t keep) const {
    return tokens.size() > keep ? tokens.last(keep) : tokens;
  }

  void check(const torch::Tensor& t, int64_t rows) const {
    if (t.dim() != 2 || t.size(0) != rows || t.size(1) != vocab_size_) {
      throw std::runtime_error("model returned logits of shape " + c10::str(t.sizes()) +
                               ", want [" + std::to_string(rows) + ", " +
                               std::to_string(vocab_size_) + "]");
    }
  }

  void copy_row(const torch::Tensor& row, std::size_t i, std::vector<float>& logits) const {
    auto cpu = row.to(torch::kCPU, torch::kFloat).contiguous();
    std::copy(cpu.data_ptr<float>(), cpu.data_ptr<float>() + vocab_size_,
              logits.begin() + static_cast<std::ptrdiff_t>(i * vocab_size_));
  }

  void cached_step(std::span<const SequenceRef> sequences, std::vector<float>& logits) {
    std::vector<std::size_t> decode_rows;
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      const auto& seq = sequences[i];
      auto it = caches_.find(seq.id);
      const bool continues = it != caches_.end() && it->second.consumed + 1 == seq.tokens.size() &&
                             it->second.length < context_length_;
      if (continues) {
        decode_rows.push_back(i);
        continue;
      }
      // New sequence, or the cache is full: (re)fill it from the last part of the sequence. A
      // full cache restarts from the last half context, so refills are rare.
      const std::size_t keep = it == caches_.end() ? static_cast<std::size_t>(context_length_)
                                                   : static_cast<std::size_t>(context_length_) / 2;
      auto tail = window(seq.tokens, std::max<std::size_t>(1, keep));
      auto input = torch::empty({1, static_cast<int64_t>(tail.size())}, torch::kLong);
      std::copy(tail.begin(), tail.end(), input.data_ptr<int64_t>());
      auto out = module_.run_method("prefill", input.to(device_)).toTuple()->elements();
      auto row = out[0].toTensor();
      check(row, 1);
      copy_row(row.select(0, 0), i, logits);
      auto keys = out[1].toTensor().select(1, 0);  // [L, H, T, Dh]
      auto values = out[2].toTensor().select(1, 0);
      Cache cache;
      cache.keys =
          torch::zeros({keys.size(0), keys.size(1), context_length_, keys.size(3)}, keys.options());
      cache.values = torch::zeros_like(cache.keys);
      cache.keys.narrow(2, 0, keys.size(2)).copy_(keys);
      cache.values.narrow(2, 0, values.size(2)).copy_(values);
      cache.length = keys.size(2);
      cache.consumed = seq.tokens.size();
      caches_.insert_or_assign(seq.id, std::move(cache));
    }
    if (decode_rows.empty()) return;
    const auto batch = static_cast<int64_t>(decode_rows.size());
    int64_t longest = 1;
    for (auto i : decode_rows) longest = std::max(longest, caches_.at(sequences[i].id).length);
    // Few tensor operations per sequence (each costs microseconds of dispatch): views of each
    // cache stacked once, small inputs written through CPU pointers.
    std::vector<torch::Tensor> key_views, value_views;
    key_views.reserve(batch);
    value_views.reserve(batch);
    auto pad = torch::ones({batch, longest}, torch::kBool);
    auto tokens = torch::empty({batch}, torch::kLong);
    auto positions = torch::empty({batch}, torch::kLong);
    auto* pad_data = pad.data_ptr<bool>();
    auto* token_data = tokens.data_ptr<int64_t>();
    auto* position_data = positions.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      const auto& seq = sequences[decode_rows[b]];
      const auto& cache = caches_.at(seq.id);
      key_views.push_back(cache.keys.narrow(2, 0, longest));
      value_views.push_back(cache.values.narrow(2, 0, longest));
      std::fill(pad_data + b * longest, pad_data + b * longest + cache.length, false);
      token_data[b] = seq.tokens.back();
      position_data[b] = cache.length;
    }
    auto keys = torch::stack(key_views, 1);  // [L, B, H, longest, Dh]
    auto values = torch::stack(value_views, 1);
    auto out = module_
                   .run_method("decode", tokens.to(device_), positions.to(device_), keys, values,
                               pad.to(device_))
                   .toTuple()
                   ->elements();
    auto rows = out[0].toTensor();
    check(rows, batch);
    rows = rows.to(torch::kCPU, torch::kFloat).contiguous();
    auto new_keys = out[1].toTensor();  // [L, B, H, 1, Dh]
    auto new_values = out[2].toTensor();
    for (int64_t b = 0; b < batch; ++b) {
      const auto i = decode_rows[b];
      std::copy(rows.data_ptr<float>() + b * vocab_size_,
                rows.data_ptr<float>() + (b + 1) * vocab_size_,
                logits.begin() + static_cast<std::ptrdiff_t>(i * vocab_size_));
      auto& cache = caches_.at(sequences[i].id);
      cache.keys.narrow(2, cache.length, 1).copy_(new_keys.select(1, b));
      cache.values.narrow(2, cache.length, 1).copy_(new_values.select(1, b));
      ++cache.length;
      ++cache.consumed;
    }
  }

  void full_step(std::span<const SequenceRef> sequences, std::vector<float>& logits) {
    const auto batch = static_cast<int64_t>(sequences.size());
    int64_t longest = 1;
    for (const auto& s : sequences) {
      longest = std::max<int64_t>(longest, window(s.tokens, context_length_).size());
    }
    auto tokens = torch::zeros({batch, longest}, torch::kLong);
    std::vector<int64_t> last_index(batch);
    auto* data = tokens.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      auto s = window(sequences[b].tokens, context_length_);
      for (size_t t = 0; t < s.size(); ++t) data[b * longest + t] = s[t];
      last_index[b] = b * longest + std::max<int64_t>(1, s.size()) - 1;
    }
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

  torch::jit::Module module_;
  torch::Device device_;
  int context_length_;
  int vocab_size_;
  bool kv_cache_;
  std::unordered_map<std::uint64_t, Cache> caches_;
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
  const bool kv_cache = options.use_kv_cache && module.find_method("prefill").has_value() &&
                        module.find_method("decode").has_value();
  return std::make_unique<TorchScriptModel>(std::move(module), *device, context, vocab, kv_cache);
}

}  // namespace dso::inference
