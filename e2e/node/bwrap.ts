/**
 * The private mount namespace of a container, made with bubblewrap (`bwrap`).
 *
 * The sandbox sees the host's whole filesystem (`--bind / /`: the processes are host programs
 * that need the host's binaries and libraries), its devices, a fresh /proc, and on top the
 * pod's volumes at their mount paths. That is all a container needs from isolation here:
 * volumes at the paths the pod spec names, without two pods' mounts colliding.
 *
 * `--die-with-parent` ties the sandbox to the node: if the node dies, the kernel kills it.
 *
 * The network is not bwrap's business: the node starts bwrap inside the pod's network
 * namespace (`nsenter --net`), so the sandbox keeps that one. A pod with its own network
 * namespace also gets its own hostname (a UTS namespace), as a container does.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';

/** One bind mount into the sandbox. `hostPath` may be a directory or a file. */
export interface BindMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/**
 * bwrap's argv (without the binary) to run `argv` in a sandbox with `mounts`. Mounts are
 * ordered parents first, so a volume under another volume's path is not hidden by it.
 */
export function bwrapArgs(options: {
  mounts: readonly BindMount[];
  workingDir: string | undefined;
  argv: readonly string[];
  /** The pod's hostname; absent: the node's (hostNetwork pods). */
  hostname?: string | undefined;
}): string[] {
  const depth = (p: string) => path.posix.normalize(p).split('/').filter(Boolean).length;
  const mounts = [...options.mounts].sort(
    (a, b) => depth(a.containerPath) - depth(b.containerPath),
  );
  const args = ['--bind', '/', '/', '--dev-bind', '/dev', '/dev', '--proc', '/proc'];
  for (const m of mounts) {
    args.push(
      m.readOnly ? '--ro-bind' : '--bind',
      m.hostPath,
      path.posix.normalize(m.containerPath),
    );
  }
  args.push('--die-with-parent');
  if (options.hostname) args.push('--unshare-uts', '--hostname', options.hostname);
  if (options.workingDir) args.push('--chdir', options.workingDir);
  args.push('--', ...options.argv);
  return args;
}

/**
 * `containerPath` with the symlinks of its existing ancestors resolved on the host. The sandbox
 * *is* the host's tree, but bwrap cannot create a mount point through an absolute symlink such
 * as Debian's `/var/run -> /run` (it resolves it outside its new root), so mounts must name
 * the real directory: `/var/run/secrets/...` becomes `/run/secrets/...`.
 */
export function resolveMountPoint(
  containerPath: string,
  realpath: (p: string) => string = realpathSync,
): string {
  const normal = path.posix.normalize(containerPath).replace(/(.)\/+$/, '$1');
  const parts = normal.split('/').filter(Boolean);
  for (let i = parts.length; i > 0; i--) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    try {
      const real = realpath(prefix);
      return path.posix.join(real, ...parts.slice(i));
    } catch {
      // does not exist (yet): try its parent
    }
  }
  return normal;
}

/** The full path of `bwrap` on `searchPath`, or undefined when it is not installed. */
export function findBwrap(searchPath: string = process.env.PATH ?? ''): string | undefined {
  return findExecutable('bwrap', searchPath);
}

/** The full path of executable `name` on `searchPath`, or undefined. */
export function findExecutable(
  name: string,
  searchPath: string = process.env.PATH ?? '',
): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export const bwrapMissingMessage =
  'bubblewrap (bwrap) is not on PATH. The process node runs every container in a private ' +
  'mount namespace made by bwrap: install the Debian package "bubblewrap" ' +
  '(apt-get install bubblewrap) and start the node again.';
