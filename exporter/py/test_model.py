"""Tests of the decoder's training-only switches (run by test_smoke.sh;
needs torch and onnx):

    /usr/bin/python3 exporter/py/test_model.py
"""

import os
import tempfile
import unittest

from torchenv import torch
from export import export_onnx  # noqa: E402
from model import Decoder, ModelConfig  # noqa: E402


def _tiny(dropout=0.0):
    torch.manual_seed(0)
    m = Decoder(ModelConfig(vocab=64, dim=16, layers=2, heads=2, kv_heads=1, ffn=32, max_seq=32).validate())
    m.set_dropout(dropout)
    return m


def _batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (3, 10), generator=g)
    att = torch.ones(3, 10, dtype=torch.long)
    att[0, :4] = 0  # left padding
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    return ids, att, pos


class Dropout(unittest.TestCase):
    def test_inference_ignores_dropout(self):
        ids, att, pos = _batch()
        want = _tiny().eval()(ids, att, pos)[0]
        got = _tiny(0.3).eval()(ids, att, pos)[0]
        self.assertTrue(torch.equal(want, got))

    def test_zero_dropout_trains_exactly_as_before(self):
        # p = 0 must not even draw random numbers: dropout-free training
        # (the committed demo model) stays reproducible bit for bit.
        ids, att, pos = _batch()
        m = _tiny()
        want = m.eval()(ids, att, pos)[0]
        before = torch.get_rng_state()
        got = m.train()(ids, att, pos)[0]
        self.assertTrue(torch.equal(want, got))
        self.assertTrue(torch.equal(before, torch.get_rng_state()))

    def test_training_applies_dropout(self):
        ids, att, pos = _batch()
        m = _tiny(0.3).train()
        a, b = m(ids, att, pos)[0], m(ids, att, pos)[0]
        self.assertFalse(torch.equal(a, b))
        self.assertTrue(torch.isfinite(a).all())

    def test_bad_probability(self):
        for p in (-0.1, 1.0, 2.0):
            with self.assertRaises(ValueError):
                _tiny(p)

    def test_export_is_the_same(self):
        d = tempfile.mkdtemp()
        a = export_onnx(_tiny(), os.path.join(d, "a.onnx"))
        m = _tiny(0.3)
        m.train()  # export_onnx must switch to eval itself
        b = export_onnx(m, os.path.join(d, "b.onnx"))
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())


if __name__ == "__main__":
    unittest.main(verbosity=1)
