"""Adds the optional input num_logits_to_keep to an exported decoder graph.

A prefill needs the logits of the last prompt position only, but the
exported graph runs the LM head (a [dim, vocab] matmul, the largest in
the model) for every position, and onnxruntime computes every node of the
graph whatever outputs are fetched. With this input the graph slices the
final hidden states before the LM head:

    num_logits_to_keep   int64 [1]: k > 0 keeps the last k positions,
                         0 keeps all of them (the exported graph as it was)
    logits               float32 [B, kept, V]

The name and meaning follow Hugging Face transformers' `num_logits_to_keep`
(a one-element tensor here rather than a scalar, which onnxruntime_go
cannot create).
Package onnx feeds 1 for prefill and decode steps and 0 for Forward, and
loads models without the input as before. Logits of the kept positions are
computed exactly as before (the same matmul on the same rows).

Usage: logits_keep.py IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "num_logits_to_keep"


def add_num_logits_to_keep(model):
    """Returns model with the input added (unchanged if it has it already)."""
    g = model.graph
    if any(i.name == INPUT for i in g.input):
        return model
    producers = {o: n for n in g.node for o in n.output}
    lm = producers.get("logits")
    if lm is None or lm.op_type != "MatMul":
        raise ValueError(f"logits come from {lm.op_type if lm else 'nothing'}, want the LM head MatMul")
    hidden = lm.input[0]  # [B, S, dim]

    def const(name, v):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, dtype=np.int64), name))

    p = "/logits_keep/"
    nodes = [
        const(p + "zero", [0]),
        const(p + "one", 1),
        const(p + "axis", [1]),
        const(p + "end", [np.iinfo(np.int64).max]),
        helper.make_node("Shape", [hidden], [p + "shape"]),
        helper.make_node("Gather", [p + "shape", p + "one"], [p + "seq"], axis=0),
        helper.make_node("Sub", [p + "seq", INPUT], [p + "from_end"]),
        # k > S keeps all S (a negative start would count from the end)
        helper.make_node("Max", [p + "from_end", p + "zero"], [p + "from_end0"]),
        helper.make_node("Greater", [INPUT, p + "zero"], [p + "keep_some"]),
        helper.make_node("Where", [p + "keep_some", p + "from_end0", p + "zero"], [p + "starts"]),
        helper.make_node("Slice", [hidden, p + "starts", p + "end", p + "axis"], [p + "hidden"]),
    ]
    lm.input[0] = p + "hidden"
    at = list(g.node).index(lm)
    for k, n in enumerate(nodes):
        g.node.insert(at + k, n)
    g.input.append(helper.make_tensor_value_info(INPUT, TensorProto.INT64, [1]))
    for o in g.output:
        if o.name == "logits" and len(o.type.tensor_type.shape.dim) > 1:
            o.type.tensor_type.shape.dim[1].ClearField("dim_value")
            o.type.tensor_type.shape.dim[1].dim_param = "kept_sequence"
    return model


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: logits_keep.py IN.onnx OUT.onnx")
    m = add_num_logits_to_keep(onnx.load(argv[1]))
    onnx.checker.check_model(m)
    onnx.save(m, argv[2])


if __name__ == "__main__":
    main(sys.argv)
