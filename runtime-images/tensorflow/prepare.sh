#!/usr/bin/env bash
# Builds TensorFlow.js's native addon (@tensorflow/tfjs-node, or -gpu) from registry packages
# alone and caches it outside the repository, so the second run costs nothing:
#
#   ~/.cache/lathe/tensorflow/tfjs-node-<variant>-<tfjs>-tensorflow-<tf>-<lock>/
#     node_modules/@tensorflow/tfjs-node[-gpu]/   the package, its addon in lib/napi-v8/,
#                                                 libtensorflow in deps/lib/
#
# The package's own install script downloads libtensorflow from a Google bucket, which no
# air-gapped cluster (and no machine here) can reach. Instead:
#   1. npm ci --ignore-scripts of native-<variant>/ (exact lockfile): the package's JavaScript,
#      its @tensorflow/tfjs, node-gyp; no install script runs, whatever the npm version.
#   2. The TensorFlow C library and headers from the PyPI wheel (`tensorflow-cpu`, or
#      `tensorflow` for the GPU variant, whose RUNPATH finds the CUDA wheels' libraries in
#      deps/nvidia/*/lib): pip download, then only the needed members are extracted into the
#      package's deps/, where its binding.gyp looks (libtensorflow.so -> libtensorflow_cc.so.2).
#   3. node-gyp against the local Node.js headers (--nodedir; no header download).
#   4. A smoke test (a matMul on the new backend) before the entry is marked complete.
#
# The addon is loaded from this directory (runtime-images/tensorflow/backend.ts), never from the
# repository's node_modules: the repository depends only on @tensorflow/tfjs and the wasm
# backend, which have no install step that needs the network.
#
# Usage: prepare.sh [--gpu] [--locate]
#   --gpu      the CUDA variant (tfjs-node-gpu; ~3 GB of wheels). Default: CPU.
#   --locate   print the entry's directory if built, else fail naming the command to run.
#   LATHE_CACHE_DIR=/x prepare.sh   cache root (default ~/.cache/lathe)
# Prints the entry's directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

variant=cpu
locate=false
for arg in "$@"; do
  case "$arg" in
    --gpu) variant=gpu ;;
    --locate) locate=true ;;
    *) echo "usage: prepare.sh [--gpu] [--locate]" >&2; exit 2 ;;
  esac
done

log() { printf '[tensorflow] %s\n' "$*" >&2; }

cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
tensorflow_dir="$cache_root/tensorflow"
lockfile="$here/native-$variant/package-lock.json"
lock_hash=$(sha256sum "$lockfile" | cut -c1-12)
entry="tfjs-node-$variant-$TFJS_VERSION-tensorflow-$TENSORFLOW_VERSION-$lock_hash"
dest="$tensorflow_dir/$entry"
if [ "$variant" = gpu ]; then package=tfjs-node-gpu; wheel=tensorflow; else package=tfjs-node; wheel=tensorflow-cpu; fi

if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
if $locate; then
  flag=""; [ "$variant" = gpu ] && flag=" -- --gpu"
  log "the native $variant addon is not built in $tensorflow_dir: run 'npm run tensorflow:prepare$flag' (once, about a minute)"
  exit 1
fi

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || {
  log "the native addon is built for Linux x86-64 only (PyPI's TensorFlow wheels); this is $(uname -s)-$(uname -m)"
  exit 1
}
for tool in python3 make g++ sha256sum flock; do
  command -v "$tool" >/dev/null || { log "$tool is missing: install it first (Debian: python3, make, g++, coreutils, util-linux)"; exit 1; }
done
python3 -m pip --version >/dev/null 2>&1 || { log "pip is missing: install it (Debian: python3-pip)"; exit 1; }
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ ! -f "$node_prefix/include/node/node_api.h" ]; then
  for candidate in /usr /usr/local; do
    [ -f "$candidate/include/node/node_api.h" ] && { node_prefix=$candidate; break; }
  done
fi
[ -f "$node_prefix/include/node/node_api.h" ] || {
  log "Node.js headers not found under $node_prefix/include/node: install them (Debian: libnode-dev; the official tarballs ship them)"
  exit 1
}

mkdir -p "$tensorflow_dir"
exec {lock_fd}>"$tensorflow_dir/$variant.lock"
flock "$lock_fd"
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi

started=$(date +%s)
work=$(mktemp -d "$tensorflow_dir/.build-$entry-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "Building the native $variant addon of TensorFlow.js $TFJS_VERSION against TensorFlow $TENSORFLOW_VERSION (first run only; cached in $dest)"

# 1. The package's JavaScript and node-gyp, exactly as locked, without install scripts.
cp "$here/native-$variant/package.json" "$here/native-$variant/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
pkg="$work/node_modules/@tensorflow/$package"

# 2. libtensorflow and its C headers from the wheel (any CPython tag: only the C library is used).
wheels="$work/wheels"
pip_download() {
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp --dest "$wheels" "$@" >&2
}
pip_download "$wheel==$TENSORFLOW_VERSION"
mkdir -p "$pkg/deps/lib" "$pkg/deps/include"
python3 - "$wheels" "$pkg/deps" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, deps = sys.argv[1], sys.argv[2]
[tf_wheel] = glob.glob(os.path.join(wheels, "tensorflow*.whl"))
libs = {"tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"}
# What tensorflow/c/c_api.h and tensorflow/c/eager/c_api.h include, transitively.
headers = ("tensorflow/include/tensorflow/c/", "tensorflow/include/tensorflow/core/platform/",
           "tensorflow/include/tsl/c/", "tensorflow/include/tsl/platform/")
with zipfile.ZipFile(tf_wheel) as z:
    for name in z.namelist():
        if name in libs:
            target = os.path.join(deps, "lib", os.path.basename(name))
        elif name.startswith(headers) and not name.endswith("/"):
            target = os.path.join(deps, "include", name[len("tensorflow/include/"):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(name) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
if [ "$variant" = gpu ]; then
  # shellcheck disable=SC2086
  pip_download $CUDA_WHEELS
  # Each CUDA wheel's nvidia/<name>/lib/, where libtensorflow's RUNPATH
  # ($ORIGIN/../nvidia/<name>/lib) finds it; the driver (libcuda.so.1) comes from the host.
  python3 - "$wheels" "$pkg/deps" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, deps = sys.argv[1], sys.argv[2]
for cuda_wheel in glob.glob(os.path.join(wheels, "nvidia_*.whl")):
    with zipfile.ZipFile(cuda_wheel) as z:
        for name in z.namelist():
            parts = name.split("/")
            if len(parts) >= 4 and parts[0] == "nvidia" and parts[2] == "lib" and ".so" in parts[-1]:
                target = os.path.join(deps, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
PY
fi
rm -rf "$wheels"
# binding.gyp links -ltensorflow -ltensorflow_framework; the SONAMEs recorded are the wheel's.
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so"
ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"

# 3. Compile where node-pre-gyp looks for the addon (lib/napi-v<N>/tfjs_binding.node).
binding=$(cd "$pkg" && node -p "require('@mapbox/node-pre-gyp').find(require('path').resolve('package.json'))")
napi=$(basename "$(dirname "$binding")")
napi=${napi#napi-v}
(
  cd "$pkg"
  nice -n 10 node "$work/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$node_prefix" \
    --jobs=2 --napi_build_version="$napi" --module_name=tfjs_binding --module_path="$(dirname "$binding")" >&2
) >"$work/build.log" 2>&1 || {
  log "node-gyp failed; the last lines of its output:"
  tail -n 30 "$work/build.log" >&2
  exit 1
}
rm -rf "$pkg/build"

# 4. Smoke test: load the addon and compute on it.
(cd "$work" && TF_CPP_MIN_LOG_LEVEL=2 node -e "
  const tf = require('@tensorflow/$package');
  const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
  if (tf.getBackend() !== 'tensorflow' || product[0] !== 17 || product[1] !== 39) {
    throw new Error('smoke test failed: backend ' + tf.getBackend() + ', product ' + product);
  }
") >&2 || { log "the built addon does not work (see above)"; exit 1; }

mv "$work/build.log" "$work/node_modules/.lathe-build.log"
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/node_modules" "$work/package.json" "$dest/"
echo "$(( $(date +%s) - started ))" >"$dest/build-seconds"
touch "$dest/.complete"
log "Built the native $variant addon in $(cat "$dest/build-seconds") s"
echo "$dest"
