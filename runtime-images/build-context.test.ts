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
import { copiedSources, inContext } from '../scripts/images/context.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeImages = ['operator', 'ingest', 'trainer', 'server', 'retrain', 'activator'];

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

describe('the build context', () => {
  let files: string[];
  beforeAll(() => {
    files = compiledFiles();
  }, 60_000);

  it('compiles the operator and every program the images run', () => {
    expect(files).toContain('operator/src/main.ts');
    for (const program of ['ingest', 'trainer', 'server', 'retrain', 'activator']) {
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
    // The operator's sources import the console (`lathe-operator console`, the chart's RBAC),
    // so every image that compiles them copies it too.
    const missing = files.filter(
      (file) =>
        !sources.some((source) => file === source || file.startsWith(`${source}/`)) ||
        !inContext(ignore, file),
    );
    expect(missing).toEqual([]);
  });
});

describe('the npm configuration', () => {
  // onnxruntime-node's postinstall downloads CUDA providers from NuGet unless told to skip
  // (npm_config_onnxruntime_node_install, from .npmrc): a build without it fails offline.
  it.each(nodeImages)('the %s image build has .npmrc when it runs npm ci', (image) => {
    const dir = path.join(repoRoot, 'runtime-images', image);
    const dockerfile = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const ignore = readFileSync(path.join(dir, 'Dockerfile.dockerignore'), 'utf8');
    const copy = dockerfile.search(/^COPY .*\.npmrc/m);
    expect(copy).toBeGreaterThan(-1);
    expect(copy).toBeLessThan(dockerfile.search(/^RUN .*npm ci/m));
    expect(inContext(ignore, '.npmrc')).toBe(true);
  });

  it('skips onnxruntime-node’s download', () => {
    const npmrc = readFileSync(path.join(repoRoot, '.npmrc'), 'utf8');
    expect(npmrc).toMatch(/^onnxruntime-node-install=skip$/m);
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
