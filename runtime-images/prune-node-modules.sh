#!/bin/sh
# Removes from a production node_modules what Node.js never loads at run time: source maps,
# TypeScript declarations, build info, and (with --bundles-only) the browser and ES-module
# builds of the TensorFlow.js packages, which Node.js does not use: it loads each package's
# `main`, dist/*.node.js, plus the WebAssembly binaries. Source maps alone are ~200 MB of the
# 300 MB that `npm prune --omit=dev` leaves.
#
# Usage: prune-node-modules.sh [--bundles-only] DIR...
#   --bundles-only  also drop @tensorflow/*/dist except *.node.js and *.wasm; only for images
#                   whose code (and dependencies) never deep-imports @tensorflow/*/dist/...
#                   (the native addon does, so the trainer keeps them)
set -eu
bundles_only=false
if [ "${1:-}" = --bundles-only ]; then bundles_only=true; shift; fi
for dir in "$@"; do
  find "$dir" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
    -o -name '*.tsbuildinfo' -o -name '*.min.js.html' \) -delete
  if $bundles_only && [ -d "$dir/@tensorflow" ]; then
    for dist in "$dir"/@tensorflow/*/dist; do
      find "$dist" -mindepth 1 -maxdepth 1 ! -name '*.node.js' ! -name '*.wasm' -exec rm -rf {} +
    done
  fi
done
