// generate-byte-lm: writes the small byte-level transformer language model used by tests, the demo
// and the benchmarks as a TorchScript file, built entirely in C++ (torch::jit::Module::define and
// save; no Python). Weights are random from a fixed seed, so the file is reproducible and the model
// behaves like a real one of its size (cost per forward pass, batching), not like a trained one.
//
//   generate-byte-lm OUT.pt [--layers N] [--dim D] [--heads H] [--context C] [--seed S]
#include <torch/script.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Replaces {0}, {1}, ... in `tmpl` by args[0], args[1], ... (GCC 12 has no std::format).
std::string fill(std::string tmpl, const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string key = "{" + std::to_string(i) + "}";
    for (size_t at = tmpl.find(key); at != std::string::npos;
         at = tmpl.find(key, at + args[i].size())) {
      tmpl.replace(at, key.size(), args[i]);
    }
  }
  return tmpl;
}

std::string num(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

struct Shape {
  int layers = 2;
  int dim = 64;
  int heads = 4;
  int context = 256;
  int seed = 7;
};

// How a layer's queries meet the keys: kFull, every position of the sequence at once under the
// causal mask (forward, prefill); kCached, one new token per sequence against its cached keys and
// values plus its own (decode). Attention in the cached case is written elementwise ((q * k).sum)
// rather than as a batched matmul: with one query per sequence, a batched matmul on CPU becomes one
// small BLAS call per sequence and head, which made a decode step cost linear in the batch size.
enum class Attention { kFull, kCached };

// TorchScript lines of layer `l` (pre-norm attention, then MLP), unrolled because attributes
// cannot be indexed by a loop. Leaves the layer's keys and values in k<l>, v<l>.
std::string layer_source(const Shape& s, int l, Attention attention) {
  const bool full = attention == Attention::kFull;
  const std::string attend = full ? R"(
    att = torch.matmul(q, k{0}.transpose(2, 3)) * {3}
    att = torch.softmax(att.masked_fill(mask, -1.0e9), -1)
    y = torch.matmul(att, v{0}).transpose(1, 2).reshape(B, T, {1}))"
                                  : R"(
    kk = torch.cat([keys.select(0, {0}), k{0}], 2)
    vv = torch.cat([values.select(0, {0}), v{0}], 2)
    att = (q * kk).sum(3) * {3}
    att = torch.softmax(att.masked_fill(mask, -1.0e9), -1)
    y = (att.unsqueeze(3) * vv).sum(2).reshape(B, 1, {1}))";
  return fill(R"(
    h = torch.layer_norm(x, [{1}], self.l{0}_ln1_w, self.l{0}_ln1_b, 1e-5)
    qkv = torch.matmul(h, self.l{0}_wqkv) + self.l{0}_bqkv
    q = qkv.narrow(2, 0, {1}).reshape(B, {4}, H, Dh).transpose(1, 2)
    k{0} = qkv.narrow(2, {1}, {1}).reshape(B, {4}, H, Dh).transpose(1, 2)
    v{0} = qkv.narrow(2, {2}, {1}).reshape(B, {4}, H, Dh).transpose(1, 2))" +
                  attend + R"(
    x = x + torch.matmul(y, self.l{0}_wo) + self.l{0}_bo
    h = torch.layer_norm(x, [{1}], self.l{0}_ln2_w, self.l{0}_ln2_b, 1e-5)
    x = x + torch.matmul(torch.gelu(torch.matmul(h, self.l{0}_w1) + self.l{0}_b1), self.l{0}_w2) + self.l{0}_b2
)",
              {std::to_string(l), std::to_string(s.dim), std::to_string(2 * s.dim),
               num(1.0 / std::sqrt(static_cast<double>(s.dim / s.heads))), full ? "T" : "1"});
}

// All layers, then "torch.stack([k0, k1, ...], 0), torch.stack([v0, ...], 0)" for the return.
std::string layers_source(const Shape& s, Attention attention, std::string* stacked_kv) {
  std::string src, ks, vs;
  for (int l = 0; l < s.layers; ++l) {
    src += layer_source(s, l, attention);
    ks += (l ? ", k" : "k") + std::to_string(l);
    vs += (l ? ", v" : "v") + std::to_string(l);
  }
  *stacked_kv = "torch.stack([" + ks + "], 0), torch.stack([" + vs + "], 0)";
  return src;
}

// Embedding and causal mask of a whole sequence: the start of forward() and prefill().
std::string full_prologue(const Shape& s, const std::string& signature) {
  return fill(R"(
{2}
    B = tokens.size(0)
    T = tokens.size(1)
    pos = torch.arange(T, device=tokens.device)
    x = torch.embedding(self.tok_emb, tokens) + torch.embedding(self.pos_emb, pos)
    mask = torch.ones([T, T], device=tokens.device).triu(1) > 0.5
    H = {0}
    Dh = {1}
)",
              {std::to_string(s.heads), std::to_string(s.dim / s.heads), signature});
}

// forward(tokens[B,T]) -> logits [B,T,V].
std::string forward_source(const Shape& s) {
  std::string unused;
  const std::string layers = layers_source(s, Attention::kFull, &unused);
  return full_prologue(s, "def forward(self, tokens: Tensor) -> Tensor:") + layers +
         fill(R"(
    x = torch.layer_norm(x, [{0}], self.lnf_w, self.lnf_b, 1e-5)
    return torch.matmul(x, self.tok_emb.t())
)",
              {std::to_string(s.dim)});
}

// The same network, returning each layer's keys and values so that generation can continue one
// token at a time (KV cache): prefill(tokens[B,T]) -> (logits of the last position [B,V],
// keys [L,B,H,T,Dh], values [L,B,H,T,Dh]).
std::string prefill_source(const Shape& s) {
  std::string kv;
  const std::string layers = layers_source(s, Attention::kFull, &kv);
  return full_prologue(s, "def prefill(self, tokens: Tensor) -> Tuple[Tensor, Tensor, Tensor]:") +
         layers +
         fill(R"(
    x = torch.layer_norm(x.narrow(1, T - 1, 1), [{0}], self.lnf_w, self.lnf_b, 1e-5)
    return torch.matmul(x, self.tok_emb.t()).squeeze(1), {1}
)",
              {std::to_string(s.dim), kv});
}

// One new token per sequence against cached keys/values: decode(tokens[B], positions[B],
// keys[L,B,H,T,Dh], values[L,B,H,T,Dh], pad[B,T] (true: not a real key)) -> (logits [B,V],
// new keys [L,B,H,1,Dh], new values [L,B,H,1,Dh]).
std::string decode_source(const Shape& s) {
  std::string kv;
  const std::string layers = layers_source(s, Attention::kCached, &kv);
  return fill(R"(
def decode(self, tokens: Tensor, positions: Tensor, keys: Tensor, values: Tensor, pad: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    B = tokens.size(0)
    x = (torch.embedding(self.tok_emb, tokens) + torch.embedding(self.pos_emb, positions)).unsqueeze(1)
    mask = torch.cat([pad, torch.zeros_like(pad.narrow(1, 0, 1))], 1).unsqueeze(1)
    H = {0}
    Dh = {1}
)",
              {std::to_string(s.heads), std::to_string(s.dim / s.heads)}) +
         layers +
         fill(R"(
    x = torch.layer_norm(x, [{0}], self.lnf_w, self.lnf_b, 1e-5)
    return torch.matmul(x, self.tok_emb.t()).squeeze(1), {1}
)",
              {std::to_string(s.dim), kv});
}

int parse_int(const char* flag, const char* value) {
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (*value == '\0' || *end != '\0' || v <= 0 || v > 1 << 20) {
    std::cerr << "generate-byte-lm: " << flag << " '" << value << "': want a positive integer\n";
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Shape s;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << "usage: generate-byte-lm OUT.pt [--layers N] [--dim D] [--heads H] "
                   "[--context C] [--seed S]\n"
                   "Writes a byte-level (vocab 256) causal transformer LM as TorchScript.\n";
      return 0;
    }
    auto need = [&](const char* flag) {
      if (i + 1 >= argc) {
        std::cerr << "generate-byte-lm: " << flag << " needs a value\n";
        std::exit(2);
      }
      return parse_int(flag, argv[++i]);
    };
    if (a == "--layers")
      s.layers = need("--layers");
    else if (a == "--dim")
      s.dim = need("--dim");
    else if (a == "--heads")
      s.heads = need("--heads");
    else if (a == "--context")
      s.context = need("--context");
    else if (a == "--seed")
      s.seed = need("--seed");
    else if (!a.empty() && a[0] != '-' && out.empty())
      out = a;
    else {
      std::cerr << "generate-byte-lm: unknown argument '" << a << "' (try --help)\n";
      return 2;
    }
  }
  if (out.empty() || s.dim % s.heads != 0) {
    std::cerr << "generate-byte-lm: need OUT.pt, and --dim divisible by --heads (try --help)\n";
    return 2;
  }
  try {
    torch::manual_seed(s.seed);
    const int64_t d = s.dim;
    const int64_t vocab = 256;
    auto normal = [](std::vector<int64_t> shape, double stddev) {
      return torch::randn(shape) * stddev;
    };
    torch::jit::Module m("ByteTransformerLM");
    m.register_parameter("tok_emb", normal({vocab, d}, 1.0), false);
    m.register_parameter("pos_emb", normal({s.context, d}, 0.1), false);
    for (int l = 0; l < s.layers; ++l) {
      auto p = "l" + std::to_string(l) + "_";
      m.register_parameter(p + "ln1_w", torch::ones({d}), false);
      m.register_parameter(p + "ln1_b", torch::zeros({d}), false);
      m.register_parameter(p + "wqkv", normal({d, 3 * d}, 0.1), false);
      m.register_parameter(p + "bqkv", torch::zeros({3 * d}), false);
      m.register_parameter(p + "wo", normal({d, d}, 0.1), false);
      m.register_parameter(p + "bo", torch::zeros({d}), false);
      m.register_parameter(p + "ln2_w", torch::ones({d}), false);
      m.register_parameter(p + "ln2_b", torch::zeros({d}), false);
      m.register_parameter(p + "w1", normal({d, 4 * d}, 0.1), false);
      m.register_parameter(p + "b1", torch::zeros({4 * d}), false);
      m.register_parameter(p + "w2", normal({4 * d, d}, 0.1), false);
      m.register_parameter(p + "b2", torch::zeros({d}), false);
    }
    m.register_parameter("lnf_w", torch::ones({d}), false);
    m.register_parameter("lnf_b", torch::zeros({d}), false);
    m.register_attribute("max_context", c10::IntType::get(), static_cast<int64_t>(s.context));
    m.define(forward_source(s));
    m.define(prefill_source(s));
    m.define(decode_source(s));
    m.eval();
    // Check before writing: a causal model gives the same logits for a prefix with or without
    // padding after it.
    auto tokens = torch::randint(0, vocab, {2, 9}, torch::kLong);
    auto full = m.forward({tokens}).toTensor();
    auto prefix = m.forward({tokens.narrow(1, 0, 5)}).toTensor();
    if (!torch::allclose(full.narrow(1, 0, 5), prefix, 1e-4, 1e-4)) {
      std::cerr << "generate-byte-lm: model is not causal (internal error)\n";
      return 1;
    }
    // The cached path gives the same logits as the full one: prefill 5 tokens, decode the 6th
    // (batched with a second, shorter sequence padded to the same cache length).
    auto pre = m.run_method("prefill", tokens.narrow(1, 0, 5)).toTuple()->elements();
    auto pre_short = m.run_method("prefill", tokens.narrow(1, 0, 3)).toTuple()->elements();
    auto keys = torch::zeros_like(pre[1].toTensor());
    auto values = torch::zeros_like(pre[2].toTensor());
    keys.narrow(1, 0, 2).copy_(pre[1].toTensor().narrow(1, 0, 2));
    values.narrow(1, 0, 2).copy_(pre[2].toTensor().narrow(1, 0, 2));
    keys.select(1, 1).narrow(2, 0, 3).copy_(pre_short[1].toTensor().select(1, 1));
    values.select(1, 1).narrow(2, 0, 3).copy_(pre_short[2].toTensor().select(1, 1));
    auto pad = torch::zeros({2, 5}, torch::kBool);
    pad.select(0, 1).narrow(0, 3, 2).fill_(true);
    auto next = torch::stack({tokens.select(1, 5).select(0, 0), tokens.select(1, 3).select(0, 1)});
    auto positions = torch::tensor({int64_t{5}, int64_t{3}}, torch::kLong);
    auto step = m.run_method("decode", next, positions, keys, values, pad).toTuple()->elements();
    auto got = step[0].toTensor();
    auto full6 = m.forward({tokens.narrow(1, 0, 6)}).toTensor().select(1, 5).select(0, 0);
    auto full4 = m.forward({tokens.narrow(1, 0, 4)}).toTensor().select(1, 3).select(0, 1);
    if (!torch::allclose(got.select(0, 0), full6, 1e-3, 1e-3) ||
        !torch::allclose(got.select(0, 1), full4, 1e-3, 1e-3)) {
      std::cerr << "generate-byte-lm: cached decode disagrees with forward (internal error)\n";
      return 1;
    }
    m.save(out);
    std::cout << "wrote " << out << ": " << s.layers << " layers, dim " << s.dim << ", " << s.heads
              << " heads, context " << s.context << "\n";
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::cerr << "generate-byte-lm: " << what << "\n";
    return 1;
  }
  return 0;
}
