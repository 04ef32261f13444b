/**
 * `npm run images -- --push REGISTRY` against a real registry: the CNCF distribution registry
 * (built from its Go module with the cluster's components, `e2e/cluster/build-components.sh`),
 * started on loopback over plain HTTP. What a user's cluster would pull must be exactly what
 * was built: the registry serves the pushed image under the manifest's digest, and the Helm
 * values `--push` writes name that repository and digest.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../e2e/cluster/ports.js';
import { eventually, repoRoot } from '../../e2e/cluster/testenv.js';
import { registryConfigOf } from '../../e2e/kubelet/config.js';
import { readManifest } from './cli.js';

const run = promisify(execFile);
let registry: ChildProcess | undefined;
let storageDir: string;
let address: string;

/** The registry binary among the built components (`--locate` lists their bin directories). */
async function registryBinary(): Promise<string> {
  const { stdout } = await run('bash', [
    path.join(repoRoot, 'e2e/cluster/build-components.sh'),
    '--locate',
  ]);
  const dir = stdout
    .trim()
    .split('\n')
    .find((d) => path.basename(path.dirname(d)).startsWith('registry-'));
  if (!dir) throw new Error('the registry component is not built: run npm run cluster:prepare');
  return path.join(dir, 'registry');
}

beforeAll(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'lathe-registry-'));
  address = `127.0.0.1:${await freePort()}`;
  const config = path.join(storageDir, 'config.yml');
  writeFileSync(config, registryConfigOf(address, path.join(storageDir, 'data')));
  registry = spawn(await registryBinary(), ['serve', config], { stdio: 'ignore' });
  await eventually(async () => expect((await fetch(`http://${address}/v2/`)).status).toBe(200), {
    what: 'the registry answers',
  });
}, 120_000);

afterAll(() => {
  registry?.kill('SIGTERM');
  rmSync(storageDir, { recursive: true, force: true });
});

describe('npm run images -- --push', () => {
  it('pushes the built image under its digest and writes Helm values naming it', async () => {
    const { stdout } = await run(
      'npx',
      [
        'tsx',
        path.join(repoRoot, 'scripts/images/cli.ts'),
        '--only',
        'server',
        '--push',
        `${address}/lathe`,
        '--dest-tls-verify=false',
      ],
      { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 },
    );
    const built = readManifest().images.find((image) => image.name === 'server');
    expect(built).toBeDefined();

    const served = await fetch(`http://${address}/v2/lathe/lathe-server/manifests/${built!.tag}`, {
      method: 'HEAD',
      headers: {
        accept: [
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.oci.image.index.v1+json',
        ].join(', '),
      },
    });
    expect(served.status).toBe(200);
    expect(served.headers.get('docker-content-digest')).toBe(built!.digest);

    const valuesFile = stdout.trim().split('\n').at(-1) ?? '';
    const values = readFileSync(valuesFile, 'utf8');
    expect(values).toContain(`repository: ${address}/lathe/lathe-server`);
    expect(values).toContain(`tag: "${built!.tag}"`);
  }, 600_000);
});
