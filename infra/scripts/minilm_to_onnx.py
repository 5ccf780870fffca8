#!/usr/bin/env python3
"""Build an fp32 ONNX graph of a BERT encoder (all-MiniLM-L6-v2) from its safetensors weights.

Usage: minilm_to_onnx.py MODEL_DIR OUTPUT.onnx

MODEL_DIR holds the Hugging Face files `config.json` and `model.safetensors` (a BertModel
without the "bert." prefix). No PyTorch: the graph is written out node by node with
onnx.helper, so the output depends only on the weights and the pinned onnx version.

The graph takes `input_ids`, `attention_mask` and `token_type_ids` (int64, [batch, sequence])
and returns `last_hidden_state` (float32, [batch, sequence, hidden]): the token vectors that
fastembed mean-pools with the attention mask. The pooler head is left out.
"""

import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

OPSET = 17  # the first opset with LayerNormalization
IR_VERSION = 8  # the IR version that goes with opset 17; any ONNX Runtime since 1.13 reads it


class Graph:
    """Collects nodes and initializers, naming every value in order so the output is stable."""

    def __init__(self, weights):
        self.weights = weights
        self.nodes = []
        self.inits = []
        self.count = 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, key, transpose=False):
        # PyTorch Linear stores [out, in]; MatMul wants [in, out].
        array = self.weights[key].astype(np.float32)
        return self.const(key, array.T if transpose else array)

    def op(self, op_type, inputs, out=None, **attrs):
        self.count += 1
        out = out or f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self.count}_{op_type}", **attrs))
        return out

    def linear(self, x, prefix):
        y = self.op("MatMul", [x, self.weight(f"{prefix}.weight", transpose=True)])
        return self.op("Add", [y, self.weight(f"{prefix}.bias")])

    def layer_norm(self, x, prefix, eps, out=None):
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")],
            out=out,
            axis=-1,
            epsilon=eps,
        )


def build(model_dir):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
        raise SystemExit(f"unsupported model: model_type={cfg.get('model_type')} hidden_act={cfg.get('hidden_act')}")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit("unsupported position_embedding_type: " + cfg["position_embedding_type"])
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    layers = cfg["num_hidden_layers"]
    eps = float(cfg["layer_norm_eps"])
    head_dim = hidden // heads

    g = Graph(load_file(os.path.join(model_dir, "model.safetensors")))

    # Shared constants.
    split_heads = g.const("shape_split_heads", np.array([0, 0, heads, head_dim], np.int64))  # 0 = keep dim
    merge_heads = g.const("shape_merge_heads", np.array([0, 0, hidden], np.int64))
    mask_axes = g.const("mask_unsqueeze_axes", np.array([1, 2], np.int64))
    zero = g.const("zero_1d", np.array([0], np.int64))
    pos_axis = g.const("axis_0", np.array([0], np.int64))
    one_f = g.const("one_f", np.array(1.0, np.float32))
    mask_min = g.const("mask_min_f", np.array(np.finfo(np.float32).min, np.float32))
    scale = g.const("attn_scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    half = g.const("half_f", np.array(0.5, np.float32))
    inv_sqrt2 = g.const("inv_sqrt2_f", np.array(1.0 / math.sqrt(2.0), np.float32))

    # Embeddings: word + position (rows 0..seq-1, broadcast over the batch) + token type, then LayerNorm.
    words = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), "input_ids"], axis=0)
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)  # [sequence] as a 1-d tensor
    positions = g.op("Slice", [g.weight("embeddings.position_embeddings.weight"), zero, seq_len, pos_axis])
    types = g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], axis=0)
    x = g.op("Add", [g.op("Add", [words, positions]), types])
    x = g.layer_norm(x, "embeddings.LayerNorm", eps)

    # Attention mask as an additive bias [batch, 1, 1, sequence]: 0 where attended, float32 min on padding.
    mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [one_f, mask_f]), mask_min])
    bias = g.op("Unsqueeze", [bias, mask_axes])

    for i in range(layers):
        p = f"encoder.layer.{i}"
        # Self-attention: project, split into heads [batch, heads, seq, head_dim], scaled dot product.
        q = g.op("Transpose", [g.op("Reshape", [g.linear(x, f"{p}.attention.self.query"), split_heads])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [g.linear(x, f"{p}.attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [g.linear(x, f"{p}.attention.self.value"), split_heads])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_heads])
        # Output projection, residual, LayerNorm.
        attn = g.linear(ctx, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attn, x]), f"{p}.attention.output.LayerNorm", eps)
        # Feed-forward: dense -> exact GELU 0.5*h*(1+erf(h/sqrt 2)) -> dense, residual, LayerNorm.
        h = g.linear(x, f"{p}.intermediate.dense")
        gelu = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Mul", [h, inv_sqrt2])]), one_f])])
        out = g.linear(gelu, f"{p}.output.dense")
        last = i == layers - 1
        x = g.layer_norm(g.op("Add", [out, x]), f"{p}.output.LayerNorm", eps, out="last_hidden_state" if last else None)

    int_input = lambda name: helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
    graph = helper.make_graph(
        g.nodes,
        "bert_encoder",
        [int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="kiln-minilm_to_onnx",
        producer_version="1",
        doc_string="all-MiniLM-L6-v2 BERT encoder, fp32; mean-pool last_hidden_state with attention_mask",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: minilm_to_onnx.py MODEL_DIR OUTPUT.onnx")
    model = build(sys.argv[1])
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
