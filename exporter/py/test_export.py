"""Tests of export_onnx's graph passes on real torch exports (run by
test_smoke.sh; needs torch and onnx):

    /usr/bin/python3 exporter/py/test_export.py
"""

import os
import tempfile
import unittest

import onnx  # noqa: E402
from torchenv import torch
from export import export_onnx  # noqa: E402
from logits_keep import INPUT  # noqa: E402
from model import Decoder, ModelConfig  # noqa: E402


def _tiny():
    torch.manual_seed(0)
    return Decoder(ModelConfig(vocab=64, dim=16, layers=1, heads=2, kv_heads=1, ffn=32, max_seq=32).validate())


class ScaledLogits(Decoder):
    """A head that is not a bare MatMul (a logit scale), so the keep pass cannot apply."""

    def forward(self, *args, **kwargs):
        logits, present = super().forward(*args, **kwargs)
        return logits * 0.5, present


class Export(unittest.TestCase):
    def export(self, model):
        d = tempfile.mkdtemp()
        path = export_onnx(model, os.path.join(d, "model.onnx"))
        m = onnx.load(path)
        onnx.checker.check_model(m)
        return m

    def test_passes_apply(self):
        m = self.export(_tiny())
        self.assertIn(INPUT, [i.name for i in m.graph.input])
        self.assertLessEqual(sum(n.op_type == "Shape" for n in m.graph.node), 4)

    def test_keep_pass_failure_keeps_a_valid_model(self):
        torch.manual_seed(0)
        base = _tiny()
        scaled = ScaledLogits(base.cfg)
        scaled.load_state_dict(base.state_dict())
        m = self.export(scaled)
        self.assertNotIn(INPUT, [i.name for i in m.graph.input])
        self.assertEqual([o.name for o in m.graph.output][0], "logits")


if __name__ == "__main__":
    unittest.main(verbosity=1)
