#!/usr/bin/env python3
"""Model zoo: real-architecture ONNX models with random weights, built with onnx.helper.

Usage: gen_zoo.py OUT_DIR [--models bert,gpt2,resnet50,unet]

Writes OUT_DIR/<model>/model.onnx (weights as external data in model.onnx.data when large) and
OUT_DIR/<model>/inputs.npz, deterministic from fixed seeds. No downloads. The graphs are what
torch.onnx exports for these architectures at opset 17, written op by op:
  bert      BERT-base encoder: 12 layers, hidden 768, 12 heads, FFN 3072 (erf GELU), sequence 128,
            token + position + segment embeddings (Gather), attention mask input, LayerNormalization
  gpt2      GPT-2 small decoder: 12 layers, hidden 768, 12 heads, causal mask (Trilu + Where),
            tied LM head over a 50257 vocabulary, one forward pass of 128 tokens
  resnet50  ResNet-50 v1.5, 224x224, Conv (batch norm folded into it, as exporters do), Relu,
            MaxPool, bottleneck blocks with projection shortcuts, GlobalAveragePool, Gemm
  unet      U-Net, 256x256 input, 4 levels (32..256 channels) of Conv-BatchNorm-Relu pairs,
            MaxPool down, ConvTranspose up, Concat skip connections, 1x1 head
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    def __init__(self, name, seed):
        self.name = name
        self.nodes, self.inits = [], []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def uniq(self, base):
        self.count += 1
        return "%s_%d" % (base, self.count)

    def weight(self, shape, std=0.02, base="w", value=None):
        name = self.uniq(base)
        arr = value if value is not None else (self.rng.standard_normal(shape) * std).astype(np.float32)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def const_i64(self, values, base="c"):
        return self.weight(None, base=base, value=np.array(values, dtype=np.int64))

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.uniq(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.uniq("n_" + op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def save(self, out_dir, inputs, outputs, feeds):
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="tensorshunt-zoo")
        model.ir_version = 8
        d = os.path.join(out_dir, self.name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        for f in ("model.onnx", "model.onnx.data"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        np.savez(os.path.join(d, "inputs.npz"), **feeds)
        return path


# ---- transformers ----

def layer_norm(b, x, hidden):
    scale = b.weight(None, value=np.ones(hidden, np.float32) + b.rng.standard_normal(hidden).astype(np.float32) * 0.02)
    bias = b.weight([hidden])
    return b.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-5)


def linear(b, x, n_in, n_out):
    return b.op("Add", [b.op("MatMul", [x, b.weight([n_in, n_out])]), b.weight([n_out])])


def gelu_erf(b, x):
    inner = b.op("Erf", [b.op("Div", [x, b.weight(None, value=np.array(np.sqrt(2.0), np.float32))])])
    one = b.weight(None, value=np.array(1.0, np.float32))
    half = b.weight(None, value=np.array(0.5, np.float32))
    return b.op("Mul", [b.op("Mul", [x, b.op("Add", [inner, one])]), half])


def gelu_tanh(b, x):
    # GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    cube = b.op("Pow", [x, b.weight(None, value=np.array(3.0, np.float32))])
    inner = b.op("Add", [x, b.op("Mul", [cube, b.weight(None, value=np.array(0.044715, np.float32))])])
    t = b.op("Tanh", [b.op("Mul", [inner, b.weight(None, value=np.array(np.sqrt(2 / np.pi), np.float32))])])
    one = b.weight(None, value=np.array(1.0, np.float32))
    half = b.weight(None, value=np.array(0.5, np.float32))
    return b.op("Mul", [b.op("Mul", [x, half]), b.op("Add", [t, one])])


def attention(b, x, seq, hidden, heads, mask_add):
    """Self-attention as exporters write it: Q/K/V projections, heads split by Reshape+Transpose."""
    dh = hidden // heads
    split = b.const_i64([1, seq, heads, dh])
    def heads_of(t, perm):
        return b.op("Transpose", [b.op("Reshape", [t, split])], perm=perm)
    q = heads_of(linear(b, x, hidden, hidden), [0, 2, 1, 3])
    k = heads_of(linear(b, x, hidden, hidden), [0, 2, 3, 1])
    v = heads_of(linear(b, x, hidden, hidden), [0, 2, 1, 3])
    scores = b.op("Div", [b.op("MatMul", [q, k]), b.weight(None, value=np.array(np.sqrt(dh), np.float32))])
    scores = b.op("Add", [scores, mask_add])
    probs = b.op("Softmax", [scores], axis=-1)
    ctx = b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    ctx = b.op("Reshape", [ctx, b.const_i64([1, seq, hidden])])
    return linear(b, ctx, hidden, hidden)


def bert(out_dir, layers=12, hidden=768, heads=12, ffn=3072, seq=128, vocab=30522):
    b = Builder("bert", 1)
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq])
    tok = b.op("Gather", [b.weight([vocab, hidden]), "input_ids"], axis=0)
    pos = b.op("Gather", [b.weight([512, hidden]), b.const_i64(np.arange(seq).reshape(1, seq))], axis=0)
    seg = b.op("Gather", [b.weight([2, hidden]), b.const_i64(np.zeros((1, seq), np.int64))], axis=0)
    x = layer_norm(b, b.op("Add", [b.op("Add", [tok, pos]), seg]), hidden)
    # Extended attention mask: (1 - mask) * -10000, broadcast over heads and query positions.
    m = b.op("Cast", [b.op("Unsqueeze", ["attention_mask", b.const_i64([1, 2])])], to=TensorProto.FLOAT)
    m = b.op("Mul", [b.op("Sub", [b.weight(None, value=np.array(1.0, np.float32)), m]),
                     b.weight(None, value=np.array(-10000.0, np.float32))])
    for _ in range(layers):
        x = layer_norm(b, b.op("Add", [x, attention(b, x, seq, hidden, heads, m)]), hidden)
        h = linear(b, gelu_erf(b, linear(b, x, hidden, ffn)), ffn, hidden)
        x = layer_norm(b, b.op("Add", [x, h]), hidden)
    b.nodes[-1].output[0] = "last_hidden_state"
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, seq, hidden])
    rng = np.random.default_rng(11)
    am = np.ones((1, seq), np.int64)
    am[0, seq - 16:] = 0  # padding at the end
    feeds = {"input_ids": rng.integers(0, vocab, (1, seq)).astype(np.int64), "attention_mask": am}
    return b.save(out_dir, [ids, mask], [out], feeds)


def gpt2(out_dir, layers=12, hidden=768, heads=12, seq=128, vocab=50257):
    b = Builder("gpt2", 2)
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq])
    wte = b.weight([vocab, hidden])
    x = b.op("Add", [b.op("Gather", [wte, "input_ids"], axis=0),
                     b.op("Gather", [b.weight([1024, hidden]), b.const_i64(np.arange(seq).reshape(1, seq))], axis=0)])
    # Causal mask from the sequence length, as exports compute it: Trilu of ones, then Where.
    ones = b.op("ConstantOfShape", [b.const_i64([seq, seq])],
                value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]))
    keep = b.op("Cast", [b.op("Trilu", [ones], upper=0)], to=TensorProto.BOOL)
    mask_add = b.op("Where", [keep, b.weight(None, value=np.array(0.0, np.float32)),
                              b.weight(None, value=np.array(-1e9, np.float32))])
    for _ in range(layers):
        x = b.op("Add", [x, attention(b, layer_norm(b, x, hidden), seq, hidden, heads, mask_add)])
        h = linear(b, gelu_tanh(b, linear(b, layer_norm(b, x, hidden), hidden, 4 * hidden)), 4 * hidden, hidden)
        x = b.op("Add", [x, h])
    x = layer_norm(b, x, hidden)
    b.op("MatMul", [x, b.op("Transpose", [wte], perm=[1, 0])])
    b.nodes[-1].output[0] = "logits"
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, seq, vocab])
    feeds = {"input_ids": np.random.default_rng(12).integers(0, vocab, (1, seq)).astype(np.int64)}
    return b.save(out_dir, [ids], [out], feeds)


# ---- CNNs ----

def conv(b, x, cin, cout, k, stride=1, pad=None, relu=True):
    pad = k // 2 if pad is None else pad
    std = np.sqrt(2.0 / (cin * k * k))  # He init keeps activations in range over 50 layers
    y = b.op("Conv", [x, b.weight([cout, cin, k, k], std=std), b.weight([cout], std=0.01)],
             kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)
    return b.op("Relu", [y]) if relu else y


def resnet50(out_dir, size=224, classes=1000):
    b = Builder("resnet50", 3)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])
    x = conv(b, "input", 3, 64, 7, stride=2, pad=3)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = conv(b, x, cin, width, 1)
            y = conv(b, y, width, width, 3, stride=s)
            y = conv(b, y, width, width * 4, 1, relu=False)
            short = conv(b, x, cin, width * 4, 1, stride=s, relu=False) if i == 0 else x
            x = b.op("Relu", [b.op("Add", [y, short])])
            cin = width * 4
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    b.op("Gemm", [x, b.weight([classes, cin], std=0.01), b.weight([classes])], transB=1)
    b.nodes[-1].output[0] = "logits"
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])
    feeds = {"input": np.random.default_rng(13).standard_normal((1, 3, size, size)).astype(np.float32)}
    return b.save(out_dir, [inp], [out], feeds)


def conv_bn_relu(b, x, cin, cout):
    std = np.sqrt(2.0 / (cin * 9))
    y = b.op("Conv", [x, b.weight([cout, cin, 3, 3], std=std)], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = b.op("BatchNormalization", [y, b.weight(None, value=np.ones(cout, np.float32)), b.weight([cout]),
                                    b.weight([cout], std=0.1),
                                    b.weight(None, value=(1.0 + np.abs(b.rng.standard_normal(cout)) * 0.1).astype(np.float32))],
             epsilon=1e-5)
    return b.op("Relu", [y])


def unet(out_dir, size=256, base=32, levels=4):
    b = Builder("unet", 4)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])
    x, cin, skips = "input", 3, []
    for lvl in range(levels):
        c = base << lvl
        x = conv_bn_relu(b, conv_bn_relu(b, x, cin, c), c, c)
        skips.append((x, c))
        x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        cin = c
    c = base << levels
    x = conv_bn_relu(b, conv_bn_relu(b, x, cin, c), c, c)
    cin = c
    for skip, c in reversed(skips):
        up = b.op("ConvTranspose", [x, b.weight([cin, c, 2, 2], std=np.sqrt(1.0 / cin)), b.weight([c])],
                  kernel_shape=[2, 2], strides=[2, 2])
        x = b.op("Concat", [skip, up], axis=1)
        x = conv_bn_relu(b, conv_bn_relu(b, x, 2 * c, c), c, c)
        cin = c
    b.op("Conv", [x, b.weight([2, cin, 1, 1], std=np.sqrt(1.0 / cin)), b.weight([2])], kernel_shape=[1, 1])
    b.nodes[-1].output[0] = "mask_logits"
    out = helper.make_tensor_value_info("mask_logits", TensorProto.FLOAT, [1, 2, size, size])
    feeds = {"input": np.random.default_rng(14).standard_normal((1, 3, size, size)).astype(np.float32)}
    return b.save(out_dir, [inp], [out], feeds)


MODELS = {"bert": bert, "gpt2": gpt2, "resnet50": resnet50, "unet": unet}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    for name in a.models.split(","):
        if name not in MODELS:
            sys.exit("unknown model %r; choose from %s" % (name, ", ".join(MODELS)))
        path = MODELS[name](a.out_dir)
        onnx.checker.check_model(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
