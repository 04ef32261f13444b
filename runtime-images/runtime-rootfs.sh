#!/bin/sh
# Assembles the root filesystem of a Node.js runtime image in DEST, run in an image's build
# stage (the node base image, Debian): the node binary, the shared libraries it and the given
# native files load (found with ldd), /etc/passwd and /etc/group with the user nonroot (65532),
# and an empty /tmp. Nothing else: no shell, no package manager, no npm. The final stage is
# `FROM scratch` + `COPY --from=build DEST /`, so the image is about 100 MB plus the program,
# where a slim Node.js base is 200-290 MB before it.
#
# Usage: runtime-rootfs.sh DEST [ELF file or directory of them ...]
set -eu
dest=$1
shift
mkdir -p "$dest/usr/local/bin" "$dest/etc" "$dest/tmp"
chmod 1777 "$dest/tmp"
cp /usr/local/bin/node "$dest/usr/local/bin/node"

elves() {
  echo /usr/local/bin/node
  for path in "$@"; do
    find "$path" -type f \( -name '*.so' -o -name '*.so.*' -o -name '*.node' \)
  done
}
# ldd prints "libX => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)"; a library found
# beside the native files themselves (their RUNPATH) is already in the image.
elves "$@" | while read -r elf; do ldd "$elf"; done \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
  | grep -E '^/(usr/)?lib' | sort -u \
  | while read -r lib; do cp -L --parents "$lib" "$dest"; done

cat >"$dest/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<GROUP
root:x:0:
nonroot:x:65532:
GROUP
# Smoke test: the copied node starts in the new root with only what was copied.
chroot "$dest" /usr/local/bin/node -e 'process.exit(0)' 2>/dev/null || {
  echo "runtime-rootfs.sh: node does not start in $dest" >&2
  chroot "$dest" /usr/local/bin/node -e 'process.exit(0)'
  exit 1
}
