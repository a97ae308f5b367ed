#include "cli/timeline.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ts::cli {
namespace {

using planfmt::StepKind;

planfmt::Step MakeStep(StepKind kind, std::string node, int64_t weight = -1) {
  planfmt::Step s;
  s.kind = kind;
  s.node = std::move(node);
  if (weight >= 0) s.iparams = {weight};
  return s;
}

// Four compute steps; W0 resident, W1 streamed (loaded at the start of compute step 1, last used
// at step 2), three activations. Live bytes by hand:
//   step  resident  streamed  activations        arena
//   0     1000      0         300 (x)            1300
//   1     1000      2000      300 + 500 (x, y)   3800  <- the peak
//   2     1000      2000      500 (y)            3500
//   3     1000      0         500 + 100 (y, z)   1600
planfmt::PlanContents SmallPlan() {
  planfmt::PlanContents c;
  c.metadata = {{"target", "cpu"}, {"tsc_version", "0.1.0"}};
  c.program.steps = {MakeStep(StepKind::kBuiltin, "mm<0>&\"q'"),
                     MakeStep(StepKind::kLoad, "load W1", 1),
                     MakeStep(StepKind::kJitKernel, "add_1"),
                     MakeStep(StepKind::kWait, "wait W1", 1),
                     MakeStep(StepKind::kOp, "mm_2"),
                     MakeStep(StepKind::kOp, "relu_3")};
  c.weights = {{"W0", 0, 1000, 0, false}, {"W1", 4096, 2000, 4096, true}};
  c.memory.arena_bytes = 12000;
  c.memory.lower_bound_bytes = 3800;
  c.memory.peak_step = 1;
  c.memory.peak_node = "add_1";
  c.memory.io_chunk_bytes = 4096;
  c.memory.io_queue_depth = 2;
  c.memory.buffers = {{"W0", 0, 1000, 0, 3},
                      {"W1", 4096, 2000, 1, 2},
                      {"x", 8192, 300, 0, 1},
                      {"y", 9000, 500, 1, 3},
                      {"z", 9600, 100, 3, 3}};
  return c;
}

// Tags nest and close, and every '&' starts one of the five entities: enough to catch what
// unescaped names or a broken writer would produce.
::testing::AssertionResult WellFormedish(const std::string& svg) {
  std::vector<std::string> open;
  for (size_t i = 0; i < svg.size(); ++i) {
    if (svg[i] == '&') {
      bool entity = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
        entity |= svg.compare(i, strlen(e), e) == 0;
      if (!entity) return ::testing::AssertionFailure() << "bare '&' at " << i;
    }
    if (svg[i] == '>') return ::testing::AssertionFailure() << "bare '>' at " << i;
    if (svg[i] != '<') continue;
    const size_t end = svg.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed '<' at " << i;
    const std::string tag = svg.substr(i + 1, end - i - 1);
    if (tag.empty()) return ::testing::AssertionFailure() << "empty tag at " << i;
    if (tag.find('<') != std::string::npos)
      return ::testing::AssertionFailure() << "'<' inside a tag at " << i;
    i = end;
    if (tag[0] == '?' || tag[0] == '!' || tag.back() == '/') continue;
    const std::string name =
        tag.substr(tag[0] == '/', tag.find_first_of(" \n", 0) - (tag[0] == '/'));
    if (tag[0] != '/') {
      open.push_back(name);
    } else if (open.empty() || open.back() != name) {
      return ::testing::AssertionFailure()
             << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back());
    } else {
      open.pop_back();
    }
  }
  if (!open.empty())
    return ::testing::AssertionFailure() << "<" << open.back() << "> is never closed";
  return ::testing::AssertionSuccess();
}

TEST(TimelineTest, PerStepBytesByCategory) {
  const Timeline t = ComputeTimeline(SmallPlan());
  ASSERT_EQ(t.steps.size(), 4u);
  EXPECT_EQ(t.steps[0], (StepBytes{1000, 0, 300}));
  EXPECT_EQ(t.steps[1], (StepBytes{1000, 2000, 800}));
  EXPECT_EQ(t.steps[2], (StepBytes{1000, 2000, 500}));
  EXPECT_EQ(t.steps[3], (StepBytes{1000, 0, 600}));
  EXPECT_EQ(t.steps[1].Arena(), 3800u);
  EXPECT_EQ(t.step_nodes, (std::vector<std::string>{"mm<0>&\"q'", "add_1", "mm_2", "relu_3"}));
  EXPECT_EQ(t.staging_bytes, 8192u);
  EXPECT_EQ(t.arena_bytes, 12000u);
  EXPECT_EQ(t.TotalBytes(), 20192u);
  EXPECT_EQ(t.peak_step, 1u);
  EXPECT_FALSE(t.budget_bytes.has_value());
  EXPECT_TRUE(t.notes.empty()) << t.notes[0];
}

// Spill and fill steps are steps of the memory plan (they are in its intervals), loads and waits
// are not: a spill after step 0 and a fill before the last step shift the later steps by one
// and two, and each is named.
TEST(TimelineTest, SpillAndFillAreStepsOfThePlan) {
  planfmt::PlanContents c = SmallPlan();
  c.program.steps.insert(c.program.steps.begin() + 1, MakeStep(StepKind::kSpill, "spill x"));
  c.program.steps.insert(c.program.steps.end() - 1, MakeStep(StepKind::kFill, "fill x"));
  const Timeline t = ComputeTimeline(c);
  EXPECT_EQ(t.step_nodes, (std::vector<std::string>{"mm<0>&\"q'", "spill x", "add_1", "mm_2", "fill x",
                                                    "relu_3"}));
  ASSERT_EQ(t.steps.size(), 6u);
}

// The planner's bound counts each buffer rounded up to the arena alignment (64 bytes): at step 1,
// 1024 + 2048 + 320 + 512 = 3904. That explains the gap; it is not an inconsistency.
TEST(TimelineTest, LowerBoundWithAlignmentPadding) {
  planfmt::PlanContents c = SmallPlan();
  c.memory.lower_bound_bytes = 3904;
  const Timeline t = ComputeTimeline(c);
  EXPECT_TRUE(t.bound_counts_padding);
  EXPECT_TRUE(t.notes.empty()) << t.notes[0];
  EXPECT_EQ(t.steps[1].Arena(), 3800u);
  const std::string svg = RenderTimelineSvg(t, "padded");
  EXPECT_NE(svg.find("Peak step 1, node &apos;add_1&apos;: 0.00362 MiB (3800 bytes) of tensors "
                     "live in the arena"),
            std::string::npos);
  EXPECT_NE(svg.find("(the plan&apos;s lower bound, 3904 bytes, counts each buffer rounded up to "
                     "the arena&apos;s "
                     "64-byte alignment)"),
            std::string::npos);
  c.memory.lower_bound_bytes = 3905;
  EXPECT_FALSE(ComputeTimeline(c).bound_counts_padding);
  EXPECT_EQ(ComputeTimeline(c).notes.size(), 1u);
}

TEST(TimelineTest, BudgetOnlyWhenTheBundleRecordsOne) {
  planfmt::PlanContents c = SmallPlan();
  c.metadata.emplace_back("budget_bytes", "50000");
  EXPECT_EQ(ComputeTimeline(c).budget_bytes, 50000u);
  c.metadata.back().second = "50M";
  const Timeline t = ComputeTimeline(c);
  EXPECT_FALSE(t.budget_bytes.has_value());
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_NE(t.notes[0].find("'50M' is not a byte count"), std::string::npos);
}

// What a hand-made bundle can hold and the reader lets through: intervals past the program, a
// weight with no buffer, a lower bound that does not match, a peak step past the compute steps.
TEST(TimelineTest, InconsistentPlansAreDrawnAsFarAsTheyGoAndNoted) {
  planfmt::PlanContents c = SmallPlan();
  c.memory.buffers.erase(c.memory.buffers.begin());             // W0 has no buffer now
  c.memory.buffers.push_back({"late", 0, 7, 9, 9});             // starts past the last step
  c.memory.buffers.push_back({"backwards", 0, 11, 2, 1});       // first > last
  c.memory.buffers.push_back({"long", 0, 13, 3, 4000000000u});  // runs past the end: clamped
  c.memory.peak_step = 5;
  const Timeline t = ComputeTimeline(c);
  ASSERT_EQ(t.steps.size(), 4u);
  EXPECT_EQ(t.steps[0], (StepBytes{0, 0, 300}));
  EXPECT_EQ(t.steps[3], (StepBytes{0, 0, 613}));
  ASSERT_EQ(t.notes.size(), 4u);
  EXPECT_EQ(t.notes[0], "1 weight (0.00095 MiB) has no buffer in the memory plan: not drawn.");
  EXPECT_EQ(t.notes[1],
            "2 buffers of the memory plan have an interval outside the 4 steps: not drawn.");
  EXPECT_EQ(
      t.notes[2],
      "The live bytes drawn reach 2800 at step 1, but the memory plan records a lower bound of "
      "3800 bytes.");
  EXPECT_EQ(t.notes[3], "The recorded peak step 5 is past the last of 4 steps: not marked.");
  const std::string svg = RenderTimelineSvg(t, "odd.tsplan");
  EXPECT_TRUE(WellFormedish(svg));
  EXPECT_EQ(svg.find("id=\"peak-step\""), std::string::npos);
  EXPECT_NE(svg.find("Note: The recorded peak step 5"), std::string::npos);
}

TEST(TimelineTest, HugeSizesSaturateInsteadOfWrapping) {
  planfmt::PlanContents c = SmallPlan();
  c.memory.buffers = {{"a", 0, ~uint64_t{0}, 0, 3}, {"b", 0, ~uint64_t{0}, 0, 3}};
  c.memory.io_chunk_bytes = uint64_t{1} << 63;
  c.memory.io_queue_depth = 4;
  const Timeline t = ComputeTimeline(c);
  EXPECT_EQ(t.steps[0].activations, ~uint64_t{0});
  EXPECT_EQ(t.staging_bytes, ~uint64_t{0});
  EXPECT_TRUE(WellFormedish(RenderTimelineSvg(t, "huge")));
}

TEST(TimelineTest, EmptyProgramStillGivesADocument) {
  const Timeline t = ComputeTimeline(planfmt::PlanContents{});
  EXPECT_TRUE(t.steps.empty());
  ASSERT_EQ(t.notes.size(), 1u);
  const std::string svg = RenderTimelineSvg(t, "empty");
  EXPECT_TRUE(WellFormedish(svg));
  EXPECT_NE(svg.find("nothing to draw"), std::string::npos);
}

TEST(TimelineSvgTest, ElementsFiguresAndEscapedNames) {
  planfmt::PlanContents c = SmallPlan();
  c.metadata.emplace_back("budget_bytes", "50000");
  const std::string svg = RenderTimelineSvg(ComputeTimeline(c), "model <\"a&b\">.tsplan");
  EXPECT_TRUE(WellFormedish(svg));
  EXPECT_EQ(
      svg.rfind(
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"",
          0),
      0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  for (const char* id : {"resident-weights", "streamed-weights", "activations", "io-staging",
                         "planned-peak", "arena-plus-staging", "budget", "peak-step", "legend"}) {
    EXPECT_NE(svg.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(svg.find("model &lt;&quot;a&amp;b&quot;&gt;.tsplan"), std::string::npos);
  EXPECT_NE(svg.find("step 0 &apos;mm&lt;0&gt;&amp;&quot;q&apos;&apos;"), std::string::npos);
  EXPECT_EQ(svg.find("mm<0>"), std::string::npos);
  EXPECT_NE(svg.find("Planned peak: the arena, 0.011 MiB (12000 bytes) (the compile report&apos;s "
                     "peak_bytes)"),
            std::string::npos);
  EXPECT_NE(svg.find("Arena + I/O staging: 0.019 MiB (20192 bytes)"), std::string::npos);
  EXPECT_NE(svg.find("Budget: 0.047 MiB (50000 bytes)"), std::string::npos);
  EXPECT_NE(svg.find("Peak step 1, node &apos;add_1&apos;: 0.00362 MiB (3800 bytes) live"),
            std::string::npos);
  EXPECT_NE(svg.find("planned bytes (MiB)"), std::string::npos);
}

// The stacked bands are step-shaped and meet: the top of each band at a step is the bottom of the
// next. With no budget, the y axis ends at the first tick at or above arena + staging plus 12%
// headroom for the labels.
TEST(TimelineSvgTest, BandsAndScale) {
  const std::string svg = RenderTimelineSvg(ComputeTimeline(SmallPlan()), "t");
  // 20192 bytes = 0.0193 MiB, 0.0216 with headroom; ticks of 0.005 MiB up to 0.025.
  EXPECT_NE(svg.find(">0.025</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">0.030</text>"), std::string::npos);
  EXPECT_EQ(svg.find("id=\"budget\""), std::string::npos);
  EXPECT_NE(svg.find("Budget: none recorded in the bundle"), std::string::npos);
  // Four columns of 874/4 px from x = 96; the resident band starts at the bottom left.
  EXPECT_NE(svg.find("<path id=\"resident-weights\" fill=\"#4e79a7\" stroke=\"none\" d=\"M96.00,"),
            std::string::npos);
  EXPECT_NE(svg.find("H314.50"), std::string::npos);
}

TEST(XmlTextTest, EscapesMarkupAndKeepsOnlyXmlCharacters) {
  EXPECT_EQ(XmlText("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(XmlText("tab\there\n"), "tab\\x09here\\x0a");
  EXPECT_EQ(XmlText("\xff"), "\\xff");
  EXPECT_EQ(XmlText("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(XmlText("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, 3 bytes
  EXPECT_EQ(XmlText("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(XmlText("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(XmlText("\xef\xbf\xbe"), "\\xef\\xbf\\xbe");           // U+FFFE
  EXPECT_EQ(XmlText("\xc2\x85"), "\\xc2\\x85");                    // NEL, a C1 control
  EXPECT_EQ(XmlText("x\xe2\x82"), "x\\xe2\\x82");                  // cut short
}

}  // namespace
}  // namespace ts::cli
