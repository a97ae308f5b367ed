// The Llama family from a Hugging Face checkpoint folder (config.json + safetensors): the graph
// of one forward pass over a fixed number of tokens, in TensorShunt's IR.
//
// config.json: model_type "llama", "mistral" or "qwen2"; hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, vocab_size (required); num_key_value_heads (default:
// the heads), head_dim (default hidden_size / heads), rms_norm_eps (1e-6), rope_theta (10000),
// tie_word_embeddings (false), attention_bias (qwen2: q/k/v biases, true by default; llama:
// false), rope_scaling null or {"rope_type": "llama3", factor, low_freq_factor,
// high_freq_factor, original_max_position_embeddings}; transformers 5's rope_parameters
// {"rope_type": "default" or "llama3", rope_theta, the llama3 fields} in place of the last two;
// max_position_embeddings (optional). Anything else in the rope parameters, hidden_act other
// than silu, mlp_bias true, a sliding window (mistral's sliding_window, qwen2's with
// use_sliding_window) shorter than the positions planned, or a missing or misshapen tensor is a
// kBadInput naming it.
//
// Tensors (Hugging Face names): model.embed_tokens.weight [V, H]; per layer i
// model.layers.i.{input_layernorm, post_attention_layernorm}.weight [H],
// self_attn.{q,k,v,o}_proj.weight ([heads*D, H], [kv*D, H], [kv*D, H], [H, heads*D]) and, with
// attention biases, self_attn.{q,k,v}_proj.bias; mlp.{gate,up,down}_proj.weight ([I, H], [I, H],
// [H, I]); model.norm.weight [H]; lm_head.weight [V, H] unless the embeddings are tied. F32, F16
// and BF16 are read and stored as f32 (computed in f32 on the CPU).
//
// The graph: input "input_ids" (i64 [1, S]), output "logits" (f32 [1, S, V]); positions 0..S-1
// with a causal mask, as Hugging Face's forward computes them for one unpadded sequence:
// RMSNorm (x / sqrt(mean(x^2) + eps) * w), rotary embeddings (rotate_half convention, computed
// here in double and stored as constants), grouped-query attention (K and V heads repeated),
// softmax(QK^T / sqrt(D) + mask) V, SwiGLU (silu(gate) * up, then down).
#ifndef TENSORSHUNT_FRONTEND_LLAMA_H_
#define TENSORSHUNT_FRONTEND_LLAMA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::frontend {

struct LlamaConfig {
  std::string model_type;
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  double rms_eps = 1e-6, rope_theta = 10000;
  bool tied = false, qkv_bias = false;
  // llama3 rope scaling; factor 0: none.
  double rope_factor = 0, rope_low = 1, rope_high = 4;
  int64_t rope_original_max = 8192;
  // max_position_embeddings (0: not given); the sliding window (0: none).
  int64_t max_positions = 0, sliding_window = 0;
};

// Parses config.json's text (`where` names it in messages).
StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& json_text, const std::string& where);

// Builds the forward pass over `seq_len` tokens of the checkpoint in `dir`. With kv_tokens > 0
// it is one step of decoding instead: inputs "input_ids" (i64 [1, seq_len]) and "position" (i64
// [1], the first token's position); each layer keeps its keys and values for kv_tokens positions
// in weights named kv_cache.{k,v}.LAYER ([1, KV, kv_tokens, D], zeros in the bundle) that the
// program updates in place (TsKvWrite), and attends over the cache rows up to each token's
// position. Running it on a prompt's tokens in turn, then on each new token, decodes.
//
// `matrices` is how the matrices of the linear layers (q/k/v/o, gate/up/down, an untied
// lm_head) are stored: f32 (converted at compile time, computed as they are); f16 or bf16
// (rounded to nearest even where the checkpoint has more bits) and Cast to f32 in the program
// before each matrix product; or int8 with one f32 scale per output row, symmetric (scale =
// max |w| / 127, values rounded to nearest and clamped to [-127, 127]): Cast to f32 before the
// product, whose output columns are then multiplied by the scales (tensor NAME.scale [out]).
// Embeddings, norms and biases stay f32.
// kAsStored keeps F16 and BF16 matrices as the checkpoint has them (their bytes, unconverted)
// and converts the others to f32.
enum class MatrixFormat { kAsStored, kF32, kF16, kBF16, kInt8 };
StatusOr<ir::Graph> BuildLlamaGraph(const std::string& dir, int64_t seq_len, int64_t kv_tokens = 0,
                                    MatrixFormat matrices = MatrixFormat::kAsStored);

// The ids that end generation: eos_token_id (an integer or a list) of the folder's
// generation_config.json where it has one, else of config.json; empty when neither says.
StatusOr<std::vector<int64_t>> ReadEosTokenIds(const std::string& dir);

}  // namespace ts::frontend

#endif  // TENSORSHUNT_FRONTEND_LLAMA_H_
