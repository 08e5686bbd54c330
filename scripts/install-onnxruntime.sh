#!/usr/bin/env bash
# install-onnxruntime.sh — put the onnxruntime shared library that neo's Go
# runtime (package onnx, via github.com/yalue/onnxruntime_go) needs into a
# cache folder outside git, and print its path.
#
#   ${NEO_CACHE:-<repo>/.cache}/onnxruntime/1.24.1/libonnxruntime.so.1
#
# Why npm: Microsoft publishes the Linux x64 build of the library inside the
# onnxruntime-node package; the npm registry is reachable where GitHub release
# downloads are not. Only the one .so file is extracted, and it is checked
# against a pinned sha256 before it is moved into place, so a cached copy is
# always the exact library the Go bindings (ORT API version 24) were built for.
#
# Idempotent: a present file with the right checksum is reused as is.
# Usage: scripts/install-onnxruntime.sh [--quiet]   (prints the path on stdout)
set -euo pipefail

ORT_VERSION=1.24.1
LIB_NAME=libonnxruntime.so.1
LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
PKG="onnxruntime-node@${ORT_VERSION}"
MEMBER="package/bin/napi-v6/linux/x64/${LIB_NAME}"

quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1
log() { [[ $quiet == 1 ]] || echo "install-onnxruntime: $*" >&2; }
die() { echo "install-onnxruntime: error: $*" >&2; exit 1; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${NEO_CACHE:-$repo/.cache}"
dest_dir="$cache/onnxruntime/$ORT_VERSION"
dest="$dest_dir/$LIB_NAME"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$dest" ]]; then
  if [[ "$(sha "$dest")" == "$LIB_SHA256" ]]; then
    log "reusing $dest"
    echo "$dest"
    exit 0
  fi
  log "checksum mismatch for cached $dest; fetching again"
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "only linux/x86_64 is pinned here ($(uname -s)/$(uname -m)); install onnxruntime $ORT_VERSION yourself and set ONNXRUNTIME_LIB=/path/to/libonnxruntime" ;;
esac
command -v npm >/dev/null || die "npm not found (needed to fetch $PKG); install npm (apt-get install npm) or set ONNXRUNTIME_LIB to an onnxruntime $ORT_VERSION library"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"

mkdir -p "$dest_dir" || die "cannot create $dest_dir"
tmp="$(mktemp -d "$dest_dir/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "fetching $PKG from the npm registry (npm pack)"
(cd "$tmp" && npm pack --ignore-scripts --silent "$PKG" >/dev/null) \
  || die "npm pack $PKG failed (no network access to the npm registry?)"
tgz="$(ls "$tmp"/onnxruntime-node-*.tgz 2>/dev/null | head -n1)"
[[ -n "$tgz" ]] || die "npm pack produced no tarball in $tmp"
got="$(sha "$tgz")"
[[ "$got" == "$TGZ_SHA256" ]] || die "tarball checksum mismatch: got $got, want $TGZ_SHA256"

tar -xzf "$tgz" -C "$tmp" "$MEMBER" || die "tarball has no $MEMBER"
got="$(sha "$tmp/$MEMBER")"
[[ "$got" == "$LIB_SHA256" ]] || die "library checksum mismatch: got $got, want $LIB_SHA256"

chmod 0644 "$tmp/$MEMBER"
# Same filesystem (tmp is inside dest_dir), so mv is an atomic rename: a
# concurrent reader never sees a half-written library.
mv -f "$tmp/$MEMBER" "$dest"
log "installed $dest"
echo "$dest"
