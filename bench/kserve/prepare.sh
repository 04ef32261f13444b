#!/usr/bin/env bash
# Prepares what `npm run bench:serve` compares against, cached outside the repository:
#   - the KServe Python model server and tensorflow-cpu, in a virtual environment under
#     ${LATHE_CACHE_DIR:-~/.cache/lathe}/bench/kserve-<kserve>-tensorflow-cpu-<tf>/venv
#     (PyPI only; a second run reuses it);
#   - wrk, the load generator both servers are measured with (Debian's package).
# Prints the virtual environment's path on its last line.
set -euo pipefail

KSERVE_VERSION=0.21.0
TENSORFLOW_VERSION=2.21.0

cache="${LATHE_CACHE_DIR:-$HOME/.cache/lathe}"
dir="$cache/bench/kserve-$KSERVE_VERSION-tensorflow-cpu-$TENSORFLOW_VERSION"

if ! command -v wrk >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    echo "Installing wrk (Debian package)..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "bench:serve needs wrk on PATH (e.g. apt-get install wrk)" >&2
    exit 1
  fi
fi

if [[ ! -f "$dir/ready" ]]; then
  started=$(date +%s)
  echo "Creating the KServe baseline environment in $dir (once)..." >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    "kserve==$KSERVE_VERSION" "tensorflow-cpu==$TENSORFLOW_VERSION" >&2
  echo "$(( $(date +%s) - started ))" > "$dir/install-seconds"
  touch "$dir/ready"
fi
echo "$dir/venv"
