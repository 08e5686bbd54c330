#!/usr/bin/env bash
# One-time machine set-up for neo: Debian packages the tests and the trainer
# need, Go modules, and the onnxruntime library (cached outside git).
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in python3-torch python3-numpy python3-onnx libopenblas0-pthread jq curl chromium fonts-dejavu-core ${NEO_EXTRA_PACKAGES:-}; do
  have_pkg "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need[*]}" >&2
    echo "setup: run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
fi

go mod download
if [ -z "${ONNXRUNTIME_LIB:-}" ]; then
  bash scripts/install-onnxruntime.sh >/dev/null
fi
echo "setup: ok"
