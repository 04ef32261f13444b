/**
 * What ships is compiled from what the image builds copy, and from nothing else.
 *
 * `npm run build` (tsconfig.build.json) is what every Node.js image runs inside its build
 * stage, where only the paths its Dockerfile copies exist, filtered by its
 * `Dockerfile.dockerignore`. The compiler's own file list (every root and everything they
 * import, transitively) must therefore stay inside those paths: a shipped module that imports
 * `e2e/`, `bench/` or `scripts/` (test helpers, the local cluster) breaks every image build,
 * which nothing else in the unit suite would notice.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeImages = ['operator', 'ingest', 'trainer', 'server', 'retrain'];

/** The repository-relative files the build compiles (node_modules left out). */
function compiledFiles(): string[] {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const out = execFileSync(
    process.execPath,
    [tsc, '-p', path.join(repoRoot, 'tsconfig.build.json'), '--listFilesOnly'],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  return out
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.includes('/node_modules/'))
    .map((file) => path.relative(repoRoot, file).split(path.sep).join('/'));
}

/** The sources a Dockerfile's build stage copies from the context (`COPY src... dest`). */
function copiedSources(dockerfile: string): string[] {
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
function inContext(ignoreFile: string, file: string): boolean {
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

describe('the build context', () => {
  let files: string[];
  beforeAll(() => {
    files = compiledFiles();
  }, 60_000);

  it('compiles the operator and every program the images run', () => {
    expect(files).toContain('operator/src/main.ts');
    for (const program of ['ingest', 'trainer', 'server', 'retrain']) {
      expect(files).toContain(`runtime-images/${program}/main.ts`);
    }
  });

  it('compiles nothing from e2e/, bench/ or scripts/, directly or through an import', () => {
    const outside = files.filter((file) => /^(e2e|bench|scripts)\//.test(file));
    expect(outside).toEqual([]);
  });

  it.each(nodeImages)('the %s image build copies every compiled file', (image) => {
    const dir = path.join(repoRoot, 'runtime-images', image);
    const dockerfile = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const ignore = readFileSync(path.join(dir, 'Dockerfile.dockerignore'), 'utf8');
    const sources = copiedSources(dockerfile);
    expect(sources).toContain('tsconfig.build.json');
    const missing = files.filter(
      (file) =>
        !sources.some((source) => file === source || file.startsWith(`${source}/`)) ||
        !inContext(ignore, file),
    );
    expect(missing).toEqual([]);
  });
});

describe('inContext', () => {
  const ignore = '**\n!operator/**\n!package.json\n**/*.test.ts\n**/dist';
  it.each([
    ['operator/src/main.ts', true],
    ['operator/src/main.test.ts', false],
    ['operator/dist/x.js', false],
    ['package.json', true],
    ['contract/layout.ts', false],
    ['e2e/node/main.ts', false],
  ])('%s in the context: %s', (file, expected) => {
    expect(inContext(ignore, file)).toBe(expected);
  });
});
