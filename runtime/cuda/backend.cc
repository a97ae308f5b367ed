#include "runtime/cuda/backend.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

#include "planfmt/cuda_module.h"
#include "runtime/ops/op.h"
#include "runtime/cuda/driver.h"

namespace ts::runtime::cuda {
namespace {

constexpr unsigned kBlock = 256;  // codegen::kCudaBlockSize

// Must match TsTransposeDims in codegen/cuda_builtins.cc.
struct TransposeDims {
  long long out_dims[8];
  long long walk[8];
  long long rank;
};

// Kernel parameter slots: every parameter is passed through an 8-byte slot; a float uses the
// low 4 bytes, as the kernel reads it.
uint64_t Slot(int64_t v) { return static_cast<uint64_t>(v); }
uint64_t FloatSlot(double v) {
  const float f = static_cast<float>(v);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return uint64_t{bits};
}

int64_t Count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// cuBLAS, dlopened when present (the CUDA toolkit, or a wheel's lib folder on the loader path):
// matrix products go through cublasSgemmStridedBatched in plain FP32 (no TF32); without it the
// plan's own ts_gemm kernel runs them. TSR_NO_CUBLAS=1 forces the kernel.
struct Cublas {
  using Handle = void*;
  int (*create)(Handle*) = nullptr;
  int (*set_stream)(Handle, CUstream) = nullptr;
  int (*get_version)(Handle, int*) = nullptr;
  int (*sgemm)(Handle, int, int, int, int, int, const float*, const float*, int, long long,
               const float*, int, long long, const float*, float*, int, long long, int) = nullptr;
  // cublasGemmStridedBatchedEx: half-precision operands (cudaDataType codes), f32 result.
  int (*gemm_ex)(Handle, int, int, int, int, int, const void*, const void*, int, int, long long,
                 const void*, int, int, long long, const void*, void*, int, int, long long, int, int,
                 int) = nullptr;
  Handle handle = nullptr;
  std::string version;

  static std::unique_ptr<Cublas> Load(CUstream stream) {
    if (const char* off = std::getenv("TSR_NO_CUBLAS"); off && *off == '1') return nullptr;
    void* lib = nullptr;
    for (const char* name : {"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13", "libcublas.so.12"}) {
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!lib) return nullptr;
    auto c = std::make_unique<Cublas>();
    c->create = reinterpret_cast<decltype(c->create)>(dlsym(lib, "cublasCreate_v2"));
    c->set_stream = reinterpret_cast<decltype(c->set_stream)>(dlsym(lib, "cublasSetStream_v2"));
    c->get_version = reinterpret_cast<decltype(c->get_version)>(dlsym(lib, "cublasGetVersion_v2"));
    c->sgemm = reinterpret_cast<decltype(c->sgemm)>(dlsym(lib, "cublasSgemmStridedBatched"));
    c->gemm_ex = reinterpret_cast<decltype(c->gemm_ex)>(dlsym(lib, "cublasGemmStridedBatchedEx"));
    if (!c->create || !c->set_stream || !c->sgemm || c->create(&c->handle) != 0 ||
        c->set_stream(c->handle, stream) != 0) {
      return nullptr;
    }
    int v = 0;
    if (c->get_version && c->get_version(c->handle, &v) == 0) {
      c->version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100);
    }
    return c;
  }
};

// cudaDataType and cublasComputeType_t / cublasGemmAlgo_t codes of library_types.h and cublas_api.h.
constexpr int kCudaR32F = 0, kCudaR16F = 2, kCudaR16BF = 14;
constexpr int kCublasCompute32F = 68, kCublasGemmDefault = -1;

// A matrix product for cuBLAS: row-major Y[b] = A[b] B[b] computed as the column-major
// Y^T = B^T A^T, so B comes first.
struct BlasGemm {
  int op_b = 0, op_a = 0;  // CUBLAS_OP_N = 0, CUBLAS_OP_T = 1
  int in_type = kCudaR32F;  // the operands' type; the result is f32
  int m = 0, n = 0, k = 0, ldb = 0, lda = 0, ldc = 0, batch = 1;
  long long stride_b = 0, stride_a = 0, stride_c = 0;
  CUdeviceptr a = 0, b = 0, c = 0;
  float alpha = 1, beta = 0;
};

// One prepared launch: its function, grid and the parameter values the pointers in `params`
// point at (stored in `values`, so the launch reads stable memory).
struct Launch {
  CUfunction fn = nullptr;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {kBlock, 1, 1};
  std::vector<uint64_t> values;          // 8-byte slots: pointers, long longs, floats (low bits)
  TransposeDims dims{};                  // ts_view_* only
  std::vector<void*> params;
  bool copy = false;                     // a device-to-device copy instead of a kernel
  bool blas = false;                     // a cuBLAS product (`gemm`) instead of a kernel
  BlasGemm gemm;
  int load = -1;                         // a streamed weight's copy: Impl::loads[load]
  int wait = -1;                         // the compute stream waits for Impl::loads[wait]
  CUdeviceptr copy_dst = 0, copy_src = 0;
  uint64_t copy_bytes = 0;
  std::string what;                      // "step 3 ('relu1'): kernel ts_k1", for errors
};

}  // namespace

// A launch computing Y[b] = alpha A[b] B[b] (+ beta C0 broadcast by scm/scn), strides in
// elements: through cuBLAS when it is loaded and the operands fit its layout (no C0), else the
// plan's ts_gemm kernel.
StatusOr<Launch> MakeGemm(const Driver& d, const Module& module, Cublas* cublas, const std::string& what,
                          uint64_t a, uint64_t b, uint64_t c0, uint64_t y, int64_t mm, int64_t nn,
                          int64_t kk, int64_t batch, int64_t sab, int64_t sam, int64_t sak,
                          int64_t sbb, int64_t sbk, int64_t sbn, int64_t scm, int64_t scn,
                          double alpha, double beta, int in_type = kCudaR32F) {
  Launch l;
  l.what = what;
  const bool a_ok = sak == 1 || sam == 1, b_ok = sbn == 1 || sbk == 1;
  if (in_type != kCudaR32F && (!cublas || !cublas->gemm_ex || c0 != 0 || !a_ok || !b_ok || batch > 65535)) {
    return BadInputError(what + ": a half-precision product needs cuBLAS (libcublas.so.13 from the CUDA "
                         "toolkit on the loader path" + std::string(cublas ? "" : "; TSR_NO_CUBLAS turns it off") +
                         "); install it or recompile with --target cpu");
  }
  if (cublas && c0 == 0 && a_ok && b_ok && mm > 0 && nn > 0 && kk > 0 && batch <= 65535) {
    l.blas = true;
    l.what += " (cuBLAS)";
    BlasGemm& g = l.gemm;
    g.in_type = in_type;
    g.op_b = sbn == 1 ? 0 : 1;
    g.ldb = static_cast<int>(sbn == 1 ? sbk : sbn);
    g.op_a = sak == 1 ? 0 : 1;
    g.lda = static_cast<int>(sak == 1 ? sam : sak);
    g.m = static_cast<int>(nn);
    g.n = static_cast<int>(mm);
    g.k = static_cast<int>(kk);
    g.ldc = static_cast<int>(nn);
    g.batch = static_cast<int>(std::max<int64_t>(batch, 1));
    g.stride_b = sbb;
    g.stride_a = sab;
    g.stride_c = mm * nn;
    g.a = a;
    g.b = b;
    g.c = y;
    g.alpha = static_cast<float>(alpha);
    g.beta = 0.0f;
    return l;
  }
  l.what += ": kernel ts_gemm";
  ASSIGN_OR_RETURN(l.fn, d.GetFunction(module, "ts_gemm"));
  l.values = {a, b, c0, y, Slot(mm), Slot(nn), Slot(kk), Slot(sab), Slot(sam), Slot(sak), Slot(sbb), Slot(sbk),
              Slot(sbn), Slot(scm), Slot(scn), FloatSlot(alpha), FloatSlot(beta)};
  l.block[0] = 16;
  l.block[1] = 16;
  l.grid[0] = static_cast<unsigned>((nn + 15) / 16);
  l.grid[1] = static_cast<unsigned>((mm + 15) / 16);
  l.grid[2] = static_cast<unsigned>(std::max<int64_t>(batch, 1));
  if (l.grid[1] > 65535 || l.grid[2] > 65535) {
    return BadInputError(what + ": the product is too large for one launch; recompile with --target cpu");
  }
  return l;
}

// One copy of a streamed weight from pinned host memory into its arena bytes, on the copy
// stream: after `before` (recorded on the compute stream where the plan's load step stands, so
// every earlier step has finished with those bytes), signalling `done` for the wait step.
struct WeightCopy {
  CUdeviceptr dst = 0;
  const uint8_t* src = nullptr;
  uint64_t bytes = 0;
  Event before, done;
};

struct Backend::Impl {
  std::unique_ptr<Driver> driver;
  PrimaryContext context;
  DeviceMemory arena;
  Module module;
  Stream stream;       // compute
  Stream copy_stream;  // host-to-device copies of streamed weights
  PinnedMemory pinned;  // every streamed weight, packed
  std::vector<WeightCopy> loads;
  uint64_t streamed_bytes = 0;  // per run
  std::unique_ptr<Cublas> cublas;
  DeviceMemory columns;       // im2col scratch, sized at load for the largest convolution
  std::deque<Launch> launches;  // a deque: launches keep their address (params point into them)
  std::vector<planfmt::TensorRef> inputs, outputs;
};

Backend::Backend() : impl_(std::make_unique<Impl>()) {}
Backend::~Backend() = default;

StatusOr<std::unique_ptr<Backend>> Backend::Load(const planfmt::PlanContents& plan,
                                                 const uint8_t* host_arena, uint64_t arena_bytes,
                                                 const StreamedWeights& streamed) {
  ASSIGN_OR_RETURN(planfmt::CudaModuleImage image, planfmt::DecodeCudaModule(plan.kernels.code));
  auto driver = Driver::Load();
  if (!driver.ok()) {
    return BadInputError("this plan was compiled for CUDA (" + image.arch +
                         ") and needs an NVIDIA GPU: " + driver.status().message() +
                         "; run it on a GPU machine or recompile with --target cpu");
  }
  std::unique_ptr<Backend> b(new Backend());
  Impl& m = *b->impl_;
  m.driver = std::move(*driver);
  const Driver& d = *m.driver;
  ASSIGN_OR_RETURN(DeviceInfo info, d.Describe(0));
  ASSIGN_OR_RETURN(m.context, d.RetainPrimaryContext(0));
  // Which image the device can run: the cubin for its own architecture; the PTX (JIT-compiled by
  // the driver) on a newer one; nothing on an older one.
  const int plan_cc = std::atoi(image.arch.c_str() + 3);
  const int device_cc = info.cc_major * 10 + info.cc_minor;
  std::string kind;
  if (device_cc == plan_cc) {
    kind = "cubin";
  } else if (device_cc > plan_cc) {
    kind = "PTX (JIT-compiled by the driver for " + info.Arch() + ")";
  } else {
    return BadInputError("this plan was compiled for " + image.arch + " but GPU 0 (" + info.name +
                         ") is " + info.Arch() + "; recompile with a profile for that GPU");
  }
  size_t free_bytes = 0, total_bytes = 0;
  CU_RETURN_IF_ERROR(d, d.api().cuMemGetInfo(&free_bytes, &total_bytes));
  if (arena_bytes > free_bytes) {
    return DoesNotFitError("the plan's device arena needs " + std::to_string(arena_bytes) +
                           " bytes but GPU 0 (" + info.name + ") has " + std::to_string(free_bytes) +
                           " free of " + std::to_string(total_bytes) +
                           "; free GPU memory or recompile with a smaller --vram");
  }
  ASSIGN_OR_RETURN(m.arena, d.AllocDevice(std::max<uint64_t>(arena_bytes, 64)));
  CU_RETURN_IF_ERROR(d, d.api().cuMemcpyHtoD(m.arena.get(), host_arena, arena_bytes));
  std::string module_image = device_cc == plan_cc ? image.cubin : image.ptx;
  if (device_cc != plan_cc) module_image.push_back('\0');
  ASSIGN_OR_RETURN(m.module, d.LoadModule(module_image));
  ASSIGN_OR_RETURN(m.stream, d.CreateStream());
  // Streamed weights: the caller's packed bytes, copied once into pinned host memory (same
  // offsets), from where their load steps copy them in.
  const auto& weights = plan.weights;
  for (size_t w = 0; w < weights.size(); ++w) {
    if (weights[w].streamed && (w >= streamed.offset.size() || streamed.offset[w] > streamed.size ||
                                weights[w].bytes > streamed.size - streamed.offset[w])) {
      return InternalError("streamed weight '" + weights[w].name + "' was not handed to the GPU backend");
    }
  }
  if (streamed.size > 0) {
    auto pinned = d.AllocPinned(streamed.size);
    if (!pinned.ok()) {
      return DoesNotFitError("cannot pin " + std::to_string(streamed.size) + " bytes of host memory for the plan's "
                             "streamed weights (" + pinned.status().message() + "); free host memory or raise --vram");
    }
    m.pinned = std::move(*pinned);
    std::memcpy(m.pinned.get(), streamed.bytes, streamed.size);
    ASSIGN_OR_RETURN(m.copy_stream, d.CreateStream());
  }
  m.inputs = plan.program.inputs;
  m.outputs = plan.program.outputs;
  m.cublas = Cublas::Load(m.stream.get());
  b->description_ = info.name + ", " + info.Arch() + ", " + kind + " (NVRTC " + image.nvrtc_version +
                    "), driver " + d.VersionString() + ", products by " +
                    (m.cublas ? "cuBLAS " + m.cublas->version : std::string("the plan's own kernel"));

  const CUdeviceptr base = m.arena.get();
  auto ptr = [&](const planfmt::TensorRef& r) -> uint64_t { return base + r.offset; };
  const auto& steps = plan.program.steps;
  // im2col scratch for the largest convolution that needs one.
  int64_t column_floats = 0;
  for (const planfmt::Step& s : steps) {
    if (s.kind != planfmt::StepKind::kOp || s.symbol != "Conv") continue;
    const auto& w = s.args[1].shape;
    const auto& y = s.args[s.num_inputs].shape;
    column_floats = std::max(column_floats, w[1] * w[2] * w[3] * y[2] * y[3]);
  }
  if (column_floats > 0) {
    ASSIGN_OR_RETURN(m.columns, d.AllocDevice(static_cast<size_t>(column_floats) * 4));
  }
  auto push = [&](Launch&& launch) {
    m.launches.push_back(std::move(launch));
    Launch& back = m.launches.back();
    for (uint64_t& v : back.values) back.params.push_back(&v);
    if (back.fn && back.what.find("ts_view_") != std::string::npos) back.params.push_back(&back.dims);
  };
  std::vector<int> last_load(weights.size(), -1);  // per weight, its latest copy so far
  for (size_t i = 0; i < steps.size(); ++i) {
    const planfmt::Step& s = steps[i];
    Launch l;
    l.what = "step " + std::to_string(i) + " ('" + s.node + "')";
    auto function = [&](const std::string& name) -> Status {
      l.what += ": kernel " + name;
      ASSIGN_OR_RETURN(l.fn, d.GetFunction(m.module, name.c_str()));
      return OkStatus();
    };
    const ops::AttrView attrs(s.attrs);
    if (s.kind == planfmt::StepKind::kLoad || s.kind == planfmt::StepKind::kWait) {
      const int64_t w = s.iparams.empty() ? -1 : s.iparams[0];
      if (w < 0 || static_cast<size_t>(w) >= weights.size() || !weights[w].streamed) {
        return BadInputError(l.what + ": names no streamed weight; the bundle is inconsistent, recompile it");
      }
      if (s.kind == planfmt::StepKind::kWait) {
        if (last_load[w] < 0) {
          return BadInputError(l.what + ": waits for weight '" + weights[w].name +
                               "' before any step loads it; the bundle is inconsistent, recompile it");
        }
        l.wait = last_load[w];
        l.what += ": wait for weight '" + weights[w].name + "'";
      } else {
        WeightCopy c;
        c.dst = base + weights[w].arena_offset;
        c.src = static_cast<const uint8_t*>(m.pinned.get()) + streamed.offset[w];
        c.bytes = weights[w].bytes;
        ASSIGN_OR_RETURN(c.before, d.CreateEvent(kEventDisableTiming));
        ASSIGN_OR_RETURN(c.done, d.CreateEvent(kEventDisableTiming));
        m.streamed_bytes += c.bytes;
        m.loads.push_back(std::move(c));
        last_load[w] = l.load = static_cast<int>(m.loads.size() - 1);
        l.what += ": copy of weight '" + weights[w].name + "'";
      }
    } else if (s.kind == planfmt::StepKind::kJitKernel) {
      RETURN_IF_ERROR(function(s.symbol));
      for (const planfmt::TensorRef& r : s.args) l.values.push_back(ptr(r));
      const int64_t n = Count(s.args.back().shape);
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((n + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kBuiltin && s.builtin == planfmt::Builtin::kCopy) {
      l.copy = true;
      l.copy_src = ptr(s.args[0]);
      l.copy_dst = ptr(s.args[1]);
      l.copy_bytes = s.args[0].bytes;
      l.what += ": copy";
    } else if (s.kind == planfmt::StepKind::kBuiltin &&
               (s.builtin == planfmt::Builtin::kMatMul || s.builtin == planfmt::Builtin::kGemm)) {
      const auto& a = s.args[0].shape;
      const auto& bs = s.args[1].shape;
      int64_t mm, nn, kk, batch = 1, sab = 0, sam, sak, sbb = 0, sbk, sbn, scm = 0, scn = 0;
      uint64_t c0 = 0;
      double alpha = 1, beta = 0;
      if (s.builtin == planfmt::Builtin::kMatMul) {
        if (!s.iparams.empty() && s.iparams[0] == 2) {
          return BadInputError(l.what + ": a product on weights blocked for the CPU kernel; recompile with --target cuda");
        }
        const bool tb = !s.iparams.empty() && s.iparams[0] != 0;
        // 1-D operands were given their unit dims by the compiler's shapes: use the output's.
        const auto& y = s.args.back().shape;
        kk = a.back();
        mm = a.size() >= 2 ? a[a.size() - 2] : 1;
        nn = tb ? bs[0] : bs.back();
        batch = y.size() > 2 ? Count(std::vector<int64_t>(y.begin(), y.end() - 2)) : 1;
        sam = kk;
        sak = 1;
        sbk = tb ? 1 : nn;
        sbn = tb ? kk : 1;
        sab = a.size() > 2 ? mm * kk : 0;
        sbb = bs.size() > 2 ? kk * nn : 0;
      } else {
        const bool ta = s.iparams[0] != 0, tb = s.iparams[1] != 0;
        mm = ta ? a[1] : a[0];
        kk = ta ? a[0] : a[1];
        nn = tb ? bs[0] : bs[1];
        sam = ta ? 1 : kk;
        sak = ta ? mm : 1;
        sbk = tb ? 1 : nn;
        sbn = tb ? kk : 1;
        alpha = s.fparams[0];
        beta = s.fparams[1];
        if (s.num_inputs == 3 && beta != 0) {
          const auto& c = s.args[2].shape;
          const int64_t rows = c.size() == 2 ? c[0] : 1, cols = c.empty() ? 1 : c.back();
          c0 = ptr(s.args[2]);
          scm = rows == 1 ? 0 : cols;
          scn = cols == 1 ? 0 : 1;
        }
      }
      const DType in = s.args[0].dtype;
      const int in_type = in == DType::kF16 ? kCudaR16F : in == DType::kBF16 ? kCudaR16BF : kCudaR32F;
      ASSIGN_OR_RETURN(Launch made, MakeGemm(d, m.module, m.cublas.get(), l.what, ptr(s.args[0]),
                                             ptr(s.args[1]), c0, ptr(s.args.back()), mm, nn, kk, batch,
                                             sab, sam, sak, sbb, sbk, sbn, scm, scn, alpha, beta, in_type));
      push(std::move(made));
      continue;
    } else if (s.kind == planfmt::StepKind::kBuiltin && s.builtin == planfmt::Builtin::kSoftmax) {
      const auto& shape = s.args[0].shape;
      const int64_t axis = s.iparams[0];
      const bool legacy = s.iparams[1] != 0;
      int64_t outer = 1, len = 1, inner = 1;
      for (int64_t dd = 0; dd < static_cast<int64_t>(shape.size()); ++dd) {
        if (dd < axis) outer *= shape[dd];
        else if (dd == axis || legacy) len *= shape[dd];
        else inner *= shape[dd];
      }
      if (inner == 1) {  // contiguous rows: a block each
        RETURN_IF_ERROR(function("ts_softmax_rows"));
        l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(outer), Slot(len)};
        l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>(outer, 1, 2147483647));
      } else {
        RETURN_IF_ERROR(function("ts_softmax"));
        l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(outer), Slot(len), Slot(inner)};
        l.grid[0] = static_cast<unsigned>(std::max<int64_t>((outer * inner + kBlock - 1) / kBlock, 1));
      }
    } else if (s.kind == planfmt::StepKind::kBuiltin && s.builtin == planfmt::Builtin::kTranspose) {
      const auto& in = s.args[0].shape;
      const size_t rank = in.size();
      if (rank > 8) return BadInputError(l.what + ": a transpose of rank > 8; recompile with --target cpu");
      const int64_t esize = DTypeSize(s.args[0].dtype);
      RETURN_IF_ERROR(function("ts_view_" + std::to_string(esize)));
      std::vector<int64_t> in_strides(rank, 1);
      for (size_t dd = rank; dd-- > 1;) in_strides[dd - 1] = in_strides[dd] * in[dd];
      for (size_t k = 0; k < rank; ++k) {
        l.dims.out_dims[k] = in[s.iparams[k]];
        l.dims.walk[k] = in_strides[s.iparams[k]];
      }
      l.dims.rank = static_cast<long long>(rank);
      const int64_t total = Count(s.args[1].shape);
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(total), Slot(0)};  // base 0
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "LayerNormalization") {
      RETURN_IF_ERROR(function("ts_layernorm"));
      const auto& x = s.args[0].shape;
      int64_t axis = attrs.IntOr("axis", -1);
      if (axis < 0) axis += static_cast<int64_t>(x.size());
      int64_t rows = 1, len = 1;
      for (size_t dd = 0; dd < x.size(); ++dd) (static_cast<int64_t>(dd) < axis ? rows : len) *= x[dd];
      const uint64_t bias = s.num_inputs > 2 ? ptr(s.args[2]) : 0;
      l.values = {ptr(s.args[0]), ptr(s.args[1]), bias, ptr(s.args[s.num_inputs]), Slot(rows), Slot(len),
                  FloatSlot(attrs.FloatOr("epsilon", 1e-5))};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>(rows, 1, 2147483647));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "Gather") {
      const auto& data = s.args[0].shape;
      RETURN_IF_ERROR(function("ts_gather_" + std::to_string(DTypeSize(s.args[0].dtype))));
      int64_t axis = attrs.IntOr("axis", 0);
      if (axis < 0) axis += static_cast<int64_t>(data.size());
      int64_t outer = 1, block = 1;
      for (size_t dd = 0; dd < data.size(); ++dd) {
        if (static_cast<int64_t>(dd) < axis) outer *= data[dd];
        if (static_cast<int64_t>(dd) > axis) block *= data[dd];
      }
      const int64_t m = Count(s.args[1].shape), total = Count(s.args[2].shape);
      l.values = {ptr(s.args[0]), ptr(s.args[1]), ptr(s.args[2]), Slot(outer), Slot(data[axis]), Slot(m),
                  Slot(block), Slot(s.args[1].dtype == DType::kI64 ? 1 : 0)};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "Cast") {
      RETURN_IF_ERROR(function("ts_cast"));
      const int64_t total = Count(s.args[1].shape);
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(total), Slot(static_cast<int64_t>(s.args[0].dtype)),
                  Slot(static_cast<int64_t>(s.args[1].dtype))};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "Conv") {
      // Per image and group: im2col (unless 1x1, stride 1, unpadded), a matrix product; then
      // the bias over the whole output.
      const auto& x = s.args[0].shape;
      const auto& w = s.args[1].shape;
      const auto& y = s.args[s.num_inputs].shape;
      const int64_t group = attrs.IntOr("group", 1);
      const std::vector<int64_t> st = attrs.IntsOr("strides", {1, 1}), dil = attrs.IntsOr("dilations", {1, 1});
      const std::vector<int64_t> pads = attrs.IntsOr("pads", {0, 0, 0, 0});
      const int64_t cg = x[1] / group, mg = w[0] / group, kdim = cg * w[2] * w[3], n_out = y[2] * y[3];
      const bool pointwise = w[2] == 1 && w[3] == 1 && st[0] == 1 && st[1] == 1 && pads[0] == 0 &&
                             pads[1] == 0 && y[2] == x[2] && y[3] == x[3];
      const std::string where = l.what;
      for (int64_t n = 0; n < x[0]; ++n) {
        for (int64_t g = 0; g < group; ++g) {
          const uint64_t xg = ptr(s.args[0]) + static_cast<uint64_t>((n * x[1] + g * cg) * x[2] * x[3]) * 4;
          const uint64_t yg = ptr(s.args[s.num_inputs]) + static_cast<uint64_t>((n * y[1] + g * mg) * n_out) * 4;
          const uint64_t wg = ptr(s.args[1]) + static_cast<uint64_t>(g * mg * kdim) * 4;
          uint64_t bsrc = xg;
          if (!pointwise) {
            Launch c;
            c.what = where + ": kernel ts_im2col";
            ASSIGN_OR_RETURN(c.fn, d.GetFunction(m.module, "ts_im2col"));
            c.values = {xg, m.columns.get(), Slot(cg), Slot(x[2]), Slot(x[3]), Slot(w[2]), Slot(w[3]), Slot(y[2]),
                        Slot(y[3]), Slot(st[0]), Slot(st[1]), Slot(pads[0]), Slot(pads[1]), Slot(dil[0]), Slot(dil[1])};
            c.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((kdim * n_out + kBlock - 1) / kBlock, 1, 65535));
            push(std::move(c));
            bsrc = m.columns.get();
          }
          ASSIGN_OR_RETURN(Launch made, MakeGemm(d, m.module, m.cublas.get(), where, wg, bsrc, 0, yg, mg,
                                                 n_out, kdim, 1, 0, kdim, 1, 0, n_out, 1, 0, 0, 1.0, 0.0));
          push(std::move(made));
        }
      }
      if (s.num_inputs > 2) {
        RETURN_IF_ERROR(function("ts_bias"));
        const int64_t total = Count(y);
        l.values = {ptr(s.args[s.num_inputs]), ptr(s.args[2]), Slot(y[1]), Slot(n_out), Slot(total)};
        l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
        push(std::move(l));
      }
      continue;
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "ConvTranspose") {
      RETURN_IF_ERROR(function("ts_conv_transpose2d"));
      const auto& x = s.args[0].shape;
      const auto& w = s.args[1].shape;
      const auto& y = s.args[s.num_inputs].shape;
      const std::vector<int64_t> st = attrs.IntsOr("strides", {1, 1}), dil = attrs.IntsOr("dilations", {1, 1});
      const std::vector<int64_t> pads = attrs.IntsOr("pads", {0, 0, 0, 0});
      const uint64_t bias = s.num_inputs > 2 ? ptr(s.args[2]) : 0;
      const int64_t total = Count(y);
      l.values = {ptr(s.args[0]), ptr(s.args[1]), bias, ptr(s.args[s.num_inputs]), Slot(x[0]), Slot(x[1]),
                  Slot(x[2]), Slot(x[3]), Slot(y[1]), Slot(w[2]), Slot(w[3]), Slot(y[2]), Slot(y[3]), Slot(st[0]),
                  Slot(st[1]), Slot(pads[0]), Slot(pads[1]), Slot(dil[0]), Slot(dil[1])};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "Concat") {
      // One launch per input, each writing its columns of every output row.
      const auto& y = s.args[s.num_inputs].shape;
      int64_t axis = attrs.IntOr("axis", 0);
      if (axis < 0) axis += static_cast<int64_t>(y.size());
      int64_t outer = 1, inner = 1;
      for (size_t dd = 0; dd < y.size(); ++dd) {
        if (static_cast<int64_t>(dd) < axis) outer *= y[dd];
        if (static_cast<int64_t>(dd) > axis) inner *= y[dd];
      }
      const int64_t dst_row = y[axis] * inner;
      int64_t offset = 0;
      const std::string where = l.what;
      for (uint32_t in = 0; in < s.num_inputs; ++in) {
        const int64_t row = s.args[in].shape[axis] * inner;
        Launch c;
        c.what = where + ": kernel ts_concat_part (input " + std::to_string(in) + ")";
        ASSIGN_OR_RETURN(c.fn, d.GetFunction(m.module, "ts_concat_part"));
        c.values = {ptr(s.args[in]), ptr(s.args[s.num_inputs]), Slot(outer), Slot(row), Slot(dst_row), Slot(offset)};
        c.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((outer * row + kBlock - 1) / kBlock, 1, 65535));
        // An input the planner placed inside the output (passes/liveness.h) is already there.
        const bool in_place = outer == 1 && s.args[in].offset == s.args[s.num_inputs].offset +
                                                                     static_cast<uint64_t>(offset) * sizeof(float);
        if (outer * row > 0 && !in_place) push(std::move(c));
        offset += row;
      }
      continue;
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "MaxPool") {
      RETURN_IF_ERROR(function("ts_maxpool2d"));
      const auto& x = s.args[0].shape;
      const auto& y = s.args[1].shape;
      const std::vector<int64_t> k = attrs.IntsOr("kernel_shape", {1, 1});
      const std::vector<int64_t> st = attrs.IntsOr("strides", {1, 1}), dil = attrs.IntsOr("dilations", {1, 1});
      const std::vector<int64_t> pads = attrs.IntsOr("pads", {0, 0, 0, 0});
      const int64_t total = Count(y);
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(x[0] * x[1]), Slot(x[2]), Slot(x[3]), Slot(y[2]), Slot(y[3]),
                  Slot(k[0]), Slot(k[1]), Slot(st[0]), Slot(st[1]), Slot(pads[0]), Slot(pads[1]), Slot(dil[0]), Slot(dil[1])};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "GlobalAveragePool") {
      RETURN_IF_ERROR(function("ts_global_avg"));
      const auto& x = s.args[0].shape;
      const int64_t planes = x[0] * x[1];
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(planes), Slot(Count(x) / std::max<int64_t>(planes, 1))};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>(planes, 1, 2147483647));
    } else if (s.kind == planfmt::StepKind::kOp && (s.symbol == "Slice" || s.symbol == "Expand")) {
      const auto& in = s.args[0].shape;
      const auto& out = s.args[1].shape;
      std::vector<int64_t> walk;
      int64_t first = 0;
      if (s.symbol == "Slice") {
        ASSIGN_OR_RETURN(const ops::SliceView view, ops::PlanSliceView(attrs, in));
        if (view.shape != out) return BadInputError(l.what + ": the output shape is not the slice's; recompile it");
        walk = view.strides;
        first = view.offset;
      } else {
        if (in.size() > out.size()) return BadInputError(l.what + ": expands to a lower rank; recompile it");
        walk = ops::BroadcastStrides(in, out);
      }
      if (out.size() > 8) return BadInputError(l.what + ": a view of rank > 8; recompile with --target cpu");
      const int64_t total = Count(out);
      if (total == 0) continue;  // an empty output: nothing to copy
      RETURN_IF_ERROR(function("ts_view_" + std::to_string(DTypeSize(s.args[0].dtype))));
      for (size_t k = 0; k < out.size(); ++k) {
        l.dims.out_dims[k] = out[k];
        l.dims.walk[k] = walk[k];
      }
      l.dims.rank = static_cast<long long>(out.size());
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(total), Slot(first)};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>((total + kBlock - 1) / kBlock, 1, 65535));
    } else if (s.kind == planfmt::StepKind::kOp && s.symbol == "ReduceMean") {
      const auto& x = s.args[0].shape;
      const auto run = ops::ReducedAxesRun(attrs, x);
      if (!run) return BadInputError(l.what + ": reduces axes that are not adjacent; recompile it");
      int64_t outer = 1, len = 1, inner = 1;
      for (int64_t dd = 0; dd < static_cast<int64_t>(x.size()); ++dd) {
        (dd < run->first ? outer : dd < run->second ? len : inner) *= x[dd];
      }
      if (outer * inner == 0) continue;
      RETURN_IF_ERROR(function("ts_reduce_mean"));
      l.values = {ptr(s.args[0]), ptr(s.args[1]), Slot(outer), Slot(len), Slot(inner)};
      l.grid[0] = static_cast<unsigned>(std::clamp<int64_t>(outer * inner, 1, 2147483647));
    } else {
      return BadInputError(l.what + ": this kind of step has no CUDA implementation in this tsr; "
                           "recompile the model with this tsc (it refuses such plans) or with --target cpu");
    }
    push(std::move(l));
  }
  return b;
}

uint64_t Backend::streamed_bytes_per_run() const { return impl_->streamed_bytes; }

Status Backend::Run(uint8_t* host_arena) {
  Impl& m = *impl_;
  const Driver& d = *m.driver;
  RETURN_IF_ERROR(m.context.MakeCurrent());
  const CUdeviceptr base = m.arena.get();
  const CUstream st = m.stream.get();
  for (const planfmt::TensorRef& r : m.inputs) {
    CU_RETURN_IF_ERROR(d, d.api().cuMemcpyHtoDAsync(base + r.offset, host_arena + r.offset, r.bytes, st));
  }
  const auto start = std::chrono::steady_clock::now();
  for (Launch& l : m.launches) {
    if (l.load >= 0) {
      WeightCopy& c = m.loads[l.load];
      CU_RETURN_IF_ERROR(d, d.api().cuEventRecord(c.before.get(), st));
      CU_RETURN_IF_ERROR(d, d.api().cuStreamWaitEvent(m.copy_stream.get(), c.before.get(), 0));
      CU_RETURN_IF_ERROR(d, d.api().cuMemcpyHtoDAsync(c.dst, c.src, c.bytes, m.copy_stream.get()));
      CU_RETURN_IF_ERROR(d, d.api().cuEventRecord(c.done.get(), m.copy_stream.get()));
      continue;
    }
    if (l.wait >= 0) {
      CU_RETURN_IF_ERROR(d, d.api().cuStreamWaitEvent(st, m.loads[l.wait].done.get(), 0));
      continue;
    }
    if (l.blas && l.gemm.in_type != kCudaR32F) {
      const BlasGemm& g = l.gemm;
      const int status = m.cublas->gemm_ex(
          m.cublas->handle, g.op_b, g.op_a, g.m, g.n, g.k, &g.alpha, reinterpret_cast<const void*>(g.b),
          g.in_type, g.ldb, g.stride_b, reinterpret_cast<const void*>(g.a), g.in_type, g.lda, g.stride_a,
          &g.beta, reinterpret_cast<void*>(g.c), kCudaR32F, g.ldc, g.stride_c, g.batch, kCublasCompute32F,
          kCublasGemmDefault);
      if (status != 0) {
        return InternalError(l.what + ": cublasGemmStridedBatchedEx failed with status " + std::to_string(status));
      }
      continue;
    }
    if (l.blas) {
      const BlasGemm& g = l.gemm;
      const int status = m.cublas->sgemm(
          m.cublas->handle, g.op_b, g.op_a, g.m, g.n, g.k, &g.alpha,
          reinterpret_cast<const float*>(g.b), g.ldb, g.stride_b,
          reinterpret_cast<const float*>(g.a), g.lda, g.stride_a, &g.beta,
          reinterpret_cast<float*>(g.c), g.ldc, g.stride_c, g.batch);
      if (status != 0) {
        return InternalError(l.what + ": cublasSgemmStridedBatched failed with status " +
                             std::to_string(status));
      }
      continue;
    }
    CUresult r = l.copy ? d.api().cuMemcpyDtoDAsync(l.copy_dst, l.copy_src, l.copy_bytes, st)
                        : d.api().cuLaunchKernel(l.fn, l.grid[0], l.grid[1], l.grid[2], l.block[0],
                                                 l.block[1], l.block[2], 0, st, l.params.data(), nullptr);
    if (r != kSuccess) return InternalError(l.what + ": launch failed: " + d.ErrorText(r));
  }
  if (CUresult r = d.api().cuStreamSynchronize(st); r != kSuccess) {
    return InternalError("running the plan on the GPU (" + std::to_string(m.launches.size()) +
                         " steps, last " + (m.launches.empty() ? "none" : m.launches.back().what) +
                         "): " + d.ErrorText(r));
  }
  // Every copy has a wait step, so this returns at once; it keeps a copy from outliving the run.
  if (m.copy_stream) CU_RETURN_IF_ERROR(d, d.api().cuStreamSynchronize(m.copy_stream.get()));
  last_run_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const planfmt::TensorRef& r : m.outputs) {
    CU_RETURN_IF_ERROR(d, d.api().cuMemcpyDtoH(host_arena + r.offset, base + r.offset, r.bytes));
  }
  return OkStatus();
}

}  // namespace ts::runtime::cuda
