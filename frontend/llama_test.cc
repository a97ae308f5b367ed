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
       "rope_scaling of type \"yarn\" is not supported"},
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
