// The plan: what tsc decided and tsr executes. This is the in-memory form of a .tsplan bundle's
// sections (the byte layout is in planfmt/format.h). It is plain data, the only contract between
// the compiler and the runtime: the runtime includes nothing from frontend/ or passes/.
//
// Everything the runtime touches is described here with absolute arena offsets fixed at compile
// time; nothing is allocated while a plan runs.
#ifndef TENSORSHUNT_PLANFMT_PLAN_H_
#define TENSORSHUNT_PLANFMT_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/attr.h"
#include "ir/dtype.h"

namespace ts::planfmt {

// A region of the arena viewed as a tensor.
struct TensorRef {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // byte offset in the arena
  uint64_t bytes = 0;   // element count x element size

  bool operator==(const TensorRef&) const = default;
};

enum class StepKind : uint8_t {
  kJitKernel = 1,  // call a kernel from the kernels section: void fn(void** args)
  kBuiltin = 2,    // call a kernel built into the runtime
  kLoad = 3,       // start reading streamed weight iparams[0] into its arena bytes (asynchronous)
  kWait = 4,       // wait until the load of weight iparams[0] has completed
  kOp = 5,         // run the runtime's kernel for op `symbol` (runtime/ops) with `attrs`
  kSpill = 6,      // write args[0] to the spill file at byte iparams[0] (4096-aligned)
  kFill = 7,       // read args[0] back from the spill file at byte iparams[0], written by a kSpill
};

// Whether a step of this kind is one of the memory plan's steps (the ones its buffers' first
// and last steps, peak_step and the compiler's load steps count): everything but loads and waits.
inline bool IsPlanStep(StepKind k) { return k != StepKind::kLoad && k != StepKind::kWait; }

// Kernels built into the runtime. Numeric values are part of the format: append only.
enum class Builtin : uint16_t {
  kNone = 0,
  kMatMul = 1,     // iparams: {} or {trans_b}  args: A, B -> Y (numpy matmul, batch broadcast;
                   //   trans_b: B is a 2-D [n, k] read transposed)
  kGemm = 2,       // iparams: {transA, transB}; fparams: {alpha, beta}; args: A, B[, C] -> Y
  kSoftmax = 3,    // iparams: {axis, legacy}   legacy=1: opset<13 (flatten at axis)
  kTranspose = 4,  // iparams: perm
  kCopy = 5,       // args: X -> Y, same byte size
};
constexpr uint16_t kMaxBuiltin = 5;

struct Step {
  StepKind kind = StepKind::kBuiltin;
  std::string node;    // the IR node this step comes from (messages, traces)
  std::string symbol;  // kJitKernel: symbol in the kernel module
  Builtin builtin = Builtin::kNone;
  std::vector<int64_t> iparams;
  std::vector<double> fparams;
  ir::AttrMap attrs;             // kOp: the op's attributes, in the op library's canonical form
  uint32_t num_inputs = 0;       // args[0, num_inputs) are read, the rest written
  std::vector<TensorRef> args;

  bool operator==(const Step&) const = default;
};

struct Program {
  std::vector<TensorRef> inputs;   // graph inputs, in call order; the caller fills these
  std::vector<TensorRef> outputs;  // graph outputs, in return order
  std::vector<Step> steps;

  bool operator==(const Program&) const = default;
};

// One buffer of the memory plan: [first_step, last_step] is its live interval over the steps.
// Weights are live over the whole program. For inspection and validation.
struct BufferInfo {
  std::string name;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint32_t first_step = 0;
  uint32_t last_step = 0;

  bool operator==(const BufferInfo&) const = default;
};

struct MemoryPlan {
  uint64_t arena_bytes = 0;        // the arena the runtime allocates, once
  uint64_t lower_bound_bytes = 0;  // max over steps of bytes live at that step
  uint32_t peak_step = 0;          // the step where live bytes reach the lower bound
  std::string peak_node;
  uint64_t io_chunk_bytes = 0;     // weight streaming: staging chunk size (multiple of 4096)
  uint32_t io_queue_depth = 0;     // staging chunks in flight
  std::vector<BufferInfo> buffers;

  // Runtime memory beyond the arena: the I/O staging buffers.
  uint64_t StagingBytes() const { return io_chunk_bytes * io_queue_depth; }

  bool operator==(const MemoryPlan&) const = default;
};

// Generated kernels for the target.
struct KernelModule {
  std::string format;                // "llvm-bc" for the CPU target
  std::vector<std::string> symbols;  // every symbol a kJitKernel step may name
  std::vector<uint8_t> code;

  bool operator==(const KernelModule&) const = default;
};

// Where one weight lives: bytes [file_offset, file_offset + bytes) of the weights section are
// copied to [arena_offset, arena_offset + bytes) of the arena: before the first step when the
// weight is resident, or by the program's kLoad step for it, on every run, when it is streamed
// (its arena bytes are shared with other buffers outside its live interval).
struct WeightEntry {
  std::string name;
  uint64_t file_offset = 0;  // within the weights section, a multiple of 4096
  uint64_t bytes = 0;
  uint64_t arena_offset = 0;
  bool streamed = false;
  uint64_t checksum = 0;  // XXH3-64 of the weight's bytes: streamed weights are checked per read

  bool operator==(const WeightEntry&) const = default;
};

// A second program over the same weights section (since 2.3): a checkpoint's prefill, which
// takes a prompt many tokens per run into the key/value cache that the main program (one
// decoding step) then extends. Its weight entries point into the shared weights section: at
// the main program's weights where the bytes are the same, else at bytes laid after them. Its
// arena, steps and kernels are its own; the runtime runs one program at a time.
struct SubPlan {
  Program program;
  MemoryPlan memory;
  KernelModule kernels;
  std::vector<WeightEntry> weights;  // in this program's read order; file offsets need not ascend

  bool operator==(const SubPlan&) const = default;
};

// Sorted key/value strings: source_model_hash, tsc_version, target, profile, cpu_features, ...
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Everything in a bundle except the weight bytes themselves.
struct PlanContents {
  Metadata metadata;
  Program program;
  MemoryPlan memory;
  KernelModule kernels;
  std::vector<WeightEntry> weights;  // in read order (first use); file offsets ascending
  std::string tokenizer;             // tokenizer.json's bytes; empty: the bundle has none
  std::optional<SubPlan> prefill;    // a checkpoint's prefill program, when compiled with one

  bool operator==(const PlanContents&) const = default;
};

}  // namespace ts::planfmt

#endif  // TENSORSHUNT_PLANFMT_PLAN_H_
