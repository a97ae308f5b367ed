#include "passes/fusion.h"

#include <algorithm>
#include <map>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/ops.h"
#include "passes/schedule.h"
#include "runtime/ops/conv_direct.h"
#include "runtime/ops/gemm_blocked.h"
#include "runtime/ops/op.h"

namespace ts::passes {
namespace {

// A postfix program: an int is an index into the group's leaves, a string an op.
using Token = std::variant<int, std::string>;

struct Group {
  std::vector<int> leaves;  // value ids the fused node reads
  std::vector<Token> program;
  int ops = 0;
};

std::string Render(const Group& grp) {
  std::string s;
  for (const Token& t : grp.program) {
    if (!s.empty()) s += ' ';
    if (const int* leaf = std::get_if<int>(&t)) s += "$" + std::to_string(*leaf);
    else s += std::get<std::string>(t);
  }
  return s;
}

}  // namespace

namespace {

// An elementwise node the generated kernels compute: f32 in and out (other types run the op
// library's kernels).
bool Fusible(const ir::Graph& g, const ir::Node& n) {
  if (!ir::ElementwiseArity(n.op)) return false;
  for (int v : n.inputs) {
    if (v < 0 || g.values[v].dtype != DType::kF32) return false;
  }
  for (int v : n.outputs) {
    if (g.values[v].dtype != DType::kF32) return false;
  }
  return true;
}

}  // namespace

ir::Graph FoldTransposeIntoMatMul(const ir::Graph& g, int* rewritten) {
  const std::vector<int> producer = ir::Producers(g);
  ir::Graph out = g;
  int count = 0;
  for (ir::Node& n : out.nodes) {
    if (n.op != "MatMul" || n.inputs.size() != 2 || n.IntAttrOr("trans_b", 0) != 0) continue;
    const int p = producer[n.inputs[1]];
    if (p < 0) continue;
    const ir::Node& t = g.nodes[p];
    if (t.op != "Transpose" || t.inputs.size() != 1 ||
        t.IntsAttr("perm") != std::vector<int64_t>{1, 0} ||
        g.values[t.inputs[0]].dtype != DType::kF32) {
      continue;
    }
    n.inputs[1] = t.inputs[0];
    n.attrs["trans_b"] = int64_t{1};
    ++count;
  }
  if (rewritten) *rewritten = count;
  return count ? RemoveUnused(out) : out;
}

namespace {

// The f32 values of a constant tensor, or nothing when it is not a known f32 tensor of `count`.
std::optional<std::vector<float>> F32Data(const ir::Value& v, int64_t count) {
  if (!v.HasData() || v.dtype != DType::kF32 || v.data->size() != static_cast<size_t>(count) * 4) {
    return std::nullopt;
  }
  std::vector<float> out(static_cast<size_t>(count));
  std::memcpy(out.data(), v.data->data(), v.data->size());
  return out;
}

// The one node that reads each value once, where that value is no graph output: what a pass
// may fold a value into, or rewrite in place.
class SoleUsers {
 public:
  explicit SoleUsers(const ir::Graph& g) : consumers_(ir::Consumers(g)), is_output_(g.values.size(), false) {
    for (int v : g.outputs) is_output_[v] = true;
  }
  // The node reading v, or -1 when v is a graph output or read by other nodes (or twice) too.
  int Of(int v) const { return !is_output_[v] && consumers_[v].size() == 1 ? consumers_[v][0] : -1; }

 private:
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> is_output_;
};

bool IsF32(const ir::Graph& g, int v) { return v >= 0 && g.values[v].dtype == DType::kF32; }

// `g` without the nodes marked in `drop`, and without the values left unused.
ir::Graph WithoutDropped(ir::Graph g, const std::vector<bool>& drop) {
  std::vector<ir::Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  return RemoveUnused(g);
}

// Adds a weight holding `values`, named after `base`; returns its id.
StatusOr<int> AddWeight(ir::Graph& g, const ir::Value& like, const std::string& base,
                        const std::vector<float>& values, std::vector<int64_t> shape) {
  ir::Value v;
  v.dtype = DType::kF32;
  v.shape = std::move(shape);
  v.kind = like.kind == ir::ValueKind::kConstant ? ir::ValueKind::kConstant : ir::ValueKind::kWeight;
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  v.data = ir::MakeBytes(std::move(bytes));
  for (int i = 0;; ++i) {
    v.name = base + (i ? "." + std::to_string(i) : "");
    if (auto id = g.AddValue(v); id.ok()) return *id;
    if (i > 1000) return InternalError("cannot name the folded weight " + base);
  }
}

}  // namespace

StatusOr<ir::Graph> FoldBatchNormIntoConv(const ir::Graph& g, int* rewritten) {
  const std::vector<int> producer = ir::Producers(g);
  const SoleUsers sole_user(g);
  ir::Graph out = g;
  std::vector<bool> drop(g.nodes.size(), false);
  int count = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& bn = g.nodes[i];
    if (bn.op != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1 ||
        bn.IntAttrOr("training_mode", 0) != 0) {
      continue;
    }
    const int x = bn.inputs[0];
    const int p = x >= 0 ? producer[x] : -1;
    if (p < 0 || drop[p]) continue;
    const ir::Node& conv = g.nodes[p];
    if (conv.op != "Conv" || conv.outputs.size() != 1 || sole_user.Of(x) < 0 || g.values[x].dtype != DType::kF32) {
      continue;
    }
    const ir::Value& w = g.values[conv.inputs[1]];
    if (w.shape.size() < 3 || w.shape[0] <= 0) continue;
    const int64_t m = w.shape[0];
    const int64_t per_channel = w.ByteSize() / 4 / m;
    auto wv = F32Data(w, m * per_channel);
    std::optional<std::vector<float>> bv = std::vector<float>(static_cast<size_t>(m), 0.0f);
    if (conv.inputs.size() > 2 && conv.inputs[2] >= 0) bv = F32Data(g.values[conv.inputs[2]], m);
    auto scale = F32Data(g.values[bn.inputs[1]], m), shift = F32Data(g.values[bn.inputs[2]], m);
    auto mean = F32Data(g.values[bn.inputs[3]], m), var = F32Data(g.values[bn.inputs[4]], m);
    if (!wv || !bv || !scale || !shift || !mean || !var) continue;
    const float eps = static_cast<float>(bn.FloatAttrOr("epsilon", 1e-5));
    for (int64_t c = 0; c < m; ++c) {
      const float s = (*scale)[c] / std::sqrt((*var)[c] + eps);
      for (int64_t k = 0; k < per_channel; ++k) (*wv)[c * per_channel + k] *= s;
      (*bv)[c] = ((*bv)[c] - (*mean)[c]) * s + (*shift)[c];
    }
    ASSIGN_OR_RETURN(const int new_w, AddWeight(out, w, w.name + ".bn_folded", *wv, w.shape));
    ASSIGN_OR_RETURN(const int new_b, AddWeight(out, w, bn.name + ".bias", *bv, {m}));
    ir::Node& c = out.nodes[p];
    c.inputs.resize(3);
    c.inputs[1] = new_w;
    c.inputs[2] = new_b;
    c.outputs[0] = bn.outputs[0];
    drop[i] = true;
    ++count;
  }
  if (rewritten) *rewritten = count;
  if (!count) return out;
  return WithoutDropped(std::move(out), drop);
}

StatusOr<ir::Graph> FuseConvEpilogues(const ir::Graph& g, int* fused) {
  const SoleUsers sole_user(g);
  auto f32 = [&](int v) { return IsF32(g, v); };
  ir::Graph out = g;
  std::vector<bool> taken(g.nodes.size(), false), drop(g.nodes.size(), false);
  int count = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& conv = g.nodes[i];
    if (conv.op != "Conv" || taken[i] || conv.inputs.size() < 2 || conv.outputs.size() != 1 ||
        !f32(conv.inputs[0]) || !f32(conv.inputs[1]) || !f32(conv.outputs[0]) ||
        (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && !f32(conv.inputs[2]))) {
      continue;
    }
    const int y = conv.outputs[0];
    const std::vector<int64_t> shape = g.values[y].shape;
    std::vector<size_t> absorbed;  // the Add and the Relu folded in, in order
    int result = y, addend = -1;
    int user = sole_user.Of(y);
    if (user >= 0 && !taken[user]) {
      const ir::Node& add = g.nodes[user];
      if (add.op == "Add" && add.inputs.size() == 2 && add.outputs.size() == 1 && add.inputs[0] != add.inputs[1]) {
        const int other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
        if (f32(other) && f32(add.outputs[0]) && g.values[other].shape == shape &&
            g.values[add.outputs[0]].shape == shape) {
          addend = other;
          result = add.outputs[0];
          absorbed.push_back(static_cast<size_t>(user));
          user = sole_user.Of(result);
        }
      }
    }
    bool relu = false;
    if (user >= 0 && !taken[user]) {
      const ir::Node& r = g.nodes[user];
      if (r.op == "Relu" && r.inputs.size() == 1 && r.outputs.size() == 1 && f32(r.outputs[0])) {
        relu = true;
        result = r.outputs[0];
        absorbed.push_back(static_cast<size_t>(user));
      }
    }
    if (absorbed.empty()) continue;
    int bias = conv.inputs.size() > 2 ? conv.inputs[2] : -1;
    if (bias < 0) {
      const ir::Value w = g.values[conv.inputs[1]];  // a copy: AddWeight may move the values
      if (w.shape.empty()) continue;
      ASSIGN_OR_RETURN(bias, AddWeight(out, w, conv.name + ".zero_bias",
                                       std::vector<float>(static_cast<size_t>(w.shape[0]), 0.0f), {w.shape[0]}));
    }
    ir::Node f;
    f.name = conv.name;
    f.op = std::string(ir::kFusedConvOp);
    f.inputs = {conv.inputs[0], conv.inputs[1], bias};
    if (addend >= 0) f.inputs.push_back(addend);
    f.outputs = {result};
    f.attrs = conv.attrs;
    if (relu) f.attrs["activation"] = std::string("Relu");
    // In the last absorbed node's place: the addend may be computed after the Conv.
    out.nodes[absorbed.back()] = std::move(f);
    taken[i] = drop[i] = true;
    for (size_t a : absorbed) taken[a] = true;
    for (size_t k = 0; k + 1 < absorbed.size(); ++k) drop[absorbed[k]] = true;
    ++count;
  }
  if (fused) *fused = count;
  if (!count) return out;
  return WithoutDropped(std::move(out), drop);
}

StatusOr<ir::Graph> BlockConvWeights(const ir::Graph& g, int* blocked) {
  const SoleUsers sole_user(g);
  auto f32 = [&](int v) { return IsF32(g, v); };
  ir::Graph out = g;
  int count = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const bool fused = n.op == ir::kFusedConvOp;
    if ((n.op != "Conv" && !fused) || n.inputs.size() < 2 || n.outputs.size() != 1 || !f32(n.inputs[0]) ||
        !f32(n.inputs[1]) || !f32(n.outputs[0]) || n.attrs.count("weight_layout")) {
      continue;
    }
    const int bias = n.inputs.size() > 2 ? n.inputs[2] : -1;
    if (bias >= 0 && !f32(bias)) continue;
    const ir::Value w = g.values[n.inputs[1]];  // a copy: AddWeight may move the values
    if (!w.HasData() || sole_user.Of(n.inputs[1]) < 0 ||
        !ops::ConvPrefersBlockedWeights(ops::AttrView(n.attrs), DType::kF32, g.values[n.inputs[0]].shape, w.shape)) {
      continue;
    }
    const std::optional<int64_t> count_w = ops::SafeCount(w.shape);
    const int64_t m = w.shape[0];
    if (!count_w || m <= 0) continue;
    const int64_t k = *count_w / m;
    std::optional<std::vector<float>> plain = F32Data(w, *count_w);
    if (!plain) continue;
    std::vector<float> packed(plain->size());
    ops::BlockConvWeights(m, k, plain->data(), packed.data());
    ASSIGN_OR_RETURN(const int new_w, AddWeight(out, w, w.name + ".blocked16", packed, w.shape));
    int new_bias = bias;
    if (new_bias < 0) {
      ASSIGN_OR_RETURN(new_bias, AddWeight(out, w, n.name + ".zero_bias", std::vector<float>(static_cast<size_t>(m), 0.0f), {m}));
    }
    ir::Node& node = out.nodes[i];
    node.op = std::string(ir::kFusedConvOp);
    node.inputs[1] = new_w;
    if (node.inputs.size() > 2) {
      node.inputs[2] = new_bias;
    } else {
      node.inputs.push_back(new_bias);
    }
    node.attrs["weight_layout"] = std::string(ops::kBlockedConvWeights);
    ++count;
  }
  if (blocked) *blocked = count;
  return count ? RemoveUnused(out) : out;
}

StatusOr<ir::Graph> BlockMatMulWeights(const ir::Graph& g, int* blocked) {
  const SoleUsers sole_user(g);
  auto f32 = [&](int v) { return IsF32(g, v); };
  ir::Graph out = g;
  int count = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (n.op != "MatMul" || n.inputs.size() != 2 || n.outputs.size() != 1 || !f32(n.inputs[0]) ||
        !f32(n.inputs[1]) || !f32(n.outputs[0]) || !n.attrs.empty()) {
      continue;  // attributes: transposed (trans_b), half-precision (out_dtype) or already blocked
    }
    const int bv = n.inputs[1];
    const ir::Value& b = g.values[bv];
    if (!b.HasData() || b.shape.size() != 2 || sole_user.Of(bv) < 0 ||
        g.values[n.inputs[0]].shape.empty()) {
      continue;
    }
    const int64_t k = b.shape[0], cols = b.shape[1];
    const std::optional<int64_t> count_b = ops::SafeCount(b.shape);
    if (!count_b || *count_b == 0) continue;
    std::optional<std::vector<float>> plain = F32Data(b, *count_b);
    if (!plain) continue;
    std::vector<float> laid(plain->size());
    ops::BlockMatMulWeights(k, cols, plain->data(), laid.data());
    // In place: B keeps its id and name (read by this node alone), so nothing else moves.
    std::vector<uint8_t> bytes(laid.size() * 4);
    std::memcpy(bytes.data(), laid.data(), bytes.size());
    out.values[bv].data = ir::MakeBytes(std::move(bytes));
    out.nodes[i].attrs["weight_layout"] = std::string("blocked64");
    ++count;
  }
  if (blocked) *blocked = count;
  return out;
}

StatusOr<ir::Graph> PowAsMul(const ir::Graph& g, int* rewritten) {
  ir::Graph out = g;
  std::vector<ir::Node> added;
  int count = 0;
  for (ir::Node& n : out.nodes) {
    if (n.op != "Pow" || n.inputs.size() != 2 || n.outputs.size() != 1) continue;
    const ir::Value& x = out.values[n.inputs[0]];
    const ir::Value& e = out.values[n.inputs[1]];
    const ir::Value& y = out.values[n.outputs[0]];
    if (x.dtype != DType::kF32 || y.dtype != DType::kF32 || y.shape != x.shape) continue;
    auto exponent = F32Data(e, 1);
    if (!exponent || ((*exponent)[0] != 2.0f && (*exponent)[0] != 3.0f)) continue;
    const int xv = n.inputs[0];
    n.op = "Mul";
    n.attrs.clear();
    if ((*exponent)[0] == 2.0f) {
      n.inputs = {xv, xv};
    } else {
      ir::Value sq = x;
      sq.kind = ir::ValueKind::kActivation;
      sq.data = nullptr;
      int id = -1;
      for (int i = 0; id < 0; ++i) {
        sq.name = y.name + ".square" + (i ? "." + std::to_string(i) : "");
        if (auto added_id = out.AddValue(sq); added_id.ok()) id = *added_id;
        if (i > 1000) return InternalError("cannot name the square of " + y.name);
      }
      added.push_back({n.name + ".square", "Mul", {xv, xv}, {id}, {}});
      n.inputs = {id, xv};
    }
    ++count;
  }
  out.nodes.insert(out.nodes.end(), added.begin(), added.end());
  if (rewritten) *rewritten = count;
  return count ? RemoveUnused(out) : out;
}

StatusOr<ir::Graph> HalfPrecisionProducts(const ir::Graph& g, int* rewritten) {
  const std::vector<int> producer = ir::Producers(g);
  ir::Graph out = g;
  std::vector<ir::Node> added;
  std::map<std::pair<int, DType>, int> narrowed;  // (A, type) -> A in that type: one Cast each
  int count = 0;
  for (ir::Node& n : out.nodes) {
    if (n.op != "MatMul" || n.inputs.size() != 2 || n.outputs.size() != 1 || n.inputs[0] < 0 ||
        n.inputs[1] < 0 || producer[n.inputs[1]] < 0) {
      continue;
    }
    const ir::Node& cast = g.nodes[producer[n.inputs[1]]];
    if (cast.op != "Cast" || cast.inputs.size() != 1 || cast.inputs[0] < 0) continue;
    const ir::Value& w = out.values[cast.inputs[0]];
    const ir::Value& a = out.values[n.inputs[0]];
    if ((w.dtype != DType::kF16 && w.dtype != DType::kBF16) || !w.HasData() ||
        out.values[n.inputs[1]].dtype != DType::kF32 || a.dtype != DType::kF32 ||
        out.values[n.outputs[0]].dtype != DType::kF32) {
      continue;
    }
    // `w` and `a` point into out.values, which AddValue may reallocate: copy what is needed.
    const DType type = w.dtype;
    auto [it, fresh] = narrowed.try_emplace({n.inputs[0], type}, -1);
    if (fresh) {
      ir::Value narrow = a;
      narrow.dtype = type;
      narrow.kind = ir::ValueKind::kActivation;
      narrow.data = nullptr;
      narrow.name = out.UniqueName(a.name + (type == DType::kF16 ? ".f16" : ".bf16"));
      ASSIGN_OR_RETURN(it->second, out.AddValue(std::move(narrow)));
      added.push_back({n.name + ".narrow", "Cast", {n.inputs[0]}, {it->second}, {{"to", static_cast<int64_t>(type)}}});
    }
    n.inputs = {it->second, cast.inputs[0]};
    n.attrs["out_dtype"] = static_cast<int64_t>(DType::kF32);
    ++count;
  }
  out.nodes.insert(out.nodes.end(), added.begin(), added.end());
  if (rewritten) *rewritten = count;
  return count ? RemoveUnused(out) : out;
}

StatusOr<ir::Graph> FuseElementwise(const ir::Graph& g, int* fused) {
  ASSIGN_OR_RETURN(std::vector<int> order, TopologicalOrder(g));
  const std::vector<int> producer = ir::Producers(g);
  const SoleUsers sole_user(g);

  std::vector<Group> groups(g.nodes.size());
  std::vector<bool> absorbed(g.nodes.size(), false);
  int folded = 0;
  for (int n : order) {
    const ir::Node& node = g.nodes[n];
    if (!Fusible(g, node)) continue;
    Group grp;
    const ir::Value& out = g.values[node.outputs[0]];
    for (int v : node.inputs) {
      if (v < 0) return InternalError("node '" + node.name + "' has an omitted input after shape inference");
      const int p = producer[v];
      const bool foldable = p >= 0 && Fusible(g, g.nodes[p]) && sole_user.Of(v) >= 0 && g.values[v].shape == out.shape &&
                            g.values[v].dtype == out.dtype;
      if (!foldable) {
        auto it = std::find(grp.leaves.begin(), grp.leaves.end(), v);
        int leaf = static_cast<int>(it - grp.leaves.begin());
        if (it == grp.leaves.end()) grp.leaves.push_back(v);
        grp.program.push_back(leaf);
        continue;
      }
      absorbed[p] = true;
      ++folded;
      const Group& sub = groups[p];
      grp.ops += sub.ops;
      for (const Token& t : sub.program) {
        if (const int* leaf = std::get_if<int>(&t)) {
          int v2 = sub.leaves[*leaf];
          auto it = std::find(grp.leaves.begin(), grp.leaves.end(), v2);
          int mapped = static_cast<int>(it - grp.leaves.begin());
          if (it == grp.leaves.end()) grp.leaves.push_back(v2);
          grp.program.push_back(mapped);
        } else {
          grp.program.push_back(t);
        }
      }
    }
    grp.program.push_back(node.op);
    grp.ops += 1;
    groups[n] = std::move(grp);
  }

  ir::Graph out = g;
  out.nodes.clear();
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (absorbed[n]) continue;
    if (!Fusible(g, node)) {
      out.AddNode(node);
      continue;
    }
    ir::Node f;
    f.name = node.name;
    f.op = std::string(ir::kElementwiseOp);
    f.inputs = groups[n].leaves;
    f.outputs = node.outputs;
    f.attrs["program"] = Render(groups[n]);
    f.attrs["ops"] = int64_t{groups[n].ops};
    out.AddNode(std::move(f));
  }
  if (fused) *fused = folded;
  return RemoveUnused(out);
}

}  // namespace ts::passes
