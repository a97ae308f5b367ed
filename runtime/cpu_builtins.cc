#include "runtime/cpu_builtins.h"

#include "runtime/ops/gemm_blocked.h"
#include "runtime/ops/parallel.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ts::runtime {
namespace {

using planfmt::Builtin;
using planfmt::Step;
using planfmt::TensorRef;

int64_t Count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

float* F32(uint8_t* arena, const TensorRef& r) { return reinterpret_cast<float*>(arena + r.offset); }

// C[m,n] (+)= A[m,k] B[k,n] with arbitrary element strides for A and B; C contiguous.
// i-k-j order keeps the inner loop contiguous in B and C so the compiler vectorises it.
void MatMulKernel(const float* a, int64_t a_rs, int64_t a_cs, const float* b, int64_t b_rs,
                  int64_t b_cs, float* c, int64_t m, int64_t k, int64_t n, float alpha) {
  std::vector<float> brow;
  const bool b_contig = b_cs == 1;
  for (int64_t i = 0; i < m; ++i) {
    float* crow = c + i * n;
    for (int64_t p = 0; p < k; ++p) {
      const float av = alpha * a[i * a_rs + p * a_cs];
      const float* bp = b + p * b_rs;
      if (b_contig) {
        for (int64_t j = 0; j < n; ++j) crow[j] += av * bp[j];
      } else {
        for (int64_t j = 0; j < n; ++j) crow[j] += av * bp[j * b_cs];
      }
    }
  }
}

// Matrix products go to OpenBLAS (Debian's; threaded over the cores), which measured about 10x
// the loop above on the build machine (benchmarks/RESULTS.md). BLAS takes 32-bit dimensions:
// larger ones keep the loop.
bool FitsBlas(int64_t m, int64_t n, int64_t k) {
  return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && m * k <= INT_MAX && k * n <= INT_MAX &&
         m * n <= INT_MAX;
}

Status Fail(const Step& s, const std::string& what) {
  return BadInputError("step '" + s.node + "': " + what + "; the bundle is inconsistent, recompile it");
}

// MatMul's one optional parameter: how B is stored.
enum MatMulB : int64_t {
  kPlainB = 0,
  kTransposedB = 1,  // a 2-D [n, k] (passes::FoldTransposeIntoMatMul)
  kBlockedB = 2,     // a 2-D [k, n] in column blocks of 64 (ops/gemm_blocked.h; passes::BlockMatMulWeights)
};

int64_t MatMulLayout(const Step& s) { return s.iparams.empty() ? kPlainB : s.iparams[0]; }

// The logical shape of MatMul's B: transposed, the stored B is a 2-D [n, k].
std::vector<int64_t> MatMulB(const Step& s) {
  std::vector<int64_t> b = s.args[1].shape;
  if (MatMulLayout(s) == kTransposedB) std::swap(b[0], b[1]);
  return b;
}

Status CheckMatMul(const Step& s) {
  if (s.num_inputs != 2 || s.args.size() != 3) return Fail(s, "MatMul needs 2 inputs and 1 output");
  if (s.iparams.size() > 1 || (s.iparams.size() == 1 && (s.iparams[0] < kPlainB || s.iparams[0] > kBlockedB))) {
    return Fail(s, "MatMul takes at most one parameter, B's layout (0 plain, 1 transposed, 2 blocked)");
  }
  if (MatMulLayout(s) != kPlainB && s.args[1].shape.size() != 2) {
    return Fail(s, "MatMul with a transposed or blocked B needs a 2-D B");
  }
  std::vector<int64_t> a = s.args[0].shape, b = MatMulB(s);
  if (a.empty() || b.empty()) return Fail(s, "MatMul operands must have rank >= 1");
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  if (a.back() != b[b.size() - 2]) return Fail(s, "MatMul inner dimensions differ");
  // The output shape must be exactly the broadcast batch dims then [m, n] (with the dims that
  // 1-D operands lose dropped), so every index RunMatMul forms stays inside the output.
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> want;
  for (size_t i = 0; i + 2 < rank; ++i) {
    int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) return Fail(s, "MatMul batch dims do not broadcast");
    want.push_back(std::max(da, db));
  }
  if (s.args[0].shape.size() > 1) want.push_back(a[a.size() - 2]);
  if (s.args[1].shape.size() > 1) want.push_back(b.back());
  if (s.args[2].shape != want) return Fail(s, "MatMul output shape is wrong");
  want.push_back(a.back());  // the product's total work, checked like the sizes
  if (!CheckedElementCount(want)) return Fail(s, "MatMul is too large");
  return OkStatus();
}

// c[0, cols) = alpha * a[0, k) * op(b) + beta * c with op(b) [k x cols]: b stored [cols x k]
// (trans_b, row pitch ldb) or [k x cols] (pitch ldb). A one-row product as a matrix-vector one:
// a GEMM packs all of b into its buffers first, a pass over b that GEMV does not make (an
// image classifier's last layer: 8 MB of weights for one row).
void Gemv(bool trans_b, int64_t cols, int64_t k, float alpha, const float* a, const float* b, int64_t ldb,
          float beta, float* c) {
  if (trans_b) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(cols), static_cast<int>(k), alpha, b,
                static_cast<int>(ldb), a, 1, beta, c, 1);
  } else {
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(k), static_cast<int>(cols), alpha, b,
                static_cast<int>(ldb), a, 1, beta, c, 1);
  }
}

void RunMatMul(const Step& s, uint8_t* arena) {
  const bool trans_b = MatMulLayout(s) == kTransposedB;
  std::vector<int64_t> a = s.args[0].shape, b = MatMulB(s);
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (MatMulLayout(s) == kBlockedB) {
    // B is 2-D, so A's batch of matrices is one tall matrix of contiguous rows.
    const int64_t rows = Count(std::vector<int64_t>(a.begin(), a.end() - 1));
    ops::BlockedMatMulF32(rows, k, n, F32(arena, s.args[0]), F32(arena, s.args[1]), F32(arena, s.args[2]));
    return;
  }
  const size_t rank = std::max(a.size(), b.size());
  // Batch dims, aligned right, and each operand's matrix stride per batch dim (0: broadcast).
  std::vector<int64_t> dims, sa, sb;
  int64_t stride_a = m * k, stride_b = k * n;
  for (size_t i = rank - 2; i-- > 0;) {
    int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    dims.insert(dims.begin(), std::max(da, db));
    sa.insert(sa.begin(), da == 1 ? 0 : stride_a);
    sb.insert(sb.begin(), db == 1 ? 0 : stride_b);
    stride_a *= da;
    stride_b *= db;
  }
  const float* A = F32(arena, s.args[0]);
  const float* B = F32(arena, s.args[1]);
  float* C = F32(arena, s.args[2]);
  const int64_t batch = Count(dims);
  if (batch * m * n == 0) return;  // an empty output, however large its other dims
  if (k == 0 || !FitsBlas(m, n, k)) std::fill(C, C + batch * m * n, 0.0f);
  if (k == 0) return;
  const bool blas = FitsBlas(m, n, k);
  // Work items: (matrix of the batch, part of it). With fewer matrices than threads, each is
  // split by columns (or rows, when narrow) into one-thread GEMMs of at least 64.
  const int64_t threads = ops::NumThreads();
  int64_t col_parts = 1, row_parts = 1;
  if (blas && batch < threads) {
    if (n >= 128) {
      col_parts = std::min<int64_t>(threads, n / 64);
    } else if (m >= 128) {
      row_parts = std::min<int64_t>(threads, m / 64);
    }
  }
  const int64_t parts = col_parts * row_parts;
  ops::ParallelFor(batch * parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bi = item / parts, part = item % parts;
      int64_t rem = bi, oa = 0, ob = 0;
      for (size_t d = dims.size(); d-- > 0;) {
        int64_t idx = rem % dims[d];
        rem /= dims[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      if (blas) {
        const int64_t j0 = n * (part % col_parts) / col_parts, j1 = n * (part % col_parts + 1) / col_parts;
        const int64_t i0 = m * (part / col_parts) / row_parts, i1 = m * (part / col_parts + 1) / row_parts;
        if (i1 - i0 == 1) {
          Gemv(trans_b, j1 - j0, k, 1.0f, A + oa + i0 * k, B + ob + (trans_b ? j0 * k : j0), trans_b ? k : n, 0.0f,
               C + bi * m * n + i0 * n + j0);
          continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    static_cast<int>(i1 - i0), static_cast<int>(j1 - j0), static_cast<int>(k), 1.0f,
                    A + oa + i0 * k, static_cast<int>(k), B + ob + (trans_b ? j0 * k : j0),
                    static_cast<int>(trans_b ? k : n), 0.0f, C + bi * m * n + i0 * n + j0,
                    static_cast<int>(n));
      } else if (trans_b) {
        MatMulKernel(A + oa, k, 1, B + ob, 1, k, C + bi * m * n, m, k, n, 1.0f);
      } else {
        MatMulKernel(A + oa, k, 1, B + ob, n, 1, C + bi * m * n, m, k, n, 1.0f);
      }
    }
  });
}

Status CheckGemm(const Step& s) {
  if (s.num_inputs < 2 || s.num_inputs > 3 || s.args.size() != s.num_inputs + 1 ||
      s.iparams.size() != 2 || s.fparams.size() != 2) {
    return Fail(s, "Gemm needs 2-3 inputs, 1 output, 2 int and 2 float parameters");
  }
  const auto& a = s.args[0].shape;
  const auto& b = s.args[1].shape;
  if (a.size() != 2 || b.size() != 2) return Fail(s, "Gemm operands must be 2-D");
  const int64_t m = s.iparams[0] ? a[1] : a[0], k = s.iparams[0] ? a[0] : a[1];
  const int64_t kb = s.iparams[1] ? b[1] : b[0], n = s.iparams[1] ? b[0] : b[1];
  if (k != kb) return Fail(s, "Gemm inner dimensions differ");
  if (s.args.back().shape != std::vector<int64_t>{m, n}) return Fail(s, "Gemm output shape is wrong");
  if (s.num_inputs == 3) {
    const auto& c = s.args[2].shape;
    if (c.size() > 2) return Fail(s, "Gemm C has rank > 2");
    for (size_t i = 0; i < c.size(); ++i) {
      int64_t want = (c.size() == 2 && i == 0) ? m : n;
      if (c[i] != 1 && c[i] != want) return Fail(s, "Gemm C does not broadcast");
    }
  }
  return OkStatus();
}

void RunGemm(const Step& s, uint8_t* arena) {
  const auto& a = s.args[0].shape;
  const auto& b = s.args[1].shape;
  const bool ta = s.iparams[0], tb = s.iparams[1];
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1], n = tb ? b[0] : b[1];
  const float alpha = static_cast<float>(s.fparams[0]), beta = static_cast<float>(s.fparams[1]);
  float* Y = F32(arena, s.args.back());
  const bool with_c = s.num_inputs == 3 && beta != 0.0f;
  if (with_c) {
    const auto& c = s.args[2].shape;
    const float* C = F32(arena, s.args[2]);
    const int64_t rows = c.size() == 2 ? c[0] : 1, cols = c.empty() ? 1 : c.back();
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        Y[i * n + j] = beta * C[(rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j)];
      }
    }
  } else {
    std::fill(Y, Y + m * n, 0.0f);
  }
  const float* A = F32(arena, s.args[0]);
  const float* B = F32(arena, s.args[1]);
  if (FitsBlas(m, n, k) && m > 0 && n > 0 && k > 0) {
    // Y holds beta * C already (or zeros): accumulate alpha * A' B' onto it, in column parts.
    const int64_t parts = n >= 128 ? std::min<int64_t>(ops::NumThreads(), n / 64) : 1;
    ops::ParallelFor(parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t part = begin; part < end; ++part) {
        const int64_t j0 = n * part / parts, j1 = n * (part + 1) / parts;
        if (m == 1) {  // A is k contiguous values whether or not it is transposed
          Gemv(tb, j1 - j0, k, alpha, A, B + (tb ? j0 * k : j0), tb ? k : n, 1.0f, Y + j0);
          continue;
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    static_cast<int>(m), static_cast<int>(j1 - j0), static_cast<int>(k), alpha, A,
                    static_cast<int>(ta ? m : k), B + (tb ? j0 * k : j0),
                    static_cast<int>(tb ? k : n), 1.0f, Y + j0, static_cast<int>(n));
      }
    });
    return;
  }
  MatMulKernel(A, ta ? 1 : k, ta ? m : 1, B, tb ? 1 : n, tb ? k : 1, Y, m, k, n, alpha);
}

// e^x for x <= 0, in float arithmetic a compiler vectorises (libm's expf is one call per
// element): x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor polynomial to r^7, 2^n in the
// exponent bits; n rounded by adding 1.5 * 2^23. Below -87 (e^-87 = 1.6e-38, nothing next to a
// softmax's largest term, which is 1) it returns 0, so masked (-inf) entries come out 0.
__attribute__((always_inline)) inline float ExpNonPositive(float x) {
  const bool underflow = x < -87.0f;  // -inf (a masked entry) included
  x = underflow ? -87.0f : x;
  const float t = x * 1.44269504f + 12582912.0f;
  const float n = t - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &t, 4);
  const int32_t scale_bits = (bits - 0x4B400000 + 127) << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, 4);
  return underflow ? 0.0f : p * scale;
}

// One contiguous softmax row. Cloned for AVX-512 and AVX2 (chosen at load by the CPU) and
// vectorised (-O3 for this file, runtime/BUILD.bazel): e^x is most of a softmax's time.
__attribute__((target_clones("avx512f", "avx2", "default"))) void SoftmaxRow(const float* x,
                                                                             float* y,
                                                                             int64_t len,
                                                                             float mx) {
  for (int64_t j = 0; j < len; ++j) y[j] = ExpNonPositive(x[j] - mx);
  float sum = 0;
  for (int64_t j = 0; j < len; ++j) sum += y[j];
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < len; ++j) y[j] *= inv;
}

Status CheckSoftmax(const Step& s) {
  if (s.num_inputs != 1 || s.args.size() != 2 || s.iparams.size() != 2) {
    return Fail(s, "Softmax needs 1 input, 1 output, {axis, legacy}");
  }
  const int64_t rank = static_cast<int64_t>(s.args[0].shape.size());
  if (s.iparams[0] < 0 || s.iparams[0] >= std::max<int64_t>(rank, 1)) return Fail(s, "Softmax axis out of range");
  if (s.args[0].shape != s.args[1].shape) return Fail(s, "Softmax output shape differs from input");
  return OkStatus();
}

void RunSoftmax(const Step& s, uint8_t* arena) {
  const auto& shape = s.args[0].shape;
  const int64_t axis = s.iparams[0];
  const bool legacy = s.iparams[1] != 0;
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) outer *= shape[d];
    else if (d == axis || legacy) len *= shape[d];
    else inner *= shape[d];
  }
  if (Count(shape) == 0) return;  // no element to normalise, however large the other dims
  const float* x = F32(arena, s.args[0]);
  float* y = F32(arena, s.args[1]);
  ops::ParallelFor(outer * inner, std::max<int64_t>(1, 16384 / len), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const float* xp = x + o * len * inner + i;
      float* yp = y + o * len * inner + i;
      if (inner == 1) {  // a contiguous row: the common case, in loops that vectorise
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xp[j]);
        if (std::isinf(mx) || std::isnan(mx)) {  // rare: the exact path below
          mx = -INFINITY;
        } else {
          SoftmaxRow(xp, yp, len, mx);
          continue;
        }
      }
      float mx = -INFINITY;
      for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xp[j * inner]);
      float sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        float e = std::exp(xp[j * inner] - mx);
        yp[j * inner] = e;
        sum += e;
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < len; ++j) yp[j * inner] *= inv;
    }
  });
}

Status CheckTranspose(const Step& s) {
  if (s.num_inputs != 1 || s.args.size() != 2) return Fail(s, "Transpose needs 1 input, 1 output");
  const auto& in = s.args[0].shape;
  if (s.iparams.size() != in.size()) return Fail(s, "Transpose perm has the wrong length");
  std::vector<bool> seen(in.size(), false);
  std::vector<int64_t> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int64_t p = s.iparams[i];
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p]) return Fail(s, "Transpose perm is invalid");
    seen[p] = true;
    out[i] = in[p];
  }
  if (out != s.args[1].shape) return Fail(s, "Transpose output shape is wrong");
  if (s.args[0].dtype != s.args[1].dtype) return Fail(s, "Transpose changes the element type");
  return OkStatus();
}

// Copies output elements [begin, end) of a permuted view; `block` elements at a time when the
// innermost output dim is also the innermost input dim (then the rows are contiguous).
template <typename E>
void TransposeRange(const E* src, E* dst, const std::vector<int64_t>& out_dims,
                    const std::vector<int64_t>& walk, int64_t block, int64_t begin, int64_t end) {
  const size_t rank = out_dims.size() - (block > 1 ? 1 : 0);  // dims walked one step at a time
  std::vector<int64_t> idx(rank, 0);
  int64_t src_off = 0;
  for (int64_t rem = begin, d = static_cast<int64_t>(rank); d-- > 0;) {
    idx[d] = rem % out_dims[d];
    rem /= out_dims[d];
    src_off += idx[d] * walk[d];
  }
  for (int64_t o = begin; o < end; ++o) {
    if (block > 1) {
      std::memcpy(dst + o * block, src + src_off, block * sizeof(E));
    } else {
      dst[o] = src[src_off];
    }
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out_dims[d]) {
        src_off += walk[d];
        break;
      }
      src_off -= walk[d] * (out_dims[d] - 1);
      idx[d] = 0;
    }
  }
}

void RunTranspose(const Step& s, uint8_t* arena) {
  const auto& in = s.args[0].shape;
  const size_t rank = in.size();
  const int64_t esize = DTypeSize(s.args[0].dtype);
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * in[d];
  // Output dim i walks input dim perm[i].
  std::vector<int64_t> out_dims(rank), walk(rank);
  for (size_t i = 0; i < rank; ++i) {
    out_dims[i] = in[s.iparams[i]];
    walk[i] = in_strides[s.iparams[i]];
  }
  const int64_t total = Count(out_dims);
  if (total == 0) return;
  const int64_t block = rank > 0 && walk[rank - 1] == 1 ? out_dims[rank - 1] : 1;
  const int64_t rows = total / block;
  const uint8_t* src = arena + s.args[0].offset;
  uint8_t* dst = arena + s.args[1].offset;
  ops::ParallelFor(rows, std::max<int64_t>(1, 32768 / block), [&](int64_t begin, int64_t end) {
    switch (esize) {
      case 1: return TransposeRange(src, dst, out_dims, walk, block, begin, end);
      case 2: return TransposeRange(reinterpret_cast<const uint16_t*>(src), reinterpret_cast<uint16_t*>(dst), out_dims, walk, block, begin, end);
      case 4: return TransposeRange(reinterpret_cast<const uint32_t*>(src), reinterpret_cast<uint32_t*>(dst), out_dims, walk, block, begin, end);
      default: return TransposeRange(reinterpret_cast<const uint64_t*>(src), reinterpret_cast<uint64_t*>(dst), out_dims, walk, block, begin, end);
    }
  });
}

}  // namespace

Status CheckBuiltin(const Step& s) {
  for (const TensorRef& r : s.args) {
    if (r.dtype != DType::kF32 && s.builtin != Builtin::kTranspose && s.builtin != Builtin::kCopy) {
      return Fail(s, "tensor '" + r.name + "' is " + std::string(DTypeName(r.dtype)) +
                         ", the CPU builtins compute f32");
    }
  }
  switch (s.builtin) {
    case Builtin::kMatMul: return CheckMatMul(s);
    case Builtin::kGemm: return CheckGemm(s);
    case Builtin::kSoftmax: return CheckSoftmax(s);
    case Builtin::kTranspose: return CheckTranspose(s);
    case Builtin::kCopy:
      if (s.num_inputs != 1 || s.args.size() != 2 || s.args[0].bytes != s.args[1].bytes) {
        return Fail(s, "Copy needs one input and one output of the same size");
      }
      return OkStatus();
    case Builtin::kNone: break;
  }
  return Fail(s, "unknown builtin " + std::to_string(static_cast<int>(s.builtin)));
}

void RunBuiltin(const Step& s, uint8_t* arena) {
  switch (s.builtin) {
    case Builtin::kMatMul: return RunMatMul(s, arena);
    case Builtin::kGemm: return RunGemm(s, arena);
    case Builtin::kSoftmax: return RunSoftmax(s, arena);
    case Builtin::kTranspose: return RunTranspose(s, arena);
    case Builtin::kCopy:
      std::memmove(arena + s.args[1].offset, arena + s.args[0].offset, s.args[0].bytes);
      return;
    case Builtin::kNone: return;
  }
}

}  // namespace ts::runtime
