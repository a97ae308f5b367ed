#include "runtime/cpu_jit.h"

#include <mutex>

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/IRTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Target/TargetMachine.h>

namespace ts::runtime {
namespace {

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
      impl->jit->getDataLayout().getGlobalPrefix());
  if (!gen) return FromLlvm(gen.takeError(), "exposing process symbols to the JIT");
  impl->jit->getMainJITDylib().addGenerator(std::move(*gen));

  if (!module.code.empty()) {
    auto ctx = std::make_unique<llvm::LLVMContext>();
    llvm::StringRef bytes(reinterpret_cast<const char*>(module.code.data()), module.code.size());
    auto buffer = llvm::MemoryBuffer::getMemBuffer(bytes, "kernels", false);
    auto parsed = llvm::parseBitcodeFile(buffer->getMemBufferRef(), *ctx);
    if (!parsed) return FromLlvm(parsed.takeError(), "kernels section: bitcode does not parse");
    std::unique_ptr<llvm::Module> m = std::move(*parsed);
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
  auto addr = impl_->jit->lookup(symbol);
  if (!addr) return FromLlvm(addr.takeError(), "kernel '" + symbol + "'");
  return addr->toPtr<KernelFn>();
}

}  // namespace ts::runtime
