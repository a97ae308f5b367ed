#include "runtime/cpu_jit.h"

#include <mutex>
#include <set>
#include <string>

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/IRTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Target/TargetMachine.h>

namespace ts::runtime {
namespace {

// The only functions outside the module a kernel may call: what the CPU lowering emits (libm,
// and the memory intrinsics' library forms). Everything else in the process stays unreachable.
const std::set<std::string, std::less<>>& AllowedExternals() {
  static const std::set<std::string, std::less<>> names = {
      "tanhf", "expf", "logf", "sqrtf", "fabsf", "memcpy", "memmove", "memset"};
  return names;
}

// A bundle's bitcode is code the runtime will execute: accept only what tsc's lowering can
// produce. Returns the externally visible functions the module defines.
StatusOr<std::set<std::string>> CheckModule(llvm::Module& m) {
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(m, &os)) {
    std::string first = os.str().substr(0, os.str().find('\n'));
    return BadInputError("kernels section: the bitcode does not verify (" + first +
                         "); the bundle is corrupt, recompile it");
  }
  for (const llvm::GlobalVariable& gv : m.globals()) {
    if (gv.getName().starts_with("llvm.global_ctors") || gv.getName().starts_with("llvm.global_dtors")) {
      return BadInputError("kernels section: the module has static constructors, which tsc never emits");
    }
  }
  std::set<std::string> defined;
  for (llvm::Function& f : m) {
    if (f.isDeclaration()) {
      if (!f.isIntrinsic() && !AllowedExternals().contains(f.getName())) {
        return BadInputError("kernels section: the module calls '" + f.getName().str() +
                             "', which kernels may not call; the bundle was not made by tsc");
      }
      continue;
    }
    if (f.hasExternalLinkage()) defined.insert(f.getName().str());
    for (const llvm::BasicBlock& bb : f) {
      for (const llvm::Instruction& inst : bb) {
        if (const auto* call = llvm::dyn_cast<llvm::CallBase>(&inst); call && call->isInlineAsm()) {
          return BadInputError("kernels section: function '" + f.getName().str() +
                               "' contains inline assembly, which tsc never emits");
        }
      }
    }
  }
  return defined;
}

Status FromLlvm(llvm::Error err, const std::string& what) {
  std::string msg = llvm::toString(std::move(err));
  return BadInputError(what + ": " + msg);
}

void OptimizeForHost(llvm::Module& m, llvm::TargetMachine* tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  llvm::PassBuilder pb(tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
}

}  // namespace

struct CpuKernels::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::set<std::string> defined;  // the only symbols Lookup resolves
};

CpuKernels::CpuKernels(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuKernels::~CpuKernels() = default;

StatusOr<std::unique_ptr<CpuKernels>> CpuKernels::Load(const planfmt::KernelModule& module) {
  if (module.format != "llvm-bc") {
    return BadInputError("kernels section: format '" + module.format +
                         "' is not runnable on the CPU (expected llvm-bc); compile the model "
                         "with --target cpu");
  }
  static std::once_flag init;
  std::call_once(init, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });

  auto impl = std::make_unique<Impl>();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return FromLlvm(jtmb.takeError(), "detecting the host CPU");
  jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  std::string host = jtmb->getTargetTriple().str() + " " + jtmb->getCPU();
  auto tm = jtmb->createTargetMachine();
  if (!tm) return FromLlvm(tm.takeError(), "creating the host target machine");
  impl->tm = std::move(*tm);

  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit) return FromLlvm(jit.takeError(), "starting the JIT");
  impl->jit = std::move(*jit);
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      impl->jit->getDataLayout().getGlobalPrefix(),
      [](const llvm::orc::SymbolStringPtr& name) { return AllowedExternals().contains(*name); });
  if (!gen) return FromLlvm(gen.takeError(), "exposing process symbols to the JIT");
  impl->jit->getMainJITDylib().addGenerator(std::move(*gen));

  if (!module.code.empty()) {
    auto ctx = std::make_unique<llvm::LLVMContext>();
    llvm::StringRef bytes(reinterpret_cast<const char*>(module.code.data()), module.code.size());
    auto buffer = llvm::MemoryBuffer::getMemBuffer(bytes, "kernels", false);
    auto parsed = llvm::parseBitcodeFile(buffer->getMemBufferRef(), *ctx);
    if (!parsed) return FromLlvm(parsed.takeError(), "kernels section: bitcode does not parse");
    std::unique_ptr<llvm::Module> m = std::move(*parsed);
    ASSIGN_OR_RETURN(impl->defined, CheckModule(*m));
    m->setDataLayout(impl->jit->getDataLayout());
    m->setTargetTriple(impl->jit->getTargetTriple().str());
    for (llvm::Function& f : *m) {
      if (f.isDeclaration()) continue;
      f.addFnAttr("target-cpu", impl->tm->getTargetCPU());
      f.addFnAttr("target-features", impl->tm->getTargetFeatureString());
    }
    OptimizeForHost(*m, impl->tm.get());
    if (auto err = impl->jit->addIRModule(
            llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)))) {
      return FromLlvm(std::move(err), "kernels section: JIT linking failed");
    }
  }
  auto kernels = std::unique_ptr<CpuKernels>(new CpuKernels(std::move(impl)));
  kernels->host_ = host;
  // Resolve every symbol now so a bad module fails at load, not mid-run.
  for (const std::string& s : module.symbols) {
    auto fn = kernels->Lookup(s);
    if (!fn.ok()) return fn.status();
  }
  return kernels;
}

StatusOr<KernelFn> CpuKernels::Lookup(const std::string& symbol) const {
  if (!impl_->defined.contains(symbol)) {
    return BadInputError("kernel '" + symbol +
                         "' is not defined by the bundle's kernel module; the bundle is corrupt, "
                         "recompile it");
  }
  auto addr = impl_->jit->lookup(symbol);
  if (!addr) return FromLlvm(addr.takeError(), "kernel '" + symbol + "'");
  return addr->toPtr<KernelFn>();
}

}  // namespace ts::runtime
