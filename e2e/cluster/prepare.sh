#!/usr/bin/env bash
# Makes this machine able to run the local cluster: host tools from Debian's packages, what the
# trainers run on (cached; runtime-images/tensorflow/prepare.sh, runtime-images/python/), then
# the cluster's components from their Go modules (cached; see build-components.sh).
# Idempotent and quick once done. Prints the component bin directories (PostgreSQL's first), one
# per line, on stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Host tools, as "command:Debian package":
#   bwrap    a private mount namespace per container (volumes at their paths)
#   ip       network namespaces, veths and the bridge of the node and its pods
#   nsenter  starts the node, kube-proxy, CoreDNS and every container in their namespace
#   nft      what kube-proxy (nftables mode) programs the node namespace's rules with
#   chromium the headless browser the web console's browser tests drive through playwright-core
#            (e2e/browser/): Debian's build, so no test downloads a browser of its own
# and for the real node (LATHE_NODE=kubelet; e2e/kubelet/):
#   containerd, ctr, runc   the container runtime the kubelet drives
#   /usr/lib/cni/bridge     the CNI plugins (bridge, host-local, loopback) pods are wired with
#   gcc                     compiles the pod sandbox's pause program (static: libc6-dev)
tools=(bwrap:bubblewrap ip:iproute2 nsenter:util-linux nft:nftables chromium:chromium
  containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins gcc:gcc /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev)
missing=()
for entry in "${tools[@]}"; do
  tool=${entry%%:*}
  if [[ $tool == /* ]]; then [ -e "$tool" ] && continue; else command -v "$tool" >/dev/null && continue; fi
  missing+=("${entry#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[prepare] Installing ${missing[*]} from Debian's packages" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "[prepare] Missing host packages: ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
# PostgreSQL (Debian package `postgresql`): the server the PostgreSQL-source tests query. Its
# programs live in /usr/lib/postgresql/<major>/bin, off PATH; LATHE_POSTGRES_BIN_DIR overrides.
# The package would create and start a system-wide cluster; createcluster.conf says not to.
postgres_bin_dir() {
  if [ -n "${LATHE_POSTGRES_BIN_DIR:-}" ]; then echo "$LATHE_POSTGRES_BIN_DIR"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$found" ] && command -v initdb >/dev/null; then found=$(dirname "$(command -v initdb)"); fi
  echo "$found"
}
pg_bin=$(postgres_bin_dir)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[prepare] Installing PostgreSQL from Debian's packages" >&2
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common
      echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    pg_bin=$(postgres_bin_dir)
  fi
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "[prepare] PostgreSQL (initdb, postgres) is missing: install it (Debian/Ubuntu: apt-get install postgresql) or set LATHE_POSTGRES_BIN_DIR" >&2
    exit 1
  fi
fi

# PyTorch for the PyTorch trainer's environment: Debian's python3-torch (CPU-only; PyPI's Linux
# wheels pull ~3 GB of CUDA libraries), imported by the system's python3, which the environment
# is made from (--system-site-packages; runtime-images/trainer-pytorch/requirements.txt).
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[prepare] Installing PyTorch from Debian's packages (python3-torch)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-venv >&2
  else
    echo "[prepare] Debian's python3-torch is missing (apt-get install python3-torch python3-venv)" >&2
    exit 1
  fi
fi

for tool in openssl go; do
  command -v "$tool" >/dev/null || { echo "[prepare] $tool is missing: install it first" >&2; exit 1; }
done

# The trainer's native CPU backend (libtensorflow from PyPI, compiled with node-gyp), and the
# scikit-learn and PyTorch trainers' Python environments: about a minute each, once.
runtime="$here/../../runtime-images"
bash "$runtime/tensorflow/prepare.sh" >/dev/null
bash "$runtime/python/prepare-env.sh" trainer-sklearn "$runtime/trainer-sklearn/requirements.txt" >/dev/null
bash "$runtime/python/prepare-env.sh" trainer-pytorch "$runtime/trainer-pytorch/requirements.txt" >/dev/null

echo "$pg_bin"
exec bash "$here/build-components.sh"
