#include "frontend/llama.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstring>
#include <fstream>
#include <limits>
#include <numbers>
#include <sstream>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "frontend/safetensors.h"
#include "runtime/ops/op.h"

namespace ts::frontend {
namespace {

constexpr int64_t kOpset = 17;
constexpr int64_t kMaxDim = int64_t{1} << 24;     // any model dimension beyond this is a typo
constexpr int64_t kMaxTokens = int64_t{1} << 20;  // sequence and cache lengths
constexpr int64_t kMaxWindow = int64_t{1} << 14;  // a window plan's tokens (its mask is S x S)

using nlohmann::json;

// Builds the graph node by node; every value gets a unique name from `base`.
class Builder {
 public:
  explicit Builder(ir::Graph& g) : g_(g) {}

  StatusOr<int> Weight(const std::string& name, std::vector<int64_t> shape, std::vector<uint8_t> bytes,
                       DType dtype = DType::kF32) {
    return Weight(name, std::move(shape), ir::MakeBytes(std::move(bytes)), dtype);
  }
  StatusOr<int> Weight(const std::string& name, std::vector<int64_t> shape, ir::Bytes bytes, DType dtype) {
    ir::Value v;
    v.name = name;
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.kind = ir::ValueKind::kWeight;
    v.data = std::move(bytes);
    return g_.AddValue(std::move(v));
  }
  // A constant of f32 (float) or i64 (int64_t) values.
  template <typename T>
  StatusOr<int> Constant(const std::string& base, std::vector<int64_t> shape, const std::vector<T>& values) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, int64_t>);
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    ir::Value v;
    v.name = g_.UniqueName(base);
    v.dtype = std::is_same_v<T, float> ? DType::kF32 : DType::kI64;
    v.shape = std::move(shape);
    v.kind = ir::ValueKind::kConstant;
    v.data = ir::MakeBytes(std::move(bytes));
    return g_.AddValue(std::move(v));
  }
  // A node with one output, shape left to inference.
  StatusOr<int> Op(const std::string& op, std::vector<int> inputs, ir::AttrMap attrs = {},
                   const std::string& name = "") {
    ir::Value out;
    out.name = name.empty() ? g_.UniqueName(prefix_ + op) : name;
    out.shape_known = false;
    ASSIGN_OR_RETURN(const int v, g_.AddValue(std::move(out)));
    attrs["opset"] = kOpset;
    g_.AddNode({g_.values[static_cast<size_t>(v)].name, op, std::move(inputs), {v}, std::move(attrs)});
    return v;
  }
  void SetPrefix(std::string p) { prefix_ = std::move(p); }

 private:
  ir::Graph& g_;
  std::string prefix_;
};

StatusOr<int64_t> Dim(const json& j, const char* key, const std::string& where, std::optional<int64_t> dflt = {}) {
  if (!j.contains(key) || j[key].is_null()) {
    if (dflt) return *dflt;
    return BadInputError(where + ": \"" + key + "\" is missing; a Llama-family config.json has it");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1 || j[key].get<int64_t>() > kMaxDim) {
    return BadInputError(where + ": \"" + key + "\" must be an integer from 1 to " + std::to_string(kMaxDim));
  }
  return j[key].get<int64_t>();
}

StatusOr<double> Num(const json& j, const char* key, const std::string& where, double dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number() || !std::isfinite(j[key].get<double>()) || j[key].get<double>() <= 0) {
    return BadInputError(where + ": \"" + key + "\" must be a positive number");
  }
  return j[key].get<double>();
}

StatusOr<bool> Flag(const json& j, const char* key, const std::string& where, bool dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) return BadInputError(where + ": \"" + key + "\" must be true or false");
  return j[key].get<bool>();
}

// Rotary tables for positions 0..S-1: cos and sin of position x inv_freq, each frequency twice
// (the rotate_half layout), [S, D].
void RotaryTables(const LlamaConfig& c, int64_t seq, std::vector<float>* cos_t, std::vector<float>* sin_t) {
  const int64_t d = c.head_dim, half = d / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(d));
    if (c.rope_factor > 0) {  // llama3: long wavelengths slowed by the factor, short kept, a ramp between
      const double wavelen = 2 * std::numbers::pi / f;
      const double low_wavelen = static_cast<double>(c.rope_original_max) / c.rope_low;
      const double high_wavelen = static_cast<double>(c.rope_original_max) / c.rope_high;
      if (wavelen > low_wavelen) {
        f /= c.rope_factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (static_cast<double>(c.rope_original_max) / wavelen - c.rope_low) /
                              (c.rope_high - c.rope_low);
        f = (1 - smooth) * f / c.rope_factor + smooth * f;
      }
    }
    inv[static_cast<size_t>(i)] = f;
  }
  cos_t->resize(static_cast<size_t>(seq * d));
  sin_t->resize(static_cast<size_t>(seq * d));
  for (int64_t p = 0; p < seq; ++p) {
    for (int64_t j = 0; j < d; ++j) {
      // Hugging Face computes the angle in f32: position x inv_freq, both rounded to f32.
      const float angle = static_cast<float>(p) * static_cast<float>(inv[static_cast<size_t>(j % half)]);
      (*cos_t)[static_cast<size_t>(p * d + j)] = std::cos(angle);
      (*sin_t)[static_cast<size_t>(p * d + j)] = std::sin(angle);
    }
  }
}

}  // namespace

namespace {

// A JSON object from a file's text; `where` names the file in messages.
StatusOr<json> ParseObject(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return BadInputError(where + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) return BadInputError(where + ": not a JSON object");
  return j;
}

}  // namespace

StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& text, const std::string& where) {
  ASSIGN_OR_RETURN(const json j, ParseObject(text, where));
  LlamaConfig c;
  if (!j.contains("model_type") || !j["model_type"].is_string()) {
    return BadInputError(where + ": \"model_type\" is missing; expected llama, mistral or qwen2");
  }
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2") {
    return BadInputError(where + ": model_type \"" + c.model_type.substr(0, 64) +
                         "\" is not supported; this version compiles llama, mistral and qwen2");
  }
  ASSIGN_OR_RETURN(c.hidden, Dim(j, "hidden_size", where));
  ASSIGN_OR_RETURN(c.intermediate, Dim(j, "intermediate_size", where));
  ASSIGN_OR_RETURN(c.layers, Dim(j, "num_hidden_layers", where));
  ASSIGN_OR_RETURN(c.heads, Dim(j, "num_attention_heads", where));
  ASSIGN_OR_RETURN(c.kv_heads, Dim(j, "num_key_value_heads", where, c.heads));
  ASSIGN_OR_RETURN(c.vocab, Dim(j, "vocab_size", where));
  if (c.hidden % c.heads != 0 && !j.contains("head_dim")) {
    return BadInputError(where + ": hidden_size " + std::to_string(c.hidden) + " is not a multiple of " +
                         "num_attention_heads " + std::to_string(c.heads) + " and no head_dim is given");
  }
  ASSIGN_OR_RETURN(c.head_dim, Dim(j, "head_dim", where, c.hidden / c.heads));
  if (c.head_dim % 2 != 0) return BadInputError(where + ": head_dim " + std::to_string(c.head_dim) + " is odd");
  if (c.heads % c.kv_heads != 0) {
    return BadInputError(where + ": num_attention_heads " + std::to_string(c.heads) +
                         " is not a multiple of num_key_value_heads " + std::to_string(c.kv_heads));
  }
  ASSIGN_OR_RETURN(c.rms_eps, Num(j, "rms_norm_eps", where, 1e-6));
  ASSIGN_OR_RETURN(c.tied, Flag(j, "tie_word_embeddings", where, false));
  ASSIGN_OR_RETURN(c.qkv_bias, Flag(j, "attention_bias", where, c.model_type == "qwen2"));
  ASSIGN_OR_RETURN(const bool mlp_bias, Flag(j, "mlp_bias", where, false));
  if (mlp_bias) return BadInputError(where + ": mlp_bias true is not supported; this version has no MLP biases");
  if (j.contains("hidden_act") && !(j["hidden_act"].is_string() && j["hidden_act"].get<std::string>() == "silu")) {
    return BadInputError(where + ": hidden_act must be \"silu\" (SwiGLU), the only activation this version builds");
  }
  ASSIGN_OR_RETURN(c.max_positions, Dim(j, "max_position_embeddings", where, 0));
  // Mistral v0.1 and Qwen2 with use_sliding_window attend over a sliding window; the graph
  // refuses positions beyond it rather than attend too far back.
  ASSIGN_OR_RETURN(const bool qwen_sliding, Flag(j, "use_sliding_window", where, false));
  if (c.model_type == "mistral" || qwen_sliding) {
    ASSIGN_OR_RETURN(c.sliding_window, Dim(j, "sliding_window", where, 0));
  }
  // The rotary parameters: transformers 4 writes rope_theta and rope_scaling at the top level,
  // transformers 5 one rope_parameters object holding rope_theta and rope_type.
  const bool v5 = j.contains("rope_parameters") && !j["rope_parameters"].is_null();
  if (v5 && !j["rope_parameters"].is_object()) return BadInputError(where + ": \"rope_parameters\" must be an object");
  const json& rope = v5 ? j["rope_parameters"] : j;
  const std::string rope_where = v5 ? where + " rope_parameters" : where;
  ASSIGN_OR_RETURN(c.rope_theta, Num(rope, "rope_theta", rope_where, 10000));
  const json* scaling = nullptr;
  if (v5) {
    scaling = &rope;
  } else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    scaling = &j["rope_scaling"];
  }
  if (scaling != nullptr) {
    const json& r = *scaling;
    const std::string scaling_where = v5 ? rope_where : where + " rope_scaling";
    const std::string type = r.is_object() && r.contains("rope_type") && r["rope_type"].is_string()
                                 ? r["rope_type"].get<std::string>()
                             : r.is_object() && r.contains("type") && r["type"].is_string() ? r["type"].get<std::string>()
                                                                                            : "";
    if (type == "llama3") {
      ASSIGN_OR_RETURN(c.rope_factor, Num(r, "factor", scaling_where, 8));
      ASSIGN_OR_RETURN(c.rope_low, Num(r, "low_freq_factor", scaling_where, 1));
      ASSIGN_OR_RETURN(c.rope_high, Num(r, "high_freq_factor", scaling_where, 4));
      ASSIGN_OR_RETURN(c.rope_original_max, Dim(r, "original_max_position_embeddings", scaling_where, 8192));
      if (c.rope_high <= c.rope_low) {
        return BadInputError(scaling_where + ": high_freq_factor must exceed low_freq_factor");
      }
    } else if (!(v5 && type == "default")) {
      return BadInputError(scaling_where + ": rope_type \"" + type.substr(0, 64) +
                           "\" is not supported; this version supports " +
                           (v5 ? "default and llama3" : "none or llama3"));
    }
  }
  return c;
}

StatusOr<std::vector<int64_t>> ReadEosTokenIds(const std::string& dir) {
  for (const char* name : {"generation_config.json", "config.json"}) {
    const std::string path = dir + "/" + name;
    std::ifstream f(path);
    if (!f) continue;
    std::stringstream text;
    text << f.rdbuf();
    ASSIGN_OR_RETURN(const json j, ParseObject(text.str(), path));
    if (!j.contains("eos_token_id") || j["eos_token_id"].is_null()) continue;
    const json& e = j["eos_token_id"];
    std::vector<int64_t> ids;
    for (const json& v : e.is_array() ? e : json::array({e})) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxDim) {
        return BadInputError(path + ": \"eos_token_id\" must be a token id or a list of them");
      }
      ids.push_back(v.get<int64_t>());
    }
    return ids;
  }
  return std::vector<int64_t>{};
}

StatusOr<ir::Graph> BuildLlamaGraph(const std::string& dir, int64_t seq, int64_t kv_tokens, MatrixFormat matrices) {
  const std::string config_path = dir + "/config.json";
  std::ifstream f(config_path);
  if (!f) return IoError("cannot read " + config_path + "; a checkpoint folder needs its config.json");
  std::stringstream text;
  text << f.rdbuf();
  ASSIGN_OR_RETURN(const LlamaConfig c, ParseLlamaConfig(text.str(), config_path));
  if (seq < 1 || seq > kMaxTokens) {
    return UsageError("the sequence length must be from 1 to " + std::to_string(kMaxTokens));
  }
  if (kv_tokens < 0 || kv_tokens > kMaxTokens) {
    return UsageError("--max-seq-len " + std::to_string(kv_tokens) + " must be from 1 to " +
                      std::to_string(kMaxTokens));
  }
  if (kv_tokens > 0 && seq > kv_tokens) {
    return UsageError("the key/value cache (--max-seq-len " + std::to_string(kv_tokens) +
                      ") must hold at least the " + std::to_string(seq) + " tokens of one step");
  }
  const bool decode = kv_tokens > 0;
  if (!decode && seq > kMaxWindow) {
    return UsageError("a window of " + std::to_string(seq) + " tokens is more than this version plans (" +
                      std::to_string(kMaxWindow) + ": its causal mask is a constant of S x S floats); "
                      "use --max-seq-len for a decoding step with a key/value cache");
  }
  const int64_t L = decode ? kv_tokens : seq;  // positions the rotary tables cover
  if (c.sliding_window > 0 && L > c.sliding_window) {
    return UsageError(config_path + ": the model attends over a sliding window of " +
                      std::to_string(c.sliding_window) + " tokens, which this version does not build; plan at most " +
                      std::to_string(c.sliding_window) + " positions (" + (decode ? "--max-seq-len" : "--shape") + ")");
  }
  ASSIGN_OR_RETURN(const SafetensorsCheckpoint ck, OpenSafetensorsCheckpoint(dir));

  ir::Graph g;
  g.opset = kOpset;
  Builder b(g);
  // Reads a tensor of the expected shape as f32.
  std::map<int, int> row_scale;  // int8 matrices (widened) -> their row scales
  // A tensor's values as f32 bytes.
  // A tensor of the checkpoint, checked against the shape the config implies.
  auto find = [&](const std::string& name, const std::vector<int64_t>& shape) -> StatusOr<const SafetensorsTensor*> {
    const SafetensorsTensor* t = ck.Find(name);
    if (!t) return BadInputError(dir + ": tensor '" + name + "' is missing from the checkpoint");
    if (t->shape != shape) {
      std::string want, have;
      for (int64_t d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
      for (int64_t d : t->shape) have += (have.empty() ? "" : ",") + std::to_string(d);
      return BadInputError(dir + ": tensor '" + name + "' is [" + have + "], config.json implies [" + want + "]");
    }
    return t;
  };
  auto load = [&](const std::string& name, const std::vector<int64_t>& shape) -> StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, find(name, shape));
    ASSIGN_OR_RETURN(std::vector<uint8_t> raw, ReadSafetensorsTensor(dir, *t));
    const size_t n = raw.size() / static_cast<size_t>(SafetensorsDTypeSize(t->st_dtype));
    std::vector<uint8_t> out(n * sizeof(float));
    float* dst = reinterpret_cast<float*>(out.data());
    switch (t->st_dtype) {
      case SafetensorsDType::F32: std::memcpy(dst, raw.data(), out.size()); break;
      case SafetensorsDType::F16:
      case SafetensorsDType::BF16:
        for (size_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, raw.data() + 2 * i, 2);
          dst[i] = t->st_dtype == SafetensorsDType::F16 ? ops::HalfToFloat(h) : ops::Bf16ToFloat(h);
        }
        break;
      default:
        return BadInputError(dir + ": tensor '" + name + "' is " + std::string(SafetensorsDTypeName(t->st_dtype)) +
                             "; weights must be F32, F16 or BF16");
    }
    return out;
  };
  // Tensors whose stored bytes are what the graph takes are viewed in the mapped files, not
  // copied: they reach the bundle writer straight from the checkpoint.
  SafetensorsMapper mapper(dir);
  auto in_place = [&](const SafetensorsTensor& t) -> StatusOr<ir::Bytes> {
    ASSIGN_OR_RETURN(SafetensorsMapper::View view, mapper.Map(t));
    return std::make_shared<const ir::TensorBytes>(std::move(view.keep), view.data, static_cast<size_t>(view.bytes));
  };
  auto weight = [&](const std::string& name, std::vector<int64_t> shape) -> StatusOr<int> {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, find(name, shape));
    if (t->st_dtype == SafetensorsDType::F32) {
      ASSIGN_OR_RETURN(ir::Bytes bytes, in_place(*t));
      return b.Weight(name, std::move(shape), std::move(bytes), DType::kF32);
    }
    ASSIGN_OR_RETURN(std::vector<uint8_t> f32, load(name, shape));
    return b.Weight(name, std::move(shape), std::move(f32));
  };
  // A linear layer's [out, in] matrix, stored as `matrices` says and widened to f32 in the
  // program just before its product, so that only the stored bytes are kept and streamed.
  auto matrix = [&](const std::string& name, std::vector<int64_t> shape) -> StatusOr<int> {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, find(name, shape));
    MatrixFormat format = matrices;
    if (format == MatrixFormat::kAsStored) {
      format = t->st_dtype == SafetensorsDType::F16    ? MatrixFormat::kF16
               : t->st_dtype == SafetensorsDType::BF16 ? MatrixFormat::kBF16
                                                        : MatrixFormat::kF32;
    }
    if (format == MatrixFormat::kF32) return weight(name, std::move(shape));
    if ((format == MatrixFormat::kF16 && t->st_dtype == SafetensorsDType::F16) ||
        (format == MatrixFormat::kBF16 && t->st_dtype == SafetensorsDType::BF16)) {
      // Already in the format asked for: the checkpoint's bytes, in place.
      ASSIGN_OR_RETURN(ir::Bytes raw, in_place(*t));
      ASSIGN_OR_RETURN(int hw, b.Weight(name, shape, std::move(raw),
                                        format == MatrixFormat::kF16 ? DType::kF16 : DType::kBF16));
      return b.Op("Cast", {hw}, {{"to", static_cast<int64_t>(DType::kF32)}});
    }
    ASSIGN_OR_RETURN(std::vector<uint8_t> f32, load(name, shape));
    if (format == MatrixFormat::kF16 || format == MatrixFormat::kBF16) {
      const size_t n = f32.size() / sizeof(float);
      std::vector<uint8_t> half(n * 2);
      for (size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, f32.data() + 4 * i, 4);
        const uint16_t h = format == MatrixFormat::kF16 ? ops::FloatToHalf(v) : ops::FloatToBf16(v);
        std::memcpy(half.data() + 2 * i, &h, 2);
      }
      ASSIGN_OR_RETURN(int hw, b.Weight(name, shape, std::move(half),
                                        format == MatrixFormat::kF16 ? DType::kF16 : DType::kBF16));
      return b.Op("Cast", {hw}, {{"to", static_cast<int64_t>(DType::kF32)}});
    }
    const int64_t rows = shape[0], cols = shape[1];
    const float* w = reinterpret_cast<const float*>(f32.data());
    std::vector<uint8_t> q(static_cast<size_t>(rows * cols));
    std::vector<float> scales(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0;
      for (int64_t k = 0; k < cols; ++k) {
        if (!std::isfinite(w[r * cols + k])) {
          return BadInputError(dir + ": tensor '" + name + "' holds " + (std::isnan(w[r * cols + k]) ? "NaN" : "infinity") +
                               " at row " + std::to_string(r) + ", column " + std::to_string(k) +
                               ", which int8 cannot hold; compile without --weight-quant int8");
        }
        amax = std::max(amax, std::fabs(w[r * cols + k]));
      }
      const float s = amax > 0 ? amax / 127.0f : 1.0f;
      scales[static_cast<size_t>(r)] = s;
      for (int64_t k = 0; k < cols; ++k) {
        const float v = std::nearbyint(w[r * cols + k] / s);
        q[static_cast<size_t>(r * cols + k)] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f)));
      }
    }
    std::vector<uint8_t> scale_bytes(scales.size() * sizeof(float));
    std::memcpy(scale_bytes.data(), scales.data(), scale_bytes.size());
    ASSIGN_OR_RETURN(int qw, b.Weight(name, shape, std::move(q), DType::kI8));
    ASSIGN_OR_RETURN(int sw, b.Weight(name + ".scale", {rows}, std::move(scale_bytes)));
    ASSIGN_OR_RETURN(int wide, b.Op("Cast", {qw}, {{"to", static_cast<int64_t>(DType::kF32)}}));
    row_scale[wide] = sw;
    return wide;
  };
  // x [1,S,in] x W^T (W: [out, in]); an int8 matrix's row scales multiply the product's columns
  // (S x out values, where scaling W first would touch out x in).
  auto product = [&](int x, int w, const std::string& name = "") -> StatusOr<int> {
    ASSIGN_OR_RETURN(int wt, b.Op("Transpose", {w}, {{"perm", std::vector<int64_t>{1, 0}}}));
    auto scale = row_scale.find(w);
    if (scale == row_scale.end()) return b.Op("MatMul", {x, wt}, {}, name);
    ASSIGN_OR_RETURN(int y, b.Op("MatMul", {x, wt}));
    return b.Op("Mul", {y, scale->second}, {}, name);
  };
  const int64_t H = c.hidden, D = c.head_dim, NH = c.heads, KV = c.kv_heads, I = c.intermediate;

  ir::Value ids;
  ids.name = "input_ids";
  ids.dtype = DType::kI64;
  ids.shape = {1, seq};
  ids.kind = ir::ValueKind::kInput;
  ASSIGN_OR_RETURN(const int input_ids, g.AddValue(std::move(ids)));
  g.inputs = {input_ids};
  int position = -1;
  if (decode) {
    ir::Value p;
    p.name = "position";
    p.dtype = DType::kI64;
    p.shape = {1};
    p.kind = ir::ValueKind::kInput;
    ASSIGN_OR_RETURN(position, g.AddValue(std::move(p)));
    g.inputs.push_back(position);
  }

  ASSIGN_OR_RETURN(const int embed, weight("model.embed_tokens.weight", {c.vocab, H}));
  std::vector<float> cos_t, sin_t;
  RotaryTables(c, L, &cos_t, &sin_t);
  ASSIGN_OR_RETURN(int cos_c, b.Constant("rope_cos", {L, D}, cos_t));
  ASSIGN_OR_RETURN(int sin_c, b.Constant("rope_sin", {L, D}, sin_t));
  int mask_c = -1;
  if (!decode) {
    std::vector<float> mask(static_cast<size_t>(seq * seq), 0.0f);
    for (int64_t r = 0; r < seq; ++r) {
      for (int64_t k = r + 1; k < seq; ++k) mask[static_cast<size_t>(r * seq + k)] = std::numeric_limits<float>::lowest();
    }
    ASSIGN_OR_RETURN(mask_c, b.Constant("causal_mask", {seq, seq}, mask));
  } else {
    // This step's tokens sit at positions position + [0, T): their rotary rows, and a mask
    // letting token i see cache rows 0 .. position + i.
    std::vector<int64_t> steps(static_cast<size_t>(seq)), rows(static_cast<size_t>(L));
    for (int64_t i = 0; i < seq; ++i) steps[static_cast<size_t>(i)] = i;
    for (int64_t j = 0; j < L; ++j) rows[static_cast<size_t>(j)] = j;
    ASSIGN_OR_RETURN(int steps_c, b.Constant("step_offsets", {seq, 1}, steps));
    ASSIGN_OR_RETURN(int rows_c, b.Constant("cache_rows", {L}, rows));
    ASSIGN_OR_RETURN(int at, b.Op("Add", {position, steps_c}));  // [T, 1]
    ASSIGN_OR_RETURN(int visible, b.Op("LessOrEqual", {rows_c, at}));  // [T, L]
    ASSIGN_OR_RETURN(int zero, b.Constant("mask_zero", {1}, std::vector<float>{0.0f}));
    ASSIGN_OR_RETURN(int hidden, b.Constant("mask_hidden", {1}, std::vector<float>{std::numeric_limits<float>::lowest()}));
    ASSIGN_OR_RETURN(mask_c, b.Op("Where", {visible, zero, hidden}));
    ASSIGN_OR_RETURN(int at_flat, b.Op("Reshape", {at}, {{"shape", std::vector<int64_t>{seq}}}));
    ASSIGN_OR_RETURN(cos_c, b.Op("Gather", {cos_c, at_flat}, {{"axis", int64_t{0}}}));  // [T, D]
    ASSIGN_OR_RETURN(sin_c, b.Op("Gather", {sin_c, at_flat}, {{"axis", int64_t{0}}}));
  }
  ASSIGN_OR_RETURN(const int eps_c, b.Constant("rms_eps", {1}, std::vector<float>{static_cast<float>(c.rms_eps)}));
  ASSIGN_OR_RETURN(const int scale_c, b.Constant("attn_scale", {1}, std::vector<float>{static_cast<float>(1 / std::sqrt(static_cast<double>(D)))}));

  auto rms_norm = [&](int x, int w) -> StatusOr<int> {
    ASSIGN_OR_RETURN(int sq, b.Op("Mul", {x, x}));
    ASSIGN_OR_RETURN(int ms, b.Op("ReduceMean", {sq}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}}));
    ASSIGN_OR_RETURN(int var, b.Op("Add", {ms, eps_c}));
    ASSIGN_OR_RETURN(int rs, b.Op("Sqrt", {var}));
    ASSIGN_OR_RETURN(int norm, b.Op("Div", {x, rs}));
    return b.Op("Mul", {norm, w});
  };
  // x [1,S,in] x W^T (W: [out, in]) (+ bias).
  auto linear = [&](int x, int w, int bias) -> StatusOr<int> {
    ASSIGN_OR_RETURN(int y, product(x, w));
    if (bias < 0) return y;
    return b.Op("Add", {y, bias});
  };
  // [1,S,n*D] -> [1,n,S,D]
  auto heads = [&](int x, int64_t n) -> StatusOr<int> {
    ASSIGN_OR_RETURN(int r, b.Op("Reshape", {x}, {{"shape", std::vector<int64_t>{1, seq, n, D}}}));
    return b.Op("Transpose", {r}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  };
  auto rope = [&](int x) -> StatusOr<int> {
    ir::AttrMap first = {{"starts", std::vector<int64_t>{0}}, {"ends", std::vector<int64_t>{D / 2}},
                         {"axes", std::vector<int64_t>{3}}};
    ir::AttrMap second = {{"starts", std::vector<int64_t>{D / 2}}, {"ends", std::vector<int64_t>{D}},
                          {"axes", std::vector<int64_t>{3}}};
    ASSIGN_OR_RETURN(int x1, b.Op("Slice", {x}, first));
    ASSIGN_OR_RETURN(int x2, b.Op("Slice", {x}, second));
    ASSIGN_OR_RETURN(int nx2, b.Op("Neg", {x2}));
    ASSIGN_OR_RETURN(int rot, b.Op("Concat", {nx2, x1}, {{"axis", int64_t{3}}}));
    ASSIGN_OR_RETURN(int a, b.Op("Mul", {x, cos_c}));
    ASSIGN_OR_RETURN(int r, b.Op("Mul", {rot, sin_c}));
    return b.Op("Add", {a, r});
  };
  // [1,KV,n,D] -> [1,NH,n,D], each KV head used by NH/KV query heads in turn.
  auto repeat_kv = [&](int x, int64_t n) -> StatusOr<int> {
    if (KV == NH) return x;
    ASSIGN_OR_RETURN(int u, b.Op("Reshape", {x}, {{"shape", std::vector<int64_t>{1, KV, 1, n, D}}}));
    ASSIGN_OR_RETURN(int e, b.Op("Expand", {u}, {{"shape", std::vector<int64_t>{1, KV, NH / KV, n, D}}}));
    return b.Op("Reshape", {e}, {{"shape", std::vector<int64_t>{1, NH, n, D}}});
  };
  // Decoding: the cache of one layer, a weight of zeros that the program updates in place.
  auto cache = [&](const std::string& name) -> StatusOr<int> {
    return b.Weight(name, {1, KV, L, D}, std::vector<uint8_t>(static_cast<size_t>(KV * L * D) * sizeof(float), 0));
  };

  ASSIGN_OR_RETURN(int h, b.Op("Gather", {embed, input_ids}, {{"axis", int64_t{0}}}));
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    b.SetPrefix("l" + std::to_string(l) + "_");
    ASSIGN_OR_RETURN(int w_in, weight(p + "input_layernorm.weight", {H}));
    ASSIGN_OR_RETURN(int wq, matrix(p + "self_attn.q_proj.weight", {NH * D, H}));
    ASSIGN_OR_RETURN(int wk, matrix(p + "self_attn.k_proj.weight", {KV * D, H}));
    ASSIGN_OR_RETURN(int wv, matrix(p + "self_attn.v_proj.weight", {KV * D, H}));
    int bq = -1, bk = -1, bv = -1;
    if (c.qkv_bias) {
      ASSIGN_OR_RETURN(bq, weight(p + "self_attn.q_proj.bias", {NH * D}));
      ASSIGN_OR_RETURN(bk, weight(p + "self_attn.k_proj.bias", {KV * D}));
      ASSIGN_OR_RETURN(bv, weight(p + "self_attn.v_proj.bias", {KV * D}));
    }
    ASSIGN_OR_RETURN(int wo, matrix(p + "self_attn.o_proj.weight", {H, NH * D}));
    ASSIGN_OR_RETURN(int w_post, weight(p + "post_attention_layernorm.weight", {H}));
    ASSIGN_OR_RETURN(int wg, matrix(p + "mlp.gate_proj.weight", {I, H}));
    ASSIGN_OR_RETURN(int wu, matrix(p + "mlp.up_proj.weight", {I, H}));
    ASSIGN_OR_RETURN(int wd, matrix(p + "mlp.down_proj.weight", {H, I}));

    ASSIGN_OR_RETURN(int x, rms_norm(h, w_in));
    ASSIGN_OR_RETURN(int q, linear(x, wq, bq));
    ASSIGN_OR_RETURN(int k, linear(x, wk, bk));
    ASSIGN_OR_RETURN(int v, linear(x, wv, bv));
    ASSIGN_OR_RETURN(q, heads(q, NH));
    ASSIGN_OR_RETURN(k, heads(k, KV));
    ASSIGN_OR_RETURN(v, heads(v, KV));
    ASSIGN_OR_RETURN(q, rope(q));
    ASSIGN_OR_RETURN(k, rope(k));
    int64_t keys = seq;
    if (decode) {
      ASSIGN_OR_RETURN(int kc, cache("kv_cache.k." + std::to_string(l)));
      ASSIGN_OR_RETURN(int vc, cache("kv_cache.v." + std::to_string(l)));
      ASSIGN_OR_RETURN(k, b.Op("TsKvWrite", {kc, k, position}));
      ASSIGN_OR_RETURN(v, b.Op("TsKvWrite", {vc, v, position}));
      keys = L;
    }
    ASSIGN_OR_RETURN(k, repeat_kv(k, keys));
    ASSIGN_OR_RETURN(v, repeat_kv(v, keys));
    ASSIGN_OR_RETURN(int kt, b.Op("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}}));
    ASSIGN_OR_RETURN(int s, b.Op("MatMul", {q, kt}));
    ASSIGN_OR_RETURN(s, b.Op("Mul", {s, scale_c}));
    ASSIGN_OR_RETURN(s, b.Op("Add", {s, mask_c}));
    ASSIGN_OR_RETURN(int pr, b.Op("Softmax", {s}, {{"axis", int64_t{-1}}}));
    ASSIGN_OR_RETURN(int o, b.Op("MatMul", {pr, v}));
    ASSIGN_OR_RETURN(o, b.Op("Transpose", {o}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
    ASSIGN_OR_RETURN(o, b.Op("Reshape", {o}, {{"shape", std::vector<int64_t>{1, seq, NH * D}}}));
    ASSIGN_OR_RETURN(o, linear(o, wo, -1));
    ASSIGN_OR_RETURN(h, b.Op("Add", {h, o}));

    ASSIGN_OR_RETURN(int x2, rms_norm(h, w_post));
    ASSIGN_OR_RETURN(int gate, linear(x2, wg, -1));
    ASSIGN_OR_RETURN(int up, linear(x2, wu, -1));
    ASSIGN_OR_RETURN(int sg, b.Op("Sigmoid", {gate}));
    ASSIGN_OR_RETURN(int silu, b.Op("Mul", {gate, sg}));
    ASSIGN_OR_RETURN(int act, b.Op("Mul", {silu, up}));
    ASSIGN_OR_RETURN(int down, linear(act, wd, -1));
    ASSIGN_OR_RETURN(h, b.Op("Add", {h, down}));
  }
  b.SetPrefix("");
  ASSIGN_OR_RETURN(int w_norm, weight("model.norm.weight", {H}));
  ASSIGN_OR_RETURN(int hn, rms_norm(h, w_norm));
  int lm = embed;
  if (!c.tied) {
    ASSIGN_OR_RETURN(lm, matrix("lm_head.weight", {c.vocab, H}));
  }
  ASSIGN_OR_RETURN(int logits, product(hn, lm, "logits"));
  g.values[static_cast<size_t>(logits)].kind = ir::ValueKind::kOutput;
  g.outputs = {logits};
  return g;
}

}  // namespace ts::frontend
