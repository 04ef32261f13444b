import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePauseArchive } from './pause-image.js';

const exec = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pause-image-'));
  await writeFile(path.join(dir, 'pause'), '#!/bin/sh\n', { mode: 0o755 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('the sandbox image archive', () => {
  it('is an OCI layout naming the image for containerd, the same bytes every time', async () => {
    const first = path.join(dir, 'a.tar');
    const second = path.join(dir, 'b.tar');
    await writePauseArchive(path.join(dir, 'pause'), 'registry.k8s.io/pause:3.10.1', first);
    await writePauseArchive(path.join(dir, 'pause'), 'registry.k8s.io/pause:3.10.1', second);
    expect(await sha256(first)).toBe(await sha256(second));

    const { stdout: index } = await exec('tar', ['-xOf', first, 'index.json']);
    const manifest = (JSON.parse(index) as { manifests: { annotations: Record<string, string> }[] })
      .manifests[0];
    expect(manifest?.annotations['io.containerd.image.name']).toBe('registry.k8s.io/pause:3.10.1');
    const { stdout: files } = await exec('tar', ['-tf', first]);
    expect(files.split('\n')).toContain('oci-layout');
    expect(
      files.split('\n').filter((f) => f.startsWith('blobs/sha256/') && f.length > 20),
    ).toHaveLength(3);
  });
});
