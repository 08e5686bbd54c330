#!/usr/bin/env bash
# Trainer smoke test (CI, well under 2 minutes): synthetic shards ->
# train.py --preset tiny, interrupted after 10 steps and resumed -> ONNX
# export (shape arithmetic folded, exporter/py/simplify.py) + parity
# fixture -> the Go parity test against that model.
#
#   exporter/py/test_smoke.sh            (from anywhere; needs Go, npm on first use)
#   KEEP=1 exporter/py/test_smoke.sh     keeps the work folder
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/neo-smoke.XXXXXX")"
if [[ "${KEEP:-}" == 1 ]]; then
  echo "smoke: work folder $work"
else
  trap 'rm -rf "$work"' EXIT
fi
cd "$repo"
start=$SECONDS

"$py" -c 'import torch, numpy' 2>/dev/null || { echo "smoke: $py lacks torch/numpy (apt-get install python3-torch python3-numpy)" >&2; exit 1; }

# the trainer's unit tests: unittest's exit status, not a grep of its output
"$py" -m unittest discover -s exporter/py -p 'test_*.py' || { echo "smoke: trainer unit tests failed" >&2; exit 1; }

"$py" exporter/py/make_synthetic.py --out "$work/export"

# Interrupted run, then --resume: must finish and match an uninterrupted run.
"$py" exporter/py/train.py --data "$work/export" --out "$work/model" --preset tiny --stop-after 10 >"$work/run1.log"
grep -q "stopped at stage warmup step 10" "$work/run1.log" || { cat "$work/run1.log"; echo "smoke: --stop-after did not stop" >&2; exit 1; }
"$py" exporter/py/train.py --data "$work/export" --out "$work/model" --preset tiny --resume | tee "$work/run2.log" | grep -v " step "
grep -q "resuming from" "$work/run2.log" || { echo "smoke: --resume did not resume" >&2; exit 1; }
"$py" exporter/py/train.py --data "$work/export" --out "$work/ref" --preset tiny >/dev/null

# Warm start (--from): the weights of a trained model, a short pass.
"$py" exporter/py/train.py --data "$work/export" --out "$work/warm" --preset tiny --from "$work/ref" \
  --steps-warmup 0 --steps-ground 2 --steps-instruct 3 --no-export >"$work/warm.log"
"$py" - "$work" <<'EOF'
import json, os, sys
w = json.load(open(os.path.join(sys.argv[1], "warm", "neo.json")))["training"]["warm_start"]
assert w["rows_copied"] == w["rows"] > 0, w  # same export: every row is copied
EOF

"$py" - "$work" <<'EOF'
import json, os, sys
w = sys.argv[1]
m = os.path.join(w, "model")
for f in ("model.onnx", "neo.json", "tokenizer.json", "parity.json", "parity.bin"):
    assert os.path.exists(os.path.join(m, f)), f"missing {f}"
neo = json.load(open(os.path.join(m, "neo.json")))
ref = json.load(open(os.path.join(w, "ref", "neo.json")))
t = neo["training"]
assert [s["name"] for s in t["stages"]] == ["warmup", "ground", "instruct"], t["stages"]
assert all(s["steps"] > 0 and s["loss"] for s in t["stages"])
assert set(t["sid_accuracy"]) == {"type", "l0", "l1", "l2", "l3"}, t["sid_accuracy"]
assert neo["model"]["layers"] == 2 and t["data_hash"]
assert [s["loss"] for s in t["stages"]] == [s["loss"] for s in ref["training"]["stages"]], "resumed run differs from uninterrupted run"
assert open(os.path.join(m, "parity.bin"), "rb").read() == open(os.path.join(w, "ref", "parity.bin"), "rb").read()
import onnx
sys.path.insert(0, "exporter/py")
from simplify import compute_nodes, simplify
g = onnx.load(os.path.join(m, "model.onnx"))
shapes = sum(n.op_type == "Shape" for n in g.graph.node)
# export folded the shape arithmetic: what is left is the attention mask's
# two lengths, one batch size per layer and the sequence length that
# num_logits_to_keep reads; a second pass finds nothing.
assert shapes <= 3 + neo["model"]["layers"], f"{shapes} Shape nodes left after export"
assert any(i.name == "num_logits_to_keep" for i in g.graph.input), "export did not add num_logits_to_keep"
n = compute_nodes(g)
assert compute_nodes(simplify(g)) == n, "simplify is not idempotent"
print(f"smoke: outputs ok; resumed run identical to uninterrupted run; {n} nodes, {shapes} Shape")
EOF

scripts/install-onnxruntime.sh --quiet >/dev/null
NEO_PARITY_MODEL="$work/model" go test ./onnx/ -run '^TestParity$' -count=1 -v | grep -E "parity|cache vs|^(ok|FAIL|---)"
echo "smoke: passed in $((SECONDS - start))s"
