#include "frontend/llama.h"

#include <gtest/gtest.h>

#include <string>

namespace ts::frontend {
namespace {

const char kTiny[] = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
  "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true})";

TEST(ParseLlamaConfigTest, ReadsTheFieldsAndDefaults) {
  auto c = ParseLlamaConfig(kTiny, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->hidden, 64);
  EXPECT_EQ(c->kv_heads, 2);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_DOUBLE_EQ(c->rms_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000);
  EXPECT_TRUE(c->tied);
  EXPECT_FALSE(c->qkv_bias);
  auto q = ParseLlamaConfig(R"({"model_type": "qwen2", "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 5})", "q.json");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_TRUE(q->qkv_bias) << "qwen2 has q/k/v biases by default";
  EXPECT_EQ(q->kv_heads, 2);
  EXPECT_DOUBLE_EQ(q->rope_theta, 10000);
  EXPECT_EQ(q->sliding_window, 0) << "qwen2 without use_sliding_window attends over everything";
}

TEST(ParseLlamaConfigTest, ReadsTransformers5RopeParametersAndSlidingWindows) {
  auto c = ParseLlamaConfig(R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 5, "max_position_embeddings": 4096,
    "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})",
                            "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000);
  EXPECT_DOUBLE_EQ(c->rope_factor, 32);
  EXPECT_EQ(c->rope_original_max, 8192);
  EXPECT_EQ(c->max_positions, 4096);
  auto d = ParseLlamaConfig(R"({"model_type": "qwen2", "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 5,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})", "config.json");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_DOUBLE_EQ(d->rope_theta, 1000000);
  EXPECT_DOUBLE_EQ(d->rope_factor, 0) << "default rotary embeddings are unscaled";
  auto m = ParseLlamaConfig(R"({"model_type": "mistral", "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 5, "sliding_window": 4096})", "config.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sliding_window, 4096);
  auto q = ParseLlamaConfig(R"({"model_type": "qwen2", "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 5, "sliding_window": 64,
    "use_sliding_window": true})", "config.json");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->sliding_window, 64);
}

TEST(ParseLlamaConfigTest, BadConfigsNameWhatIsWrong) {
  struct Case {
    const char* json;
    const char* fragment;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"model_type": "gpt2"})", "model_type \"gpt2\" is not supported"},
      {R"({"model_type": "llama", "hidden_size": 64})", "\"intermediate_size\" is missing"},
      {R"({"model_type": "llama", "hidden_size": -1, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5})", "\"hidden_size\" must be an integer"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 5})", "not a multiple of num_key_value_heads"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "rope_scaling": {"rope_type": "yarn"}})",
       "rope_scaling: rope_type \"yarn\" is not supported"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "rope_parameters": {"rope_type": "dynamic"}})",
       "rope_parameters: rope_type \"dynamic\" is not supported; this version supports default and llama3"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "rope_parameters": 3})", "\"rope_parameters\" must be an object"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "hidden_act": "gelu"})", "hidden_act must be \"silu\""},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "mlp_bias": true})", "mlp_bias true is not supported"},
      {R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "vocab_size": 5, "rms_norm_eps": "small"})", "\"rms_norm_eps\" must be a positive number"},
  };
  for (const Case& c : cases) {
    auto r = ParseLlamaConfig(c.json, "config.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), Code::kBadInput);
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

TEST(BuildLlamaGraphTest, MissingFolderOrConfigIsAnIoError) {
  auto g = BuildLlamaGraph("/nonexistent-checkpoint", 8);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kIo);
  EXPECT_NE(g.status().message().find("config.json"), std::string::npos);
}

}  // namespace
}  // namespace ts::frontend
