// ONNX importer: models built in C++ with the onnx protos, checked value by value; must-fail
// models each assert the error's Code and the distinctive part of its message.
// External data has its own file: external_data_test.cc.
#include "frontend/onnx_importer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace ts::frontend {
namespace {

constexpr int64_t kDyn = -1;  // a dim given by dim_param "N" instead of dim_value

onnx::ModelProto EmptyModel(int64_t opset = 17, const std::string& domain = "") {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain(domain);
  op->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

void SetTensorType(onnx::ValueInfoProto* vi, int elem_type, const std::vector<int64_t>& dims) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d == kDyn) shape->add_dim()->set_dim_param("N");
    else shape->add_dim()->set_dim_value(d);
  }
}

void AddInput(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims,
              int elem_type = onnx::TensorProto::FLOAT) {
  auto* vi = m.mutable_graph()->add_input();
  vi->set_name(name);
  SetTensorType(vi, elem_type, dims);
}

void AddOutput(onnx::ModelProto& m, const std::string& name) {
  m.mutable_graph()->add_output()->set_name(name);
}

onnx::NodeProto* AddNode(onnx::ModelProto& m, const std::string& op,
                         const std::vector<std::string>& ins,
                         const std::vector<std::string>& outs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

std::string FloatBytes(const std::vector<float>& v) {
  std::string s(v.size() * sizeof(float), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

onnx::TensorProto* AddInitializer(onnx::ModelProto& m, const std::string& name,
                                  const std::vector<int64_t>& dims,
                                  int data_type = onnx::TensorProto::FLOAT) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(data_type);
  for (int64_t d : dims) t->add_dims(d);
  return t;
}

const std::vector<float> kW = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // [4,3], in raw_data
const std::vector<float> kB = {0.5f, -1.5f, 2.25f};                      // [3], in float_data

// y = Relu(MatMul(x, W) + B), x: f32[1,4].
onnx::ModelProto SmallModel() {
  onnx::ModelProto m = EmptyModel(17);
  AddInput(m, "x", {1, 4});
  AddInitializer(m, "W", {4, 3})->set_raw_data(FloatBytes(kW));
  auto* b = AddInitializer(m, "B", {3});
  for (float f : kB) b->add_float_data(f);
  AddNode(m, "MatMul", {"x", "W"}, {"mm"}, "matmul");
  AddNode(m, "Add", {"mm", "B"}, {"sum"}, "add");
  AddNode(m, "Relu", {"sum"}, {"y"}, "relu");
  AddOutput(m, "y");
  return m;
}

std::string Serialize(const onnx::ModelProto& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

StatusOr<ir::Graph> Import(const onnx::ModelProto& m, const ImportOptions& options = {}) {
  std::string bytes = Serialize(m);
  return ImportOnnxBytes(bytes.data(), bytes.size(), "m.onnx", "", options);
}

std::string MakeTempDir() {
  std::string tmpl = testing::TempDir();
  if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
  tmpl += "onnx_importer_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

const ir::Value& ValueNamed(const ir::Graph& g, const std::string& name) {
  static const ir::Value kNone;
  auto id = g.FindValue(name);
  EXPECT_TRUE(id.has_value()) << "no value named " << name;
  return id ? g.values[*id] : kNone;
}

std::vector<uint8_t> AsBytes(const std::string& s) { return {s.begin(), s.end()}; }

// Asserts `r` failed with `code` and a message containing `part`.
template <typename T>
void ExpectError(const StatusOr<T>& r, Code code, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << part;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(part), std::string::npos)
      << "message: " << r.status().message() << "\nwanted: " << part;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "messages are one line";
}

// --- A valid model -------------------------------------------------------------------------

TEST(OnnxImporterTest, SmallModelFromFileHasValuesKindsAndData) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/small.onnx", Serialize(SmallModel()));
  auto r = ImportOnnx(dir + "/small.onnx", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ir::Graph& g = *r;

  EXPECT_EQ(g.opset, 17);
  ASSERT_EQ(g.values.size(), 6u);

  const ir::Value& x = ValueNamed(g, "x");
  EXPECT_EQ(x.kind, ir::ValueKind::kInput);
  EXPECT_EQ(x.dtype, DType::kF32);
  EXPECT_EQ(x.shape, (std::vector<int64_t>{1, 4}));
  EXPECT_FALSE(x.HasData());

  const ir::Value& w = ValueNamed(g, "W");
  EXPECT_EQ(w.kind, ir::ValueKind::kWeight);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{4, 3}));
  ASSERT_TRUE(w.HasData());
  EXPECT_EQ(*w.data, AsBytes(FloatBytes(kW)));

  const ir::Value& b = ValueNamed(g, "B");
  EXPECT_EQ(b.kind, ir::ValueKind::kWeight);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{3}));
  ASSERT_TRUE(b.HasData());
  EXPECT_EQ(*b.data, AsBytes(FloatBytes(kB)));

  for (const char* name : {"mm", "sum"}) {
    const ir::Value& v = ValueNamed(g, name);
    EXPECT_EQ(v.kind, ir::ValueKind::kActivation) << name;
    EXPECT_FALSE(v.shape_known) << name;
    EXPECT_FALSE(v.HasData()) << name;
  }
  const ir::Value& y = ValueNamed(g, "y");
  EXPECT_EQ(y.kind, ir::ValueKind::kOutput);
  EXPECT_FALSE(y.shape_known);

  EXPECT_EQ(g.inputs, std::vector<int>{*g.FindValue("x")});
  EXPECT_EQ(g.outputs, std::vector<int>{*g.FindValue("y")});

  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].name, "matmul");
  EXPECT_EQ(g.nodes[0].op, "MatMul");
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<int>{*g.FindValue("x"), *g.FindValue("W")}));
  EXPECT_EQ(g.nodes[0].outputs, std::vector<int>{*g.FindValue("mm")});
  EXPECT_EQ(g.nodes[1].op, "Add");
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<int>{*g.FindValue("mm"), *g.FindValue("B")}));
  EXPECT_EQ(g.nodes[2].op, "Relu");
  EXPECT_EQ(g.nodes[2].outputs, std::vector<int>{*g.FindValue("y")});
}

TEST(OnnxImporterTest, OpsetReadFromAiOnnxDomainIgnoringOthers) {
  onnx::ModelProto m = SmallModel();
  m.clear_opset_import();
  auto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(99);
  auto* onnx_domain = m.add_opset_import();
  onnx_domain->set_domain("ai.onnx");
  onnx_domain->set_version(13);
  auto r = Import(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->opset, 13);
}

TEST(OnnxImporterTest, NoDefaultDomainOpsetIsRefused) {
  onnx::ModelProto m = SmallModel();
  m.clear_opset_import();
  auto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(1);
  ExpectError(Import(m), Code::kBadInput, "no opset for the default ONNX domain");
}

TEST(OnnxImporterTest, UnnamedNodesGetUniqueNames) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Relu", {"x"}, {"a"});
  AddNode(m, "Relu", {"a"}, {"y"});
  AddOutput(m, "y");
  auto r = Import(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->nodes.size(), 2u);
  EXPECT_FALSE(r->nodes[0].name.empty());
  EXPECT_NE(r->nodes[0].name, r->nodes[1].name);
}

TEST(OnnxImporterTest, NodeAttributesAreCarried) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2, 3});
  auto* n = AddNode(m, "Transpose", {"x"}, {"t"}, "tr");
  auto* perm = n->add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  perm->add_ints(1);
  perm->add_ints(0);
  auto* s = AddNode(m, "Softmax", {"t"}, {"y"}, "sm");
  auto* axis = s->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(-1);
  AddOutput(m, "y");
  auto r = Import(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->nodes[0].IntsAttr("perm"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(r->nodes[1].IntAttr("axis"), -1);
}

// --- Constant nodes ------------------------------------------------------------------------

// A model whose only node is a Constant with `attr`, consumed by Identity -> y.
onnx::ModelProto ConstantModel(const onnx::AttributeProto& attr) {
  onnx::ModelProto m = EmptyModel();
  *AddNode(m, "Constant", {}, {"c"}, "const")->add_attribute() = attr;
  AddNode(m, "Identity", {"c"}, {"y"}, "id");
  AddOutput(m, "y");
  return m;
}

template <typename T>
std::vector<uint8_t> ElementBytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

void ExpectConstant(const onnx::AttributeProto& attr, DType dtype,
                    const std::vector<int64_t>& shape, const std::vector<uint8_t>& bytes) {
  auto r = Import(ConstantModel(attr));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ir::Value& c = ValueNamed(*r, "c");
  EXPECT_EQ(c.kind, ir::ValueKind::kConstant);
  EXPECT_EQ(c.dtype, dtype);
  EXPECT_EQ(c.shape, shape);
  ASSERT_TRUE(c.HasData());
  EXPECT_EQ(*c.data, bytes);
  // The Constant node itself becomes the value, not a node.
  ASSERT_EQ(r->nodes.size(), 1u);
  EXPECT_EQ(r->nodes[0].op, "Identity");
}

TEST(OnnxImporterTest, ConstantValueTensor) {
  onnx::AttributeProto a;
  a.set_name("value");
  a.set_type(onnx::AttributeProto::TENSOR);
  auto* t = a.mutable_t();
  t->set_data_type(onnx::TensorProto::INT32);
  t->add_dims(2);
  t->add_dims(2);
  for (int32_t v : {1, -2, 3, -4}) t->add_int32_data(v);
  ExpectConstant(a, DType::kI32, {2, 2}, ElementBytes<int32_t>({1, -2, 3, -4}));
}

TEST(OnnxImporterTest, ConstantValueTensorInt8CarriedInInt32Data) {
  onnx::AttributeProto a;
  a.set_name("value");
  a.set_type(onnx::AttributeProto::TENSOR);
  auto* t = a.mutable_t();
  t->set_data_type(onnx::TensorProto::INT8);
  t->add_dims(3);
  for (int32_t v : {-1, 0, 127}) t->add_int32_data(v);
  ExpectConstant(a, DType::kI8, {3}, ElementBytes<int8_t>({-1, 0, 127}));
}

TEST(OnnxImporterTest, ConstantValueFloatIsF32Scalar) {
  onnx::AttributeProto a;
  a.set_name("value_float");
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(2.5f);
  ExpectConstant(a, DType::kF32, {}, ElementBytes<float>({2.5f}));
}

TEST(OnnxImporterTest, ConstantValueFloatsIsF32Vector) {
  onnx::AttributeProto a;
  a.set_name("value_floats");
  a.set_type(onnx::AttributeProto::FLOATS);
  for (float f : {1.0f, -0.5f, 3.0f}) a.add_floats(f);
  ExpectConstant(a, DType::kF32, {3}, ElementBytes<float>({1.0f, -0.5f, 3.0f}));
}

TEST(OnnxImporterTest, ConstantValueIntIsI64Scalar) {
  onnx::AttributeProto a;
  a.set_name("value_int");
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(-7);
  ExpectConstant(a, DType::kI64, {}, ElementBytes<int64_t>({-7}));
}

TEST(OnnxImporterTest, ConstantValueIntsIsI64Vector) {
  onnx::AttributeProto a;
  a.set_name("value_ints");
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t i : {int64_t{1} << 40, int64_t{-1}}) a.add_ints(i);
  ExpectConstant(a, DType::kI64, {2}, ElementBytes<int64_t>({int64_t{1} << 40, -1}));
}

TEST(OnnxImporterTest, ConstantWithUnsupportedAttributeIsRefused) {
  onnx::AttributeProto a;
  a.set_name("value_string");
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s("hello");
  ExpectError(Import(ConstantModel(a)), Code::kBadInput,
              "Constant attribute 'value_string' is not supported");
}

// --- Unsupported operators -----------------------------------------------------------------

TEST(OnnxImporterTest, EveryUnsupportedOpIsListedInOneError) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {1, 3, 8, 8});
  AddNode(m, "GRU", {"x"}, {"c1"}, "gru_a");
  AddNode(m, "GRU", {"c1"}, {"c2"}, "gru_b");
  AddNode(m, "Relu", {"c2"}, {"r"}, "relu");
  AddNode(m, "LSTM", {"r"}, {"l"}, "lstm_0");
  AddNode(m, "FancyOp", {"l"}, {"y"}, "fancy")->set_domain("com.example");
  AddOutput(m, "y");
  auto r = Import(m);
  ExpectError(r, Code::kBadInput, "3 unsupported operators");
  const std::string& msg = r.status().message();
  EXPECT_NE(msg.find("GRU (2 nodes, first 'gru_a')"), std::string::npos) << msg;
  EXPECT_NE(msg.find("LSTM (1 node, first 'lstm_0')"), std::string::npos) << msg;
  EXPECT_NE(msg.find("com.example::FancyOp (1 node, first 'fancy')"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Relu"), std::string::npos) << msg;
}

TEST(OnnxImporterTest, SupportedOpInCustomDomainIsUnsupported) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Relu", {"x"}, {"y"}, "r")->set_domain("com.example");
  AddOutput(m, "y");
  ExpectError(Import(m), Code::kBadInput,
              "1 unsupported operator: com.example::Relu (1 node, first 'r')");
}

TEST(OnnxImporterTest, SupportedOpsAreSorted) {
  const auto& ops = SupportedOps();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), "MatMul"));
  EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), "Conv"));  // from the op library
  EXPECT_FALSE(std::binary_search(ops.begin(), ops.end(), "LSTM"));
}

// --- Graph input shapes and --shape ----------------------------------------------------------

onnx::ModelProto ReluModel(const std::vector<int64_t>& x_dims) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", x_dims);
  AddNode(m, "Relu", {"x"}, {"y"}, "relu");
  AddOutput(m, "y");
  return m;
}

TEST(OnnxImporterTest, DynamicDimWithoutShapeOptionNamesInputDimAndFlag) {
  auto r = Import(ReluModel({kDyn, 3}));
  ExpectError(r, Code::kBadInput, "graph input 'x': dimension 0 ('N') is dynamic");
  EXPECT_NE(r.status().message().find("--shape x="), std::string::npos);
}

TEST(OnnxImporterTest, InputWithoutShapeNeedsShapeOption) {
  onnx::ModelProto m = ReluModel({});
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  ExpectError(Import(m), Code::kBadInput, "graph input 'x': has no shape; fix it with --shape x=");

  ImportOptions options;
  options.input_shapes["x"] = {5, 6};
  auto r = Import(m, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueNamed(*r, "x").shape, (std::vector<int64_t>{5, 6}));
}

TEST(OnnxImporterTest, ShapeOptionFixesDynamicDim) {
  ImportOptions options;
  options.input_shapes["x"] = {8, 3};
  auto r = Import(ReluModel({kDyn, 3}), options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ir::Value& x = ValueNamed(*r, "x");
  EXPECT_EQ(x.kind, ir::ValueKind::kInput);
  EXPECT_EQ(x.shape, (std::vector<int64_t>{8, 3}));
  EXPECT_TRUE(x.shape_known);
}

TEST(OnnxImporterTest, ShapeOptionRankMismatchIsUsageError) {
  ImportOptions options;
  options.input_shapes["x"] = {8, 3, 1};
  ExpectError(Import(ReluModel({kDyn, 3}), options), Code::kUsage,
              "--shape x: gives rank 3 but the model declares rank 2");
}

TEST(OnnxImporterTest, ShapeOptionDisagreeingWithStaticDimIsUsageError) {
  ImportOptions options;
  options.input_shapes["x"] = {8, 4};
  ExpectError(Import(ReluModel({kDyn, 3}), options), Code::kUsage,
              "--shape x: dimension 1 is 4 but the model fixes it at 3");
}

TEST(OnnxImporterTest, ShapeOptionForUnknownNameIsUsageError) {
  ImportOptions options;
  options.input_shapes["x"] = {8, 3};
  options.input_shapes["nope"] = {1};
  ExpectError(Import(ReluModel({kDyn, 3}), options), Code::kUsage,
              "the model has no graph input named 'nope'");
}

TEST(OnnxImporterTest, ShapeOptionForAnInitializerIsUsageError) {
  onnx::ModelProto m = SmallModel();
  ImportOptions options;
  options.input_shapes["W"] = {4, 3};
  ExpectError(Import(m, options), Code::kUsage, "the model has no graph input named 'W'");
}

TEST(OnnxImporterTest, UnsupportedInputElementTypeIsRefused) {
  ExpectError(Import([] {
                onnx::ModelProto m = ReluModel({2});
                SetTensorType(m.mutable_graph()->mutable_input(0), onnx::TensorProto::STRING, {2});
                return m;
              }()),
              Code::kBadInput, "graph input 'x': element type 8 (STRING) is not supported");
}

TEST(OnnxImporterTest, InitializerAlsoListedAsInputIsAWeight) {
  onnx::ModelProto m = SmallModel();
  // IR < 4 style: every initializer is also declared in graph.input.
  AddInput(m, "W", {4, 3});
  AddInput(m, "B", {3});
  m.set_ir_version(3);
  auto r = Import(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs, std::vector<int>{*r->FindValue("x")});
  EXPECT_EQ(ValueNamed(*r, "W").kind, ir::ValueKind::kWeight);
  EXPECT_EQ(ValueNamed(*r, "B").kind, ir::ValueKind::kWeight);
}

// --- Bad tensors -----------------------------------------------------------------------------

// SmallModel with initializer W replaced by `w` (renamed "W").
StatusOr<ir::Graph> ImportWithW(onnx::TensorProto w) {
  onnx::ModelProto m = SmallModel();
  w.set_name("W");
  *m.mutable_graph()->mutable_initializer(0) = std::move(w);
  return Import(m);
}

onnx::TensorProto Tensor(const std::vector<int64_t>& dims, int data_type = onnx::TensorProto::FLOAT) {
  onnx::TensorProto t;
  t.set_data_type(data_type);
  for (int64_t d : dims) t.add_dims(d);
  return t;
}

TEST(OnnxImporterTest, RawDataSizeMismatchIsRefused) {
  onnx::TensorProto t = Tensor({4, 3});
  t.set_raw_data(std::string(47, '\0'));
  ExpectError(ImportWithW(t), Code::kBadInput,
              "tensor 'W': raw_data has 47 bytes, its shape and type need 48");
}

TEST(OnnxImporterTest, FloatDataCountMismatchIsRefused) {
  onnx::TensorProto t = Tensor({4, 3});
  for (int i = 0; i < 11; ++i) t.add_float_data(1.0f);
  ExpectError(ImportWithW(t), Code::kBadInput, "tensor 'W': has 11 elements, its shape needs 12");
}

TEST(OnnxImporterTest, StringElementTypeIsRefused) {
  onnx::TensorProto t = Tensor({1}, onnx::TensorProto::STRING);
  t.add_string_data("hello");
  ExpectError(ImportWithW(t), Code::kBadInput, "tensor 'W': element type 8 (STRING) is not supported");
}

TEST(OnnxImporterTest, RankOver16IsRefused) {
  onnx::TensorProto t = Tensor(std::vector<int64_t>(17, 1));
  t.add_float_data(1.0f);
  ExpectError(ImportWithW(t), Code::kBadInput, "tensor 'W': rank 17 exceeds 16");
}

TEST(OnnxImporterTest, NegativeDimIsRefused) {
  onnx::TensorProto t = Tensor({-1, 3});
  ExpectError(ImportWithW(t), Code::kBadInput,
              "tensor 'W': dims are negative or their product overflows");
}

TEST(OnnxImporterTest, OverflowingDimsAreRefusedWithoutAllocating) {
  onnx::TensorProto t = Tensor({int64_t{1} << 62, 4});
  t.add_float_data(1.0f);
  ExpectError(ImportWithW(t), Code::kBadInput,
              "tensor 'W': dims are negative or their product overflows");
}

TEST(OnnxImporterTest, ByteSizeOverflowIsRefusedWithoutAllocating) {
  // 2^62 elements fit int64, 2^62 x 4 bytes do not.
  onnx::TensorProto t = Tensor({int64_t{1} << 61, 2});
  t.set_raw_data(std::string(4, '\0'));
  ExpectError(ImportWithW(t), Code::kBadInput, "tensor 'W': declared size is too large");
}

TEST(OnnxImporterTest, HugeDeclaredSizeIsRefused) {
  onnx::TensorProto t = Tensor({int64_t{1} << 40});  // 4 TiB
  t.add_float_data(1.0f);
  ExpectError(ImportWithW(t), Code::kBadInput, "tensor 'W': declared size is too large");
}

// 64 GiB declared (under the importer's size cap) with one element of typed data: the count
// must be checked before the buffer is allocated, or this test runs out of memory.
TEST(OnnxImporterTest, LargeDeclaredTypedDataIsRefusedWithoutAllocating) {
  onnx::TensorProto f = Tensor({int64_t{1} << 34});
  f.add_float_data(1.0f);
  ExpectError(ImportWithW(f), Code::kBadInput, "has 1 elements, its shape needs 17179869184");

  onnx::TensorProto i8 = Tensor({int64_t{1} << 36}, onnx::TensorProto::INT8);
  ExpectError(ImportWithW(i8), Code::kBadInput, "has 0 elements, its shape needs 68719476736");
}

TEST(OnnxImporterTest, EmptyTensorWithNoDataImports) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {0, 3});
  AddInitializer(m, "e", {0, 3});
  AddInitializer(m, "h", {0}, onnx::TensorProto::FLOAT16);
  AddNode(m, "Add", {"x", "e"}, {"y"}, "add");
  AddOutput(m, "y");
  auto r = Import(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueNamed(*r, "e").shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(ValueNamed(*r, "e").data->empty());
  EXPECT_EQ(ValueNamed(*r, "h").dtype, DType::kF16);
}

TEST(OnnxImporterTest, RawDataWithLargeDeclaredSizeIsRefusedWithoutAllocating) {
  onnx::TensorProto t = Tensor({int64_t{1} << 34});
  t.set_raw_data(std::string(16, '\0'));
  ExpectError(ImportWithW(t), Code::kBadInput, "raw_data has 16 bytes, its shape and type need");
}

// --- Bytes that are not a model ----------------------------------------------------------------

TEST(OnnxImporterTest, GarbageBytesAreNotAModel) {
  const std::string garbage = "this is not a protobuf \xff\xff\xff\xff\xff";
  auto r = ImportOnnxBytes(garbage.data(), garbage.size(), "junk.onnx", "", {});
  ExpectError(r, Code::kBadInput, "junk.onnx: not a valid ONNX model");
}

TEST(OnnxImporterTest, TruncatedModelIsNotAModel) {
  const std::string bytes = Serialize(SmallModel());
  // Cut inside W's raw_data: a length-delimited field runs past the end.
  const size_t cut = bytes.find(FloatBytes(kW)) + 5;
  ASSERT_LT(cut, bytes.size());
  auto r = ImportOnnxBytes(bytes.data(), cut, "cut.onnx", "", {});
  ExpectError(r, Code::kBadInput, "not a valid ONNX model");
}

TEST(OnnxImporterTest, EmptyBytesHaveNoGraph) {
  auto r = ImportOnnxBytes("", 0, "empty.onnx", "", {});
  ExpectError(r, Code::kBadInput, "empty.onnx: the model has no graph");
}

TEST(OnnxImporterTest, EveryTruncationIsOkOrBadInput) {
  const std::string bytes = Serialize(SmallModel());
  for (size_t n = 0; n <= bytes.size(); ++n) {
    auto r = ImportOnnxBytes(bytes.data(), n, "t.onnx", "", {});
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kBadInput) << n << ": " << r.status().ToString();
    }
  }
  EXPECT_TRUE(ImportOnnxBytes(bytes.data(), bytes.size(), "t.onnx", "", {}).ok());
}

TEST(OnnxImporterTest, EveryByteCorruptionIsOkOrBadInput) {
  const std::string bytes = Serialize(SmallModel());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      auto r = ImportOnnxBytes(corrupt.data(), corrupt.size(), "c.onnx", "", {});
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), Code::kBadInput)
            << "byte " << i << " ^ " << int{mask} << ": " << r.status().ToString();
      }
    }
  }
}

TEST(OnnxImporterTest, MissingModelFileIsIoError) {
  const std::string path = MakeTempDir() + "/absent.onnx";
  ExpectError(ImportOnnx(path, {}), Code::kIo, "opening model '" + path + "'");
}

TEST(OnnxImporterTest, DirectoryAsModelIsRefused) {
  const std::string dir = MakeTempDir();
  ExpectError(ImportOnnx(dir, {}), Code::kBadInput, dir + ": not a regular file");
}

// --- Graph structure -------------------------------------------------------------------------

TEST(OnnxImporterTest, UnknownNodeInputIsNamed) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Add", {"x", "ghost"}, {"y"}, "adder");
  AddOutput(m, "y");
  ExpectError(Import(m), Code::kBadInput,
              "node 0 'adder' (Add): input 'ghost' is not a graph input, initializer or earlier "
              "node output");
}

TEST(OnnxImporterTest, NodesOutOfOrderAreRefused) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Relu", {"a"}, {"y"}, "second");
  AddNode(m, "Relu", {"x"}, {"a"}, "first");
  AddOutput(m, "y");
  ExpectError(Import(m), Code::kBadInput, "input 'a' is not a graph input");
}

TEST(OnnxImporterTest, DuplicateNodeOutputIsRefused) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Relu", {"x"}, {"a"}, "r1");
  AddNode(m, "Abs", {"x"}, {"a"}, "r2");
  AddNode(m, "Neg", {"a"}, {"y"}, "n");
  AddOutput(m, "y");
  auto r = Import(m);
  ExpectError(r, Code::kBadInput, "tensor name 'a' is defined twice");
  EXPECT_NE(r.status().message().find("node 1 'r2' (Abs)"), std::string::npos)
      << r.status().message();
}

TEST(OnnxImporterTest, NodeOutputShadowingAnInputIsRefused) {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2});
  AddNode(m, "Relu", {"x"}, {"x"}, "self");
  AddOutput(m, "x");
  ExpectError(Import(m), Code::kBadInput, "tensor name 'x' is defined twice");
}

TEST(OnnxImporterTest, DuplicateInitializerIsRefused) {
  onnx::ModelProto m = SmallModel();
  AddInitializer(m, "W", {1})->add_float_data(0.0f);
  ExpectError(Import(m), Code::kBadInput, "initializer: tensor name 'W' is defined twice");
}

TEST(OnnxImporterTest, GraphOutputNeverProducedIsRefused) {
  onnx::ModelProto m = SmallModel();
  AddOutput(m, "nowhere");
  ExpectError(Import(m), Code::kBadInput, "graph output 'nowhere' is never produced");
}

TEST(OnnxImporterTest, GraphWithoutOutputsIsRefused) {
  onnx::ModelProto m = SmallModel();
  m.mutable_graph()->clear_output();
  ExpectError(Import(m), Code::kBadInput, "the graph has no outputs");
}

}  // namespace
}  // namespace ts::frontend

namespace ts::frontend {
namespace {

TEST(OnnxImporterLimitsTest, OverlongNamesAndOpTypesAreRefused) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* opset = m.add_opset_import();
  opset->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  auto* node = g->add_node();
  node->set_op_type(std::string(5000, 'R'));
  node->add_input("x");
  node->add_output("y");
  g->add_output()->set_name("y");
  std::string bytes = m.SerializeAsString();
  auto r = ImportOnnxBytes(bytes.data(), bytes.size(), "m.onnx", "", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadInput);
  EXPECT_NE(r.status().message().find("over the 4096-byte limit on names"), std::string::npos);
  EXPECT_LT(r.status().message().size(), 300u);

  node->set_op_type("Relu");
  node->set_name(std::string(100000, 'n'));
  bytes = m.SerializeAsString();
  r = ImportOnnxBytes(bytes.data(), bytes.size(), "m.onnx", "", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 0 name"), std::string::npos);
}

TEST(OnnxImporterLimitsTest, ThousandsOfUnsupportedOpsGiveABoundedMessage) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  for (int i = 0; i < 2000; ++i) {
    auto* node = g->add_node();
    node->set_op_type("Fake" + std::to_string(i));
    node->add_output("o" + std::to_string(i));
  }
  g->add_output()->set_name("o0");
  std::string bytes = m.SerializeAsString();
  auto r = ImportOnnxBytes(bytes.data(), bytes.size(), "m.onnx", "", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("2000 unsupported operators"), std::string::npos);
  EXPECT_NE(r.status().message().find("and 1968 more"), std::string::npos);
  EXPECT_LT(r.status().message().size(), 2000u);
}

}  // namespace
}  // namespace ts::frontend
