#include "cli/timeline.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>

#include "passes/memory_planner.h"

namespace ts::cli {
namespace {

using planfmt::StepKind;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr double kMiB = 1024.0 * 1024.0;

// Beyond this many steps the per-step hover boxes would make the file large for little use.
constexpr size_t kMaxHoverSteps = 4000;
constexpr size_t kMaxNameBytes = 160;
constexpr size_t kMaxTitleBytes = 90;

uint64_t SatAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? kU64Max : r;
}

uint64_t AlignedSize(uint64_t bytes) {
  constexpr uint64_t a = passes::kArenaAlignment;
  return bytes > kU64Max - (a - 1) ? kU64Max : (bytes + a - 1) / a * a;
}

uint64_t Saturate(unsigned __int128 v) { return v > kU64Max ? kU64Max : static_cast<uint64_t>(v); }

// A strict decimal byte count: digits only, no overflow.
std::optional<uint64_t> ParseByteCount(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v))
      return std::nullopt;
  }
  return v;
}

std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* format, ...) {
  va_list ap, ap2;
  va_start(ap, format);
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, format, ap);
  va_end(ap);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, ap2);
  va_end(ap2);
  return out;
}

// "12.34 MiB": two decimals from 1 MiB, more below so small plans do not read as zero; rounded
// down, as FormatSize does, so the text never overstates.
std::string Mib(uint64_t bytes) {
  if (bytes == 0) return "0 MiB";
  const double m = static_cast<double>(bytes) / kMiB;
  const int decimals = m >= 1 ? 2 : m >= 0.01 ? 3 : 5;
  const double scale = std::pow(10.0, decimals);
  return Fmt("%.*f MiB", decimals, std::floor(m * scale) / scale);
}

std::string MibExact(uint64_t bytes) {
  return Mib(bytes) + Fmt(" (%llu bytes)", static_cast<unsigned long long>(bytes));
}

// At most `max_bytes` of `text`, cut before a UTF-8 continuation byte, then "...".
std::string Shorten(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

// 1, 2 or 5 times a power of ten, at least x.
double NiceStep(double x) {
  if (!(x > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  const double f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

}  // namespace

uint64_t StepBytes::Arena() const {
  return SatAdd(SatAdd(resident_weights, streamed_weights), activations);
}

uint64_t Timeline::TotalBytes() const { return SatAdd(arena_bytes, staging_bytes); }

Timeline ComputeTimeline(const planfmt::PlanContents& plan) {
  Timeline t;
  for (const planfmt::Step& s : plan.program.steps) {
    if (planfmt::IsPlanStep(s.kind)) t.step_nodes.push_back(s.node);
  }
  const size_t n = t.step_nodes.size();
  t.steps.resize(n);
  const planfmt::MemoryPlan& m = plan.memory;
  t.arena_bytes = m.arena_bytes;
  t.lower_bound_bytes = m.lower_bound_bytes;
  t.peak_step = m.peak_step;
  t.peak_node = m.peak_node;
  // The reader checks the staging fields only when there are weight bytes to read.
  if (__builtin_mul_overflow(m.io_chunk_bytes, uint64_t{m.io_queue_depth}, &t.staging_bytes)) {
    t.staging_bytes = kU64Max;
  }

  // Each weight claims the first buffer with its name, arena offset and size.
  using Key = std::tuple<std::string_view, uint64_t, uint64_t>;
  std::multimap<Key, bool> unclaimed;  // -> streamed
  for (const planfmt::WeightEntry& w : plan.weights) {
    unclaimed.emplace(Key{w.name, w.arena_offset, w.bytes}, w.streamed);
  }

  // Difference arrays per category; 128 bits cannot overflow for any count of 64-bit sizes.
  // kPadded: all three with each buffer rounded up to the arena alignment, as the bound counts.
  enum { kResident, kStreamed, kActivations, kCategories, kPadded = kCategories };
  std::vector<unsigned __int128> diff[kCategories + 1];
  for (auto& d : diff) d.assign(n + 1, 0);
  size_t outside = 0;
  for (const planfmt::BufferInfo& b : m.buffers) {
    int category = kActivations;
    if (auto it = unclaimed.find(Key{b.name, b.offset, b.bytes}); it != unclaimed.end()) {
      category = it->second ? kStreamed : kResident;
      unclaimed.erase(it);
    }
    if (b.first_step > b.last_step || b.first_step >= n) {
      outside += b.bytes > 0;
      continue;
    }
    const size_t last = std::min<size_t>(b.last_step, n - 1);
    diff[category][b.first_step] += b.bytes;
    diff[category][last + 1] -= b.bytes;
    diff[kPadded][b.first_step] += AlignedSize(b.bytes);
    diff[kPadded][last + 1] -= AlignedSize(b.bytes);
  }
  unsigned __int128 live[kCategories + 1] = {0, 0, 0, 0};
  uint64_t max_live = 0, max_padded = 0;
  size_t max_step = 0;
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c <= kCategories; ++c) live[c] += diff[c][i];
    t.steps[i] = {Saturate(live[kResident]), Saturate(live[kStreamed]),
                  Saturate(live[kActivations])};
    if (i == 0 || t.steps[i].Arena() > max_live) max_live = t.steps[i].Arena(), max_step = i;
    max_padded = std::max(max_padded, Saturate(live[kPadded]));
  }

  // Notes, in the order a reader would ask.
  if (const auto it = std::find_if(plan.metadata.begin(), plan.metadata.end(),
                                   [](const auto& kv) { return kv.first == "budget_bytes"; });
      it != plan.metadata.end()) {
    t.budget_bytes = ParseByteCount(it->second);
    if (!t.budget_bytes) {
      t.notes.push_back("The metadata's budget_bytes '" + Shorten(it->second, kMaxNameBytes) +
                        "' is not a byte count: no budget line.");
    }
  }
  if (n == 0) t.notes.push_back("The program has no compute steps: nothing to draw.");
  size_t orphans = 0;
  uint64_t orphan_bytes = 0;
  for (const auto& [key, streamed] : unclaimed) {
    if (std::get<2>(key) == 0) continue;
    ++orphans;
    orphan_bytes = SatAdd(orphan_bytes, std::get<2>(key));
  }
  if (orphans) {
    t.notes.push_back(Fmt("%zu weight%s (%s) %s no buffer in the memory plan: not drawn.", orphans,
                          orphans == 1 ? "" : "s", Mib(orphan_bytes).c_str(),
                          orphans == 1 ? "has" : "have"));
  }
  if (outside) {
    t.notes.push_back(
        Fmt("%zu buffer%s of the memory plan %s an interval outside the %zu steps: not drawn.",
            outside, outside == 1 ? "" : "s", outside == 1 ? "has" : "have", n));
  }
  if (n > 0) {
    t.bound_counts_padding = max_live != t.lower_bound_bytes && max_padded == t.lower_bound_bytes;
    if (max_live != t.lower_bound_bytes && !t.bound_counts_padding) {
      t.notes.push_back(
          Fmt("The live bytes drawn reach %llu at step %zu, but the memory plan records a lower "
              "bound of %llu bytes.",
              static_cast<unsigned long long>(max_live), max_step,
              static_cast<unsigned long long>(t.lower_bound_bytes)));
    }
    if (t.peak_step >= n) {
      t.notes.push_back(Fmt("The recorded peak step %u is past the last of %zu steps: not marked.",
                            t.peak_step, n));
    }
  }
  return t;
}

std::string XmlText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) { out += Fmt("\\x%02x", c); };
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            escape(c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (byte(i + k) & 0xc0) == 0x80;
      cp = cp << 6 | (byte(i + k) & 0x3f);
    }
    ok = ok && !(len == 3 && cp < 0x800) && !(len == 4 && (cp < 0x10000 || cp > 0x10ffff)) &&
         !(cp >= 0xd800 && cp <= 0xdfff) &&
         !(cp >= 0x80 && cp <= 0x9f) &&  // the C1 controls, as OneLine treats them
         cp != 0xfffe && cp != 0xffff;
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

namespace {

// The drawing: a plot area with the stacked steps and lines, the axes, then the legend below.
class SvgTimeline {
 public:
  SvgTimeline(const Timeline& t, std::string_view title)
      : t_(t), title_(title), n_(t.steps.size()) {}

  std::string Render() {
    ScaleY();
    Titles();
    Grid();
    Areas();
    Lines();
    PeakMarker();
    Axes();
    Hover();
    Legend();
    // The height follows the legend's rows.
    const int height = kTop + kPlotH + kLegendTop + rows_ * kRowH;
    return Fmt("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
               "%d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n",
               kWidth, height, kWidth, height) +
           "<title>" + XmlText(Shorten(title_, 2 * kMaxNameBytes)) + "</title>\n" +
           Fmt("<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", kWidth, height) + out_ +
           "</svg>\n";
  }

 private:
  static constexpr int kWidth = 1000, kLeft = 96, kRight = 30, kTop = 70, kPlotH = 360;
  static constexpr int kPlotW = kWidth - kLeft - kRight;
  static constexpr int kLegendTop = 64, kRowH = 20;
  static constexpr const char* kResidentColor = "#4e79a7";
  static constexpr const char* kStreamedColor = "#f28e2b";
  static constexpr const char* kActivationsColor = "#59a14f";
  static constexpr const char* kStagingColor = "#ffbe7d";
  static constexpr const char* kPeakColor = "#d62728";
  static constexpr const char* kTotalColor = "#7b4ea3";
  static constexpr const char* kBudgetColor = "#000000";
  // A white outline under labels that cross the bands.
  static constexpr const char* kHalo =
      " stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"";

  double X(double step) const {
    return kLeft + kPlotW * (n_ ? step / static_cast<double>(n_) : 0.0);
  }
  double Y(uint64_t bytes) const {
    return kTop + kPlotH * (1.0 - static_cast<double>(bytes) / y_max_);
  }
  uint64_t Total(size_t i) const { return SatAdd(t_.steps[i].Arena(), t_.staging_bytes); }

  void ScaleY() {
    uint64_t top = t_.TotalBytes();
    for (size_t i = 0; i < n_; ++i) top = std::max(top, Total(i));
    if (t_.budget_bytes) top = std::max(top, *t_.budget_bytes);
    // Headroom above the highest line for the labels.
    const double top_mib = top > 0 ? static_cast<double>(top) / kMiB * 1.12 : 1.0;
    y_step_mib_ = NiceStep(top_mib / 6);
    y_max_ = std::ceil(top_mib / y_step_mib_ * (1 + 1e-9)) * y_step_mib_ * kMiB;
    if (y_max_ < static_cast<double>(top)) y_max_ = static_cast<double>(top);
  }

  int YTicks() const { return static_cast<int>(std::lround(y_max_ / kMiB / y_step_mib_)); }

  void Titles() {
    out_ += Fmt("<text x=\"%d\" y=\"28\" font-size=\"17\" font-weight=\"bold\">", kLeft) +
            XmlText(Shorten(title_, kMaxTitleBytes)) + "</text>\n";
    out_ += Fmt("<text x=\"%d\" y=\"50\" fill=\"#444444\">", kLeft) +
            XmlText(Fmt("%zu steps; planned peak %s; lower bound %s at step %u", n_,
                        MibExact(t_.arena_bytes).c_str(), Mib(t_.lower_bound_bytes).c_str(),
                        t_.peak_step)) +
            "</text>\n";
  }

  void Grid() {
    out_ += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
    for (int k = 1; k <= YTicks(); ++k) {
      const double v = k * y_step_mib_;
      const double y = kTop + kPlotH * (1.0 - v * kMiB / y_max_);
      out_ +=
          Fmt("<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", kLeft, y, kLeft + kPlotW, y);
    }
    out_ += "</g>\n";
  }

  // One step-shaped band per category, stacked: [below(i), below(i) + value(i)) over [i, i+1).
  template <typename Value>
  void Band(const char* id, const char* color, const std::vector<uint64_t>& below, Value value) {
    bool any = false;
    for (size_t i = 0; i < n_ && !any; ++i) any = value(i) > 0;
    if (!any) return;
    std::string d = Fmt("M%.2f,%.2f", X(0), Y(SatAdd(below[0], value(0))));
    for (size_t i = 0; i < n_; ++i) {
      if (i) d += Fmt("V%.2f", Y(SatAdd(below[i], value(i))));
      d += Fmt("H%.2f", X(static_cast<double>(i + 1)));
    }
    for (size_t i = n_; i-- > 0;) {
      d += Fmt("V%.2f", Y(below[i]));
      d += Fmt("H%.2f", X(static_cast<double>(i)));
    }
    out_ += Fmt("<path id=\"%s\" fill=\"%s\" stroke=\"none\" d=\"%sZ\"/>\n", id, color, d.c_str());
  }

  void Areas() {
    if (n_ == 0) return;
    std::vector<uint64_t> below(n_, 0);
    auto stack = [&](const char* id, const char* color, auto value) {
      Band(id, color, below, value);
      for (size_t i = 0; i < n_; ++i) below[i] = SatAdd(below[i], value(i));
    };
    stack("resident-weights", kResidentColor,
          [&](size_t i) { return t_.steps[i].resident_weights; });
    stack("streamed-weights", kStreamedColor,
          [&](size_t i) { return t_.steps[i].streamed_weights; });
    stack("activations", kActivationsColor, [&](size_t i) { return t_.steps[i].activations; });
    stack("io-staging", kStagingColor, [&](size_t) { return t_.staging_bytes; });
  }

  void HLine(const char* id, const char* color, const char* dash, uint64_t bytes,
             const std::string& label, bool label_above) {
    const double y = Y(bytes);
    out_ +=
        Fmt("<line id=\"%s\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"%s\" "
            "stroke-width=\"1.5\"%s/>\n",
            id, kLeft, y, kLeft + kPlotW, y, color, dash);
    out_ += Fmt("<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" fill=\"%s\"%s>", kLeft + kPlotW - 4,
                label_above ? y - 4 : y + 13, color, kHalo) +
            XmlText(label) + "</text>\n";
  }

  void Lines() {
    constexpr const char* kDashed = " stroke-dasharray=\"6,4\"";
    const bool staging = t_.staging_bytes > 0;
    HLine("planned-peak", kPeakColor, kDashed, t_.arena_bytes,
          "planned peak (arena) " + Mib(t_.arena_bytes), !staging);
    if (staging) {
      HLine("arena-plus-staging", kTotalColor, kDashed, t_.TotalBytes(),
            "arena + I/O staging " + Mib(t_.TotalBytes()), true);
    }
    if (t_.budget_bytes)
      HLine("budget", kBudgetColor, "", *t_.budget_bytes, "budget " + Mib(*t_.budget_bytes), true);
  }

  void PeakMarker() {
    if (t_.peak_step >= n_) return;
    const double x = X(t_.peak_step + 0.5);
    const double y = Y(t_.steps[t_.peak_step].Arena());
    out_ +=
        Fmt("<g id=\"peak-step\" stroke=\"%s\">\n"
            "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke-width=\"1\" "
            "stroke-dasharray=\"2,3\"/>\n"
            "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"%s\"/>\n</g>\n",
            kPeakColor, x, kTop, x, kTop + kPlotH, x, y, kPeakColor);
    const bool right_half = x > kLeft + kPlotW / 2.0;
    out_ += Fmt("<text x=\"%.2f\" y=\"%d\" text-anchor=\"%s\" fill=\"%s\"%s>",
                right_half ? x - 6 : x + 6, kTop + 14, right_half ? "end" : "start", kPeakColor,
                kHalo) +
            XmlText(Fmt("peak step %u: ", t_.peak_step) + Mib(t_.steps[t_.peak_step].Arena()) +
                    " live") +
            "</text>\n";
  }

  void Axes() {
    const int bottom = kTop + kPlotH;
    out_ +=
        Fmt("<g stroke=\"#333333\" stroke-width=\"1\">\n"
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
            "y2=\"%d\"/>\n</g>\n",
            kLeft, kTop, kLeft, bottom, kLeft, bottom, kLeft + kPlotW, bottom);
    // y: MiB, with as many decimals as the tick step needs.
    const int decimals =
        std::clamp(static_cast<int>(-std::floor(std::log10(y_step_mib_) + 1e-9)), 0, 6);
    out_ += "<g text-anchor=\"end\">\n";
    for (int k = 0; k <= YTicks(); ++k) {
      const double v = k * y_step_mib_;
      const double y = kTop + kPlotH * (1.0 - v * kMiB / y_max_);
      out_ += Fmt("<text x=\"%d\" y=\"%.2f\">%.*f</text>\n", kLeft - 6, y + 4, decimals, v);
    }
    out_ += "</g>\n";
    out_ +=
        Fmt("<text x=\"20\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
            "%d)\">planned bytes "
            "(MiB)</text>\n",
            kTop + kPlotH / 2, kTop + kPlotH / 2);
    // x: step indices at the middle of their column.
    if (n_ > 0) {
      const size_t every =
          std::max<size_t>(1, static_cast<size_t>(NiceStep(static_cast<double>(n_) / 12)));
      out_ += "<g text-anchor=\"middle\">\n";
      for (size_t i = 0; i < n_; i += every) {
        const double x = X(static_cast<double>(i) + 0.5);
        out_ +=
            Fmt("<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#333333\"/>"
                "<text x=\"%.2f\" y=\"%d\">%zu</text>\n",
                x, bottom, x, bottom + 4, x, bottom + 18, i);
      }
      out_ += "</g>\n";
    }
    out_ +=
        Fmt("<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">step (the memory plan's compute "
            "steps; load and "
            "wait steps not counted)</text>\n",
            kLeft + kPlotW / 2.0, bottom + 40);
  }

  // Transparent columns whose tooltips give each step's figures.
  void Hover() {
    if (n_ == 0 || n_ > kMaxHoverSteps) return;
    const double w = static_cast<double>(kPlotW) / static_cast<double>(n_);
    out_ += "<g fill=\"#ffffff\" fill-opacity=\"0\">\n";
    for (size_t i = 0; i < n_; ++i) {
      const StepBytes& s = t_.steps[i];
      out_ += Fmt("<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\"><title>",
                  X(static_cast<double>(i)), kTop, w, kPlotH) +
              XmlText(Fmt("step %zu '", i) + Shorten(t_.step_nodes[i], kMaxNameBytes) +
                      "': resident weights " + Mib(s.resident_weights) + ", streamed weights " +
                      Mib(s.streamed_weights) + ", activations " + Mib(s.activations) +
                      ", I/O staging " + Mib(t_.staging_bytes) + "; arena live " + Mib(s.Arena())) +
              "</title></rect>\n";
    }
    out_ += "</g>\n";
  }

  enum class Swatch { kBox, kLine, kDashed, kDot, kNone };

  void Row(Swatch swatch, const char* color, const std::string& text) {
    const int y = kTop + kPlotH + kLegendTop + rows_++ * kRowH;
    switch (swatch) {
      case Swatch::kBox:
        out_ += Fmt("<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"11\" fill=\"%s\"/>\n", kLeft,
                    y - 10, color);
        break;
      case Swatch::kLine:
      case Swatch::kDashed:
        out_ += Fmt(
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            kLeft, y - 5, kLeft + 22, y - 5, color,
            swatch == Swatch::kDashed ? " stroke-dasharray=\"6,4\"" : "");
        break;
      case Swatch::kDot:
        out_ +=
            Fmt("<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>\n", kLeft + 11, y - 5, color);
        break;
      case Swatch::kNone:
        break;
    }
    out_ += Fmt("<text x=\"%d\" y=\"%d\">", kLeft + 30, y) + XmlText(text) + "</text>\n";
  }

  void Legend() {
    uint64_t max_resident = 0, max_streamed = 0, max_activations = 0;
    for (const StepBytes& s : t_.steps) {
      max_resident = std::max(max_resident, s.resident_weights);
      max_streamed = std::max(max_streamed, s.streamed_weights);
      max_activations = std::max(max_activations, s.activations);
    }
    out_ += "<g id=\"legend\">\n";
    Row(Swatch::kBox, kResidentColor,
        max_resident ? "Resident weights: in the arena before the first step (" +
                           Mib(max_resident) + " at most)"
                     : "Resident weights: none in this plan");
    Row(Swatch::kBox, kStreamedColor,
        max_streamed ? "Streamed weights: read from the bundle on every run, live from their load "
                       "step to their "
                       "last use (at most " +
                           Mib(max_streamed) + " at one step)"
                     : "Streamed weights: none in this plan");
    Row(Swatch::kBox, kActivationsColor,
        "Activations and other buffers of the memory plan (at most " + Mib(max_activations) +
            " at one step)");
    Row(Swatch::kBox, kStagingColor,
        t_.staging_bytes ? "I/O staging for weight reads: " + Mib(t_.staging_bytes) +
                               ", outside the arena, allocated for the whole run"
                         : "I/O staging: none recorded in the plan");
    Row(Swatch::kDashed, kPeakColor,
        "Planned peak: the arena, " + MibExact(t_.arena_bytes) +
            " (the compile report's peak_bytes)");
    Row(Swatch::kDashed, kTotalColor,
        "Arena + I/O staging: " + MibExact(t_.TotalBytes()) +
            " (the compile report's total_bytes)");
    Row(Swatch::kLine, kBudgetColor,
        t_.budget_bytes ? "Budget: " + MibExact(*t_.budget_bytes)
                        : "Budget: none recorded in the bundle (compiled without --vram), so not drawn");
    const std::string peak =
        Fmt("Peak step %u, node '", t_.peak_step) + Shorten(t_.peak_node, kMaxNameBytes) + "': ";
    if (t_.bound_counts_padding && t_.peak_step < n_) {
      Row(Swatch::kDot, kPeakColor,
          peak + MibExact(t_.steps[t_.peak_step].Arena()) + " of tensors live in the arena");
      Row(Swatch::kNone, "",
          Fmt("(the plan's lower bound, %llu bytes, counts each buffer rounded up to the arena's "
              "%llu-byte alignment)",
              static_cast<unsigned long long>(t_.lower_bound_bytes),
              static_cast<unsigned long long>(passes::kArenaAlignment)));
    } else {
      Row(Swatch::kDot, kPeakColor,
          peak + MibExact(t_.lower_bound_bytes) + " live in the arena (the plan's lower bound)");
    }
    for (const std::string& note : t_.notes) Row(Swatch::kNone, "", "Note: " + note);
    out_ += "</g>\n";
  }

  const Timeline& t_;
  std::string_view title_;
  size_t n_;
  double y_max_ = kMiB;  // bytes at the top of the plot
  double y_step_mib_ = 1;
  int rows_ = 0;
  std::string out_;
};

}  // namespace

std::string RenderTimelineSvg(const Timeline& t, std::string_view title) {
  return SvgTimeline(t, title).Render();
}

}  // namespace ts::cli
