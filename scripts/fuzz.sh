#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each
# (FUZZTIME, default 10s; go test runs one target of a package at a time).
# Usage: scripts/fuzz.sh [package pattern] ; make fuzz FUZZTIME=1m
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
pkgs="${1:-./...}"
failed=0 n=0
for pkg in $(go list "$pkgs"); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		n=$((n + 1))
		echo "== $pkg $target ($fuzztime)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" 2>&1 | tail -3; then
			failed=$((failed + 1))
		fi
	done
done
echo "fuzz: $n targets, $failed failed"
[ "$failed" -eq 0 ]
