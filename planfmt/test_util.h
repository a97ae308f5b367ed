// Shared by the planfmt tests: a small but complete plan, and helpers that edit raw bundle bytes
// while keeping them otherwise valid (so a test reaches the check it means to exercise).
#ifndef TENSORSHUNT_PLANFMT_TEST_UTIL_H_
#define TENSORSHUNT_PLANFMT_TEST_UTIL_H_

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "planfmt/format.h"
#include "planfmt/plan.h"
#include "planfmt/reader.h"
#include "planfmt/writer.h"

namespace ts::planfmt::testing {

inline TensorRef Ref(std::string name, DType t, std::vector<int64_t> shape, uint64_t offset) {
  TensorRef r{std::move(name), t, std::move(shape), offset, 0};
  r.bytes = static_cast<uint64_t>(*CheckedByteSize(r.dtype, r.shape));
  return r;
}

struct SamplePlan {
  PlanContents contents;
  std::vector<std::vector<uint8_t>> weight_bytes;

  std::vector<WeightBlob> Blobs() const {
    std::vector<WeightBlob> blobs;
    for (const auto& w : weight_bytes) blobs.push_back({w.data(), w.size()});
    return blobs;
  }
};

// y = gemm(x @ W + b, emb-derived constant); three weights of odd sizes (60, 4097, 3 bytes),
// so the weights section has inner padding and a partial last page.
inline SamplePlan MakeSamplePlan() {
  SamplePlan s;
  PlanContents& c = s.contents;
  c.metadata = {{"cpu_features", "+avx2,+fma"}, {"source_model_hash", "sha256:0123abcd"},
                {"target", "cpu"}, {"tsc_version", "0.1.0"}};
  const TensorRef x = Ref("x", DType::kF32, {2, 3}, 0);
  const TensorRef w = Ref("W", DType::kF32, {3, 5}, 64);
  const TensorRef emb = Ref("emb", DType::kU8, {4097}, 256);
  const TensorRef b = Ref("b", DType::kI8, {3}, 4416);
  const TensorRef t = Ref("t", DType::kF32, {2, 5}, 4608);
  const TensorRef y = Ref("y", DType::kF32, {2, 5}, 4672);
  c.program.inputs = {x};
  c.program.outputs = {y};
  Step s0;
  s0.kind = StepKind::kBuiltin;
  s0.node = "matmul_0";
  s0.builtin = Builtin::kMatMul;
  s0.num_inputs = 2;
  s0.args = {x, w, t};
  Step s1;
  s1.kind = StepKind::kJitKernel;
  s1.node = "add_0";
  s1.symbol = "ts_add_bias";
  s1.num_inputs = 2;
  s1.args = {t, b, t};
  Step s2;
  s2.kind = StepKind::kBuiltin;
  s2.node = "gemm_0";
  s2.builtin = Builtin::kGemm;
  s2.iparams = {0, 1};
  s2.fparams = {1.0, 0.5};
  s2.num_inputs = 2;
  s2.args = {t, emb, y};
  Step s3;  // an op-library step with one attribute of each type
  s3.kind = StepKind::kOp;
  s3.node = "clip_0";
  s3.symbol = "Clip";
  s3.attrs = {{"axes", std::vector<int64_t>{0, -1}}, {"max", 6.0}, {"mode", std::string("nearest")},
              {"opset", int64_t{17}}, {"scales", std::vector<double>{1.0, 2.5}}};
  s3.num_inputs = 1;
  s3.args = {y, y};
  c.program.steps = {s0, s1, s2, s3};
  c.memory.arena_bytes = 8192;
  c.memory.lower_bound_bytes = 4752;
  c.memory.peak_step = 1;
  c.memory.peak_node = "add_0";
  c.memory.io_chunk_bytes = 1 << 20;
  c.memory.io_queue_depth = 4;
  c.memory.buffers = {{"x", 0, 24, 0, 0}, {"t", 4608, 40, 0, 2}, {"y", 4672, 40, 2, 2}};
  c.kernels.format = "llvm-bc";
  c.kernels.symbols = {"ts_add_bias", "ts_unused"};
  for (int i = 0; i < 100; ++i) c.kernels.code.push_back(static_cast<uint8_t>(i * 7 + 1));
  c.weights = {{"W", 0, 0, 64}, {"emb", 0, 0, 256}, {"b", 0, 0, 4416}};
  for (uint64_t n : {60u, 4097u, 3u}) {
    std::vector<uint8_t> bytes(n);
    for (uint64_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 31 + n + 1);
    s.weight_bytes.push_back(std::move(bytes));
  }
  return s;
}

inline uint64_t Ld(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
inline void St(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Recomputes every section checksum in the table, then the header checksum.
inline void Reseal(std::vector<uint8_t>& f) {
  const uint32_t header_size = static_cast<uint32_t>(Ld(&f[kOffHeaderSize], 4));
  const uint32_t count = static_cast<uint32_t>(Ld(&f[kOffSectionCount], 4));
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* ent = &f[kPrefixSize + i * kSectionEntrySize];
    const uint64_t off = Ld(ent + kEntOffset, 8), used = Ld(ent + kEntUsed, 8);
    St(ent + kEntChecksum, XXH3_64bits(&f[off], used), 8);
  }
  St(&f[kOffHeaderChecksum], 0, 8);
  St(&f[kOffHeaderChecksum], XXH3_64bits(f.data(), header_size), 8);
}

// Builds a bundle from raw (kind, payload) sections in the given order, with a correct header:
// for tests of the section table rules the writer never breaks.
inline std::vector<uint8_t> Assemble(const std::vector<std::pair<uint32_t, std::vector<uint8_t>>>& secs) {
  const uint32_t count = static_cast<uint32_t>(secs.size());
  std::vector<uint8_t> f(kHeaderRegionSize, 0);
  std::memcpy(f.data(), kMagic, 8);
  St(&f[kOffMajor], kMajorVersion, 2);
  St(&f[kOffMinor], kMinorVersion, 2);
  St(&f[kOffHeaderSize], kPrefixSize + kSectionEntrySize * count, 4);
  St(&f[kOffSectionCount], count, 4);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* ent = &f[kPrefixSize + i * kSectionEntrySize];
    const auto& [kind, payload] = secs[i];
    St(ent + kEntKind, kind, 4);
    St(ent + kEntLengthPages, AlignUp(payload.size()) / kAlignment, 4);
    St(ent + kEntOffset, f.size(), 8);
    St(ent + kEntUsed, payload.size(), 8);
    f.insert(f.end(), payload.begin(), payload.end());
    f.resize(AlignUp(f.size()), 0);
  }
  St(&f[kOffFileSize], f.size(), 8);
  Reseal(f);
  return f;
}

// The used payload of every section of a valid bundle, in table order.
inline std::vector<std::pair<uint32_t, std::vector<uint8_t>>> Sections(
    const std::vector<uint8_t>& f, const BundleLayout& layout) {
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> out;
  for (const SectionInfo& s : layout.sections) {
    out.emplace_back(s.kind, std::vector<uint8_t>(f.begin() + s.offset,
                                                  f.begin() + s.offset + s.used));
  }
  return out;
}

}  // namespace ts::planfmt::testing

#endif  // TENSORSHUNT_PLANFMT_TEST_UTIL_H_
