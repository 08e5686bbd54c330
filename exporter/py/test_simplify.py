"""Unit tests of simplify.py (run by test_smoke.sh):

    /usr/bin/python3 exporter/py/test_simplify.py
"""

import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from logits_keep import INPUT, add_num_logits_to_keep  # noqa: E402
from simplify import _dims, _expand_target, _reshape_target, compute_nodes, simplify  # noqa: E402


class ReshapeTarget(unittest.TestCase):
    def test_cases(self):
        cases = [
            # (name, symbolic target, input dims, want)
            ("split heads", ["batch", -1, 4, 32], ["batch", "sequence", 128], [0, -1, 4, 32]),
            ("named, no -1", ["batch", "sequence", 4, 32], ["batch", "sequence", 128], [0, 0, 4, 32]),
            ("static -1 resolved", ["batch", -1, "total", 32], ["batch", 2, 2, "total", 32], [0, 4, -1, 32]),
            ("merge heads", ["batch", -1, 128], ["batch", "sequence", 4, 32], [0, -1, 128]),
            ("two unknowns", ["batch", -1, "total", 32], None, None),
            ("unknown entry, no -1 to move", ["batch", None, 4, 32], ["batch", "sequence", 128], None),
            ("unknown entry takes the -1", ["batch", -1, 4, 32], ["batch", None, 128], [0, -1, 4, 32]),
            ("repeated name", ["batch", "batch"], ["batch", "batch"], [0, 0]),
            ("name used twice, once in data", ["batch", "batch", -1], ["batch", 6], None),
            ("decode merge heads", ["batch", -1, 32], ["batch", None, 2, 16], [0, -1, 32]),
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


def _c(name, v, dt=np.int64):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, dtype=dt), name))


def _model(nodes, inputs, outputs, inits=()):
    return helper.make_model(helper.make_graph(nodes, "t", inputs, outputs, initializer=list(inits)),
                             opset_imports=[helper.make_opsetid("", 14)])


def _consts(m):
    return {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node if n.op_type == "Constant"}


def _shape_out():  # y: an int64 1-D graph output, so a folded value can be read back
    return [helper.make_tensor_value_info("y", TensorProto.INT64, [None])]


class Evaluate(unittest.TestCase):
    """Folding must compute what onnxruntime would, or leave the node alone."""

    def test_int_div_truncates_like_onnx(self):
        m = _model([_c("a", [-7]), _c("b", [2]), helper.make_node("Div", ["a", "b"], ["y"])], [], _shape_out())
        self.assertEqual(_consts(simplify(m))["y"].tolist(), [-3])  # onnxruntime: -3; numpy //: -4

    def test_omitted_optional_input(self):
        m = _model([_c("d", [1, 2, 3, 12]), _c("st", [3]), _c("en", [1]), _c("sp", [-1]),
                   helper.make_node("Slice", ["d", "st", "en", "", "sp"], ["y"])], [], _shape_out())
        s = simplify(m)
        got = _consts(s).get("y")
        self.assertTrue(got is None or got.tolist() == [12, 3], got)

    def test_initializer_that_is_an_input_is_not_folded(self):
        w = numpy_helper.from_array(np.ones(2, np.float32), "w")
        m = _model([helper.make_node("Add", ["w", "w"], ["y"])], [helper.make_tensor_value_info("w", TensorProto.FLOAT, [2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], inits=[w])
        self.assertIn("Add", [n.op_type for n in simplify(m).graph.node])

    def test_outer_scope_value_of_a_subgraph_is_kept(self):
        br = lambda src, out: helper.make_graph([helper.make_node("Identity", [src], [out])], "b", [],  # noqa: E731
                                           [helper.make_tensor_value_info(out, TensorProto.FLOAT, [2])])
        m = _model([helper.make_node("Neg", ["x"], ["nx"]), _c("cond", True, np.bool_),
                   helper.make_node("If", ["cond"], ["y"], then_branch=br("nx", "t"), else_branch=br("x", "e"))],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        onnx.checker.check_model(simplify(m))

    def test_invented_names_are_unknown(self):
        vi = helper.make_tensor_value_info("v", TensorProto.FLOAT, ["batch", "unk__3", 4])
        self.assertEqual(_dims(vi), ["batch", None, 4])


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


def _lm_head_graph(op="MatMul"):
    """h [batch, sequence, 4] -> logits [batch, sequence, 3] through a MatMul."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", "sequence", 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", 3])
    node = helper.make_node(op, ["h", "w"], ["logits"]) if op == "MatMul" else helper.make_node("Identity", ["h"], ["logits"])
    return helper.make_model(helper.make_graph([node], "lm", [h], [y], initializer=[w]),
                             opset_imports=[helper.make_opsetid("", 14)])


class LogitsKeep(unittest.TestCase):
    def test_adds_the_input_and_slices_before_the_lm_head(self):
        m = add_num_logits_to_keep(_lm_head_graph())
        onnx.checker.check_model(m, full_check=True)
        inp = next(i for i in m.graph.input if i.name == INPUT)
        self.assertEqual(inp.type.tensor_type.elem_type, TensorProto.INT64)
        self.assertEqual([d.dim_value for d in inp.type.tensor_type.shape.dim], [1])
        lm = next(n for n in m.graph.node if "logits" in n.output)
        producer = next(n for n in m.graph.node if lm.input[0] in n.output)
        self.assertEqual(producer.op_type, "Slice")
        self.assertEqual(producer.input[0], "h")
        self.assertEqual(m.graph.output[0].type.tensor_type.shape.dim[1].dim_param, "kept_sequence")

    def test_idempotent(self):
        m = add_num_logits_to_keep(_lm_head_graph())
        n = len(m.graph.node)
        self.assertEqual(len(add_num_logits_to_keep(m).graph.node), n)

    def test_refuses_an_unknown_lm_head(self):
        with self.assertRaises(ValueError):
            add_num_logits_to_keep(_lm_head_graph("Identity"))


if __name__ == "__main__":
    unittest.main(verbosity=1)
