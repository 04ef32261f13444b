#!/usr/bin/env bash
# The Python environment the ingestion benchmark's baseline runs in: pandas, numpy and pyarrow
# (pandas' Parquet reader) from PyPI (pinned), in a virtual environment cached outside the
# repository:
#
#   ${LATHE_CACHE_DIR:-~/.cache/lathe}/venvs/pandas-<pandas version>-pyarrow-<pyarrow version>/
#
# Idempotent: a second run only checks the environment is complete. Prints the venv's python.
set -euo pipefail

PANDAS_VERSION=3.1.1
NUMPY_VERSION=2.4.6
PYARROW_VERSION=26.0.1

cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
venv="$cache_root/venvs/pandas-$PANDAS_VERSION-pyarrow-$PYARROW_VERSION"
log() { printf '[pandas-venv] %s\n' "$*" >&2; }

if [ -f "$venv/.complete" ]; then
  echo "$venv/bin/python"
  exit 0
fi

python=${LATHE_PYTHON:-python3}
command -v "$python" >/dev/null || { log "python3 is missing: install it (Debian: apt-get install python3 python3-venv)"; exit 1; }
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "Installing python3-venv from Debian's packages"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
  else
    log "Python's venv module is missing: install it (Debian: apt-get install python3-venv)"
    exit 1
  fi
fi

mkdir -p "$cache_root/venvs"
exec {lock_fd}>"$cache_root/venvs/pandas.lock"
flock "$lock_fd"
if [ ! -f "$venv/.complete" ]; then
  log "Creating $venv (pandas $PANDAS_VERSION, numpy $NUMPY_VERSION, pyarrow $PYARROW_VERSION from PyPI; first run only)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "pandas==$PANDAS_VERSION" "numpy==$NUMPY_VERSION" "pyarrow==$PYARROW_VERSION" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
