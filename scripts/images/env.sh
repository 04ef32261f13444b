# Sourced by the image scripts: where everything lives, and the container tools pointed at it.
# Nothing is read from or written to /etc/containers, /var/lib/containers or /run/containers:
# buildah, podman and skopeo get their storage, run and config directories from the files below.
# shellcheck shell=bash
images_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$images_here/versions.env"
cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
images_dir=${LATHE_IMAGES_DIR:-$cache_root/images}
export CONTAINERS_STORAGE_CONF=$images_dir/config/storage.conf
export CONTAINERS_CONF=$images_dir/config/containers.conf
export CONTAINERS_REGISTRIES_CONF=$images_dir/config/registries.conf
export REGISTRIES_CONFIG_PATH=$CONTAINERS_REGISTRIES_CONF
export TMPDIR=$images_dir/tmp
images_policy=$images_dir/config/policy.json
images_log() { printf '[images] %s\n' "$*" >&2; }
