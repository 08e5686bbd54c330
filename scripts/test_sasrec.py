"""Tests of scripts/sasrec.py (run by `make test`; needs torch):

    /usr/bin/python3 scripts/test_sasrec.py
"""

import contextlib
import io
import json
import math
import os
import tempfile
import unittest

import sasrec  # noqa: E402

N_ITEMS = 40


def write_data(d, users, n_items=N_ITEMS):
    with open(os.path.join(d, "items.ndjson"), "w") as f:
        for k in range(n_items):
            f.write(json.dumps({"id": f"i{k}", "type": "movie", "title": f"item {k}"}) + "\n")
    with open(os.path.join(d, "interactions.ndjson"), "w") as f:
        for u, events in users.items():
            for ts, (item, split) in enumerate(events):
                f.write(json.dumps({"user": u, "item": item, "ts": ts, "event": "view", "split": split}) + "\n")


def cycle_users(n_users=N_ITEMS, length=12):
    """Every user walks the catalog in steps of one, from their own start:
    the next item is a function of the last one, so a working sequence
    model must rank it first, while popularity cannot (all items are
    equally popular)."""
    users = {}
    for u in range(n_users):
        seq = [f"i{(u + j) % N_ITEMS}" for j in range(length)]
        users[f"u{u}"] = [(i, "train") for i in seq[:-2]] + [(seq[-2], "valid"), (seq[-1], "test")]
    return users


def run(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sasrec.main(argv)
    return [json.loads(line) for line in out.getvalue().splitlines()]


class SASRecScript(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def test_load_orders_by_time_then_file(self):
        write_data(self.dir, {"u": [("i3", "train"), ("i1", "train"), ("i2", "valid"), ("i0", "test")]})
        # Two events at one timestamp keep their file order, as neo eval
        # orders a history; an earlier timestamp later in the file comes first.
        with open(os.path.join(self.dir, "interactions.ndjson"), "a") as f:
            for item, ts in (("i5", 1), ("i4", 1), ("unknown", 2), ("i6", 0)):
                f.write(json.dumps({"user": "v", "item": item, "ts": ts, "split": "train"}) + "\n")
        seqs, n = sasrec.load(self.dir)
        self.assertEqual(n, N_ITEMS + 1)
        self.assertEqual(seqs["u"], {"train": [4, 2], "valid": [3], "test": [1]})
        self.assertEqual(seqs["v"]["train"], [7, 6, 5])  # i6, i5, i4; the unknown item is dropped

    def test_learns_a_deterministic_sequence(self):
        write_data(self.dir, cycle_users())
        rows = run([self.dir, "--dim", "32", "--heads", "2", "--layers", "1", "--maxlen", "16",
                    "--dropout", "0", "--lr", "1e-2", "--batch", "8", "--epochs", "40", "--eval-every", "20"])
        evals, summary = rows[:-1], rows[-1]
        self.assertEqual([r["epoch"] for r in evals], [20, 40])
        self.assertTrue(summary["summary"])
        best = summary["best_by_valid"]
        self.assertEqual(best["valid_hr@10"], max(r["valid_hr@10"] for r in evals))
        # A random ranking would hit about 10 of the 29 items outside a history.
        self.assertGreater(best["test_hr@10"], 0.9)
        self.assertGreater(best["test_ndcg@10"], 0.8)
        for r in evals:
            self.assertTrue(math.isfinite(r["loss"]))
            self.assertLessEqual(r["test_hr@10_se"], 0.5)

    def test_history_is_excluded(self):
        # A user whose test item is already in the history scores a miss,
        # whatever the model says: the protocol never recommends a repeat.
        users = cycle_users(4)
        users["r"] = [("i1", "train"), ("i2", "train"), ("i3", "valid"), ("i1", "test")]
        write_data(self.dir, users)
        seqs, n = sasrec.load(self.dir)
        model = sasrec.SASRec(n, 8, 1, 1, 8, 0.0)
        hr, ndcg, count = sasrec.evaluate(model, {"r": seqs["r"]}, "test", 8)
        self.assertEqual((hr, ndcg, count), (0.0, 0.0, 1))

    def test_history_items_are_not_ranked(self):
        # Scores that put the history first: with the history taken out of
        # the ranking, the target is ranked first.
        users = {"u": [("i1", "train"), ("i2", "train"), ("i3", "valid"), ("i4", "test")]}
        write_data(self.dir, users)
        seqs, n = sasrec.load(self.dir)

        class Fixed(sasrec.SASRec):
            def scores(self, h):
                s = sasrec.torch.zeros(h.shape[0], n)
                s[:, seqs["u"]["train"] + seqs["u"]["valid"]] = 10.0
                s[:, seqs["u"]["test"][0]] = 5.0
                return s

        model = Fixed(n, 8, 1, 1, 8, 0.0)
        self.assertEqual(sasrec.evaluate(model, seqs, "test", 8), (1.0, 1.0, 1))

    def test_attention_mask(self):
        x = sasrec.torch.tensor([[0, 0, 5, 6], [1, 2, 3, 4]])
        m = sasrec.attention_mask(x, 2)
        self.assertEqual(tuple(m.shape), (4, 4, 4))  # batch·heads rows
        self.assertTrue(sasrec.torch.equal(m[0], m[1]))  # same for every head
        allowed = (~m[0]).int().tolist()
        # Row 2 (item 5) sees itself only; row 3 sees 5 and 6; padding rows
        # see only themselves, so their softmax has something to sum.
        self.assertEqual(allowed, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]])
        self.assertEqual((~m[2]).int().tolist(), [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]])

    def test_padding_does_not_change_a_history(self):
        # A user's scores must not depend on who shares the batch: the
        # padding a longer history adds is neither attended nor shifts the
        # positions.
        sasrec.torch.manual_seed(3)
        model = sasrec.SASRec(N_ITEMS + 1, 16, 2, 2, 32, 0.0).eval()
        short, longer = [3, 9, 4], [7, 1, 2, 8, 5, 6, 11]
        with sasrec.torch.no_grad():
            alone = model(sasrec.left_pad([short]))[0, -1]
            batched = model(sasrec.left_pad([short, longer]))[0, -1]
        self.assertTrue(sasrec.torch.allclose(alone, batched, atol=1e-5), (alone - batched).abs().max())

    def test_bad_flags(self):
        write_data(self.dir, cycle_users(2))
        for argv in (["--dim", "0"], ["--dim", "30", "--heads", "4"], ["--dropout", "1"], ["--lr", "0"]):
            with self.subTest(argv=argv):
                with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as e:
                    sasrec.main([self.dir] + argv)
                self.assertEqual(e.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
