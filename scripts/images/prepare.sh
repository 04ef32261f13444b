#!/usr/bin/env bash
# Installs what `npm run images` needs from Debian's packages when missing (as root, after an
# `apt-get update`), and writes the container tools' configuration under the image cache:
#
#   buildah   builds the Dockerfiles (BuildKit's syntax, no daemon)
#   runc      the OCI runtime: crun refuses this host ("cgroups in hybrid mode not supported")
#   mmdebstrap  the Debian root filesystems of the base images
#   podman    runs the images in the smoke tests
#   skopeo    pushes to a registry (--push)
#
# Why the configuration: storage, run and temporary directories stay under the cache; no
# container gets a network of its own (host network: nothing is added to the host's firewall);
# ulimits below what this machine lets a process raise (no CAP_SYS_RESOURCE: nproc 65536 or
# more fails); cgroups made by cgroupfs under one parent, lathe-images.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

need=()
for tool in buildah:buildah runc:runc mmdebstrap:mmdebstrap podman:podman skopeo:skopeo \
  newuidmap:uidmap; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    images_log "missing ${need[*]}: run as root to install them (apt-get install ${need[*]})"
    exit 1
  fi
  images_log "installing ${need[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$images_dir"/{config,storage,run,tmp,base,archives}
cat >"$CONTAINERS_STORAGE_CONF.new" <<CONF
[storage]
driver = "overlay"
graphroot = "$images_dir/storage"
runroot = "$images_dir/run"
CONF
cat >"$CONTAINERS_CONF.new" <<CONF
[containers]
netns = "host"
cgroupns = "private"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$images_dir/run/events.log"
tmp_dir = "$images_dir/run/libpod"
static_dir = "$images_dir/storage/libpod"
volume_path = "$images_dir/storage/volumes"
CONF
cat >"$CONTAINERS_REGISTRIES_CONF.new" <<CONF
# The Dockerfiles' short names (node:..., python:...) are Docker Hub's, made here locally.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
CONF
cat >"$images_policy.new" <<CONF
{ "default": [{ "type": "insecureAcceptAnything" }] }
CONF
for file in "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_CONF" "$CONTAINERS_REGISTRIES_CONF" "$images_policy"; do
  mv "$file.new" "$file"
done
