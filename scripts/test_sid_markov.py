"""Tests of scripts/sid_markov.py (run by `make test`; standard library only):

    /usr/bin/python3 scripts/test_sid_markov.py
"""

import json
import math
import os
import tempfile
import unittest

import sid_markov  # noqa: E402


def write_data(d, users):
    with open(os.path.join(d, "interactions.ndjson"), "w") as f:
        for u, events in users.items():
            for ts, (item, split) in enumerate(events):
                f.write(json.dumps({"user": u, "item": item, "ts": ts, "event": "view", "split": split}) + "\n")


def write_sids(path, codes):
    with open(path, "w") as f:
        for item, c in codes.items():
            f.write(f"{item}\tmovie-{c}-0-0-0\n")


class SidMarkov(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        # Items a0..a8: item k has level-0 code k % 3 in the "taste" table,
        # and each user keeps to one taste, so the next code is always the
        # current one.
        users = {}
        for u in range(6):
            seq = [f"a{u % 3 + 3 * (j % 3)}" for j in range(8)]
            users[f"u{u}"] = [(i, "train") for i in seq[:6]] + [(seq[6], "valid"), (seq[7], "test")]
        write_data(self.dir, users)
        self.users = sid_markov.load_events(self.dir)

    def table(self, name, codes):
        path = os.path.join(self.dir, name)
        write_sids(path, codes)
        return sid_markov.load_codes(path)

    def test_deterministic_chain(self):
        code = self.table("taste.tsv", {f"a{k}": k % 3 for k in range(9)})
        h, mi, top1, top3, n = sid_markov.analyse(self.users, code)
        self.assertEqual(n, 12)  # a valid and a test target per user
        self.assertAlmostEqual(h, math.log(3), places=2)
        self.assertAlmostEqual(mi, h, places=6)  # the previous code says everything
        self.assertEqual(top1, 1.0)
        self.assertEqual(top3, 1.0)

    def test_uninformative_codes(self):
        code = self.table("one.tsv", {f"a{k}": 7 for k in range(9)})
        h, mi, top1, _, n = sid_markov.analyse(self.users, code)
        self.assertEqual((h, mi), (0.0, 0.0))
        self.assertEqual(top1, 1.0)  # one code: trivially right, and H says so

    def test_cycle(self):
        # Codes k // 3: each user cycles 0 -> 1 -> 2 -> 0. Consecutive codes
        # determine each other (MI = H), but the chain scores from the mean
        # of the last 5 items' rows, which spreads over the cycle.
        code = self.table("cycle.tsv", {f"a{k}": k // 3 for k in range(9)})
        h, mi, top1, top3, _ = sid_markov.analyse(self.users, code)
        self.assertAlmostEqual(mi, h, places=6)
        self.assertLess(top1, 1.0)
        self.assertEqual(top3, 1.0)

    def test_unknown_items_are_skipped(self):
        code = self.table("part.tsv", {f"a{k}": k % 3 for k in range(5)})
        _, _, _, _, n = sid_markov.analyse(self.users, code)
        self.assertLess(n, 12)

    def test_sid_key_with_hyphenated_type(self):
        path = os.path.join(self.dir, "typed.tsv")
        with open(path, "w") as f:
            f.write("x\thand-bag-4-1-2-0\n")
        self.assertEqual(sid_markov.load_codes(path), {"x": 4})


if __name__ == "__main__":
    unittest.main(verbosity=1)
