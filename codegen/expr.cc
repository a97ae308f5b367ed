#include "codegen/expr.h"

#include <cmath>
#include <charconv>

#include "ir/ops.h"

namespace ts::codegen {

StatusOr<ExprProgram> ParseExprProgram(std::string_view text, int num_inputs) {
  ExprProgram p;
  p.num_inputs = num_inputs;
  int depth = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos == text.size()) break;
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view tok = text.substr(pos, end - pos);
    pos = end;
    ExprInstr in;
    if (tok[0] == '$') {
      int idx = -1;
      auto [ptr, ec] = std::from_chars(tok.data() + 1, tok.data() + tok.size(), idx);
      if (ec != std::errc() || ptr != tok.data() + tok.size() || idx < 0 || idx >= num_inputs) {
        return BadInputError("elementwise program: bad input reference '" + std::string(tok) +
                             "' (the node has " + std::to_string(num_inputs) + " inputs)");
      }
      in.input = idx;
      ++depth;
    } else {
      in.op = std::string(tok);
      in.arity = ir::ElementwiseArity(tok);
      if (in.arity == 0) {
        return BadInputError("elementwise program: unknown op '" + in.op + "'");
      }
      if (depth < in.arity) {
        return BadInputError("elementwise program: '" + in.op + "' needs " +
                             std::to_string(in.arity) + " operands, the stack has " +
                             std::to_string(depth));
      }
      depth -= in.arity - 1;
    }
    p.instrs.push_back(std::move(in));
  }
  if (depth != 1) {
    return BadInputError("elementwise program '" + std::string(text) + "' leaves " +
                         std::to_string(depth) + " values, expected 1");
  }
  return p;
}

float EvalExprScalar(const ExprProgram& p, const std::vector<float>& inputs) {
  std::vector<float> stack;
  for (const ExprInstr& in : p.instrs) {
    if (in.input >= 0) {
      stack.push_back(inputs[in.input]);
      continue;
    }
    float b = stack.back();
    if (in.arity == 2) {
      stack.pop_back();
      float a = stack.back();
      float r = in.op == "Add" ? a + b : in.op == "Sub" ? a - b : in.op == "Mul" ? a * b : a / b;
      stack.back() = r;
      continue;
    }
    float r = 0;
    if (in.op == "Relu") r = b < 0 ? 0.0f : b;
    else if (in.op == "Sigmoid") r = 1.0f / (1.0f + std::exp(-b));
    else if (in.op == "Tanh") r = std::tanh(b);
    else if (in.op == "Neg") r = -b;
    else if (in.op == "Exp") r = std::exp(b);
    else if (in.op == "Log") r = std::log(b);
    else if (in.op == "Sqrt") r = std::sqrt(b);
    else if (in.op == "Abs") r = std::fabs(b);
    else if (in.op == "Erf") r = std::erf(b);
    stack.back() = r;
  }
  return stack.back();
}

LoopNest BuildLoopNest(const ElementwiseKernel& k) {
  const size_t rank = k.out_shape.size();
  const size_t n_in = k.in_shapes.size();
  // Per input, strides aligned to the output rank; 0 where the input broadcasts.
  std::vector<std::vector<int64_t>> strides(n_in, std::vector<int64_t>(rank, 0));
  for (size_t i = 0; i < n_in; ++i) {
    const auto& s = k.in_shapes[i];
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      size_t off = rank - s.size();
      int64_t dim = d >= off ? s[d - off] : 1;
      strides[i][d] = (dim == 1 && k.out_shape[d] != 1) ? 0 : stride;
      stride *= dim;
    }
  }
  LoopNest nest;
  for (size_t d = 0; d < rank; ++d) {
    if (k.out_shape[d] == 1) continue;  // contributes nothing to any offset
    bool merge = !nest.dims.empty();
    for (size_t i = 0; i < n_in && merge; ++i) {
      // The previous merged dim continues into this one when its stride equals this one's
      // stride times this extent (true for contiguous and for broadcast-on-both).
      merge = nest.in_strides[i].back() == strides[i][d] * k.out_shape[d];
    }
    if (merge) {
      nest.dims.back() *= k.out_shape[d];
      for (size_t i = 0; i < n_in; ++i) nest.in_strides[i].back() = strides[i][d];
    } else {
      nest.dims.push_back(k.out_shape[d]);
      if (nest.in_strides.empty()) nest.in_strides.resize(n_in);
      for (size_t i = 0; i < n_in; ++i) nest.in_strides[i].push_back(strides[i][d]);
    }
  }
  if (nest.in_strides.empty()) nest.in_strides.resize(n_in);
  return nest;
}

}  // namespace ts::codegen
