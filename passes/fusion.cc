#include "passes/fusion.h"

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "ir/ops.h"
#include "passes/schedule.h"

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

StatusOr<ir::Graph> FuseElementwise(const ir::Graph& g, int* fused) {
  ASSIGN_OR_RETURN(std::vector<int> order, TopologicalOrder(g));
  const std::vector<int> producer = ir::Producers(g);
  const auto consumers = ir::Consumers(g);
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;

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
      const bool foldable = p >= 0 && Fusible(g, g.nodes[p]) && !is_output[v] &&
                            consumers[v].size() == 1 && g.values[v].shape == out.shape &&
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
