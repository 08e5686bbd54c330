"""Writes small, valid ONNX graphs that break neo's decoder I/O convention,
for package onnx's Load error tests:

    /usr/bin/python3 onnx/testdata/make_bad.py   # from the repository root

missing_input.onnx  no attention_mask input
wrong_dtype.onnx    attention_mask is float32 instead of int64
no_cache.onnx       no past_key_values inputs (a plain, cache-less LM)
"""
import os

import onnx
from onnx import TensorProto, helper

V, H, D = 8, 1, 4
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad")


def build(name, mask_type=TensorProto.INT64, with_mask=True, with_cache=True):
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])]
    if with_mask:
        inputs.append(helper.make_tensor_value_info("attention_mask", mask_type, ["batch", "total"]))
    inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"]))
    nodes = [
        # logits = expand(float(input_ids)[..., None], [1, 1, V]): any valid graph will do.
        helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [2])),
        helper.make_node("Unsqueeze", ["input_ids", "axes"], ["ids3"]),
        helper.make_node("Cast", ["ids3"], ["idsf"], to=TensorProto.FLOAT),
        helper.make_node("Constant", [], ["vshape"], value=helper.make_tensor("v", TensorProto.INT64, [3], [1, 1, V])),
        helper.make_node("Expand", ["idsf", "vshape"], ["logits"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", V])]
    if with_cache:
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.0.{kv}", TensorProto.FLOAT, ["batch", H, "past", D]))
            nodes.append(helper.make_node("Identity", [f"past_key_values.0.{kv}"], [f"present.0.{kv}"]))
            outputs.append(helper.make_tensor_value_info(f"present.0.{kv}", TensorProto.FLOAT, ["batch", H, "past", D]))
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="neo make_bad.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    build("missing_input", with_mask=False)
    build("wrong_dtype", mask_type=TensorProto.FLOAT)
    build("no_cache", with_cache=False)
