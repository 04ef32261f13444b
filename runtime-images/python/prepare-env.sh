#!/usr/bin/env bash
# Builds a Python virtual environment from a pinned requirements file (every package, exact
# versions, from PyPI) and caches it outside the repository, so the second run costs nothing:
#
#   ~/.cache/lathe/python/<name>-<sha256 of the requirements, 12 hex>/   (bin/python, ...)
#
# A changed requirements file gives a new entry; a cached environment whose interpreter no
# longer starts (Python upgraded under it) is rebuilt. env-dir.ts computes the same path.
#
# A requirements file may build on packages of the system's Python instead of PyPI's wheels:
#   # system-site-packages: torch (Debian: python3-torch)
# makes the environment from the system interpreter (/usr/bin/python3, LATHE_SYSTEM_PYTHON
# overrides) with --system-site-packages, after checking that it imports each module named
# before the parenthesis (the parenthesis says what to install when it does not). PyTorch's
# PyPI wheels for Linux pull ~3 GB of CUDA libraries; Debian's python3-torch is CPU-only.
#
# Usage: prepare-env.sh NAME REQUIREMENTS [--locate]
#   --locate   print the environment's directory if built, else fail naming the command to run
#   LATHE_CACHE_DIR=/x prepare-env.sh ...   cache root (default ~/.cache/lathe)
# Prints the environment's directory on stdout.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: prepare-env.sh NAME REQUIREMENTS [--locate]" >&2; exit 2; }
name=$1
requirements=$(readlink -f "$2")
locate=${3:-}
log() { printf '[python:%s] %s\n' "$name" "$*" >&2; }

cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
python_dir="$cache_root/python"
hash=$(sha256sum "$requirements" | cut -c1-12)
dest="$python_dir/$name-$hash"

# "# system-site-packages: MODULE... (HINT)": the modules and the hint, or nothing.
system_modules=$(sed -n 's/^# system-site-packages: *\([^(]*\).*/\1/p' "$requirements" | xargs)
system_hint=$(sed -n 's/^# system-site-packages: *[^(]*(\(.*\)).*/\1/p' "$requirements")
imports="import sys${system_modules:+; import ${system_modules// /, }}"
if [ -n "$system_modules" ]; then
  interpreter=${LATHE_SYSTEM_PYTHON:-/usr/bin/python3}
else
  interpreter=python3
fi

works() { [ -f "$dest/.complete" ] && "$dest/bin/python" -c "$imports" 2>/dev/null; }
if works; then echo "$dest"; exit 0; fi
if [ "$locate" = --locate ]; then
  log "not prepared in $dest: run 'bash runtime-images/python/prepare-env.sh $name ${2}'"
  exit 1
fi

command -v "$interpreter" >/dev/null || { log "$interpreter is missing: install Python 3.11 (Debian: python3, python3-venv)"; exit 1; }
"$interpreter" -c 'import venv, ensurepip' 2>/dev/null || { log "$interpreter cannot create virtual environments: install python3-venv"; exit 1; }
if [ -n "$system_modules" ] && ! "$interpreter" -c "$imports" 2>/dev/null; then
  log "$interpreter cannot import $system_modules, which $requirements takes from the system: install it${system_hint:+ ($system_hint)}"
  exit 1
fi
# A requirements file may state the Python versions its wheels exist for: "# python: 3.9-3.11".
if range=$(sed -n 's/^# python: *\([0-9.]*\)-\([0-9.]*\).*/\1 \2/p' "$requirements") && [ -n "$range" ]; then
  read -r low high <<<"$range"
  "$interpreter" - "$low" "$high" <<'PY' || { log "$("$interpreter" --version) is outside $low-$high, the versions $requirements supports"; exit 1; }
import sys
low, high = (tuple(map(int, v.split("."))) for v in sys.argv[1:3])
sys.exit(0 if low <= sys.version_info[:2] <= high else 1)
PY
fi

mkdir -p "$python_dir"
exec {lock_fd}>"$python_dir/$name.lock"
flock "$lock_fd"
if works; then echo "$dest"; exit 0; fi

started=$(date +%s)
log "Creating the $name environment from $requirements (first run only; cached in $dest)"
# Built in place (a venv records its own path); .complete marks it whole, so an interrupted
# build is started over.
rm -rf "$dest"
"$interpreter" -m venv ${system_modules:+--system-site-packages} "$dest"
# Exactly the pinned set: --no-deps so nothing unpinned slips in, binary wheels only.
nice -n 10 "$dest/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-deps --only-binary=:all: -r "$requirements" >&2
# With system site packages, pip check also judges the system's own (Debian's pygobject wants
# pycairo, ...): only the problems of the pinned packages count.
pinned=$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' "$requirements" | tr 'A-Z_.' 'a-z--')
problems=$("$dest/bin/python" -m pip check 2>&1 | while read -r package rest; do
  if [ -z "$system_modules" ] || grep -qxF "$(echo "$package" | tr 'A-Z_.' 'a-z--')" <<<"$pinned"; then
    echo "$package $rest"
  fi
done | grep -v '^No broken requirements' || true)
if [ -n "$problems" ]; then
  echo "$problems" >&2
  log "the pinned set is inconsistent (pip check above)"
  exit 1
fi
cp "$requirements" "$dest/requirements.txt"
echo "$(( $(date +%s) - started ))" >"$dest/build-seconds"
touch "$dest/.complete"
log "Created the $name environment in $(cat "$dest/build-seconds") s"
echo "$dest"
