#!/usr/bin/env bash
# Builds the local cluster's components from their Go modules through the Go module proxy and
# caches them outside the repository, so the second run costs nothing:
#
#   ~/.cache/lathe/components/<component>-<version>/bin/<binary>
#
# Why a wrapper module: k8s.io/kubernetes points its staging modules (k8s.io/api, ...) at
# ./staging with `replace` lines, which `go install k8s.io/kubernetes/cmd/...@v1.x` refuses. We
# build from a throw-away module that requires k8s.io/kubernetes and replaces each staging
# module with its published v0.x.y. etcd's modules have the same shape, so every component goes
# through the same wrapper. kube-proxy is a component of its own (same module, same Go module
# cache), so adding it never rebuilt the other Kubernetes binaries. CoreDNS is built from a
# main package of our own that imports only the plugins the local cluster uses (the way CoreDNS
# documents building with a chosen plugin set), which skips the cloud SDKs of the full build.
#
# Concurrency: each component is built in a private temp dir and renamed into place under an
# exclusive flock, so two runs at once never see (or leave) a half-written cache entry.
#
# Usage: build-components.sh            build what is missing, print the bin directories
#        build-components.sh --locate   print the bin directories; build nothing, and fail
#                                       (naming what is missing) unless all are built
#        build-components.sh --engine jobset|trainer
#                                       build one optional engine (JobSet's or Kubeflow
#                                       Trainer's controller manager) if missing, print its
#                                       bin directory and its module's source directory
#        LATHE_CACHE_DIR=/x build-components.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache_root=${LATHE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
components_dir="$cache_root/components"
mkdir -p "$components_dir"

export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

log() { printf '[build-components] %s\n' "$*" >&2; }

# CoreDNS's plugins, in the order of the import list of coredns_main below. Changing the list
# changes the cache key (its hash is part of the component's name), so it is rebuilt.
coredns_plugins="bind cache errors health kubernetes loadbalance log ready"
coredns_key="$COREDNS_VERSION-$(printf '%s' "$coredns_plugins" | sha256sum | cut -c1-8)"

components=("kubernetes-$KUBERNETES_VERSION" "kube-proxy-$KUBERNETES_VERSION" "kubelet-$KUBERNETES_VERSION"
  "etcd-$ETCD_VERSION"
  "helm-$HELM_VERSION" "minio-$MINIO_VERSION" "coredns-$coredns_key"
  "registry-$DISTRIBUTION_VERSION" "pause-$KUBERNETES_VERSION")
print_bin_dirs() {
  local c
  for c in "${components[@]}"; do echo "$components_dir/$c/bin"; done
}

if [ "${1:-}" = "--locate" ]; then
  for c in "${components[@]}"; do
    if [ ! -f "$components_dir/$c/.complete" ]; then
      log "$c is not built yet in $components_dir: run 'npm run cluster:prepare' (once, ~10 minutes)"
      exit 1
    fi
  done
  print_bin_dirs
  exit 0
fi

command -v go >/dev/null || { log "Go toolchain not found on PATH: install Go 1.24 or newer"; exit 1; }

# cached_build NAME VERSION WHAT BUILDER ARG...
# Runs `BUILDER ARG...` in a fresh work directory (it writes its binaries to ./bin) and moves
# them into $components_dir/NAME-VERSION/bin, unless already there.
cached_build() {
  local name=$1 version=$2 what=$3
  shift 3
  local dest="$components_dir/$name-$version"
  [ -f "$dest/.complete" ] && return 0

  exec {lock_fd}>"$components_dir/$name.lock"
  flock "$lock_fd"
  if [ -f "$dest/.complete" ]; then exec {lock_fd}>&-; return 0; fi

  local work started
  work=$(mktemp -d "$components_dir/.build-$name-XXXXXX")
  started=$(date +%s)
  log "Building $name $version from $what (first run only; cached in $dest)"
  (cd "$work" && mkdir -p bin && "$@") >"$work/build.log" 2>&1 || {
    log "Building $name failed; the last lines of $work/build.log:"
    tail -n 30 "$work/build.log" >&2
    exec {lock_fd}>&-
    exit 1
  }
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$work/bin" "$dest/bin"
  mv "$work/build.log" "$dest/build.log"
  echo "$(( $(date +%s) - started ))" >"$dest/build-seconds"
  touch "$dest/.complete"
  rm -rf "$work"
  exec {lock_fd}>&-
  log "Built $name $version in $(cat "$dest/build-seconds") s"
}

# go_build NAME MODULE@VERSION LDFLAGS PACKAGE...: builds PACKAGEs of MODULE into ./bin through
# a wrapper module. MAIN_GO, when set, is written as its main.go (build it as package ".").
go_build() {
  local name=$1 module_at=$2 ldflags=$3
  shift 3
  cat >go.mod <<MOD
module lathe.dev/localcluster/$name

go 1.24
MOD
  go mod edit -require="$module_at"
  if [ -n "${MAIN_GO:-}" ]; then printf "%s\n" "$MAIN_GO" >main.go; fi
  if [ -n "${REPLACE_STAGING:-}" ]; then
    # Map every "k8s.io/x => ./staging/src/k8s.io/x" line of k8s.io/kubernetes' go.mod to
    # the published module k8s.io/x@$KUBERNETES_STAGING_VERSION.
    local gomod
    gomod=$(go mod download -json "$module_at" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod" | while read -r staged; do
      go mod edit -replace="$staged=$staged@$KUBERNETES_STAGING_VERSION"
    done
  fi
  local pkg
  for pkg in "$@"; do
    # The binary is named after the package's last element, except that a major-version
    # suffix (go.etcd.io/etcd/server/v3) is skipped, as Go itself does; BIN_NAME overrides.
    local bin=${pkg##*/}
    [[ $bin =~ ^v[0-9]+$ ]] && { bin=${pkg%/*}; bin=${bin##*/}; }
    [ $# -eq 1 ] && [ -n "${BIN_NAME:-}" ] && bin=$BIN_NAME
    go build -o "bin/$bin" -ldflags "$ldflags" "$pkg"
  done
}

# build_component NAME VERSION MODULE@VERSION LDFLAGS PACKAGE...
build_component() {
  local name=$1 version=$2 module_at=$3
  shift 3
  cached_build "$name" "$version" "$module_at" go_build "$name" "$module_at" "$@"
}

# The optional engines: built only when a cluster asks for them (`--engine NAME`), so a plain
# cluster:prepare costs nothing more. Each prints its bin directory, then its module's source
# directory in the Go module cache, where the CRDs and manifests it ships are read from (they
# are applied from there, never copied into this repository).
if [ "${1:-}" = "--engine" ]; then
  case "${2:-}" in
    jobset)
      module=sigs.k8s.io/jobset version=$JOBSET_VERSION
      BIN_NAME=jobset-controller build_component jobset "$version" "$module@$version" \
        "-s -w -X sigs.k8s.io/jobset/pkg/version.GitVersion=$version" sigs.k8s.io/jobset ;;
    trainer)
      module=github.com/kubeflow/trainer/v2 version=$TRAINER_VERSION
      build_component trainer "$version" "$module@$version" "-s -w" \
        "$module/cmd/trainer-controller-manager" ;;
    *) log "unknown engine '${2:-}': jobset or trainer"; exit 2 ;;
  esac
  echo "$components_dir/${2}-$version/bin"
  go mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'
  exit 0
fi

kube_minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=$KUBERNETES_VERSION -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

REPLACE_STAGING=1 build_component kubernetes "$KUBERNETES_VERSION" "k8s.io/kubernetes@$KUBERNETES_VERSION" "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl

REPLACE_STAGING=1 build_component kube-proxy "$KUBERNETES_VERSION" "k8s.io/kubernetes@$KUBERNETES_VERSION" "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-proxy

# The real node (LATHE_NODE=kubelet): containerd and runc come from Debian's packages.
REPLACE_STAGING=1 build_component kubelet "$KUBERNETES_VERSION" "k8s.io/kubernetes@$KUBERNETES_VERSION" "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kubelet

BIN_NAME=etcd build_component etcd "$ETCD_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "-s -w" \
  go.etcd.io/etcd/server/v3

build_component helm "$HELM_VERSION" "helm.sh/helm/v3@$HELM_VERSION" \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  helm.sh/helm/v3/cmd/helm

build_component minio "$MINIO_VERSION" "github.com/minio/minio@$MINIO_VERSION" "-s -w" \
  github.com/minio/minio

coredns_main="package main

import (
	\"github.com/coredns/coredns/coremain\"
$(for p in $coredns_plugins; do printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"; done)
)

func main() { coremain.Run() }"
MAIN_GO=$coredns_main BIN_NAME=coredns build_component coredns "$coredns_key" \
  "github.com/coredns/coredns@$COREDNS_VERSION" \
  "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" .

BIN_NAME=registry build_component registry "$DISTRIBUTION_VERSION" \
  "github.com/distribution/distribution/v3@$DISTRIBUTION_VERSION" \
  "-s -w -X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION" \
  github.com/distribution/distribution/v3/cmd/registry

# The pod sandbox's pause program, compiled (static, as Kubernetes' build/pause/Makefile does)
# from the Kubernetes module's own source: the real node's containerd gets its sandbox image from
# it (e2e/kubelet/pause-image.ts), not from a registry.
pause_build() {
  local source tag
  source=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  tag=$(sed -n 's/^TAG ?= *//p' "$source/build/pause/Makefile")
  gcc -Os -Wall -Werror -static "-DVERSION=v$tag-lathe" -o bin/pause "$source/build/pause/linux/pause.c"
  echo "$tag" >bin/pause.tag
}
command -v gcc >/dev/null || { log "gcc is missing: install it (Debian: apt-get install gcc libc6-dev)"; exit 1; }
cached_build pause "$KUBERNETES_VERSION" "build/pause/linux/pause.c of k8s.io/kubernetes@$KUBERNETES_VERSION" pause_build

print_bin_dirs
