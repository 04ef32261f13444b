#!/bin/sh
# Removes from a production node_modules what Node.js never loads at run time: source maps,
# TypeScript declarations, build info, and (with --bundles-only) the browser and ES-module
# builds of the TensorFlow.js packages, which Node.js does not use: it loads each package's
# `main`, dist/*.node.js, plus the WebAssembly binaries. Source maps alone are ~200 MB of the
# 300 MB that `npm prune --omit=dev` leaves.
#
#
# onnxruntime-node ships its CPU library for every platform (294 MB: darwin, linux and win32,
# x64 and arm64); only the build machine's linux one is kept (47.6 MB for linux-x64), and an
# image that never runs an ONNX model drops the package (--without-onnxruntime).
#
# Usage: prune-node-modules.sh [--bundles-only] [--without-onnxruntime] DIR...
#   --bundles-only         also drop @tensorflow/*/dist except *.node.js and *.wasm; only for
#                          images whose code (and dependencies) never deep-imports
#                          @tensorflow/*/dist/... (the native addon does, so the trainer keeps them)
#   --without-onnxruntime  drop onnxruntime-node and onnxruntime-common (images that serve and
#                          score no model: operator, ingest, retrain, activator)
set -eu
bundles_only=false
without_onnxruntime=false
while :; do
  case "${1:-}" in
    --bundles-only) bundles_only=true; shift ;;
    --without-onnxruntime) without_onnxruntime=true; shift ;;
    *) break ;;
  esac
done
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch=none ;;
esac
for dir in "$@"; do
  if $without_onnxruntime; then
    rm -rf "$dir/onnxruntime-node" "$dir/onnxruntime-common"
  fi
  for platform in "$dir"/onnxruntime-node/bin/napi-v*/*/*; do
    [ -d "$platform" ] || continue
    case "$platform" in
      */linux/"$arch") ;;
      *) rm -rf "$platform" ;;
    esac
  done
  find "$dir" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
    -o -name '*.tsbuildinfo' -o -name '*.min.js.html' \) -delete
  if $bundles_only && [ -d "$dir/@tensorflow" ]; then
    for dist in "$dir"/@tensorflow/*/dist; do
      find "$dist" -mindepth 1 -maxdepth 1 ! -name '*.node.js' ! -name '*.wasm' -exec rm -rf {} +
    done
  fi
done
