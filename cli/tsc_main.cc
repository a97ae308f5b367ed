// tsc: the TensorShunt compiler. `tsc compile` plans a model under a memory budget and writes a
// .tsplan bundle; `tsc inspect` describes a model, or draws a bundle's memory plan (--timeline).
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/common.h"
#include "cli/plan_diff.h"
#include "cli/profile_probe.h"
#include "cli/timeline.h"
#include "codegen/lower_cpu.h"
#include "codegen/lower_cuda.h"
#include "codegen/nvrtc.h"
#include "frontend/llama.h"
#include "frontend/onnx_importer.h"
#include "frontend/safetensors.h"
#include "ir/text.h"
#include "passes/hardware_profile.h"
#include "passes/pipeline.h"
#include "passes/shape_inference.h"
#include "planfmt/format.h"
#include "planfmt/reader.h"
#include "planfmt/writer.h"
#include "runtime/tensor_io.h"
#include "runtime/tokenizer.h"

namespace ts::cli {
namespace {

constexpr const char* kVersion = "0.1.0";

struct CompileArgs {
  std::string model;
  std::string out;
  std::string vram;
  bool vram_given = false;
  std::string max_peak;
  bool max_peak_given = false;
  std::vector<std::string> shapes;
  std::vector<std::string> binds;
  std::string report;
  std::string target = "cpu";
  std::string profile;
  std::string dump_after;
  std::string emit_llvm;
  bool verbose = false;
  bool no_spill = false, no_remat = false;
  std::string max_seq_len_text;  // --max-seq-len as given: "", an integer or "auto"
  int64_t max_seq_len = 0;  // checkpoints: a decoding step with a key/value cache of this many tokens
  int64_t max_seq_len_config = 0;  // with "auto": the config's max_position_embeddings
  int64_t max_seq_len_most = 0;    // with "auto": that, cut to what the graph builder and sliding window take
  int64_t prefill_tokens = 0;  // checkpoints with --max-seq-len: a prefill program of this many tokens
  std::string weight_quant = "auto";  // checkpoints: auto, f32 (or none), f16, bf16 or int8
};

StatusOr<std::map<std::string, std::vector<int64_t>>> ParseShapes(
    const std::vector<std::string>& args) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& a : args) {
    ASSIGN_OR_RETURN(auto kv, ParseShapeArg(a));
    if (!shapes.emplace(kv.first, kv.second).second) {
      return UsageError("--shape " + kv.first + " is given twice");
    }
  }
  return shapes;
}

// --bind NAME=@FILE|INLINE: graph inputs fixed at compile time.
StatusOr<std::map<std::string, frontend::ImportOptions::Bound>> ParseBinds(
    const std::vector<std::string>& args) {
  std::map<std::string, frontend::ImportOptions::Bound> bound;
  for (const std::string& a : args) {
    auto kv = runtime::ParseInputArg(a);
    if (!kv.ok()) return UsageError("--bind " + kv.status().message());
    auto& [name, t] = *kv;
    frontend::ImportOptions::Bound b{t.dtype, t.shape, std::move(t.data)};
    if (!bound.emplace(name, std::move(b)).second) {
      return UsageError("--bind " + name + " is given twice");
    }
  }
  return bound;
}

std::string DefaultOutput(const std::string& model) {
  std::string base = model;
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  if (auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base + ".tsplan";
}

// Bytes of the weights the program updates in place: a decoding step's key/value cache.
uint64_t WrittenWeightBytes(const passes::CompiledGraph& cg) {
  uint64_t bytes = 0;
  for (const auto& b : cg.liveness.buffers) bytes += b.written ? b.bytes : 0;
  return bytes;
}

Status WriteReport(const std::string& path, const CompileArgs& args, uint64_t budget,
                   const passes::CompiledGraph& cg, const codegen::LoweredPlan& lowered,
                   uint64_t bundle_bytes, const passes::CompiledGraph* prefill) {
  nlohmann::ordered_json j;
  j["tsc_version"] = kVersion;
  j["target"] = args.target;
  j["profile"] = args.profile.empty() ? nlohmann::json(nullptr) : nlohmann::json(args.profile);
  j["budget_bytes"] = budget ? nlohmann::json(budget) : nlohmann::json(nullptr);
  j["peak_bytes"] = cg.offsets.arena_bytes;
  j["runtime_overhead_bytes"] = cg.StagingBytes();
  j["total_bytes"] = cg.TotalBytes();
  j["lower_bound_bytes"] = cg.lower_bound.bytes;
  j["peak_over_lower_bound"] =
      cg.lower_bound.bytes ? double(cg.offsets.arena_bytes) / double(cg.lower_bound.bytes) : 1.0;
  j["peak_step"] = cg.lower_bound.step;
  j["peak_node"] = cg.peak_node;
  j["resident_weight_bytes"] = cg.resident_weight_bytes;
  // The CUDA runtime copies streamed weights from pinned host memory; the CPU one reads storage.
  const bool gpu = args.target == "cuda";
  j["streamed_bytes"] = {{"host_to_device", gpu ? cg.streamed_bytes : 0}, {"storage", gpu ? 0 : cg.streamed_bytes}};
  // Checkpoints compiled for decoding: the key/value cache, resident and updated in place.
  if (args.max_seq_len > 0) {
    j["kv_cache_tokens"] = args.max_seq_len;
    j["kv_cache_bytes"] = WrittenWeightBytes(cg);
    // --max-seq-len auto: the config's length, and whether the budget cut it.
    if (args.max_seq_len_config > 0) {
      j["kv_cache_tokens_config"] = args.max_seq_len_config;
      j["kv_cache_tokens_capped_by_budget"] = args.max_seq_len < args.max_seq_len_most;
    }
  }
  j["weight_quant"] = args.weight_quant;
  // The prefill program: its own arena (one program runs at a time) and streamed bytes per run.
  if (prefill) {
    j["prefill_tokens"] = args.prefill_tokens;
    j["prefill_peak_bytes"] = prefill->offsets.arena_bytes;
    j["prefill_streamed_bytes"] = prefill->streamed_bytes;
    j["prefill_predicted_ms"] = prefill->predicted ? nlohmann::json(prefill->predicted->total_s * 1e3) : nlohmann::json(nullptr);
  }
  j["spilled_activations"] = cg.spills;
  j["spilled_bytes"] = cg.spilled_bytes;
  j["recomputed_activations"] = cg.recomputed;
  j["recomputed_bytes"] = cg.recomputed_bytes;
  if (cg.predicted) {
    j["predicted_on"] = args.profile.empty() ? "cpu-host" : args.profile;
    j["predicted_ms"] = cg.predicted->total_s * 1e3;
    j["predicted_compute_ms"] = cg.predicted->compute_s * 1e3;
    j["predicted_transfer_ms"] = cg.predicted->transfer_s * 1e3;
    j["predicted_host_copy_ms"] = cg.predicted->host_copy_s * 1e3;
    j["predicted_stall_ms"] = cg.predicted->stall_s * 1e3;
    j["predicted_hidden_fraction"] = cg.predicted->hidden_fraction;
  }
  j["prefetch_distance"] = cg.prefetch_distance;
  j["steps"] = lowered.contents.program.steps.size();
  j["generated_kernels"] = lowered.contents.kernels.symbols.size();
  j["bundle_bytes"] = bundle_bytes;
  nlohmann::ordered_json passes = nlohmann::json::array();
  for (const auto& t : cg.timings) passes.push_back({{"pass", t.pass}, {"ms", t.ms}, {"note", t.note}});
  j["passes"] = passes;
  return WriteTextFile(path, j.dump(2) + "\n", "report");
}

frontend::MatrixFormat MatrixFormatOf(const std::string& quant) {
  if (quant == "f32") return frontend::MatrixFormat::kF32;
  if (quant == "f16") return frontend::MatrixFormat::kF16;
  if (quant == "bf16") return frontend::MatrixFormat::kBF16;
  if (quant == "int8") return frontend::MatrixFormat::kInt8;
  return frontend::MatrixFormat::kAsStored;
}

// --max-seq-len auto under a budget: the most cache tokens (at most `most`) whose decoding-step
// plan fits, by bisection over compiled plans; the plan at `seq` tokens must fit.
StatusOr<int64_t> LargestFittingCache(const CompileArgs& args, int64_t seq, int64_t most,
                                      const passes::PipelineOptions& popts) {
  passes::PipelineOptions quiet = popts;
  quiet.dump_after.clear();
  auto fits = [&](int64_t tokens) -> StatusOr<bool> {
    ASSIGN_OR_RETURN(ir::Graph g, frontend::BuildLlamaGraph(args.model, seq, tokens, MatrixFormatOf(args.weight_quant)));
    StatusOr<passes::CompiledGraph> cg = passes::RunPipeline(std::move(g), quiet);
    if (cg.ok()) return true;
    if (cg.status().code() == Code::kDoesNotFit) return false;
    return cg.status();
  };
  ASSIGN_OR_RETURN(const bool all, fits(most));
  if (all) return most;
  int64_t lo = seq, hi = most;  // lo fits (checked next), hi does not
  ASSIGN_OR_RETURN(const bool least, fits(lo));
  if (!least) return lo;  // the caller's compile reports why not even that fits
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    std::fprintf(stderr, "tsc: --max-seq-len auto: %lld tokens fit the budget, %lld do not; trying %lld\n",
                 static_cast<long long>(lo), static_cast<long long>(hi), static_cast<long long>(mid));
    ASSIGN_OR_RETURN(const bool ok, fits(mid));
    (ok ? lo : hi) = mid;
  }
  return lo;
}

Status Compile(CompileArgs args) {
  if (args.target != "cpu" && args.target != "cuda") {
    return UsageError("--target " + args.target + ": the targets are cpu and cuda");
  }
  std::optional<passes::HardwareProfile> profile;
  if (!args.profile.empty()) {
    ASSIGN_OR_RETURN(profile, passes::ResolveHardwareProfile(args.profile));
    if (profile->target != args.target) {
      return UsageError("--profile " + args.profile + " describes a " + profile->target +
                        " machine but the target is " + args.target + "; pass --target " +
                        profile->target + " or a " + args.target + " profile");
    }
  }
  uint64_t budget = 0, max_peak = 0;
  if (args.vram_given) {
    ASSIGN_OR_RETURN(budget, ParseSize(args.vram));
  } else if (profile) {
    budget = profile->device_memory_bytes;  // the profile's memory is the budget by default
  }
  if (args.max_peak_given) {
    ASSIGN_OR_RETURN(max_peak, ParseSize(args.max_peak));
  }
  frontend::ImportOptions import_options;
  ASSIGN_OR_RETURN(import_options.input_shapes, ParseShapes(args.shapes));
  ASSIGN_OR_RETURN(import_options.bound_inputs, ParseBinds(args.binds));
  if (!args.dump_after.empty()) {
    const auto& names = passes::PassNames();
    if (std::find(names.begin(), names.end(), args.dump_after) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return UsageError("--dump-after " + args.dump_after + ": no such pass (passes: " + list + ")");
    }
  }

  struct stat model_stat;
  const bool checkpoint = stat(args.model.c_str(), &model_stat) == 0 && S_ISDIR(model_stat.st_mode);
  ir::Graph graph;
  std::string model_hash;
  std::string tokenizer_json;  // a checkpoint's tokenizer.json, carried into the bundle
  std::vector<int64_t> eos_ids;
  int64_t tokenizer_tokens = 0;
  const bool auto_seq_len = args.max_seq_len_text == "auto";
  if (!args.max_seq_len_text.empty() && !auto_seq_len) {
    const std::string& t = args.max_seq_len_text;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), args.max_seq_len);
    if (ec != std::errc() || end != t.data() + t.size() || args.max_seq_len < 1) {
      return UsageError("--max-seq-len " + OneLine(t) + ": give a number of tokens (1 or more) or auto");
    }
  }
  if (!checkpoint && !args.max_seq_len_text.empty()) {
    return UsageError("--max-seq-len applies to checkpoint folders only");
  }
  if (args.prefill_tokens != 0 && (args.prefill_tokens < 1 || args.max_seq_len_text.empty())) {
    return UsageError("--prefill-tokens N (N >= 1) goes with --max-seq-len: it adds a program that takes the "
                      "prompt N tokens per run into the decoding step's cache");
  }
  if (args.prefill_tokens != 0 && args.target == "cuda") {
    return UsageError("--prefill-tokens is for the CPU target in this version");
  }
  // Predictions use the given profile, or the built-in cpu-host (h100-pcie5) one for the CPU
  // (CUDA) target; a CUDA plan is compiled for that profile's architecture.
  ASSIGN_OR_RETURN(passes::HardwareProfile predict_on,
                   profile ? StatusOr<passes::HardwareProfile>(*profile)
                           : passes::ResolveHardwareProfile(args.target == "cuda" ? "h100-pcie5" : "cpu-host"));
  passes::PipelineOptions popts;
  popts.budget_bytes = budget;
  popts.spill = !args.no_spill && args.target != "cuda";  // the CUDA runtime has no spill file yet
  popts.remat = !args.no_remat;
  popts.profile = &predict_on;
  popts.half_products = args.target == "cuda";
  popts.conv_epilogues = args.target != "cuda";  // the GPU backend runs plain Conv only
  popts.blocked_matmul_weights = args.target != "cuda";  // a CPU kernel's layout
  popts.dump_after = args.dump_after;
  if (args.weight_quant == "none") args.weight_quant = "f32";
  if (args.weight_quant != "auto" && args.weight_quant != "f32" && args.weight_quant != "f16" &&
      args.weight_quant != "bf16" && args.weight_quant != "int8") {
    return UsageError("--weight-quant " + OneLine(args.weight_quant) + ": give auto, f32, f16, bf16 or int8");
  }
  if (!checkpoint && args.weight_quant != "auto") {
    return UsageError("--weight-quant applies to checkpoint folders only");
  }
  if (checkpoint) {
    // A Hugging Face checkpoint folder: the sequence length comes from --shape input_ids=1xS.
    struct stat config_stat;
    if (stat((args.model + "/config.json").c_str(), &config_stat) != 0) {
      return BadInputError(args.model + " is a folder without a config.json: give an ONNX model file or a "
                           "Hugging Face checkpoint folder (config.json + safetensors)");
    }
    auto it = import_options.input_shapes.find("input_ids");
    if (it == import_options.input_shapes.end() || it->second.size() != 2 || it->second[0] != 1 ||
        import_options.input_shapes.size() != 1 || !import_options.bound_inputs.empty()) {
      return UsageError(args.model + " is a checkpoint folder: give the number of tokens with "
                        "--shape input_ids=1xN (and no other --shape or --bind)");
    }
    std::ifstream config_file(args.model + "/config.json");
    std::stringstream config_text;
    config_text << config_file.rdbuf();
    ASSIGN_OR_RETURN(const frontend::LlamaConfig config,
                     frontend::ParseLlamaConfig(config_text.str(), args.model + "/config.json"));
    if (auto_seq_len) {
      // The config's context length (at most what the graph builder takes, and no more than the
      // sliding window), then as much of it as the budget leaves room for.
      if (config.max_positions == 0) {
        return BadInputError(args.model + "/config.json has no max_position_embeddings for --max-seq-len auto; "
                             "give the number of tokens");
      }
      args.max_seq_len_config = config.max_positions;
      int64_t most = std::min<int64_t>(config.max_positions, int64_t{1} << 20);
      if (config.sliding_window > 0) most = std::min(most, config.sliding_window);
      most = std::max(most, it->second[1]);
      args.max_seq_len = args.max_seq_len_most = most;
      if (budget) {
        ASSIGN_OR_RETURN(args.max_seq_len, LargestFittingCache(args, it->second[1], most, popts));
      }
    }
    ASSIGN_OR_RETURN(graph, frontend::BuildLlamaGraph(args.model, it->second[1], args.max_seq_len,
                                                      MatrixFormatOf(args.weight_quant)));
    ASSIGN_OR_RETURN(eos_ids, frontend::ReadEosTokenIds(args.model));
    const int64_t vocab = config.vocab;
    for (int64_t id : eos_ids) {
      if (id >= vocab) {
        return BadInputError(args.model + ": eos_token_id " + std::to_string(id) + " is outside the vocabulary of " +
                             std::to_string(vocab) + " tokens");
      }
    }
    // The tokenizer, checked here so that a bundle never carries one tsr cannot use.
    const std::string tokenizer_path = args.model + "/tokenizer.json";
    if (std::ifstream tf(tokenizer_path, std::ios::binary); tf) {
      std::stringstream text;
      text << tf.rdbuf();
      tokenizer_json = text.str();
      ASSIGN_OR_RETURN(auto tokenizer, runtime::Tokenizer::Parse(tokenizer_json, tokenizer_path));
      tokenizer_tokens = tokenizer->vocab_size();
      if (tokenizer->vocab_size() > vocab) {
        return BadInputError(tokenizer_path + ": token ids run to " + std::to_string(tokenizer->vocab_size() - 1) +
                             " but the model's vocabulary has " + std::to_string(vocab) +
                             " tokens; is it the tokenizer of another model?");
      }
    }
    // The configuration and every tensor's place: enough to tell checkpoints apart without
    // reading gigabytes of weights here (the bundle's weights carry their own checksums).
    ASSIGN_OR_RETURN(model_hash, HashFile(args.model + "/config.json"));
    ASSIGN_OR_RETURN(const frontend::SafetensorsCheckpoint ck, frontend::OpenSafetensorsCheckpoint(args.model));
    for (const auto& t : ck.tensors) {
      model_hash += ";" + t.name + "@" + t.file + ":" + std::to_string(t.offset) + "+" + std::to_string(t.bytes);
    }
    char h[32];
    std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(XXH3_64bits(model_hash.data(), model_hash.size())));
    model_hash = h;
  } else {
    ASSIGN_OR_RETURN(graph, frontend::ImportOnnx(args.model, import_options));
    ASSIGN_OR_RETURN(model_hash, HashFile(args.model));
  }
  ASSIGN_OR_RETURN(passes::CompiledGraph cg, passes::RunPipeline(std::move(graph), popts));
  if (args.verbose) {
    for (const auto& t : cg.timings) {
      std::fprintf(stderr, "  pass %-16s %8.2f ms  %s\n", t.pass.c_str(), t.ms, t.note.c_str());
    }
  }
  if (!cg.dump.empty()) std::cerr << "--- IR after " << args.dump_after << " ---\n" << cg.dump;

  char profile_hash[32] = "";
  if (profile) {
    std::snprintf(profile_hash, sizeof profile_hash, "%016llx",
                  static_cast<unsigned long long>(passes::ProfileHash(*profile)));
  }
  planfmt::Metadata meta = {{"source_model_hash", "xxh3:" + model_hash},
                            {"tsc_version", kVersion},
                            {"profile", profile ? profile->name : "none"}};
  if (profile) meta.emplace_back("profile_hash", std::string("fnv1a64:") + profile_hash);
  if (args.max_seq_len > 0) meta.emplace_back("kv_cache_tokens", std::to_string(args.max_seq_len));
  if (checkpoint) meta.emplace_back("weight_quant", args.weight_quant);
  if (!eos_ids.empty()) {
    std::string list;
    for (int64_t id : eos_ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    meta.emplace_back("eos_token_ids", list);
  }
  // For `tsc inspect --timeline`'s budget line; 0 (no budget) is not recorded.
  if (budget) meta.emplace_back("budget_bytes", std::to_string(budget));
  if (cg.predicted) {
    char ms[64];
    std::snprintf(ms, sizeof ms, "%.6f", cg.predicted->total_s * 1e3);
    meta.emplace_back("predicted_ms", ms);
    meta.emplace_back("predicted_on", predict_on.name);
  }
  ASSIGN_OR_RETURN(codegen::LoweredPlan lowered, codegen::LowerForCpu(cg, std::move(meta)));
  if (args.target == "cuda") {
    const std::string arch = predict_on.cuda_arch.empty() ? "sm_90" : predict_on.cuda_arch;
    ASSIGN_OR_RETURN(lowered.contents.kernels, codegen::LowerKernelsForCuda(lowered, arch));
    ASSIGN_OR_RETURN(std::string nvrtc, codegen::NvrtcVersion());
    for (auto& [key, value] : lowered.contents.metadata) {
      if (key == "target") value = "cuda";
      if (key == "kernel_format") value = "cuda: " + arch + " cubin + PTX fallback (NVRTC " + nvrtc + ")";
    }
  }
  lowered.contents.tokenizer = std::move(tokenizer_json);
  // The prefill program: the same checkpoint over --prefill-tokens tokens into the same cache,
  // planned under the same budget; its weights share the main program's bytes in the bundle.
  std::unique_ptr<passes::CompiledGraph> prefill_cg;
  std::vector<planfmt::WeightBlob> prefill_blobs;
  if (args.prefill_tokens > 0) {
    ASSIGN_OR_RETURN(ir::Graph pg, frontend::BuildLlamaGraph(args.model, args.prefill_tokens, args.max_seq_len,
                                                             MatrixFormatOf(args.weight_quant)));
    passes::PipelineOptions quiet = popts;
    quiet.dump_after.clear();
    StatusOr<passes::CompiledGraph> pcg = passes::RunPipeline(std::move(pg), quiet);
    if (!pcg.ok()) {
      return pcg.status().code() == Code::kDoesNotFit
                 ? DoesNotFitError("the prefill program of " + std::to_string(args.prefill_tokens) +
                                   " tokens does not fit: " + pcg.status().message() + "; or give fewer --prefill-tokens")
                 : pcg.status();
    }
    prefill_cg = std::make_unique<passes::CompiledGraph>(std::move(*pcg));
    ASSIGN_OR_RETURN(codegen::LoweredPlan pl, codegen::LowerForCpu(*prefill_cg, {}));
    lowered.contents.prefill = planfmt::SubPlan{std::move(pl.contents.program), std::move(pl.contents.memory),
                                                std::move(pl.contents.kernels), std::move(pl.contents.weights)};
    prefill_blobs = std::move(pl.blobs);
  }
  if (!args.emit_llvm.empty()) {
    RETURN_IF_ERROR(WriteTextFile(args.emit_llvm, lowered.llvm_ir, "--emit-llvm"));
  }
  const std::string out = args.out.empty() ? DefaultOutput(args.model) : args.out;
  RETURN_IF_ERROR(planfmt::WriteBundle(out, lowered.contents, lowered.blobs, prefill_blobs));
  uint64_t bundle_bytes = 0;
  if (FILE* f = std::fopen(out.c_str(), "rb")) {
    std::fseek(f, 0, SEEK_END);
    bundle_bytes = static_cast<uint64_t>(std::ftell(f));
    std::fclose(f);
  }
  if (!args.report.empty()) {
    RETURN_IF_ERROR(WriteReport(args.report, args, budget, cg, lowered, bundle_bytes, prefill_cg.get()));
  }

  const auto& prog = lowered.contents.program;
  size_t jit = lowered.contents.kernels.symbols.size();
  std::printf("tsc: compiled %s -> %s (%s)\n", args.model.c_str(), out.c_str(),
              FormatSize(bundle_bytes).c_str());
  if (tokenizer_tokens > 0) {
    std::printf("  tokenizer    tokenizer.json (%lld tokens) carried in the bundle for tsr generate --prompt\n",
                static_cast<long long>(tokenizer_tokens));
  }
  std::printf("  budget       %s\n", budget ? FormatSize(budget).c_str() : "none (--vram not given)");
  std::printf("  peak         %s arena + %s I/O staging = %s%s\n",
              FormatSize(cg.offsets.arena_bytes).c_str(), FormatSize(cg.StagingBytes()).c_str(),
              FormatSize(cg.TotalBytes()).c_str(),
              budget ? (" (" + std::to_string(100.0 * cg.TotalBytes() / budget).substr(0, 5) +
                        "% of budget)").c_str()
                     : "");
  std::printf("  lower bound  %s live at step %lld (node '%s'); peak/bound %.3f\n",
              FormatSize(cg.lower_bound.bytes).c_str(),
              static_cast<long long>(cg.lower_bound.step), OneLine(cg.peak_node).c_str(),
              cg.lower_bound.bytes ? double(cg.offsets.arena_bytes) / cg.lower_bound.bytes : 1.0);
  size_t streamed = 0;
  for (const auto& w : lowered.contents.weights) streamed += w.streamed;
  std::printf("  weights      %s resident in %zu tensors", FormatSize(cg.resident_weight_bytes).c_str(),
              lowered.contents.weights.size() - streamed);
  if (streamed) {
    std::printf("; %s streamed from %s on every run in %zu tensors (prefetch %d step%s)",
                FormatSize(cg.streamed_bytes).c_str(),
                args.target == "cuda" ? "pinned host memory" : "the bundle", streamed, cg.prefetch_distance,
                cg.prefetch_distance == 1 ? "" : "s");
  }
  std::printf("\n");
  if (args.max_seq_len > 0) {
    std::printf("  kv cache     %lld tokens, %s, resident (part of the weights above)%s\n",
                static_cast<long long>(args.max_seq_len), FormatSize(WrittenWeightBytes(cg)).c_str(),
                args.max_seq_len_config == 0 ? ""
                : args.max_seq_len == args.max_seq_len_config
                    ? "; --max-seq-len auto: the config's max_position_embeddings"
                : args.max_seq_len == args.max_seq_len_most
                    ? ("; --max-seq-len auto: the config says " + std::to_string(args.max_seq_len_config) +
                       ", cut to the sliding window or this version's limit").c_str()
                    : ("; --max-seq-len auto: the config says " + std::to_string(args.max_seq_len_config) +
                       ", the budget leaves room for this many").c_str());
  }
  std::printf("  steps        %zu (%zu generated kernels, %zu builtins)\n", prog.steps.size(), jit,
              prog.steps.size() - jit);
  if (cg.predicted) {
    std::printf("  predicted    %.3f ms per run on %s (compute %.3f ms, reads %.3f ms, %.0f%% hidden",
                cg.predicted->total_s * 1e3, predict_on.name.c_str(), cg.predicted->compute_s * 1e3,
                cg.predicted->transfer_s * 1e3, cg.predicted->hidden_fraction * 100);
    if (cg.predicted->host_copy_s > 0) {
      std::printf("; the host copies and checks read bytes for %.3f ms", cg.predicted->host_copy_s * 1e3);
    }
    std::printf(")\n");
  }
  if (prefill_cg) {
    std::printf("  prefill      %lld tokens per run into the same cache: peak %s arena (one program runs at a "
                "time)%s\n", static_cast<long long>(args.prefill_tokens),
                FormatSize(prefill_cg->offsets.arena_bytes).c_str(),
                prefill_cg->streamed_bytes ? ("; " + FormatSize(prefill_cg->streamed_bytes) + " streamed per run").c_str() : "");
  }
  const uint64_t peak = std::max<uint64_t>(cg.offsets.arena_bytes, prefill_cg ? prefill_cg->offsets.arena_bytes : 0);
  if (args.max_peak_given && peak > max_peak) {
    return CheckFailedError("the plan's peak of " + std::to_string(peak) +
                            " bytes exceeds --max-peak " + std::to_string(max_peak) +
                            " bytes; the bundle and report were written for inspection");
  }
  return OkStatus();
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return IoError("cannot open '" + path + "'; check the path");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return IoError("reading '" + path + "' failed");
  return text;
}

Status PlanDiffCommand(const std::string& base, const std::string& next, double max_increase) {
  ASSIGN_OR_RETURN(std::string base_text, ReadText(base));
  ASSIGN_OR_RETURN(std::string next_text, ReadText(next));
  ASSIGN_OR_RETURN(PlanDiff d, DiffPlanReports(base_text, base, next_text, next, max_increase));
  std::printf("tsc plan-diff %s -> %s: peak %+.2f%% (allowed +%.2f%%)\n", base.c_str(), next.c_str(),
              d.peak_increase_pct, max_increase);
  std::printf("%s", d.table.empty() ? "  no change\n" : d.table.c_str());
  if (d.regressed) {
    return CheckFailedError("the plan's peak grew by " + std::to_string(d.peak_increase_pct) +
                            "%, more than --max-increase " + std::to_string(max_increase) + "%");
  }
  return OkStatus();
}

Status ProbeCommand(ProbeOptions options, const std::string& out, bool quick,
                    const std::string& io_size) {
  if (quick) {
    options.io_bytes = 16 << 20;
    options.memory_bytes = 16 << 20;
    options.gemm_n = 128;
    options.repeats = 2;
    options.gpu_copy_bytes = 64ull << 20;
    options.gpu_copies = 3;
  }
  if (!io_size.empty()) {
    ASSIGN_OR_RETURN(options.io_bytes, ParseSize(io_size));
  }
  if (out.empty()) return UsageError("profile probe needs -o FILE.yaml");
  const bool tty = isatty(fileno(stderr));
  options.progress = [tty](const std::string& line) {
    std::fprintf(stderr, "%s%s\n", tty ? "  probe: " : "tsc: probe: ", line.c_str());
  };
  ASSIGN_OR_RETURN(passes::HardwareProfile p, ProbeThisMachine(options));
  const std::string yaml = "# Measured by `tsc profile probe` on this machine; see examples/profiles/README.md\n" +
                           passes::ProfileToYaml(p);
  // What is written must load back as the same profile.
  ASSIGN_OR_RETURN(passes::HardwareProfile back, passes::ParseHardwareProfile(yaml, out));
  if (!(back == p)) return InternalError("the probed profile does not read back identically");
  RETURN_IF_ERROR(WriteTextFile(out, yaml, "profile"));
  std::printf("tsc: wrote %s (use it with --profile %s)\n", out.c_str(), out.c_str());
  return OkStatus();
}

// `tsc inspect DIR`: a safetensors checkpoint, described tensor by tensor.
Status InspectCheckpoint(const std::string& dir) {
  ASSIGN_OR_RETURN(frontend::SafetensorsCheckpoint ck, frontend::OpenSafetensorsCheckpoint(dir));
  uint64_t bytes = 0;
  std::map<std::string, std::pair<size_t, uint64_t>> by_dtype;
  std::map<std::string, size_t> files;
  for (const auto& t : ck.tensors) {
    bytes += t.bytes;
    auto& d = by_dtype[std::string(frontend::SafetensorsDTypeName(t.st_dtype))];
    ++d.first;
    d.second += t.bytes;
    ++files[t.file];
  }
  std::printf("checkpoint %s: %zu tensors in %zu file%s, %s\n", dir.c_str(), ck.tensors.size(),
              files.size(), files.size() == 1 ? "" : "s", FormatSize(bytes).c_str());
  for (const auto& [dtype, d] : by_dtype) {
    std::printf("  %-8s %zu tensors, %s\n", dtype.c_str(), d.first, FormatSize(d.second).c_str());
  }
  for (const auto& [k, v] : ck.metadata) std::printf("  meta %s: %s\n", OneLine(k).c_str(), OneLine(v).c_str());
  for (const auto& t : ck.tensors) {
    std::string shape = "[";
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(t.shape[i]);
    std::printf("  %-48s %-8s %-20s %s\n", OneLine(t.name).c_str(),
                std::string(frontend::SafetensorsDTypeName(t.st_dtype)).c_str(), (shape + "]").c_str(),
                OneLine(t.file).c_str());
  }
  std::printf("(compile a llama, mistral or qwen2 checkpoint with: tsc compile %s --shape input_ids=1xN)\n",
              dir.c_str());
  return OkStatus();
}

Status Inspect(const std::string& model, const std::vector<std::string>& shape_args, bool print_ir) {
  frontend::ImportOptions options;
  ASSIGN_OR_RETURN(options.input_shapes, ParseShapes(shape_args));
  ASSIGN_OR_RETURN(ir::Graph g, frontend::ImportOnnx(model, options));
  RETURN_IF_ERROR(passes::InferShapes(g));
  std::printf("model %s: opset %lld, %zu nodes, %zu values\n", model.c_str(),
              static_cast<long long>(g.opset), g.nodes.size(), g.values.size());
  for (int v : g.inputs) {
    std::printf("  input  %-24s %s\n", OneLine(g.values[v].name).c_str(),
                TypeString(g.values[v].dtype, g.values[v].shape).c_str());
  }
  for (int v : g.outputs) {
    std::printf("  output %-24s %s\n", OneLine(g.values[v].name).c_str(),
                TypeString(g.values[v].dtype, g.values[v].shape).c_str());
  }
  uint64_t weight_bytes = 0;
  size_t weights = 0;
  for (const auto& val : g.values) {
    if (val.kind == ir::ValueKind::kWeight || val.kind == ir::ValueKind::kConstant) {
      ++weights;
      weight_bytes += static_cast<uint64_t>(val.ByteSize());
    }
  }
  std::printf("  weights %zu tensors, %s\n", weights, FormatSize(weight_bytes).c_str());
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  std::printf("  ops    ");
  for (const auto& [op, count] : ops) std::printf(" %s x%d", OneLine(op).c_str(), count);
  std::printf("\n");
  if (print_ir) std::cout << ir::PrintGraph(g, {.elide_data = true});
  return OkStatus();
}

bool EndsWithTsplan(const std::string& path) {
  return path.size() > 7 && path.compare(path.size() - 7, 7, ".tsplan") == 0;
}

// A bundle by its name, or by its magic under any other name.
bool IsBundlePath(const std::string& path) {
  if (EndsWithTsplan(path)) return true;
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof planfmt::kMagic] = {};
  return f.read(magic, sizeof magic) && std::memcmp(magic, planfmt::kMagic, sizeof magic) == 0;
}

// `tsc inspect PLAN.tsplan --timeline FILE.svg`: the plan's memory per step as an SVG chart.
Status TimelineCommand(const std::string& plan, const std::string& svg_path, bool model_options) {
  if (svg_path.empty()) return UsageError("--timeline needs a FILE.svg to write");
  if (!IsBundlePath(plan)) {
    return UsageError("--timeline draws a bundle's memory plan and " + plan +
                      " is not a .tsplan bundle; compile it first (tsc compile MODEL -o PLAN.tsplan)");
  }
  if (model_options) return UsageError("--shape and --ir describe a model; they do not apply with --timeline");
  ASSIGN_OR_RETURN(planfmt::OpenedBundle b, planfmt::ReadBundle(plan));
  const Timeline t = ComputeTimeline(b.contents);
  std::string name = plan;
  if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  RETURN_IF_ERROR(WriteTextFile(svg_path, RenderTimelineSvg(t, "Planned memory per step: " + name), "--timeline"));
  std::printf("tsc: wrote %s (%zu steps; planned peak %s, %s live at step %u)\n", svg_path.c_str(),
              t.steps.size(), FormatSize(t.arena_bytes).c_str(), FormatSize(t.lower_bound_bytes).c_str(),
              t.peak_step);
  return OkStatus();
}

}  // namespace
}  // namespace ts::cli

int main(int argc, char** argv) {
  using namespace ts::cli;
  CLI::App app("tsc: the TensorShunt ahead-of-time model compiler", "tsc");
  app.footer(ExitCodeHelp());
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  CompileArgs c;
  CLI::App* compile = app.add_subcommand("compile", "Plan MODEL.onnx under a memory budget and write a .tsplan bundle");
  compile->add_option("model", c.model, "ONNX model (.onnx; external data next to it)")->required();
  compile->add_option("-o,--output", c.out, "Bundle to write (default: MODEL name with .tsplan, in the current folder)");
  compile->add_option("--vram", c.vram, "Memory budget: arena + runtime staging, e.g. 3.5G, 512M, 1.5GiB, 1048576 (K/M/G/T are powers of 1024)");
  compile->add_option("--shape", c.shapes, "Fix an input's dynamic dimensions: NAME=1x3x224x224 (repeatable)");
  compile->add_option("--bind", c.binds, "Fix a graph input's value at compile time, making it a constant: NAME=@FILE.npy|@FILE.pb|DIMSxDTYPE=VALUES (repeatable); for inputs that set shapes (Reshape's shape, Slice's starts, ...)");
  compile->add_option("--report", c.report, "Write a machine-readable plan report (JSON)");
  compile->add_option("--target", c.target, "Target: cpu (default) or cuda (kernels compiled with NVRTC for the profile's architecture, sm_90 by default; no GPU needed)");
  compile->add_option("--profile", c.profile, "Hardware profile: a shipped name (cpu-host, h100-pcie5, rtx4070-pcie4) or a YAML file (examples/profiles/README.md); its memory is the budget unless --vram is given");
  compile->add_option("--dump-after", c.dump_after, "Print the IR after this pass (shape-inference, fusion, order, liveness, memory-plan)");
  compile->add_option("--emit-llvm", c.emit_llvm, "Write the generated kernels' LLVM IR to this file");
  compile->add_option("--max-peak", c.max_peak, "CI gate: exit 1 when the plan's peak (report: peak_bytes, the arena) exceeds SIZE");
  compile->add_flag("-v,--verbose", c.verbose, "Per-pass timing and detail");
  compile->add_flag("--no-spill", c.no_spill, "Never spill activations to storage to fit the budget");
  compile->add_flag("--no-remat", c.no_remat, "Never recompute activations to fit the budget");
  compile->add_option("--weight-quant", c.weight_quant, "Checkpoints: how the linear layers' matrices are stored: auto (default: F16 and BF16 as the checkpoint has them, F32 as f32), f32, f16 or bf16 (narrow ones widened to f32 before each product), int8 (one f32 scale per output row)");
  compile->add_option("--prefill-tokens", c.prefill_tokens, "Checkpoints with --max-seq-len: also a prefill program that takes the prompt this many tokens per run into the same cache (tsr generate uses it)");
  compile->add_option("--max-seq-len", c.max_seq_len_text, "Checkpoints: compile one decoding step (--shape input_ids=1xT tokens per step) with a key/value cache of this many tokens, for tsr generate; auto: the config's max_position_embeddings, cut to what --vram leaves room for");
  compile->footer(ExitCodeHelp());

  std::string inspect_model, inspect_timeline;
  std::vector<std::string> inspect_shapes;
  bool inspect_ir = false, list_ops = false;
  CLI::App* inspect = app.add_subcommand("inspect", "Describe an ONNX model (inputs, outputs, weights, ops) or a safetensors checkpoint folder; draw a bundle's memory plan (--timeline)");
  inspect->add_option("model", inspect_model, "ONNX model, or a folder with model.safetensors[.index.json], or with --timeline a .tsplan bundle");
  inspect->add_option("--shape", inspect_shapes, "Fix an input's dynamic dimensions: NAME=DIMS");
  inspect->add_flag("--ir", inspect_ir, "Print the model in TensorShunt's textual IR (weights elided)");
  inspect->add_flag("--ops", list_ops, "List the supported ONNX operators");
  inspect->add_option("--timeline", inspect_timeline, "With a .tsplan bundle: write its planned memory per step (resident weights, streamed weights, activations, I/O staging; peak and budget lines) as an SVG chart to this file");
  inspect->footer(ExitCodeHelp());

  ProbeOptions probe_options;
  std::string probe_out, probe_io_size;
  bool probe_quick = false;
  CLI::App* profile_cmd = app.add_subcommand("profile", "Hardware profiles");
  profile_cmd->require_subcommand(1);
  CLI::App* probe = profile_cmd->add_subcommand("probe", "Measure this machine and write a hardware profile (YAML)");
  probe->add_option("-o,--output", probe_out, "Profile to write")->required();
  probe->add_option("--name", probe_options.name, "Profile name (default: probed)");
  probe->add_option("--dir", probe_options.scratch_dir, "Folder on the disk to measure; a scratch file is written there and removed (default: .)");
  probe->add_option("--io-size", probe_io_size, "Size of that scratch file (default 256M; whole MiB)");
  probe->add_flag("--quick", probe_quick, "Small sizes: seconds, not tens of seconds; rougher figures");
  bool probe_cpu_only = false;
  probe->add_flag("--cpu-only", probe_cpu_only, "Do not probe a GPU even if one is present: write a cpu profile");
  probe->footer(ExitCodeHelp());

  std::string diff_base, diff_new;
  double max_increase = 0;
  CLI::App* diff = app.add_subcommand("plan-diff", "CI gate: compare two plan reports; exit 1 when the peak grew by more than --max-increase percent");
  diff->add_option("base", diff_base, "Baseline report (tsc compile --report)")->required();
  diff->add_option("new", diff_new, "New report")->required();
  diff->add_option("--max-increase", max_increase, "Allowed growth of peak_bytes, in percent (default 0)");
  diff->footer(ExitCodeHelp());

  if (int rc = ParseArgs(app, argc, argv); rc >= 0) return rc;
  c.vram_given = compile->count("--vram") > 0;
  c.max_peak_given = compile->count("--max-peak") > 0;
  ts::Status st;
  if (*compile) {
    st = Compile(c);
  } else if (*profile_cmd) {
    probe_options.probe_gpu = !probe_cpu_only;
    st = ProbeCommand(probe_options, probe_out, probe_quick, probe_io_size);
  } else if (*diff) {
    st = PlanDiffCommand(diff_base, diff_new, max_increase);
  } else if (*inspect) {
    if (list_ops) {
      for (const auto& op : ts::frontend::SupportedOps()) std::printf("%s\n", op.c_str());
      return kExitOk;
    }
    if (inspect_model.empty()) return ReportError("tsc", ts::UsageError("inspect needs a MODEL (or --ops)"));
    struct stat st_buf;
    if (inspect->count("--timeline") > 0) {
      st = TimelineCommand(inspect_model, inspect_timeline, inspect_ir || !inspect_shapes.empty());
    } else if (EndsWithTsplan(inspect_model)) {
      return ReportError("tsc", ts::UsageError(inspect_model + " is a bundle: use `tsr inspect` for bundles, or "
                                                               "`tsc inspect PLAN.tsplan --timeline FILE.svg` to draw its memory plan"));
    } else if (stat(inspect_model.c_str(), &st_buf) == 0 && S_ISDIR(st_buf.st_mode)) {
      st = InspectCheckpoint(inspect_model);
    } else {
      st = Inspect(inspect_model, inspect_shapes, inspect_ir);
    }
  }
  if (!st.ok()) return ReportError("tsc", st);
  return kExitOk;
}
