#!/usr/bin/env python3
"""Exports models with the tools users export with, for tests/real/run_real.py.

Runs where torch, transformers and torchvision are installed (the lent GPU machine; nothing here
needs a GPU). Each model is built from its library's own code with random weights, exported by
torch.onnx (both the TorchScript exporter and the dynamo exporter where each works), and written
as a graph without its large weights: every floating-point initializer of 4 KiB or more goes to
external data, which is NOT kept; its shape, dtype and summary statistics (min, max, mean, std)
go to a manifest beside the graph, from which run_real.py draws fresh weights of the same kind.
The graph, its Constant nodes, its shape subgraphs and its small initializers are exactly what
the exporter wrote.

  python3 export_real.py OUT_DIR      # writes OUT_DIR/<name>.onnx, <name>.json and export.log
"""
import json
import os
import sys
import traceback

import numpy as np
import onnx
import torch
from onnx import numpy_helper

THRESHOLD_BYTES = 4096
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
               onnx.TensorProto.DOUBLE}


def strip_weights(model, name, out_dir, exporter, inputs, dynamic):
    """Moves large float initializers out (dropped) and records what they looked like."""
    tensors = []
    offset = 0
    for init in model.graph.initializer:
        if init.data_type not in FLOAT_TYPES or init.data_location == onnx.TensorProto.EXTERNAL:
            continue
        arr = numpy_helper.to_array(init)
        if arr.nbytes < THRESHOLD_BYTES:
            continue
        a = arr.astype(np.float64)
        tensors.append({"name": init.name, "dims": list(arr.shape), "dtype": str(arr.dtype),
                        "offset": offset, "length": int(arr.nbytes),
                        "min": float(a.min()), "max": float(a.max()),
                        "mean": float(a.mean()), "std": float(a.std())})
        init.ClearField("raw_data")
        for field in ("float_data", "double_data", "int32_data"):
            init.ClearField(field)
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for k, v in (("location", name + ".weights"), ("offset", str(offset)),
                     ("length", str(arr.nbytes))):
            e = init.external_data.add()
            e.key, e.value = k, v
        offset += (arr.nbytes + 63) // 64 * 64
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))
    manifest = {"name": name, "exporter": exporter, "weights_file": name + ".weights",
                "weights_bytes": offset, "tensors": tensors, "inputs": inputs,
                "dynamic": dynamic, "torch": torch.__version__,
                "opset": [f"{o.domain or 'ai.onnx'}:{o.version}" for o in model.opset_import]}
    try:
        import transformers
        manifest["transformers"] = transformers.__version__
    except ImportError:
        pass
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(manifest, f, indent=1)
    ops = sorted({n.op_type for n in model.graph.node})
    return f"{len(model.graph.node)} nodes, {len(tensors)} weights stripped, ops: {' '.join(ops)}"


def export(module, args, input_names, output_names, dynamic_axes, path, dynamo):
    module.eval()
    with torch.no_grad():
        if dynamo:
            dyn = {}
            for n, axes in dynamic_axes.items():
                if n in input_names:
                    dyn[n] = {a: torch.export.Dim.AUTO for a in axes}
            torch.onnx.export(module, args, path, input_names=input_names,
                              output_names=output_names, dynamo=True,
                              dynamic_shapes=tuple(dyn.get(n) for n in input_names),
                              external_data=False)
        else:
            torch.onnx.export(module, args, path, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes,
                              opset_version=17, do_constant_folding=True, dynamo=False)


class Encoder(torch.nn.Module):
    """A transformers encoder with plain tensor inputs and one output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


class CausalLM(torch.nn.Module):
    """A transformers decoder, one forward pass without a cache, returning the logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False).logits


def hf_models():
    import transformers as tf
    seq = 16
    ids = torch.randint(0, 1000, (1, seq))
    mask = torch.ones(1, seq, dtype=torch.int64)
    out = []
    cfg = tf.BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=512,
                        max_position_embeddings=256, attn_implementation="eager")
    out.append(("hf_bert", Encoder(tf.BertModel(cfg)), (ids, mask, torch.zeros_like(ids)),
                ["input_ids", "attention_mask", "token_type_ids"]))
    cfg = tf.GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4, n_positions=256,
                        attn_implementation="eager")
    out.append(("hf_gpt2", CausalLM(tf.GPT2LMHeadModel(cfg)), (ids, mask),
                ["input_ids", "attention_mask"]))
    cfg = tf.LlamaConfig(vocab_size=1000, hidden_size=128, intermediate_size=344,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, attn_implementation="eager")
    out.append(("hf_llama", CausalLM(tf.LlamaForCausalLM(cfg)), (ids, mask),
                ["input_ids", "attention_mask"]))
    return out


def tv_models():
    import torchvision.models as tvm
    from torchvision.models.vision_transformer import VisionTransformer
    x = torch.randn(1, 3, 224, 224)
    out = []
    for name, ctor in (("tv_resnet18", tvm.resnet18), ("tv_mobilenet_v3_small", tvm.mobilenet_v3_small),
                       ("tv_shufflenet_v2_x0_5", tvm.shufflenet_v2_x0_5),
                       ("tv_squeezenet1_1", tvm.squeezenet1_1),
                       ("tv_efficientnet_b0", tvm.efficientnet_b0)):
        out.append((name, ctor(weights=None), (x,), ["pixels"]))
    vit = VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=4,
                            hidden_dim=64, mlp_dim=128, num_classes=10)
    out.append(("tv_vit_tiny", vit, (torch.randn(1, 3, 64, 64),), ["pixels"]))
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    log = open(os.path.join(out_dir, "export.log"), "w")

    def say(s):
        print(s, flush=True)
        log.write(s + "\n")

    say(f"torch {torch.__version__}, onnx {onnx.__version__}")
    models = []
    for gen in (hf_models, tv_models):
        try:
            models += gen()
        except Exception:
            say(f"{gen.__name__}: could not build\n{traceback.format_exc()}")
    for name, module, args, input_names in models:
        is_text = name.startswith("hf_")
        dynamic_axes = {n: ([0, 1] if is_text else [0]) for n in input_names}
        inputs = {n: {"shape": list(a.shape), "dtype": str(a.dtype).replace("torch.", "")}
                  for n, a in zip(input_names, args)}
        for dynamo in (False, True):
            tag = f"{name}_{'dynamo' if dynamo else 'ts'}"
            tmp = os.path.join("/tmp", tag + ".onnx")
            try:
                export(module, args, input_names, ["output"], dynamic_axes, tmp, dynamo)
                model = onnx.load(tmp)
                say(f"{tag}: " + strip_weights(model, tag, out_dir,
                                              "dynamo" if dynamo else "torchscript", inputs,
                                              dynamic_axes))
            except Exception:
                say(f"{tag}: export failed\n{traceback.format_exc(limit=3)}")


if __name__ == "__main__":
    main()
