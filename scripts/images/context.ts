/**
 * An image's build context, as Docker and buildah see it: the paths its Dockerfile copies,
 * filtered by its `Dockerfile.dockerignore`. The content key of an image (`npm run images`
 * rebuilds only when it changed) is a hash of exactly these files, and the unit test
 * `runtime-images/build-context.test.ts` checks that what `npm run build` compiles is in them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The sources a Dockerfile's build stage copies from the context (`COPY src... dest`). */
export function copiedSources(dockerfile: string): string[] {
  return dockerfile
    .split('\n')
    .filter((line) => /^COPY\s/.test(line) && !line.includes('--from='))
    .flatMap((line) => {
      const words = line.trim().split(/\s+/).slice(1);
      return words.filter((word) => !word.startsWith('--')).slice(0, -1);
    })
    .map((source) => source.replace(/^\.\//, '').replace(/\/$/, ''));
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern that names a directory also matches everything under it.
  return new RegExp(`^${source}(/.*)?$`);
}

/**
 * Whether a `.dockerignore` keeps `file` in the build context: the last pattern that matches
 * decides, `!` re-includes (Docker's rules, without the rarely used escapes).
 */
export function inContext(ignoreFile: string, file: string): boolean {
  let kept = true;
  for (const raw of ignoreFile.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, '');
    if (globToRegExp(pattern).test(file)) kept = negated;
  }
  return kept;
}

/** The repository-relative files in an image's build context that its Dockerfile copies. */
export function contextFiles(repoRoot: string, dockerfilePath: string): string[] {
  const dockerfile = readFileSync(path.join(repoRoot, dockerfilePath), 'utf8');
  const ignore = readFileSync(path.join(repoRoot, `${dockerfilePath}.dockerignore`), 'utf8');
  const files: string[] = [];
  const walk = (relative: string): void => {
    const full = path.join(repoRoot, relative);
    if (statSync(full).isDirectory()) {
      // Dependency and VCS trees that the ignore file leaves out are not walked at all.
      const name = path.basename(relative);
      if (['node_modules', '.git'].includes(name) && !inContext(ignore, `${relative}/x`)) return;
      for (const entry of readdirSync(full).sort()) walk(`${relative}/${entry}`);
    } else if (inContext(ignore, relative)) {
      files.push(relative);
    }
  };
  for (const source of copiedSources(dockerfile)) walk(source);
  return files;
}

/**
 * A digest of everything an image's build reads from the repository: the Dockerfile, its
 * .dockerignore and each copied file's path and bytes.
 */
export function contextKey(repoRoot: string, dockerfilePath: string): string {
  const hash = createHash('sha256');
  for (const file of [
    dockerfilePath,
    `${dockerfilePath}.dockerignore`,
    ...contextFiles(repoRoot, dockerfilePath),
  ]) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(path.join(repoRoot, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}
