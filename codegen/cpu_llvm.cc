#include "codegen/cpu_llvm.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

namespace ts::codegen {

namespace {

class KernelEmitter {
 public:
  KernelEmitter(llvm::Module& m) : m_(m), ctx_(m.getContext()), b_(ctx_) {}

  void Emit(const ElementwiseKernel& k) {
    llvm::Type* ptr = llvm::PointerType::get(ctx_, 0);
    llvm::Type* void_ty = llvm::Type::getVoidTy(ctx_);
    const size_t n_in = k.in_shapes.size();

    // Inner function: one noalias pointer per operand (the planner never overlaps a step's
    // inputs and output), so the vectoriser needs no runtime alias checks.
    std::vector<llvm::Type*> params(n_in + 1, ptr);
    auto* inner = llvm::Function::Create(llvm::FunctionType::get(void_ty, params, false),
                                         llvm::Function::InternalLinkage, k.symbol + ".body", m_);
    for (auto& arg : inner->args()) {
      arg.addAttr(llvm::Attribute::NoAlias);
      arg.addAttr(llvm::Attribute::NoCapture);
    }
    inner->addFnAttr(llvm::Attribute::NoUnwind);
    inner->addFnAttr(llvm::Attribute::AlwaysInline);

    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", inner);
    b_.SetInsertPoint(entry);
    nest_ = BuildLoopNest(k);
    program_ = &k.program;
    for (size_t i = 0; i < n_in; ++i) ins_.push_back(inner->getArg(i));
    out_ = inner->getArg(n_in);
    std::vector<llvm::Value*> offs(n_in, b_.getInt64(0));
    // The loops below test their bound after the body, so an empty output must not enter them.
    const bool empty = std::find(k.out_shape.begin(), k.out_shape.end(), 0) != k.out_shape.end();
    if (!empty) EmitLoop(inner, 0, offs, b_.getInt64(0));
    b_.CreateRetVoid();
    ins_.clear();

    // The entry point the runtime calls: void SYMBOL(void** args).
    auto* outer = llvm::Function::Create(llvm::FunctionType::get(void_ty, {ptr}, false),
                                         llvm::Function::ExternalLinkage, k.symbol, m_);
    outer->addFnAttr(llvm::Attribute::NoUnwind);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", outer));
    std::vector<llvm::Value*> args;
    for (size_t i = 0; i <= n_in; ++i) {
      llvm::Value* slot = b_.CreateConstInBoundsGEP1_64(ptr, outer->getArg(0), i);
      args.push_back(b_.CreateLoad(ptr, slot));
    }
    b_.CreateCall(inner, args);
    b_.CreateRetVoid();
  }

 private:
  // Loop over merged dim `d`; offs are element offsets of each input, out_off of the output.
  void EmitLoop(llvm::Function* f, size_t d, const std::vector<llvm::Value*>& offs,
                llvm::Value* out_off) {
    if (d == nest_.dims.size()) {
      EmitBody(offs, out_off);
      return;
    }
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* loop = llvm::BasicBlock::Create(ctx_, "loop" + std::to_string(d), f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "exit" + std::to_string(d), f);
    b_.CreateBr(loop);
    b_.SetInsertPoint(loop);
    llvm::PHINode* iv = b_.CreatePHI(b_.getInt64Ty(), 2, "i" + std::to_string(d));
    iv->addIncoming(b_.getInt64(0), pre);
    int64_t inner_elems = 1;
    for (size_t e = d + 1; e < nest_.dims.size(); ++e) inner_elems *= nest_.dims[e];
    std::vector<llvm::Value*> next(offs.size());
    for (size_t i = 0; i < offs.size(); ++i) {
      int64_t s = nest_.in_strides[i][d];
      next[i] = s == 0 ? offs[i] : b_.CreateAdd(offs[i], b_.CreateMul(iv, b_.getInt64(s)));
    }
    llvm::Value* next_out = b_.CreateAdd(out_off, b_.CreateMul(iv, b_.getInt64(inner_elems)));
    EmitLoop(f, d + 1, next, next_out);
    llvm::Value* inc = b_.CreateAdd(iv, b_.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
    iv->addIncoming(inc, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpULT(inc, b_.getInt64(nest_.dims[d])), loop, exit);
    b_.SetInsertPoint(exit);
  }

  void EmitBody(const std::vector<llvm::Value*>& offs, llvm::Value* out_off) {
    llvm::Type* f32 = b_.getFloatTy();
    std::vector<llvm::Value*> stack;
    for (const ExprInstr& in : program_->instrs) {
      if (in.input >= 0) {
        llvm::Value* p = b_.CreateInBoundsGEP(f32, ins_[in.input], offs[in.input]);
        stack.push_back(b_.CreateLoad(f32, p));
        continue;
      }
      llvm::Value* x = stack.back();
      if (in.arity == 2) {
        stack.pop_back();
        llvm::Value* a = stack.back();
        llvm::Value* r = in.op == "Add"   ? b_.CreateFAdd(a, x)
                         : in.op == "Sub" ? b_.CreateFSub(a, x)
                         : in.op == "Mul" ? b_.CreateFMul(a, x)
                                          : b_.CreateFDiv(a, x);
        stack.back() = r;
        continue;
      }
      stack.back() = Unary(in.op, x);
    }
    b_.CreateStore(stack.back(), b_.CreateInBoundsGEP(f32, out_, out_off));
  }

  llvm::Value* Intrinsic(llvm::Intrinsic::ID id, llvm::Value* x) {
    llvm::Function* fn = llvm::Intrinsic::getDeclaration(&m_, id, {b_.getFloatTy()});
    return b_.CreateCall(fn, {x});
  }

  llvm::Value* F(double v) { return llvm::ConstantFP::get(b_.getFloatTy(), v); }

  // a0 + x (a1 + x (a2 + ...)), Horner's rule.
  llvm::Value* Poly(llvm::Value* x, std::initializer_list<double> coeffs) {
    std::vector<double> c(coeffs);
    llvm::Value* acc = F(c.back());
    for (size_t i = c.size() - 1; i-- > 0;) acc = b_.CreateFAdd(b_.CreateFMul(acc, x), F(c[i]));
    return acc;
  }

  // exp(x) in straight-line float arithmetic, so the loop vectoriser keeps it in vector
  // registers (llvm.exp would become one expf call per element): x = n ln2 + r with
  // |r| <= ln2/2 (ln2 split in two for an exact n ln2), e^r by its Taylor polynomial to r^7
  // (truncation below 6e-9 relative), times 2^n as two powers of two built in the exponent
  // bits (each stays normal, so results down to the denormals come out right). Above
  // log(FLT_MAX) +inf, below the smallest denormal's log 0; NaN stays NaN.
  llvm::Value* Exp(llvm::Value* x) {
    llvm::Type* i32 = b_.getInt32Ty();
    llvm::Value* xc = b_.CreateSelect(b_.CreateFCmpOGT(x, F(88.72283)), F(88.72283), x);
    xc = b_.CreateSelect(b_.CreateFCmpOLT(xc, F(-103.97208)), F(-103.97208), xc);
    llvm::Value* n = Intrinsic(llvm::Intrinsic::floor,
                               b_.CreateFAdd(b_.CreateFMul(xc, F(1.4426950408889634)), F(0.5)));
    llvm::Value* r = b_.CreateFSub(xc, b_.CreateFMul(n, F(0.693359375)));
    r = b_.CreateFSub(r, b_.CreateFMul(n, F(-2.12194440e-4)));
    llvm::Value* p = Poly(r, {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040});
    llvm::Value* ni = b_.CreateFPToSI(n, i32);
    llvm::Value* half = b_.CreateAShr(ni, 1);
    auto pow2 = [&](llvm::Value* e) {
      return b_.CreateBitCast(b_.CreateShl(b_.CreateAdd(e, b_.getInt32(127)), 23), b_.getFloatTy());
    };
    llvm::Value* y = b_.CreateFMul(b_.CreateFMul(p, pow2(half)), pow2(b_.CreateSub(ni, half)));
    y = b_.CreateSelect(b_.CreateFCmpOGT(x, F(88.72283)), F(INFINITY), y);
    y = b_.CreateSelect(b_.CreateFCmpOLT(x, F(-103.97208)), F(0.0), y);
    return b_.CreateSelect(b_.CreateFCmpUNO(x, x), x, y);
  }

  // tanh: the odd Taylor series below |x| = 0.25 (next term under 3e-9), 1 - 2 / (e^2|x| + 1)
  // above; the sign copied back.
  llvm::Value* Tanh(llvm::Value* x) {
    llvm::Value* a = Intrinsic(llvm::Intrinsic::fabs, x);
    llvm::Value* a2 = b_.CreateFMul(a, a);
    llvm::Value* small = b_.CreateFAdd(
        a, b_.CreateFMul(b_.CreateFMul(a, a2),
                         Poly(a2, {-1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835})));
    llvm::Value* e = Exp(b_.CreateFMul(a, F(2.0)));
    llvm::Value* large = b_.CreateFSub(F(1.0), b_.CreateFDiv(F(2.0), b_.CreateFAdd(e, F(1.0))));
    llvm::Value* t = b_.CreateSelect(b_.CreateFCmpOLT(a, F(0.25)), small, large);
    llvm::Function* copysign =
        llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::copysign, {b_.getFloatTy()});
    return b_.CreateCall(copysign, {t, x});
  }

  // erf: its Taylor series below |x| = 0.5 (next term under 2e-8), above it Abramowitz and
  // Stegun's 7.1.26, 1 - t (a1 + t (a2 + ...)) e^-x^2 with t = 1 / (1 + p |x|) (absolute
  // error under 1.5e-7); the sign copied back.
  llvm::Value* Erf(llvm::Value* x) {
    llvm::Value* a = Intrinsic(llvm::Intrinsic::fabs, x);
    llvm::Value* a2 = b_.CreateFMul(a, a);
    const double k = 1.1283791670955126;  // 2 / sqrt(pi)
    llvm::Value* small = b_.CreateFMul(
        a, Poly(a2, {k, -k / 3, k / 10, -k / 42, k / 216, -k / 1320}));
    llvm::Value* t = b_.CreateFDiv(F(1.0), b_.CreateFAdd(F(1.0), b_.CreateFMul(a, F(0.3275911))));
    llvm::Value* poly = b_.CreateFMul(
        t, Poly(t, {0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429}));
    llvm::Value* large = b_.CreateFSub(F(1.0), b_.CreateFMul(poly, Exp(b_.CreateFNeg(a2))));
    llvm::Value* r = b_.CreateSelect(b_.CreateFCmpOLT(a, F(0.5)), small, large);
    llvm::Function* copysign =
        llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::copysign, {b_.getFloatTy()});
    return b_.CreateCall(copysign, {r, x});
  }

  llvm::Value* Unary(const std::string& op, llvm::Value* x) {
    llvm::Type* f32 = b_.getFloatTy();
    llvm::Constant* zero = llvm::ConstantFP::get(f32, 0.0);
    llvm::Constant* one = llvm::ConstantFP::get(f32, 1.0);
    if (op == "Relu") return b_.CreateSelect(b_.CreateFCmpOLT(x, zero), zero, x);  // NaN stays NaN
    if (op == "Neg") return b_.CreateFNeg(x);
    if (op == "Exp") return Exp(x);
    if (op == "Log") return Intrinsic(llvm::Intrinsic::log, x);
    if (op == "Sqrt") return Intrinsic(llvm::Intrinsic::sqrt, x);
    if (op == "Abs") return Intrinsic(llvm::Intrinsic::fabs, x);
    if (op == "Sigmoid") return b_.CreateFDiv(one, b_.CreateFAdd(one, Exp(b_.CreateFNeg(x))));
    if (op == "Erf") return Erf(x);
    return Tanh(x);
  }

  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  LoopNest nest_;
  const ExprProgram* program_ = nullptr;
  std::vector<llvm::Value*> ins_;
  llvm::Value* out_ = nullptr;
};

}  // namespace

StatusOr<std::vector<uint8_t>> EmitCpuModule(const std::vector<ElementwiseKernel>& kernels,
                                             std::string* ir_text) {
  llvm::LLVMContext ctx;
  llvm::Module m("tensorshunt.kernels", ctx);
  m.setSourceFileName("tensorshunt");
  KernelEmitter emitter(m);
  for (const ElementwiseKernel& k : kernels) {
    if (static_cast<int>(k.in_shapes.size()) != k.program.num_inputs) {
      return InternalError("kernel " + k.symbol + ": input count does not match its program");
    }
    emitter.Emit(k);
  }
  std::string err;
  llvm::raw_string_ostream err_os(err);
  if (llvm::verifyModule(m, &err_os)) {
    return InternalError("generated LLVM IR does not verify: " + err_os.str());
  }
  if (ir_text) {
    ir_text->clear();
    llvm::raw_string_ostream os(*ir_text);
    m.print(os, nullptr);
  }
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::WriteBitcodeToFile(m, os);
  return std::vector<uint8_t>(buf.begin(), buf.end());
}

}  // namespace ts::codegen
