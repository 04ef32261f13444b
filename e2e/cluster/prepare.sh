#!/usr/bin/env bash
# Makes this machine able to run the local cluster: host tools from Debian's packages, what the
# trainers run on (cached; runtime-images/tensorflow/prepare.sh, runtime-images/python/), then
# the cluster's components from their Go modules (cached; see build-components.sh).
# Idempotent and quick once done. Prints the component bin directories, one per line, on stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bubblewrap gives each pod's processes a private mount namespace (volumes at their paths).
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[prepare] Installing bubblewrap from Debian's packages" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >&2
  else
    echo "[prepare] bubblewrap (bwrap) is missing: install it (Debian/Ubuntu: apt-get install bubblewrap)" >&2
    exit 1
  fi
fi
for tool in openssl go; do
  command -v "$tool" >/dev/null || { echo "[prepare] $tool is missing: install it first" >&2; exit 1; }
done

# The trainer's native CPU backend (libtensorflow from PyPI, compiled with node-gyp), and the
# scikit-learn trainer's Python environment: about a minute each, once.
runtime="$here/../../runtime-images"
bash "$runtime/tensorflow/prepare.sh" >/dev/null
bash "$runtime/python/prepare-env.sh" trainer-sklearn "$runtime/trainer-sklearn/requirements.txt" >/dev/null

exec bash "$here/build-components.sh"
