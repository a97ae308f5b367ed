// Elementwise fusion.
#ifndef TENSORSHUNT_PASSES_FUSION_H_
#define TENSORSHUNT_PASSES_FUSION_H_

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::passes {

// Replaces every elementwise op (ir::ElementwiseArity) by an "Elementwise" node whose `program`
// attribute is a postfix expression over its inputs, and merges chains into one node: a
// producer is folded into its consumer when its output has that single use, is not a graph
// output, and has the consumer's output shape (so the fused loop runs over one iteration
// space). Needs: shapes inferred. Returns the number of ops folded away through `fused`.
StatusOr<ir::Graph> FuseElementwise(const ir::Graph& g, int* fused = nullptr);

// MatMul(A, Transpose(W, perm=[1,0])) with a 2-D W becomes MatMul(A, W) with attribute
// trans_b=1: the matrix product reads W transposed instead of a transposed copy being made on
// every run (a tied LM head transposes the whole embedding). A Transpose left without uses is
// removed. Returns the number of MatMuls rewritten through `rewritten`.
ir::Graph FoldTransposeIntoMatMul(const ir::Graph& g, int* rewritten = nullptr);

// Conv followed by an inference BatchNormalization (all f32, weights and statistics known, the
// Conv's output used only by it) becomes one Conv with W' = W * s and B' = (B - mean) * s + beta
// per output channel, s = gamma / sqrt(var + epsilon): one pass over the activation instead of
// two. Returns the number of BatchNormalizations folded through `rewritten`.
StatusOr<ir::Graph> FoldBatchNormIntoConv(const ir::Graph& g, int* rewritten = nullptr);

// For the CPU target: Conv followed by Add(·, Z) (Z of the Conv output's shape, no
// broadcasting) and/or Relu, each the sole user of what it reads and no graph output, becomes one
// TsFusedConv(X, W, B[, Z]) {activation} (ir::kFusedConvOp): the convolution adds Z and applies
// ReLU as it stores each output tile, instead of two more passes over the activation. f32 only;
// a Conv without a bias gets a zero one. Needs: shapes inferred. Returns the number of Convs
// rewritten through `fused`.
StatusOr<ir::Graph> FuseConvEpilogues(const ir::Graph& g, int* fused = nullptr);

// For the CPU target, after FuseConvEpilogues: the weights of each 2-D f32 Conv or TsFusedConv
// that ops::ConvPrefersBlockedWeights picks (a constant read by that node alone) are stored
// blocked by 16 output channels (ops::BlockConvWeights) and the node becomes a TsFusedConv with
// weight_layout = "blocked16" (a Conv without a bias gets a zero one). The bytes are the same in
// number, so plans and peaks do not change. Needs: shapes inferred. Returns the number of
// convolutions rewritten through `blocked`.
StatusOr<ir::Graph> BlockConvWeights(const ir::Graph& g, int* blocked = nullptr);

// For the CPU target, last: each f32 MatMul whose B is a 2-D constant read by it alone (not
// transposed) gets B stored in column blocks of 64 (ops::BlockMatMulWeights; B keeps its id and
// name) and the attribute weight_layout = "blocked64"; the runtime's product then reads B as it
// lies instead of packing it on every call. The bytes are the same in number. Returns the number
// rewritten through `blocked`.
StatusOr<ir::Graph> BlockMatMulWeights(const ir::Graph& g, int* blocked = nullptr);

// Pow(x, 2) and Pow(x, 3) with f32 x and a constant exponent become Mul(x, x) and
// Mul(Mul(x, x), x), which fuse with their neighbours (GPT-2's GELU cubes, RMSNorm squares).
// Returns the number of Pows rewritten through `rewritten`.
StatusOr<ir::Graph> PowAsMul(const ir::Graph& g, int* rewritten = nullptr);

// For the CUDA target: MatMul(A, Cast(W, to=f32)) with an f16 or bf16 weight W becomes
// MatMul(Cast(A, to=W's type), W) with attribute out_dtype=f32. The product then runs on the
// tensor cores in W's type with f32 accumulation and an f32 result, as frameworks run
// half-precision checkpoints; W is never widened, so the arena holds no f32 copy of it and a
// streamed W moves its stored bytes. A rounds to W's type (relative error about 5e-4 for f16,
// 4e-3 for bf16). A Cast of W left without uses is removed. Needs: shapes inferred. Returns
// the number of MatMuls rewritten through `rewritten`.
StatusOr<ir::Graph> HalfPrecisionProducts(const ir::Graph& g, int* rewritten = nullptr);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_FUSION_H_
