"""Unit tests of simplify.py (run by test_smoke.sh):

    /usr/bin/python3 exporter/py/test_simplify.py
"""

import os
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simplify import _expand_target, _reshape_target, compute_nodes, simplify  # noqa: E402


class ReshapeTarget(unittest.TestCase):
    def test_cases(self):
        cases = [
            # (name, symbolic target, input dims, want)
            ("split heads", ["batch", -1, 4, 32], ["batch", "sequence", 128], [0, -1, 4, 32]),
            ("named, no -1", ["batch", "sequence", 4, 32], ["batch", "sequence", 128], [0, 0, 4, 32]),
            ("static -1 resolved", ["batch", -1, "total", 32], ["batch", 2, 2, "total", 32], [0, 4, -1, 32]),
            ("merge heads", ["batch", -1, 128], ["batch", "sequence", 4, 32], [0, -1, 128]),
            ("two unknowns", ["batch", -1, "total", 32], None, None),
            ("unknown entry", ["batch", None, 4, 32], ["batch", "sequence", 128], [0, -1, 4, 32]),
            ("literal zero", ["batch", 0, 4], ["batch", 0, 4], None),
            ("name elsewhere", ["sequence", "batch"], ["batch", "sequence"], None),
        ]
        for name, target, dims, want in cases:
            with self.subTest(name):
                self.assertEqual(_reshape_target(target, dims), want)


class ExpandTarget(unittest.TestCase):
    def test_cases(self):
        cases = [
            ("gqa repeat", ["batch", 2, 2, "total", 32], ["batch", 2, 1, "total", 32], [1, 1, 2, 1, 1]),
            ("unknown out", ["batch", None], ["batch", 1], None),
            ("rank change", ["batch", 2, 2], ["batch", 2], None),
            ("named grows", ["batch", "total"], ["batch", 1], None),
        ]
        for name, out, inp, want in cases:
            with self.subTest(name):
                self.assertEqual(_expand_target(out, inp), want)


def _split_heads_graph():
    """x [batch, sequence, 8] -> view(x.shape[0], -1, 2, 4), as torch exports it."""
    c = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, dtype=np.int64), name))  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        c("zero", 0),
        helper.make_node("Gather", ["shape", "zero"], ["b"], axis=0),
        c("ax", [0]),
        helper.make_node("Unsqueeze", ["b", "ax"], ["b1"]),
        c("rest", [-1, 2, 4]),
        helper.make_node("Concat", ["b1", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", 2, 4])
    g = helper.make_graph(nodes, "split", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])


class Graph(unittest.TestCase):
    def test_split_heads_folds_to_constant_target(self):
        m = _split_heads_graph()
        self.assertEqual(compute_nodes(m), 5)
        s = simplify(m)
        onnx.checker.check_model(s)
        ops = [n.op_type for n in s.graph.node if n.op_type != "Constant"]
        self.assertEqual(ops, ["Reshape"])
        consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in s.graph.node if n.op_type == "Constant"}
        reshape = next(n for n in s.graph.node if n.op_type == "Reshape")
        self.assertEqual(consts[reshape.input[1]].tolist(), [0, -1, 2, 4])
        self.assertEqual(compute_nodes(simplify(s)), 1, "a second pass changes nothing")


if __name__ == "__main__":
    unittest.main(verbosity=1)
