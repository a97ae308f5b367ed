// tsr: the TensorShunt runtime. `tsr run` executes a .tsplan bundle; `tsr bench` times it;
// `tsr generate` decodes tokens with a language-model plan; `tsr inspect` describes one. Runs on
// machines with no GPU or driver.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <set>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include "cli/args.h"
#include "cli/bench_stats.h"
#include "cli/common.h"
#include "cli/sampling.h"
#include "cli/text_stream.h"
#include "cli/trace.h"
#include "planfmt/cuda_module.h"
#include "planfmt/format.h"
#include "runtime/executor.h"
#include "runtime/tensor_io.h"
#include "runtime/tokenizer.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

namespace ts::cli {
namespace {

// Where compiled kernels are cached (runtime/cpu_jit.h).
struct CacheArgs {
  std::string dir;  // empty: runtime::DefaultJitCacheDir()
  bool off = false;
};

runtime::JitCacheOptions JitCache(const CacheArgs& a, runtime::JitCacheOptions::Mode mode) {
  runtime::JitCacheOptions o;
  o.dir = a.dir.empty() ? runtime::DefaultJitCacheDir() : a.dir;
  o.mode = a.off || o.dir.empty() ? runtime::JitCacheOptions::Mode::kOff : mode;
  return o;
}

struct RunArgs {
  CacheArgs cache;
  std::string plan;
  std::vector<std::string> inputs;
  std::vector<std::string> expected;
  std::string output_dir;
  int64_t seed = -1;
  double rtol = 1e-3;
  double atol = 1e-5;
  bool verbose = false;
  bool quiet = false;
  std::string trace;
};

// Output file names come from tensor names, which come from the model: keep them to one
// plain file inside --output-dir.
std::string SafeFileName(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  if (s.empty() || s[0] == '.') s = "_" + s;
  return s.substr(0, 200);
}

std::string Preview(const runtime::HostTensor& t, size_t max_values = 8) {
  std::string s = "[";
  size_t count = t.data.size() / std::max<int64_t>(DTypeSize(t.dtype), 1);
  for (size_t i = 0; i < count && i < max_values; ++i) {
    char buf[32];
    switch (t.dtype) {
      case DType::kF32: { float v; std::memcpy(&v, &t.data[i * 4], 4); std::snprintf(buf, sizeof buf, "%.6g", v); break; }
      case DType::kI64: { int64_t v; std::memcpy(&v, &t.data[i * 8], 8); std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v)); break; }
      default: std::snprintf(buf, sizeof buf, "0x%02x", t.data[i]);
    }
    s += (i ? ", " : "") + std::string(buf);
  }
  if (count > max_values) s += ", ... (" + std::to_string(count) + " values)";
  return s + "]";
}

// Reads every --input before the plan loads, so a typo fails fast.
StatusOr<std::map<std::string, runtime::HostTensor>> ReadInputs(const std::vector<std::string>& specs) {
  std::map<std::string, runtime::HostTensor> inputs;
  for (const std::string& a : specs) {
    ASSIGN_OR_RETURN(auto kv, runtime::ParseInputArg(a));
    if (!inputs.emplace(kv.first, std::move(kv.second)).second) {
      return UsageError("--input " + kv.first + " is given twice");
    }
  }
  return inputs;
}

// Fills plan inputs not given with --input from the seed (none when seed < 0: Run names them).
void FillSeeded(const planfmt::Program& prog, int64_t seed, std::map<std::string, runtime::HostTensor>* inputs) {
  for (const auto& r : prog.inputs) {
    if (inputs->count(r.name) || seed < 0) continue;
    // XXH3 of the name, not std::hash: the same seed gives the same inputs with any build.
    (*inputs)[r.name] = runtime::RandomTensor(r.dtype, r.shape, static_cast<uint64_t>(seed) ^
                                                                    XXH3_64bits(r.name.data(), r.name.size()));
  }
}

StatusOr<std::unique_ptr<runtime::Executor>> LoadPlan(const std::string& plan,
                                                       const runtime::JitCacheOptions& cache, bool prefill = false) {
  runtime::LoadOptions load_options;
  load_options.jit_cache = cache;
  load_options.prefill = prefill;
  if (const char* faults = std::getenv("TSR_FAULTS")) {
    RETURN_IF_ERROR(runtime::ApplyFaultSpec(faults, &load_options.io));
  }
  ASSIGN_OR_RETURN(auto ex, runtime::Executor::Load(plan, load_options));
  const auto& rep = ex->load_report();
  if (!rep.warning.empty()) std::fprintf(stderr, "tsr: warning: %s\n", OneLine(rep.warning).c_str());
  return ex;
}

Status Run(const RunArgs& args) {
  ASSIGN_OR_RETURN(auto inputs, ReadInputs(args.inputs));
  std::map<std::string, runtime::HostTensor> expected;
  for (const std::string& a : args.expected) {
    ASSIGN_OR_RETURN(auto kv, runtime::ParseInputArg(a));
    if (!expected.emplace(kv.first, std::move(kv.second)).second) {
      return UsageError("--expected-output " + kv.first + " is given twice");
    }
  }

  ASSIGN_OR_RETURN(auto ex, LoadPlan(args.plan, JitCache(args.cache, runtime::JitCacheOptions::Mode::kReadWrite)));
  const auto& rep = ex->load_report();
  const auto& prog = ex->plan().program;
  const auto& mem = ex->plan().memory;
  for (const auto& [name, t] : expected) {
    bool known = false;
    for (const auto& r : prog.outputs) known |= r.name == name;
    if (!known) return UsageError("--expected-output " + name + ": the plan has no output of that name");
  }
  FillSeeded(prog, args.seed, &inputs);
  if (!args.trace.empty()) ex->EnableTrace();
  if (args.verbose) {
    std::fprintf(stderr, "tsr: arena %s, weights %s read with %s%s in %.1f ms, kernels for %s ready in %.1f ms (object cache: %s)\n",
                 FormatSize(mem.arena_bytes).c_str(), FormatSize(rep.weight_bytes).c_str(),
                 rep.io_method.empty() ? "nothing" : rep.io_method.c_str(),
                 rep.io_direct ? " (O_DIRECT)" : "", rep.read_ms, rep.host.c_str(), rep.jit_ms,
                 rep.jit_cache.c_str());
  }
  ASSIGN_OR_RETURN(auto outputs, ex->Run(inputs));
  if (!args.trace.empty()) {
    RETURN_IF_ERROR(WriteTextFile(args.trace, ChromeTrace(ex->plan(), ex->last_trace()), "--trace"));
  }
  if (args.verbose) {
    const auto& run = ex->last_run();
    std::fprintf(stderr, "tsr: run %.2f ms; streamed %s from the bundle in %.2f ms of reads, compute waited "
                 "%.2f ms (%.0f%% of read time hidden)\n",
                 run.run_ms, FormatSize(run.streamed_bytes).c_str(), run.read_ms, run.wait_ms,
                 run.HiddenFraction() * 100);
  }

  if (!args.output_dir.empty()) {
    std::set<std::string> files;
    for (const auto& r : prog.outputs) {
      if (!files.insert(SafeFileName(r.name)).second) {
        return UsageError("outputs with names like '" + r.name + "' would share the file " +
                          SafeFileName(r.name) + ".npy in --output-dir; rename them in the model");
      }
    }
    if (mkdir(args.output_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError(errno, "creating --output-dir '" + args.output_dir + "'");
    }
  }
  bool all_ok = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& ref = prog.outputs[i];
    if (!args.quiet) {
      std::printf("output %s %s = %s\n", OneLine(ref.name).c_str(), TypeString(ref.dtype, ref.shape).c_str(),
                  Preview(outputs[i]).c_str());
    }
    if (!args.output_dir.empty()) {
      RETURN_IF_ERROR(runtime::WriteNpy(args.output_dir + "/" + SafeFileName(ref.name) + ".npy", outputs[i]));
    }
    if (auto it = expected.find(ref.name); it != expected.end()) {
      auto cmp = runtime::CompareTensors(outputs[i], it->second, args.rtol, args.atol);
      std::printf("%s %s: %s\n", cmp.ok ? "[SUCCESS]" : "[FAILED]", OneLine(ref.name).c_str(), cmp.summary.c_str());
      all_ok &= cmp.ok;
    }
  }
  std::printf("plan: arena %s + I/O staging %s = %s; lower bound %s\n", FormatSize(mem.arena_bytes).c_str(),
              FormatSize(mem.StagingBytes()).c_str(), FormatSize(mem.arena_bytes + mem.StagingBytes()).c_str(),
              FormatSize(mem.lower_bound_bytes).c_str());
  if (!all_ok) return CheckFailedError("outputs differ from --expected-output beyond rtol " +
                                       std::to_string(args.rtol) + ", atol " + std::to_string(args.atol));
  return OkStatus();
}

struct BenchArgs {
  CacheArgs cache;
  std::string plan;
  std::vector<std::string> inputs;
  int64_t seed = 0;
  int iterations = 20;
  int warmup = 2;
  bool profile = false;
  std::string json;
};

// How many of the slowest steps `tsr bench --profile` lists.
constexpr size_t kProfileSteps = 12;

std::string Metadata(const planfmt::PlanContents& c, const std::string& key) {
  for (const auto& [k, v] : c.metadata) {
    if (k == key) return v;
  }
  return "";
}

// How many timed runs of a streaming plan are each followed by one pass of its reads alone.
constexpr size_t kReadsAlonePasses = 5;

Status Bench(const BenchArgs& args) {
  if (args.iterations < 1 || args.warmup < 0) {
    return UsageError("--iterations must be >= 1 and --warmup >= 0");
  }
  ASSIGN_OR_RETURN(auto inputs, ReadInputs(args.inputs));
  // Load twice: the first compiles the kernels whatever the cache holds (and stores them), the
  // second takes them from the cache, as every later load of this plan on this machine will.
  using Mode = runtime::JitCacheOptions::Mode;
  struct LoadTime {
    double total_ms, read_ms, jit_ms;
    std::string cache;
  };
  auto timed_load = [&](Mode mode) -> StatusOr<std::pair<std::unique_ptr<runtime::Executor>, LoadTime>> {
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(auto loaded, LoadPlan(args.plan, JitCache(args.cache, mode)));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto& r = loaded->load_report();
    return std::make_pair(std::move(loaded), LoadTime{ms, r.read_ms, r.jit_ms, r.jit_cache});
  };
  ASSIGN_OR_RETURN(auto first, timed_load(Mode::kWriteOnly));
  std::unique_ptr<runtime::Executor> ex = std::move(first.first);
  std::optional<LoadTime> cached;
  if (first.second.cache == "miss") {
    ex.reset();
    ASSIGN_OR_RETURN(auto second, timed_load(Mode::kReadWrite));
    ex = std::move(second.first);
    cached = second.second;
  }
  FillSeeded(ex->plan().program, args.seed, &inputs);
  if (args.profile) ex->EnableTrace();
  std::vector<RunProfile> profiles;
  std::vector<double> latency, wait, hidden, alone;
  uint64_t streamed = 0;
  const bool gpu_plan = ex->plan().kernels.format == "cuda";
  for (int i = 0; i < args.warmup + args.iterations; ++i) {
    ASSIGN_OR_RETURN(auto outputs, ex->Run(inputs));
    if (i < args.warmup) continue;
    latency.push_back(ex->last_run().run_ms);
    wait.push_back(ex->last_run().wait_ms);
    hidden.push_back(ex->last_run().HiddenFraction());
    streamed = ex->last_run().streamed_bytes;
    if (args.profile) profiles.push_back(ProfileRun(ex->plan(), ex->last_trace()));
    // Interleaved with the first timed runs, so both see the same disk: the streamed bytes read
    // with no compute, the denominator of the bound max(compute, reads alone).
    // (CPU plans: a GPU plan's weights sit in pinned host memory, with no storage reads to time.)
    if (streamed > 0 && !gpu_plan && alone.size() < kReadsAlonePasses) {
      ASSIGN_OR_RETURN(runtime::RunStats reads, ex->ReadStreamedAlone());
      alone.push_back(reads.run_ms);
    }
  }
  const Summary lat = Summarize(latency), stall = Summarize(wait), hid = Summarize(hidden);
  const auto& rep = ex->load_report();
  const std::string predicted = Metadata(ex->plan(), "predicted_ms");
  const std::string predicted_on = Metadata(ex->plan(), "predicted_on");
  std::printf("tsr bench %s: %d iterations after %d warm-up, kernels for %s\n", args.plan.c_str(),
              args.iterations, args.warmup, rep.host.c_str());
  std::printf("  load       first %.2f ms (weights read %.2f ms with %s%s, kernels compiled %.2f ms; object cache: %s)\n",
              first.second.total_ms, first.second.read_ms,
              rep.io_method.empty() ? "no weights" : rep.io_method.c_str(), rep.io_direct ? ", O_DIRECT" : "",
              first.second.jit_ms, first.second.cache.c_str());
  if (cached) {
    std::printf("             cached %.2f ms (weights read %.2f ms, kernels %.2f ms; object cache: %s)\n",
                cached->total_ms, cached->read_ms, cached->jit_ms, cached->cache.c_str());
  }
  std::printf("  latency    min %.3f  median %.3f  mean %.3f  p90 %.3f  p99 %.3f ms\n", lat.min, lat.median,
              lat.mean, lat.p90, lat.p99);
  if (gpu_plan) {
    // The GPU backend does not time its copies yet: no stall or hidden-fraction figure to give.
    std::printf("  streamed   %s copied per run from pinned host memory (stalls not measured on the GPU)\n",
                FormatSize(streamed).c_str());
  } else {
    std::printf("  stalls     median %.3f ms waiting for streamed weights; %s read per run, median %.0f%% of "
                "read time hidden\n", stall.median, FormatSize(streamed).c_str(), hid.median * 100);
  }
  std::optional<Summary> reads_alone;
  if (!alone.empty()) {
    reads_alone = Summarize(alone);
    std::printf("  reads      alone (no compute) median %.3f ms over %zu passes: %.2f GB/s from this disk\n",
                reads_alone->median, alone.size(), static_cast<double>(streamed) / reads_alone->median / 1e6);
  }
  if (!predicted.empty()) {
    const double p = std::strtod(predicted.c_str(), nullptr);
    std::printf("  predicted  %.3f ms on %s: measured median / predicted = %.2f\n", p, predicted_on.c_str(),
                p > 0 ? lat.median / p : 0.0);
  }
  // Medians over the timed runs, per step category and per step.
  std::vector<std::pair<std::string, double>> by_category;
  std::vector<std::pair<size_t, double>> by_step;
  if (args.profile) {
    std::map<std::string, std::vector<double>> cat;
    for (const RunProfile& p : profiles) {
      for (const auto& [name, ms] : p.category_ms) cat[name].push_back(ms);
    }
    for (auto& [name, v] : cat) {
      v.resize(profiles.size(), 0.0);  // a run where the category took no time
      by_category.emplace_back(name, Summarize(v).median);
    }
    const auto& steps = ex->plan().program.steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      std::vector<double> v;
      for (const RunProfile& p : profiles) {
        if (p.step_ms[i] >= 0) v.push_back(p.step_ms[i]);
      }
      if (!v.empty()) by_step.emplace_back(i, Summarize(v).median);
    }
    auto slowest = [](const auto& a, const auto& b) { return a.second > b.second; };
    std::stable_sort(by_category.begin(), by_category.end(), slowest);
    std::stable_sort(by_step.begin(), by_step.end(), slowest);
    std::printf("  profile    median ms per run by step kind (%% of the median latency):\n");
    for (const auto& [name, ms] : by_category) {
      std::printf("             %-24s %9.3f  %5.1f%%\n", name.c_str(), ms, lat.median > 0 ? 100 * ms / lat.median : 0.0);
    }
    std::printf("             slowest steps (median ms):\n");
    for (size_t k = 0; k < by_step.size() && k < kProfileSteps; ++k) {
      const auto& [i, ms] = by_step[k];
      std::printf("             %9.3f  step %zu %s (%s)\n", ms, i, steps[i].node.c_str(), StepCategory(steps[i]).c_str());
    }
  }
  if (!args.json.empty()) {
    nlohmann::ordered_json j;
    j["plan"] = args.plan;
    j["iterations"] = args.iterations;
    j["warmup"] = args.warmup;
    j["latency_ms"] = {{"min", lat.min}, {"median", lat.median}, {"mean", lat.mean}, {"p90", lat.p90}, {"p99", lat.p99}};
    if (gpu_plan) {
      j["stall_ms"] = nullptr;  // not measured on the GPU yet
    } else {
      j["stall_ms"] = {{"min", stall.min}, {"median", stall.median}, {"mean", stall.mean}, {"p90", stall.p90}, {"p99", stall.p99}};
    }
    auto load_json = [](const LoadTime& t) {
      return nlohmann::ordered_json{{"total", t.total_ms}, {"read", t.read_ms}, {"jit", t.jit_ms}, {"cache", t.cache}};
    };
    j["load_ms"] = {{"read", rep.read_ms}, {"jit", rep.jit_ms}, {"first", load_json(first.second)},
                    {"cached", cached ? load_json(*cached) : nlohmann::ordered_json(nullptr)}};
    j["streamed_bytes_per_run"] = streamed;
    j["hidden_fraction_median"] = gpu_plan ? nlohmann::json(nullptr) : nlohmann::json(hid.median);
    if (reads_alone) {
      j["reads_alone_ms"] = {{"min", reads_alone->min}, {"median", reads_alone->median}, {"mean", reads_alone->mean},
                             {"passes", alone.size()}};
      j["reads_alone_gbps"] = static_cast<double>(streamed) / reads_alone->median / 1e6;
    } else {
      j["reads_alone_ms"] = nullptr;
      j["reads_alone_gbps"] = nullptr;
    }
    j["io_method"] = rep.io_method;
    j["predicted_ms"] = predicted.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::strtod(predicted.c_str(), nullptr));
    j["predicted_on"] = predicted_on;
    if (args.profile) {
      nlohmann::ordered_json cats = nlohmann::ordered_json::object(), slow = nlohmann::ordered_json::array();
      for (const auto& [name, ms] : by_category) cats[name] = ms;
      for (const auto& [i, ms] : by_step) {
        const planfmt::Step& s = ex->plan().program.steps[i];
        slow.push_back({{"step", i}, {"node", s.node}, {"category", StepCategory(s)}, {"median_ms", ms}});
      }
      j["profile"] = {{"category_median_ms", cats}, {"steps_slowest_first", slow}};
    }
    RETURN_IF_ERROR(WriteTextFile(args.json, j.dump(2) + "\n", "--json"));
  }
  return OkStatus();
}

struct GenerateArgs {
  CacheArgs cache;
  std::string plan;
  std::string prompt_ids;
  std::string prompt;
  std::string tokenizer;
  bool print_ids = false;
  bool ignore_eos = false;
  bool no_prefill = false;
  int64_t max_new_tokens = 32;
  double temperature = 0;
  int64_t top_k = 0;
  double top_p = 1;
  uint64_t seed = 0;
  std::vector<int64_t> stop_ids;
  std::string ids_out;
};

// "1,5,9" -> {1, 5, 9}; `flag` names the option in messages.
StatusOr<std::vector<int64_t>> ParseIds(const std::string& text, int64_t vocab, const std::string& flag = "--prompt-ids") {
  std::vector<int64_t> ids;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      return UsageError(flag + ": '" + OneLine(item.substr(0, 32)) +
                        "' is not a token id; give comma-separated integers, e.g. 1,5,9");
    }
    if (v < 0 || v >= vocab) {
      return UsageError(flag + ": token " + std::to_string(v) + " is outside the vocabulary (0.." +
                        std::to_string(vocab - 1) + ")");
    }
    ids.push_back(v);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return ids;
}

// A tokenizer from `source`: a tokenizer.json, a checkpoint folder holding one, or a .tsplan
// bundle that carries one.
StatusOr<std::unique_ptr<runtime::Tokenizer>> LoadTokenizer(const std::string& source) {
  struct stat st;
  if (stat(source.c_str(), &st) != 0) return IoError("cannot read " + source + ": " + std::strerror(errno));
  const std::string path = S_ISDIR(st.st_mode) ? source + "/tokenizer.json" : source;
  std::ifstream f(path, std::ios::binary);
  if (!f) return IoError("cannot read " + path + ": " + std::strerror(errno));
  char magic[sizeof(planfmt::kMagic)] = {};
  f.read(magic, sizeof magic);
  if (f.gcount() == sizeof magic && std::memcmp(magic, planfmt::kMagic, sizeof magic) == 0) {
    ASSIGN_OR_RETURN(planfmt::OpenedBundle b, planfmt::ReadBundle(path));
    if (b.contents.tokenizer.empty()) {
      return UsageError(path + " carries no tokenizer (its checkpoint folder had no tokenizer.json); give the "
                        "tokenizer.json itself");
    }
    return runtime::Tokenizer::Parse(b.contents.tokenizer, path + " (its tokenizer section)");
  }
  f.clear();
  f.seekg(0);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return runtime::Tokenizer::Parse(text, path);
}

// Greedy or sampled decoding with a checkpoint's plan, of one of two kinds:
//  - a window (input input_ids [1, S], output logits [1, S, V]): the prompt and the tokens so
//    far, padded with 0 to S; the causal mask keeps the padding out, so the logits at the last
//    real position are the next token's; every token runs the whole window again;
//  - a decoding step with a key/value cache (inputs input_ids [1, T] and position [1], output
//    logits [1, T, V], metadata kv_cache_tokens): the prompt goes through in steps of T tokens
//    (the last step padded), then one token per step; each step attends to the cache.
Status Generate(const GenerateArgs& args) {
  if (args.max_new_tokens < 0) return UsageError("--max-new-tokens must be >= 0");
  if (args.temperature < 0 || args.top_k < 0 || !(args.top_p > 0 && args.top_p <= 1)) {
    return UsageError("--temperature must be >= 0, --top-k >= 0 and --top-p in (0, 1]");
  }
  // The bundle's head first (no arena, no kernels): a prefill program, when there is one, runs
  // before the decoding step's plan is loaded, so that one arena is allocated at a time.
  ASSIGN_OR_RETURN(const planfmt::OpenedBundle head, planfmt::ReadBundle(args.plan));
  const planfmt::PlanContents& plan = head.contents;
  const planfmt::Program& prog = plan.program;
  const std::string kv = Metadata(plan, "kv_cache_tokens");
  const bool cached = !kv.empty();
  if (prog.inputs.size() != (cached ? 2u : 1u) || prog.inputs[0].name != "input_ids" ||
      prog.inputs[0].dtype != DType::kI64 || prog.inputs[0].shape.size() != 2 || prog.inputs[0].shape[0] != 1 ||
      (cached && (prog.inputs[1].name != "position" || prog.inputs[1].dtype != DType::kI64 ||
                  prog.inputs[1].shape != std::vector<int64_t>{1})) ||
      prog.outputs.size() != 1 || prog.outputs[0].name != "logits" || prog.outputs[0].dtype != DType::kF32 ||
      prog.outputs[0].shape.size() != 3 || prog.outputs[0].shape[1] != prog.inputs[0].shape[1]) {
    return UsageError(args.plan + " is not a language-model plan (input input_ids i64[1,S], output logits "
                      "f32[1,S,V]); compile a checkpoint folder with tsc compile DIR --shape input_ids=1xS");
  }
  const int64_t step_tokens = prog.inputs[0].shape[1], vocab = prog.outputs[0].shape[2];
  if (step_tokens < 1 || vocab < 1) {
    return BadInputError(args.plan + ": its program takes " + std::to_string(step_tokens) + " tokens into " +
                         std::to_string(vocab) + " logits per token; recompile it");
  }
  const int64_t window = cached ? std::strtoll(kv.c_str(), nullptr, 10) : step_tokens;
  if (window < step_tokens || window > (int64_t{1} << 24)) {
    return BadInputError(args.plan + ": metadata kv_cache_tokens '" + OneLine(kv) + "' is not a usable cache size");
  }
  // The tokenizer: --tokenizer, else the bundle's own (none for a checkpoint without one).
  std::unique_ptr<runtime::Tokenizer> tokenizer;
  if (!args.tokenizer.empty()) {
    ASSIGN_OR_RETURN(tokenizer, LoadTokenizer(args.tokenizer));
  } else if (!plan.tokenizer.empty()) {
    ASSIGN_OR_RETURN(tokenizer, runtime::Tokenizer::Parse(plan.tokenizer, args.plan + " (its tokenizer section)"));
  }
  if (tokenizer && tokenizer->vocab_size() > vocab) {
    return UsageError("the tokenizer's ids run to " + std::to_string(tokenizer->vocab_size() - 1) +
                      " but the plan's vocabulary has " + std::to_string(vocab) + " tokens; give the model's own tokenizer");
  }
  if (args.prompt.empty() == args.prompt_ids.empty()) {
    return UsageError("give the prompt as text (--prompt) or as token ids (--prompt-ids), one of the two");
  }
  std::vector<int64_t> ids;
  if (!args.prompt.empty()) {
    if (!tokenizer) {
      return UsageError("--prompt needs a tokenizer, and " + args.plan + " carries none (its checkpoint folder had "
                        "no tokenizer.json): give --tokenizer FILE, or the prompt's ids with --prompt-ids");
    }
    ASSIGN_OR_RETURN(ids, tokenizer->Encode(args.prompt, /*add_special_tokens=*/true));
    if (ids.empty()) return UsageError("--prompt: the text has no tokens");
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab) {
        return UsageError("--prompt: the tokenizer gave token " + std::to_string(id) + ", outside the plan's " +
                          std::to_string(vocab) + "-token vocabulary; give the model's own tokenizer");
      }
    }
  } else {
    ASSIGN_OR_RETURN(ids, ParseIds(args.prompt_ids, vocab));
  }
  // Generation ends at the checkpoint's end-of-sequence ids too, unless --ignore-eos.
  std::vector<int64_t> stop_ids = args.stop_ids;
  if (const std::string eos = Metadata(plan, "eos_token_ids"); !eos.empty() && !args.ignore_eos) {
    ASSIGN_OR_RETURN(std::vector<int64_t> eos_ids, ParseIds(eos, vocab, args.plan + ": metadata eos_token_ids"));
    stop_ids.insert(stop_ids.end(), eos_ids.begin(), eos_ids.end());
  }
  const bool text_out = tokenizer && !args.print_ids;
  const size_t prompt_tokens = ids.size();
  // Text streams out as it becomes final: the decoding of prompt + generated tokens, less the
  // prompt's own, up to where a character may still be incomplete (U+FFFD at the end).
  cli::TextStreamer streamer(text_out ? tokenizer->Decode(ids, /*skip_special_tokens=*/true) : "");
  auto stream_text = [&](bool last) {
    const std::string out = streamer.Update(tokenizer->Decode(ids, /*skip_special_tokens=*/true), last);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  };
  if (static_cast<int64_t>(ids.size()) > window) {
    return UsageError("the prompt has " + std::to_string(ids.size()) + " tokens but the plan's window is " +
                      std::to_string(window) + "; recompile with a larger --shape input_ids=1xN");
  }
  const int64_t budget = std::min<int64_t>(args.max_new_tokens, window - static_cast<int64_t>(ids.size()));
  if (budget < args.max_new_tokens) {
    std::fprintf(stderr, "tsr: the plan's window of %lld tokens leaves room for %lld new tokens\n",
                 static_cast<long long>(window), static_cast<long long>(budget));
  }
  cli::SamplingOptions sampling{args.temperature, args.top_k, args.top_p};
  std::mt19937_64 rng(args.seed);
  // Runs `runner` (T tokens per run) on ids[from, from + T) (padded with 0) and returns the
  // logits row of ids[last].
  auto logits_at = [&](runtime::Executor& runner, size_t from, size_t last) -> StatusOr<std::vector<float>> {
    const int64_t t = runner.plan().program.inputs[0].shape[1];
    runtime::HostTensor input{DType::kI64, {1, t}, std::vector<uint8_t>(static_cast<size_t>(t) * 8, 0)};
    runtime::HostTensor position{DType::kI64, {1}, std::vector<uint8_t>(8, 0)};
    const size_t n = std::min<size_t>(ids.size() - from, static_cast<size_t>(t));
    std::memcpy(input.data.data(), ids.data() + from, n * 8);
    const int64_t at = static_cast<int64_t>(from);
    std::memcpy(position.data.data(), &at, 8);
    std::map<std::string, runtime::HostTensor> feeds = {{"input_ids", input}};
    if (cached) feeds["position"] = position;
    ASSIGN_OR_RETURN(auto outputs, runner.Run(feeds));
    const float* row = reinterpret_cast<const float*>(outputs[0].data.data()) + (last - from) * vocab;
    return std::vector<float>(row, row + vocab);
  };
  std::vector<int64_t> generated;
  double first_ms = 0, rest_ms = 0, prefill_ms = 0;
  size_t done = 0;  // with the cache: tokens whose keys and values it holds
  // The prefill program: the whole prompt, P tokens per run, into its cache; the cache then
  // moves to the decoding step's plan, and the prompt's last logits give the first token.
  std::optional<std::vector<float>> first_row;
  const runtime::JitCacheOptions jit = JitCache(args.cache, runtime::JitCacheOptions::Mode::kReadWrite);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> caches;  // handed from prefill to decoding
  if (plan.prefill && cached && budget > 0 && !args.no_prefill) {
    ASSIGN_OR_RETURN(auto pre, LoadPlan(args.plan, jit, /*prefill=*/true));
    const planfmt::Program& pp = pre->plan().program;
    if (pp.inputs.size() != 2 || pp.inputs[0].name != "input_ids" || pp.inputs[0].dtype != DType::kI64 ||
        pp.inputs[0].shape.size() != 2 || pp.inputs[0].shape[0] != 1 || pp.inputs[0].shape[1] < 1 ||
        pp.inputs[1].name != "position" ||
        pp.outputs.size() != 1 || pp.outputs[0].dtype != DType::kF32 ||
        pp.outputs[0].shape != std::vector<int64_t>{1, pp.inputs[0].shape[1], vocab}) {
      return BadInputError(args.plan + ": its prefill program does not take input_ids [1,P] and position into "
                           "logits [1,P," + std::to_string(vocab) + "]; recompile it");
    }
    const auto start = std::chrono::steady_clock::now();
    const size_t p = static_cast<size_t>(pp.inputs[0].shape[1]);
    while (done < ids.size()) {
      const size_t last = std::min(ids.size(), done + p) - 1;
      ASSIGN_OR_RETURN(first_row, logits_at(*pre, done, last));
      done = last + 1;
    }
    prefill_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    for (const planfmt::WeightEntry& w : pre->plan().weights) {
      if (w.name.rfind("kv_cache.", 0) != 0) continue;
      ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, pre->ReadWeight(w.name));
      caches.emplace_back(w.name, std::move(bytes));
    }
  }  // the prefill executor is freed here, before the decoding step's arena is allocated
  ASSIGN_OR_RETURN(const std::unique_ptr<runtime::Executor> ex_holder, LoadPlan(args.plan, jit));
  for (const auto& [name, bytes] : caches) RETURN_IF_ERROR(ex_holder->WriteWeight(name, bytes));
  runtime::Executor& ex = *ex_holder;
  for (int64_t step = 0; step < budget; ++step) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> row;
    if (step == 0 && first_row) {
      row = std::move(*first_row);
    } else if (!cached) {
      ASSIGN_OR_RETURN(row, logits_at(ex, 0, ids.size() - 1));
    } else {
      // Feed what the cache lacks, T tokens at a time; the last step yields the next token.
      while (done < ids.size()) {
        const size_t last = std::min(ids.size(), done + static_cast<size_t>(step_tokens)) - 1;
        ASSIGN_OR_RETURN(row, logits_at(ex, done, last));
        done = last + 1;
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    (step == 0 ? first_ms : rest_ms) += ms;
    const int64_t next = cli::ChooseToken(row.data(), vocab, sampling, rng);
    ids.push_back(next);
    generated.push_back(next);
    if (text_out) {
      stream_text(false);
    } else {
      std::printf("%s%lld", step ? " " : "", static_cast<long long>(next));
      std::fflush(stdout);
    }
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
  }
  if (text_out) stream_text(true);
  std::printf("\n");
  const size_t n = generated.size();
  // With a prefill program the prompt's time is its runs (the decoding plan's load is not in it).
  const double prompt_ms = first_row || prefill_ms > 0 ? prefill_ms : first_ms;
  std::fprintf(stderr, "tsr: %zu tokens; prefill of %zu prompt tokens %.2f ms (%.1f tokens/s%s); "
               "then %.2f tokens/s (%s)\n", n, prompt_tokens, prompt_ms,
               prompt_ms > 0 ? static_cast<double>(prompt_tokens) / (prompt_ms / 1e3) : 0.0,
               prefill_ms > 0 ? ", prefill program" : ", with the first token",
               n > 1 ? static_cast<double>(n - 1) / (rest_ms / 1e3) : 0.0,
               cached ? ("key/value cache of " + std::to_string(window) + " tokens").c_str()
                      : ("window " + std::to_string(window) + ", no key/value cache: each token runs the whole window").c_str());
  if (!args.ids_out.empty()) {
    std::string json = "[";
    for (size_t i = 0; i < n; ++i) json += (i ? ", " : "") + std::to_string(generated[i]);
    RETURN_IF_ERROR(WriteTextFile(args.ids_out, json + "]\n", "--ids-out"));
  }
  return OkStatus();
}

struct TokenizeArgs {
  std::string source;
  std::string text;
  std::string text_file;
  std::string decode;
  bool no_special_tokens = false;
  bool skip_special_tokens = false;
};

// `tsr tokenize`: text to ids (a JSON array on one line) or ids to text (the bytes as they are).
Status Tokenize(const TokenizeArgs& args) {
  if (!args.text.empty() + !args.text_file.empty() + !args.decode.empty() != 1) {
    return UsageError("give one of --text, --text-file and --decode");
  }
  ASSIGN_OR_RETURN(auto tokenizer, LoadTokenizer(args.source));
  if (!args.decode.empty()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> ids, ParseIds(args.decode, tokenizer->vocab_size(), "--decode"));
    const std::string text = tokenizer->Decode(ids, args.skip_special_tokens);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return OkStatus();
  }
  std::string text = args.text;
  if (!args.text_file.empty()) {
    std::ifstream f(args.text_file, std::ios::binary);
    if (!f) return IoError("cannot read --text-file " + args.text_file + ": " + std::strerror(errno));
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> ids, tokenizer->Encode(text, !args.no_special_tokens));
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  std::printf("%s]\n", out.c_str());
  return OkStatus();
}

const char* BuiltinName(planfmt::Builtin b) {
  switch (b) {
    case planfmt::Builtin::kMatMul: return "MatMul";
    case planfmt::Builtin::kGemm: return "Gemm";
    case planfmt::Builtin::kSoftmax: return "Softmax";
    case planfmt::Builtin::kTranspose: return "Transpose";
    case planfmt::Builtin::kCopy: return "Copy";
    case planfmt::Builtin::kNone: break;
  }
  return "?";
}

std::string StepWhat(const planfmt::Step& s, const planfmt::PlanContents& c) {
  switch (s.kind) {
    case planfmt::StepKind::kJitKernel: return "kernel " + s.symbol;
    case planfmt::StepKind::kBuiltin: return std::string("builtin ") + BuiltinName(s.builtin);
    case planfmt::StepKind::kOp: return "op " + s.symbol;
    case planfmt::StepKind::kLoad: return "load weight " + std::to_string(s.iparams[0]);
    case planfmt::StepKind::kWait: return "wait weight " + std::to_string(s.iparams[0]);
    case planfmt::StepKind::kSpill: return "spill to file byte " + std::to_string(s.iparams[0]);
    case planfmt::StepKind::kFill: return "fill from file byte " + std::to_string(s.iparams[0]);
  }
  (void)c;
  return "?";
}

Status Inspect(const std::string& path, bool show_buffers) {
  ASSIGN_OR_RETURN(planfmt::OpenedBundle b, planfmt::ReadBundle(path));
  const auto& c = b.contents;
  std::printf("bundle %s: .tsplan version %u.%u, %s\n", path.c_str(), b.layout.major, b.layout.minor,
              FormatSize(b.layout.file_size).c_str());
  for (const auto& s : b.layout.sections) {
    std::printf("  section %-10s offset %10llu  length %10llu  used %10llu  xxh3 %016llx\n",
                std::string(planfmt::SectionName(s.kind)).c_str(), static_cast<unsigned long long>(s.offset),
                static_cast<unsigned long long>(s.length), static_cast<unsigned long long>(s.used),
                static_cast<unsigned long long>(s.checksum));
  }
  for (const auto& [k, v] : c.metadata) std::printf("  meta %-18s %s\n", OneLine(k).c_str(), OneLine(v).c_str());
  std::printf("  memory: arena %s, lower bound %s (peak/bound %.3f) at step %u (node '%s'), I/O staging %s (%u x %s)\n",
              FormatSize(c.memory.arena_bytes).c_str(), FormatSize(c.memory.lower_bound_bytes).c_str(),
              c.memory.lower_bound_bytes ? double(c.memory.arena_bytes) / c.memory.lower_bound_bytes : 1.0,
              c.memory.peak_step, OneLine(c.memory.peak_node).c_str(), FormatSize(c.memory.StagingBytes()).c_str(),
              c.memory.io_queue_depth, FormatSize(c.memory.io_chunk_bytes).c_str());
  std::printf("  kernels: %s, %zu symbols, %s\n", OneLine(c.kernels.format).c_str(), c.kernels.symbols.size(),
              FormatSize(c.kernels.code.size()).c_str());
  if (c.prefill) {
    // The prefill program: its own arena and steps; its weights mostly the main program's bytes.
    std::set<uint64_t> main_offsets;
    for (const auto& w : c.weights) main_offsets.insert(w.file_offset);
    size_t shared = 0;
    for (const auto& w : c.prefill->weights) shared += main_offsets.count(w.file_offset);
    const auto& in = c.prefill->program.inputs;
    std::printf("  prefill: %s tokens per run, %zu steps, arena %s, %zu weights (%zu sharing the main program's bytes)\n",
                in.empty() || in[0].shape.size() != 2 ? "?" : std::to_string(in[0].shape[1]).c_str(),
                c.prefill->program.steps.size(), FormatSize(c.prefill->memory.arena_bytes).c_str(),
                c.prefill->weights.size(), shared);
  }
  if (c.kernels.format == "cuda") {
    // What the GPU will load: the cubin on its own architecture, the PTX (JIT) on newer ones.
    ASSIGN_OR_RETURN(planfmt::CudaModuleImage cu, planfmt::DecodeCudaModule(c.kernels.code));
    std::printf("  cuda: %s cubin %s, PTX fallback for compute_%s and newer %s, NVRTC %s; needs an "
                "NVIDIA driver for CUDA %s or later\n",
                cu.arch.c_str(), FormatSize(cu.cubin.size()).c_str(), cu.arch.substr(3).c_str(),
                FormatSize(cu.ptx.size()).c_str(), OneLine(cu.nvrtc_version).c_str(),
                OneLine(cu.nvrtc_version).c_str());
  }
  uint64_t wbytes = 0;
  for (const auto& w : c.weights) wbytes += w.bytes;
  uint64_t streamed_bytes = 0;
  size_t streamed = 0;
  for (const auto& w : c.weights) {
    if (w.streamed) streamed_bytes += w.bytes, ++streamed;
  }
  std::printf("  weights: %zu tensors, %s; %zu streamed on every run (%s)\n", c.weights.size(),
              FormatSize(wbytes).c_str(), streamed, FormatSize(streamed_bytes).c_str());
  for (const auto& r : c.program.inputs) {
    std::printf("  input  %-20s %-18s @%llu\n", OneLine(r.name).c_str(), TypeString(r.dtype, r.shape).c_str(), static_cast<unsigned long long>(r.offset));
  }
  for (const auto& r : c.program.outputs) {
    std::printf("  output %-20s %-18s @%llu\n", OneLine(r.name).c_str(), TypeString(r.dtype, r.shape).c_str(), static_cast<unsigned long long>(r.offset));
  }
  std::printf("  program: %zu steps\n", c.program.steps.size());
  for (size_t i = 0; i < c.program.steps.size(); ++i) {
    const auto& s = c.program.steps[i];
    std::string what = StepWhat(s, c);
    std::string args;
    for (size_t a = 0; a < s.args.size(); ++a) {
      args += (a ? (a == s.num_inputs ? " -> " : ", ") : (s.num_inputs == 0 ? "-> " : "")) +
              TypeString(s.args[a].dtype, s.args[a].shape) + "@" + std::to_string(s.args[a].offset);
    }
    std::printf("    %4zu %-24s %-18s %s\n", i, OneLine(s.node).c_str(), OneLine(what).c_str(), args.c_str());
  }
  if (show_buffers) {
    for (const auto& bi : c.memory.buffers) {
      std::printf("  buffer %-24s @%-10llu %10llu bytes  steps [%u, %u]\n", OneLine(bi.name).c_str(),
                  static_cast<unsigned long long>(bi.offset), static_cast<unsigned long long>(bi.bytes), bi.first_step, bi.last_step);
    }
  }
  return OkStatus();
}

}  // namespace
}  // namespace ts::cli

int main(int argc, char** argv) {
  using namespace ts::cli;
  CLI::App app("tsr: the TensorShunt runtime", "tsr");
  app.footer(ExitCodeHelp());
  app.require_subcommand(1);

  RunArgs r;
  CLI::App* run = app.add_subcommand("run", "Execute a .tsplan bundle");
  run->add_option("plan", r.plan, "The .tsplan bundle")->required();
  run->add_option("--input", r.inputs, "NAME=@file.npy | NAME=@tensor.pb | \"NAME=2x3xf32=1 2 3 4 5 6\" (repeatable)");
  run->add_option("--seed", r.seed, "Fill inputs not given with --input with pseudo-random values from this seed");
  run->add_option("--output-dir", r.output_dir, "Write each output as NAME.npy into this folder");
  run->add_option("--expected-output", r.expected, "NAME=@file.npy|.pb: compare and print [SUCCESS] or [FAILED]; a mismatch exits 1");
  run->add_option("--rtol", r.rtol, "Relative tolerance for --expected-output (default 1e-3)");
  run->add_option("--atol", r.atol, "Absolute tolerance for --expected-output (default 1e-5)");
  run->add_flag("-v,--verbose", r.verbose, "Load details: I/O method, timings, JIT target");
  run->add_flag("-q,--quiet", r.quiet, "Do not print output values");
  auto add_cache_flags = [](CLI::App* sub, CacheArgs& c) {
    sub->add_option("--cache-dir", c.dir, "Folder of compiled kernels, keyed by the kernels' hash and the CPU (default $TSR_CACHE_DIR, else ~/.cache/tensorshunt/kernels)");
    sub->add_flag("--no-cache", c.off, "Compile the kernels at every load; read and write no cache");
  };
  add_cache_flags(run, r.cache);
  run->add_option("--trace", r.trace, "Write a Chrome trace / Perfetto JSON of the run: compute and storage-read tracks, planned live bytes");
  run->footer(ExitCodeHelp());

  std::string inspect_plan;
  bool buffers = false;
  CLI::App* inspect = app.add_subcommand("inspect", "Describe a .tsplan bundle: sections, metadata, memory plan, program");
  inspect->add_option("plan", inspect_plan, "The .tsplan bundle")->required();
  inspect->add_flag("--buffers", buffers, "Also list every buffer of the memory plan");
  inspect->footer(ExitCodeHelp());

  BenchArgs b;
  CLI::App* bench = app.add_subcommand("bench", "Run a bundle repeatedly; print latency (min/median/mean/p90/p99), load time, stalls and predicted vs measured");
  bench->add_option("plan", b.plan, "The .tsplan bundle")->required();
  bench->add_option("--input", b.inputs, "As for run; inputs not given are seeded random");
  bench->add_option("--seed", b.seed, "Seed for inputs not given (default 0)");
  bench->add_option("--iterations", b.iterations, "Timed runs (default 20)");
  bench->add_option("--warmup", b.warmup, "Untimed runs first (default 2)");
  add_cache_flags(bench, b.cache);
  bench->add_flag("--profile", b.profile, "Time every step; print the median ms per step kind (kernel, op:Conv, ...) and the slowest steps (--json: every step)");
  bench->add_option("--json", b.json, "Also write the summary as JSON (latency_ms.{min,median,mean,p90,p99}, ...)");
  bench->footer(ExitCodeHelp());

  GenerateArgs gen;
  CLI::App* generate = app.add_subcommand("generate", "Generate tokens with a language-model plan (tsc compile CHECKPOINT_DIR)");
  generate->add_option("plan", gen.plan, "The .tsplan bundle")->required();
  generate->add_option("--prompt-ids", gen.prompt_ids, "The prompt's token ids, comma-separated: 1,5,9");
  generate->add_option("--prompt", gen.prompt, "The prompt as text, encoded with the tokenizer (a BOS added as the tokenizer's template says)");
  generate->add_option("--tokenizer", gen.tokenizer, "A tokenizer.json (or a checkpoint folder with one) instead of the bundle's own");
  generate->add_flag("--print-ids", gen.print_ids, "Print token ids even when a tokenizer could print text");
  generate->add_flag("--ignore-eos", gen.ignore_eos, "Do not stop at the checkpoint's eos_token_id");
  generate->add_flag("--no-prefill", gen.no_prefill, "Take the prompt through the decoding step even when the bundle has a prefill program");
  generate->add_option("--max-new-tokens", gen.max_new_tokens, "Tokens to generate (default 32; at most the plan's window minus the prompt)");
  generate->add_option("--temperature", gen.temperature, "0 (default): greedy; else sample from softmax(logits / T)");
  generate->add_option("--top-k", gen.top_k, "Sample among the K likeliest tokens only (0: all)");
  generate->add_option("--top-p", gen.top_p, "Sample among the fewest likeliest tokens whose probability reaches P (default 1)");
  generate->add_option("--seed", gen.seed, "Seed for sampling (default 0)");
  generate->add_option("--stop-id", gen.stop_ids, "Stop after generating this token id (repeatable; the checkpoint's eos_token_id stops it too)");
  generate->add_option("--ids-out", gen.ids_out, "Write the generated token ids as a JSON array");
  add_cache_flags(generate, gen.cache);
  generate->footer(ExitCodeHelp());

  TokenizeArgs tok;
  CLI::App* tokenize = app.add_subcommand("tokenize", "Text to token ids, or ids to text, with a checkpoint's tokenizer.json");
  tokenize->add_option("tokenizer", tok.source, "A tokenizer.json, a checkpoint folder with one, or a .tsplan bundle that carries one")->required();
  tokenize->add_option("--text", tok.text, "Text to encode; prints its ids as a JSON array");
  tokenize->add_option("--text-file", tok.text_file, "Encode this file's bytes (UTF-8) instead");
  tokenize->add_option("--decode", tok.decode, "Token ids to decode, comma-separated: 1,5,9; prints the text");
  tokenize->add_flag("--no-special-tokens", tok.no_special_tokens, "Encode without the template's special tokens (BOS)");
  tokenize->add_flag("--skip-special-tokens", tok.skip_special_tokens, "Decode without special tokens");
  tokenize->footer(ExitCodeHelp());

  if (int rc = ParseArgs(app, argc, argv); rc >= 0) return rc;
  ts::Status st = *run ? Run(r) : *bench ? Bench(b) : *generate ? Generate(gen) : *tokenize ? Tokenize(tok)
                                                                                           : Inspect(inspect_plan, buffers);
  if (!st.ok()) return ReportError("tsr", st);
  return kExitOk;
}
