#include "runtime/tensor_io.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

namespace ts::runtime {
namespace {

const DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32,
                            DType::kI8,  DType::kU8,  DType::kBool, DType::kF64};

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

template <typename T>
std::vector<uint8_t> Raw(std::initializer_list<T> values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

template <typename T>
std::vector<T> Values(const HostTensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

// An .npy file as numpy 1.24's _write_array_header lays it out: preamble, the repr of the dict,
// spaces (21 - digits of dim 0 spare for growth, then padding to 64 bytes), '\n', data.
std::vector<uint8_t> NumpyFile(std::string_view preamble, std::string_view dict, int spaces,
                               const std::vector<uint8_t>& data) {
  std::string s(preamble);
  s += dict;
  s.append(spaces, ' ');
  s += '\n';
  std::vector<uint8_t> out = Bytes(s);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))
std::vector<uint8_t> Arange6F32() {
  return NumpyFile(std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2),
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58,
                   Raw<float>({0, 1, 2, 3, 4, 5}));
}

// A v1.0 file with an arbitrary header dict and data, for must-fail cases.
std::vector<uint8_t> NpyWithDict(std::string_view dict, const std::vector<uint8_t>& data) {
  std::string s = std::string("\x93NUMPY\x01\x00", 8);
  size_t hlen = dict.size() + 1;
  s += static_cast<char>(hlen & 0xff);
  s += static_cast<char>(hlen >> 8);
  s += dict;
  s += '\n';
  std::vector<uint8_t> out = Bytes(s);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

#define EXPECT_ERROR(expr, code_, part)                                      \
  do {                                                                       \
    auto r_ = (expr);                                                        \
    ASSERT_FALSE(r_.ok()) << "expected failure: " #expr;                     \
    EXPECT_EQ(r_.status().code(), code_) << r_.status().ToString();          \
    EXPECT_NE(r_.status().message().find(part), std::string::npos)          \
        << "message lacks \"" << (part) << "\": " << r_.status().message();  \
  } while (0)

// ---- npy ----------------------------------------------------------------------------------

TEST(NpyTest, RoundTripEachDType) {
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(DTypeName(dt));
    HostTensor t = RandomTensor(dt, {2, 3, 5}, 42);
    std::string path = TempPath(std::string("rt_") + std::string(DTypeName(dt)) + ".npy");
    ASSERT_TRUE(WriteNpy(path, t).ok());
    auto back = ReadNpy(path);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->shape, t.shape);
    if (dt == DType::kBF16) {  // npy has no bf16: widened exactly to f32
      EXPECT_EQ(back->dtype, DType::kF32);
      std::vector<float> got = Values<float>(*back);
      std::vector<uint16_t> want = Values<uint16_t>(t);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], BF16ToFloat(want[i]));
    } else {
      EXPECT_EQ(back->dtype, dt);
      EXPECT_EQ(back->data, t.data);
    }
  }
}

TEST(NpyTest, RoundTripScalarAndEmpty) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{}, {0}, {3, 0, 2}}) {
    HostTensor t = RandomTensor(DType::kF32, shape, 1);
    std::string path = TempPath("shape.npy");
    ASSERT_TRUE(WriteNpy(path, t).ok());
    auto back = ReadNpy(path);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, t.data);
  }
}

TEST(NpyTest, WriteIsByteIdenticalToNumpy) {
  HostTensor t{DType::kF32, {2, 3}, Raw<float>({0, 1, 2, 3, 4, 5})};
  std::string path = TempPath("arange.npy");
  ASSERT_TRUE(WriteNpy(path, t).ok());
  std::vector<uint8_t> written = ReadFile(path);
  EXPECT_EQ(written, Arange6F32());
  EXPECT_EQ((written.size() - 24) % 64, 0u);  // data starts on a 64-byte boundary
}

TEST(NpyTest, ParsesNumpyFixtures) {
  const std::string v1 = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2);
  {
    std::vector<uint8_t> f = Arange6F32();
    auto t = ParseNpy(f.data(), f.size(), "arange.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype, DType::kF32);
    EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(Values<float>(*t), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  }
  {  // np.array([1, 2, 3])
    auto f = NumpyFile(v1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 60,
                       Raw<int64_t>({1, 2, 3}));
    auto t = ParseNpy(f.data(), f.size(), "i64.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype, DType::kI64);
    EXPECT_EQ(Values<int64_t>(*t), (std::vector<int64_t>{1, 2, 3}));
  }
  {  // np.array(True)
    auto f = NumpyFile(v1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", 62,
                       {1});
    auto t = ParseNpy(f.data(), f.size(), "bool.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype, DType::kBool);
    EXPECT_TRUE(t->shape.empty());
    EXPECT_EQ(t->data, std::vector<uint8_t>{1});
  }
  {  // np.array([[1, 2], [3, 250]], dtype=np.uint8)
    auto f = NumpyFile(v1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", 58,
                       {1, 2, 3, 250});
    auto t = ParseNpy(f.data(), f.size(), "u8.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype, DType::kU8);
    EXPECT_EQ(t->data, (std::vector<uint8_t>{1, 2, 3, 250}));
  }
  {  // np.array([1.0, 65504.0], dtype=np.float16)
    auto f = NumpyFile(v1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 60,
                       Raw<uint16_t>({0x3C00, 0x7BFF}));
    auto t = ParseNpy(f.data(), f.size(), "f16.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype, DType::kF16);
    EXPECT_EQ(Values<uint16_t>(*t), (std::vector<uint16_t>{0x3C00, 0x7BFF}));
  }
}

TEST(NpyTest, AcceptsOtherValidHeaderSpellings) {
  // Key order, double quotes, no trailing comma, Python 2 longs, '<u1'.
  auto f = NpyWithDict("{\"shape\": (2L, 1L), 'fortran_order': False, 'descr': '<u1'}", {7, 8});
  auto t = ParseNpy(f.data(), f.size(), "x.npy");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(t->dtype, DType::kU8);
}

// np.save of a transposed array writes it column-major; the reader returns row-major.
TEST(NpyTest, FortranOrderIsReorderedToRowMajor) {
  auto f = NpyWithDict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                       Raw<float>({0, 1, 2, 3, 4, 5}));
  auto t = ParseNpy(f.data(), f.size(), "f.npy");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  // Column-major element (i, j) sits at i + 2 * j.
  EXPECT_EQ(t->data, Raw<float>({0, 2, 4, 1, 3, 5}));
}

TEST(NpyTest, ReadsVersion2) {
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
  std::string s = std::string("\x93NUMPY\x02\x00", 8);
  uint32_t hlen = dict.size() + 1;
  s.append(reinterpret_cast<const char*>(&hlen), 4);
  std::vector<uint8_t> f = Bytes(s + dict + "\n");
  std::vector<uint8_t> data = Raw<int32_t>({-5, 9});
  f.insert(f.end(), data.begin(), data.end());
  auto t = ParseNpy(f.data(), f.size(), "v2.npy");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Values<int32_t>(*t), (std::vector<int32_t>{-5, 9}));
}

TEST(NpyTest, MustFail) {
  std::vector<uint8_t> good = Arange6F32();
  auto with = [&](auto edit) {
    std::vector<uint8_t> b = good;
    edit(b);
    return b;
  };
  const std::vector<uint8_t> f4x6 = Raw<float>({0, 1, 2, 3, 4, 5});
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* part;
  };
  const Case cases[] = {
      {"empty", {}, "truncated npy"},
      {"bad magic", with([](auto& b) { b[5] = 'Z'; }), "bad magic"},
      {"bad version", with([](auto& b) { b[6] = 4; }), "unsupported npy version 4.0"},
      {"truncated header", {good.begin(), good.begin() + 60}, "runs past the end"},
      {"header len past EOF", with([](auto& b) { b[8] = b[9] = 0xff; }), "runs past the end"},
      {"header cut inside dict", NpyWithDict("{'descr': '<f4', 'fortr", {}), "bad npy header"},
      {"bad descr", NpyWithDict("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                                std::vector<uint8_t>(8)),
       "unsupported npy dtype descr '<c8'"},
      {"structured descr",
       NpyWithDict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", {}),
       "structured dtypes"},
      {"big endian", NpyWithDict("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", f4x6),
       "big-endian"},
      {"data too short", with([](auto& b) { b.pop_back(); }), "(truncated)"},
      {"data too long", with([](auto& b) { b.push_back(0); }), "(trailing bytes)"},
      {"shape overflow",
       NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                   f4x6),
       "overflows a 64-bit byte count"},
      {"dim past int64",
       NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                   {}),
       "does not fit in 64 bits"},
      {"negative dim", NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", {}),
       "non-negative integer"},
      {"one-dim tuple without comma",
       NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", f4x6),
       "needs a ','"},
      {"missing key", NpyWithDict("{'descr': '<f4', 'shape': (6,), }", f4x6), "must have"},
      {"duplicate key",
       NpyWithDict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", f4x6),
       "duplicate key 'descr'"},
      {"unknown key",
       NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", f4x6),
       "unexpected key 'x'"},
      {"garbage after dict",
       NpyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } junk", f4x6),
       "unexpected text after"},
      {"fortran_order not bool",
       NpyWithDict("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,), }", f4x6),
       "True or False"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_ERROR(ParseNpy(c.bytes.data(), c.bytes.size(), "bad.npy"), Code::kBadInput,
                 "bad.npy: ");
    EXPECT_ERROR(ParseNpy(c.bytes.data(), c.bytes.size(), "bad.npy"), Code::kBadInput, c.part);
  }
}

TEST(NpyTest, EveryTruncationIsRefused) {
  std::vector<uint8_t> good = Arange6F32();
  ASSERT_TRUE(ParseNpy(good.data(), good.size(), "x.npy").ok());
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);  // own buffer so ASan sees overreads
    auto t = ParseNpy(cut.data(), cut.size(), "x.npy");
    ASSERT_FALSE(t.ok()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(t.status().code(), Code::kBadInput);
  }
}

TEST(NpyTest, EverySingleByteEditOfTheHeaderIsSafe) {
  std::vector<uint8_t> good = Arange6F32();
  for (size_t pos = 0; pos < 128; ++pos) {
    for (int v = 0; v < 256; ++v) {
      std::vector<uint8_t> b = good;
      b[pos] = static_cast<uint8_t>(v);
      auto t = ParseNpy(b.data(), b.size(), "x.npy");
      if (t.ok()) continue;
      ASSERT_EQ(t.status().code(), Code::kBadInput) << pos << " " << v;
    }
  }
}

TEST(NpyTest, ReadMissingFileIsIoErrorNamingPath) {
  EXPECT_ERROR(ReadNpy("/nonexistent/dir/x.npy"), Code::kIo, "/nonexistent/dir/x.npy");
  EXPECT_EQ(WriteNpy("/nonexistent/dir/y.npy", HostTensor{DType::kU8, {1}, {1}}).code(),
            Code::kIo);
}

TEST(NpyTest, WriteRefusesInconsistentTensor) {
  EXPECT_EQ(WriteNpy(TempPath("bad.npy"), HostTensor{DType::kF32, {2}, {1, 2, 3}}).code(),
            Code::kInternal);
}

// ---- ONNX TensorProto -----------------------------------------------------------------------

onnx::TensorProto ProtoWithRawData(const HostTensor& t, onnx::TensorProto::DataType type) {
  onnx::TensorProto p;
  p.set_name("t");
  p.set_data_type(type);
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_raw_data(std::string(t.data.begin(), t.data.end()));
  return p;
}

StatusOr<HostTensor> ParseProto(const onnx::TensorProto& p) {
  std::string s = p.SerializeAsString();
  return ParseTensorProto(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "t.pb");
}

TEST(TensorProtoTest, RawDataRoundTripEachDType) {
  using P = onnx::TensorProto;
  const std::pair<DType, P::DataType> types[] = {
      {DType::kF32, P::FLOAT}, {DType::kF16, P::FLOAT16}, {DType::kBF16, P::BFLOAT16},
      {DType::kF64, P::DOUBLE}, {DType::kI64, P::INT64}, {DType::kI32, P::INT32},
      {DType::kI8, P::INT8},   {DType::kU8, P::UINT8},   {DType::kBool, P::BOOL}};
  for (auto [dt, pt] : types) {
    SCOPED_TRACE(DTypeName(dt));
    HostTensor t = RandomTensor(dt, {3, 4}, 7);
    auto back = ParseProto(ProtoWithRawData(t, pt));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->dtype, dt);
    EXPECT_EQ(back->shape, t.shape);
    EXPECT_EQ(back->data, t.data);
  }
}

TEST(TensorProtoTest, TypedFields) {
  onnx::TensorProto f;
  f.set_data_type(onnx::TensorProto::FLOAT);
  f.add_dims(3);
  for (float v : {1.5f, -2.0f, 0.25f}) f.add_float_data(v);
  auto tf = ParseProto(f);
  ASSERT_TRUE(tf.ok()) << tf.status().ToString();
  EXPECT_EQ(Values<float>(*tf), (std::vector<float>{1.5f, -2.0f, 0.25f}));

  onnx::TensorProto i;
  i.set_data_type(onnx::TensorProto::INT64);
  i.add_dims(1);
  i.add_dims(2);
  i.add_int64_data(-7);
  i.add_int64_data(int64_t{1} << 40);
  auto ti = ParseProto(i);
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  EXPECT_EQ(ti->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Values<int64_t>(*ti), (std::vector<int64_t>{-7, int64_t{1} << 40}));

  onnx::TensorProto h;  // fp16 bit patterns travel in int32_data
  h.set_data_type(onnx::TensorProto::FLOAT16);
  h.add_dims(2);
  h.add_int32_data(0x3C00);
  h.add_int32_data(0xFBFF);
  auto th = ParseProto(h);
  ASSERT_TRUE(th.ok()) << th.status().ToString();
  EXPECT_EQ(Values<uint16_t>(*th), (std::vector<uint16_t>{0x3C00, 0xFBFF}));

  onnx::TensorProto b;
  b.set_data_type(onnx::TensorProto::INT8);
  b.add_int32_data(-128);  // no dims: a scalar
  auto tb = ParseProto(b);
  ASSERT_TRUE(tb.ok()) << tb.status().ToString();
  EXPECT_TRUE(tb->shape.empty());
  EXPECT_EQ(Values<int8_t>(*tb), std::vector<int8_t>{-128});
}

// Found by tests/fuzz (fuzz_tensor_files): dims claiming terabytes with a short typed field
// must be refused before anything is allocated.
TEST(TensorProtoTest, HugeDimsWithShortTypedFieldAreRefusedWithoutAllocating) {
  for (auto type : {onnx::TensorProto::FLOAT, onnx::TensorProto::INT64, onnx::TensorProto::UINT8}) {
    onnx::TensorProto p;
    p.set_data_type(type);
    p.add_dims(int64_t{1} << 40);
    p.add_dims(2);
    p.add_int32_data(1);
    p.add_float_data(1);
    p.add_int64_data(1);
    EXPECT_ERROR(ParseProto(p), Code::kBadInput, "the file is corrupt");
  }
}

TEST(TensorProtoTest, MustFail) {
  HostTensor t = RandomTensor(DType::kF32, {2, 2}, 3);
  onnx::TensorProto external = ProtoWithRawData(t, onnx::TensorProto::FLOAT);
  external.clear_raw_data();
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  external.add_external_data()->set_key("location");
  EXPECT_ERROR(ParseProto(external), Code::kBadInput, "external data");

  onnx::TensorProto short_raw = ProtoWithRawData(t, onnx::TensorProto::FLOAT);
  short_raw.mutable_raw_data()->pop_back();
  EXPECT_ERROR(ParseProto(short_raw), Code::kBadInput, "raw_data is 15 bytes");

  onnx::TensorProto few = ProtoWithRawData(t, onnx::TensorProto::FLOAT);
  few.clear_raw_data();
  few.add_float_data(1);
  EXPECT_ERROR(ParseProto(few), Code::kBadInput, "has 1 float_data values");

  onnx::TensorProto both = ProtoWithRawData(t, onnx::TensorProto::FLOAT);
  both.add_float_data(1);
  EXPECT_ERROR(ParseProto(both), Code::kBadInput, "both raw_data");

  onnx::TensorProto str = ProtoWithRawData(t, onnx::TensorProto::STRING);
  EXPECT_ERROR(ParseProto(str), Code::kBadInput, "data_type 8 is not supported");

  onnx::TensorProto u8;
  u8.set_data_type(onnx::TensorProto::UINT8);
  u8.add_int32_data(256);
  EXPECT_ERROR(ParseProto(u8), Code::kBadInput, "out of range for u8");

  onnx::TensorProto neg = ProtoWithRawData(t, onnx::TensorProto::FLOAT);
  neg.set_dims(0, -2);
  EXPECT_ERROR(ParseProto(neg), Code::kBadInput, "negative dimension");

  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_ERROR(ParseTensorProto(garbage, sizeof(garbage), "g.pb"), Code::kBadInput,
               "g.pb: not a valid ONNX TensorProto");
  EXPECT_ERROR(ReadTensorProto("/nonexistent/t.pb"), Code::kIo, "/nonexistent/t.pb");
}

// ---- inline and --input ---------------------------------------------------------------------

TEST(InlineTest, Good) {
  auto a = ParseInlineTensor("2x3xf32=1 2 3 4 5 6");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Values<float>(*a), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  auto b = ParseInlineTensor("2x2xi32= 1,2, 3 ,-4 ");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Values<int32_t>(*b), (std::vector<int32_t>{1, 2, 3, -4}));

  auto s = ParseInlineTensor("f32=3.5");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(Values<float>(*s), std::vector<float>{3.5f});

  auto h = ParseInlineTensor("3xf16=1 65504 nan");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<uint16_t> hv = Values<uint16_t>(*h);
  EXPECT_EQ(hv[0], 0x3C00);
  EXPECT_EQ(hv[1], 0x7BFF);
  EXPECT_TRUE(std::isnan(HalfToFloat(hv[2])));

  auto q = ParseInlineTensor("4xbool=0 1 true false");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->data, (std::vector<uint8_t>{0, 1, 1, 0}));

  auto e = ParseInlineTensor("0x3xi8=");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->data.empty());
}

TEST(InlineTest, MustFail) {
  const std::pair<const char*, const char*> cases[] = {
      {"2x3xf32=1 2 3 4 5", "5 values given but shape (2, 3) has 6 elements"},
      {"2xf32=1 2 3", "more than 2 values"},
      {"2xf33=1 2", "unknown dtype 'f33'"},
      {"2xx3xf32=1 2 3 4 5 6", "bad dimension ''"},
      {"-2xf32=1 2", "bad dimension '-2'"},
      {"2xf32", "missing '='"},
      {"2xf32=1,,2", "empty value between commas"},
      {"2xf32=1,2,", "trailing comma"},
      {"2xf32=1 +2", "'+2' is not a number"},
      {"2xi8=1 300", "out of range for i8"},
      {"2xi32=1 1.5", "'1.5' is not an integer"},
      {"f16=70000", "out of range for f16"},
      {"f32=1e39", "out of range for f32"},
      {"bool=2", "is not a bool"},
      {"9223372036854775807x2xf32=1", "overflows"},
  };
  for (auto [spec, part] : cases) {
    SCOPED_TRACE(spec);
    EXPECT_ERROR(ParseInlineTensor(spec), Code::kUsage, part);
    EXPECT_ERROR(ParseInlineTensor(spec), Code::kUsage, spec);
  }
}

TEST(InputArgTest, InlineAndFiles) {
  auto inl = ParseInputArg("x=2xf32=1 2");
  ASSERT_TRUE(inl.ok()) << inl.status().ToString();
  EXPECT_EQ(inl->first, "x");
  EXPECT_EQ(Values<float>(inl->second), (std::vector<float>{1, 2}));

  std::string npy = TempPath("in.npy"), npy_other = TempPath("in.bin");
  WriteFile(npy, Arange6F32());
  WriteFile(npy_other, Arange6F32());
  HostTensor t = RandomTensor(DType::kI32, {4}, 9);
  std::string pb = TempPath("in.pb"), pb_other = TempPath("in.tensor");
  std::string ser = ProtoWithRawData(t, onnx::TensorProto::INT32).SerializeAsString();
  WriteFile(pb, Bytes(ser));
  WriteFile(pb_other, Bytes(ser));
  for (const std::string& path : {npy, npy_other}) {
    auto r = ParseInputArg("in:0=@" + path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->first, "in:0");
    EXPECT_EQ(r->second.shape, (std::vector<int64_t>{2, 3}));
  }
  for (const std::string& path : {pb, pb_other}) {
    auto r = ParseInputArg("ids=@" + path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->second.data, t.data);
  }
}

TEST(InputArgTest, MustFail) {
  EXPECT_ERROR(ParseInputArg("x"), Code::kUsage, "expected NAME=@FILE");
  EXPECT_ERROR(ParseInputArg("=2xf32=1 2"), Code::kUsage, "expected NAME=@FILE");
  EXPECT_ERROR(ParseInputArg("x=@"), Code::kUsage, "empty file name");
  EXPECT_ERROR(ParseInputArg("x=2xf32=1"), Code::kUsage, "--input x: inline tensor");
  EXPECT_ERROR(ParseInputArg("x=@/nonexistent/a.npy"), Code::kIo, "--input x: open /nonexistent");
  std::string bad = TempPath("bad.npy");
  WriteFile(bad, Bytes("not npy at all"));
  EXPECT_ERROR(ParseInputArg("x=@" + bad), Code::kBadInput, bad + ": not an npy file");
}

// ---- random, compare, half ------------------------------------------------------------------

TEST(RandomTest, DeterministicAndInRange) {
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(DTypeName(dt));
    HostTensor a = RandomTensor(dt, {1000}, 5), b = RandomTensor(dt, {1000}, 5);
    HostTensor c = RandomTensor(dt, {1000}, 6);
    EXPECT_EQ(a.data, b.data);
    EXPECT_NE(a.data, c.data);
    EXPECT_EQ(a.data.size(), 1000 * DTypeSize(dt));
  }
  for (float v : Values<float>(RandomTensor(DType::kF32, {1000}, 1))) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
  }
  for (uint16_t h : Values<uint16_t>(RandomTensor(DType::kF16, {1000}, 1))) {
    EXPECT_GE(HalfToFloat(h), -1.0f);
    EXPECT_LT(HalfToFloat(h), 1.0f);
  }
  for (int32_t v : Values<int32_t>(RandomTensor(DType::kI32, {1000}, 1))) {
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 10);
  }
  for (uint8_t v : RandomTensor(DType::kBool, {1000}, 1).data) EXPECT_LE(v, 1);
  EXPECT_TRUE(RandomTensor(DType::kF32, {int64_t{1} << 62, 4}, 1).data.empty());
}

HostTensor F32(std::vector<int64_t> shape, std::initializer_list<float> v) {
  return HostTensor{DType::kF32, std::move(shape), Raw<float>(v)};
}

TEST(CompareTest, WithinTolerance) {
  CompareResult r = CompareTensors(F32({2, 2}, {1, 2, 3, 4}), F32({2, 2}, {1, 2, 3.000001f, 4}),
                                   1e-5, 1e-6);
  EXPECT_TRUE(r.ok) << r.summary;
  EXPECT_NE(r.summary.find("0 of 4 elements out of tolerance"), std::string::npos) << r.summary;
}

TEST(CompareTest, OutOfToleranceNamesWorstElement) {
  // Element [1,0] is off by 0.5 against a tolerance of ~3e-5; [0,1] by 0.01, also failing.
  CompareResult r =
      CompareTensors(F32({2, 2}, {1, 2.01f, 3.5f, 4}), F32({2, 2}, {1, 2, 3, 4}), 1e-5, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.summary.find("max abs err 0.5; worst at [1,0] (got 3.5, want 3)"),
            std::string::npos)
      << r.summary;
  EXPECT_NE(r.summary.find("2 of 4 elements out of tolerance"), std::string::npos) << r.summary;
}

TEST(CompareTest, NanAndInfinity) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(CompareTensors(F32({3}, {nan, inf, -inf}), F32({3}, {nan, inf, -inf}), 0, 0).ok);
  CompareResult r = CompareTensors(F32({3}, {1, nan, 3}), F32({3}, {1, 2, 3}), 1, 1);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.summary.find("worst at [1] (got nan, want 2)"), std::string::npos) << r.summary;
  EXPECT_FALSE(CompareTensors(F32({1}, {2}), F32({1}, {nan}), 1, 1).ok);
  EXPECT_FALSE(CompareTensors(F32({1}, {inf}), F32({1}, {-inf}), 1, 1).ok);
}

TEST(CompareTest, MismatchedShapeOrDType) {
  CompareResult s = CompareTensors(F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({3, 2}, {1, 2, 3, 4, 5, 6}),
                                   1, 1);
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.summary, "shape mismatch: got (2, 3), want (3, 2)");
  CompareResult d = CompareTensors(HostTensor{DType::kI32, {1}, Raw<int32_t>({1})}, F32({1}, {1}),
                                   1, 1);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.summary, "dtype mismatch: got i32, want f32");
}

TEST(CompareTest, IntegersAreExactAndF16IsCompared) {
  HostTensor a{DType::kI64, {3}, Raw<int64_t>({1, 2, 3})};
  HostTensor b{DType::kI64, {3}, Raw<int64_t>({1, 2, 4})};
  EXPECT_TRUE(CompareTensors(a, a, 0, 0).ok);
  CompareResult r = CompareTensors(a, b, 1, 1);  // tolerances do not apply to integers
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.summary.find("worst at [2] (got 3, want 4)"), std::string::npos) << r.summary;
  HostTensor h1{DType::kF16, {1}, Raw<uint16_t>({0x3C00})};
  HostTensor h2{DType::kF16, {1}, Raw<uint16_t>({0x3C01})};  // 1 + 2^-10
  EXPECT_TRUE(CompareTensors(h1, h2, 1e-3, 0).ok);
  EXPECT_FALSE(CompareTensors(h1, h2, 1e-4, 0).ok);
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(FloatToHalf(0x1p-14f), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  EXPECT_TRUE(std::isinf(HalfToFloat(0xFC00)));
}

TEST(HalfTest, RoundsToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f), 0x3C00);      // tie, even stays
  EXPECT_EQ(FloatToHalf(1.0f + 3 * 0x1p-11f), 0x3C02);  // tie, odd rounds up
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // rounds to infinity
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);  // tie between 0 and the smallest subnormal
  EXPECT_EQ(FloatToHalf(0x1p-25f * 1.5f), 0x0001);
  EXPECT_EQ(FloatToHalf(3 * 0x1p-25f), 0x0002);  // subnormal tie, odd rounds up
  EXPECT_EQ(FloatToHalf(0x1p-14f - 0x1p-26f), 0x0400);  // rounds up into the normals
}

TEST(HalfTest, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

TEST(BF16Test, KnownValuesAndRounding) {
  EXPECT_EQ(FloatToBF16(1.0f), 0x3F80);
  EXPECT_EQ(BF16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(FloatToBF16(-2.0f), 0xC000);
  EXPECT_EQ(FloatToBF16(1.0f + 0x1p-8f), 0x3F80);      // tie, even stays
  EXPECT_EQ(FloatToBF16(1.0f + 3 * 0x1p-8f), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(FloatToBF16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
  EXPECT_TRUE(std::isnan(BF16ToFloat(FloatToBF16(std::nanf("")))));
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    float f = BF16ToFloat(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToBF16(f), b) << std::hex << b;
  }
}

}  // namespace
}  // namespace ts::runtime
