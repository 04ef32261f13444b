#!/usr/bin/env bash
# Builds the Go peer of the operator benchmark (main.go, controller-runtime from the Go module
# proxy) into a cache outside the repository and prints the binary's path on the last line:
#
#   ~/.cache/lathe/bench/go-peer-<hash>/go-peer
#
# The hash covers go.mod, go.sum, main.go and the Go version, so a change rebuilds and an
# unchanged peer costs nothing. Honours LATHE_CACHE_DIR like e2e/cluster/build-components.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
command -v go >/dev/null || { echo "[go-peer] Go toolchain not found on PATH: install Go 1.24 or newer" >&2; exit 1; }

export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

key=$( (cat "$here/go.mod" "$here/go.sum" "$here/main.go"; go version) | sha256sum | cut -c1-12)
dest="$cache_root/bench/go-peer-$key"
if [ ! -x "$dest/go-peer" ]; then
  mkdir -p "$cache_root/bench"
  work=$(mktemp -d "$cache_root/bench/.build-go-peer-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  started=$(date +%s)
  echo "[go-peer] Building the controller-runtime peer (first run only; cached in $dest)" >&2
  (cd "$here" && nice -n 10 go build -ldflags='-s -w' -o "$work/go-peer" .)
  rm -rf "$dest"
  mv "$work" "$dest"
  trap - EXIT
  # Earlier builds of the peer are of no use any more.
  find "$cache_root/bench" -maxdepth 1 -name 'go-peer-*' ! -name "go-peer-$key" -exec rm -rf {} +
  echo "[go-peer] Built in $(($(date +%s) - started)) s" >&2
fi
echo "$dest/go-peer"
