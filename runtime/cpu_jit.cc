#include "runtime/cpu_jit.h"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/IRTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SHA256.h>
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

// ---- The object cache

constexpr char kCacheMagic[] = "TSKCACHE1\n";  // then the object's SHA-256, then the object
constexpr size_t kMagicBytes = sizeof(kCacheMagic) - 1;
constexpr size_t kDigestBytes = 32;

std::array<uint8_t, kDigestBytes> Sha256(llvm::StringRef bytes) {
  llvm::SHA256 h;
  h.update(bytes);
  return h.final();
}

std::string Hex(const std::array<uint8_t, kDigestBytes>& d) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// What the machine code depends on: the bitcode, the target it was tuned for, the compiler.
std::string CacheKey(llvm::StringRef bitcode, const llvm::TargetMachine& tm) {
  llvm::SHA256 h;
  for (llvm::StringRef part :
       {llvm::StringRef("tensorshunt kernel cache 1"), llvm::StringRef(LLVM_VERSION_STRING),
        llvm::StringRef(tm.getTargetTriple().str()), tm.getTargetCPU(),
        tm.getTargetFeatureString()}) {
    h.update(part);
    h.update(llvm::StringRef("\0", 1));
  }
  h.update(bitcode);
  return Hex(h.final());
}

// The cached object at `path`, or nullptr when there is none or it does not check out.
std::unique_ptr<llvm::MemoryBuffer> ReadCached(const std::string& path) {
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!file) return nullptr;
  llvm::StringRef bytes = (*file)->getBuffer();
  if (bytes.size() <= kMagicBytes + kDigestBytes || !bytes.starts_with(kCacheMagic)) return nullptr;
  llvm::StringRef object = bytes.substr(kMagicBytes + kDigestBytes);
  const auto digest = Sha256(object);
  if (std::memcmp(digest.data(), bytes.data() + kMagicBytes, kDigestBytes) != 0) return nullptr;
  return llvm::MemoryBuffer::getMemBufferCopy(object, "cached kernels");
}

// Writes the object under `path` atomically (a temporary file, then rename).
Status WriteCached(const std::string& dir, const std::string& path, llvm::StringRef object) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "-" +
                          std::to_string(std::random_device{}());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const auto digest = Sha256(object);
    out.write(kCacheMagic, kMagicBytes);
    out.write(reinterpret_cast<const char*>(digest.data()), kDigestBytes);
    out.write(object.data(), static_cast<std::streamsize>(object.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return IoError("cannot write " + tmp);
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return IoError("cannot rename into " + path);
  }
  return OkStatus();
}

StatusOr<std::string> EmitObject(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    return InternalError("the host target cannot emit object files");
  }
  pm.run(m);
  return std::string(buffer.data(), buffer.size());
}

// The functions an object defines with global visibility: the only symbols Lookup resolves.
StatusOr<std::set<std::string>> DefinedFunctions(const llvm::MemoryBuffer& object) {
  auto file = llvm::object::ObjectFile::createObjectFile(object.getMemBufferRef());
  if (!file) return FromLlvm(file.takeError(), "cached kernels");
  std::set<std::string> out;
  for (const llvm::object::SymbolRef& sym : (*file)->symbols()) {
    auto flags = sym.getFlags();
    auto type = sym.getType();
    auto name = sym.getName();
    if (!flags || !type || !name) {
      llvm::consumeError(flags.takeError());
      llvm::consumeError(type.takeError());
      llvm::consumeError(name.takeError());
      continue;
    }
    if ((*flags & llvm::object::SymbolRef::SF_Global) &&
        !(*flags & llvm::object::SymbolRef::SF_Undefined) &&
        *type == llvm::object::SymbolRef::ST_Function) {
      out.insert(name->str());
    }
  }
  return out;
}

}  // namespace

std::string DefaultJitCacheDir() {
  if (const char* d = std::getenv("TSR_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) {
    return std::string(d) + "/tensorshunt/kernels";
  }
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/tensorshunt/kernels";
  return "";
}

struct CpuKernels::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::set<std::string> defined;  // the only symbols Lookup resolves
};

CpuKernels::CpuKernels(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuKernels::~CpuKernels() = default;

StatusOr<std::unique_ptr<CpuKernels>> CpuKernels::Load(const planfmt::KernelModule& module,
                                                        const JitCacheOptions& cache) {
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

  std::string state = "off";
  if (!module.code.empty()) {
    llvm::StringRef bytes(reinterpret_cast<const char*>(module.code.data()), module.code.size());
    std::string path;
    if (cache.mode != JitCacheOptions::Mode::kOff && !cache.dir.empty()) {
      path = cache.dir + "/" + CacheKey(bytes, *impl->tm) + ".o";
    }
    std::unique_ptr<llvm::MemoryBuffer> object;
    if (cache.mode == JitCacheOptions::Mode::kReadWrite && !path.empty()) object = ReadCached(path);
    if (object) {
      ASSIGN_OR_RETURN(impl->defined, DefinedFunctions(*object));
      state = "hit";
    } else {
      llvm::LLVMContext ctx;
      auto buffer = llvm::MemoryBuffer::getMemBuffer(bytes, "kernels", false);
      auto parsed = llvm::parseBitcodeFile(buffer->getMemBufferRef(), ctx);
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
      ASSIGN_OR_RETURN(const std::string code, EmitObject(*m, *impl->tm));
      if (!path.empty()) {
        const Status stored = WriteCached(cache.dir, path, code);
        state = stored.ok() ? "miss" : "miss (not stored: " + stored.message() + ")";
      }
      object = llvm::MemoryBuffer::getMemBufferCopy(code, "kernels");
    }
    if (auto err = impl->jit->addObjectFile(std::move(object))) {
      return FromLlvm(std::move(err), "kernels section: JIT linking failed");
    }
  }
  auto kernels = std::unique_ptr<CpuKernels>(new CpuKernels(std::move(impl)));
  kernels->host_ = host;
  kernels->cache_state_ = state;
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
