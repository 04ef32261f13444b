import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialsDirProvider } from './object-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes a Secret volume's files the way the kubelet replaces them: write, then rename. */
function writeCredentials(dir: string, files: Record<string, string>): void {
  for (const [name, value] of Object.entries(files)) {
    writeFileSync(path.join(dir, `${name}.tmp`), value);
    renameSync(path.join(dir, `${name}.tmp`), path.join(dir, name));
  }
}

describe('CredentialsDirProvider', () => {
  it('follows the rotation of the mounted credentials, at most once per recheck interval', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lathe-credentials-'));
    dirs.push(dir);
    writeCredentials(dir, { accessKey: 'ak-1', secretKey: 'sk-1', sessionToken: 'token-1\n' });
    const provider = new CredentialsDirProvider(
      dir,
      { accessKey: 'env-ak', secretKey: 'env-sk' },
      0,
    );
    const first = await provider.getCredentials();
    expect([first.getAccessKey(), first.getSecretKey(), first.getSessionToken()]).toEqual([
      'ak-1',
      'sk-1',
      'token-1',
    ]);
    writeCredentials(dir, { accessKey: 'ak-2', secretKey: 'sk-2', sessionToken: 'token-2' });
    const rotated = await provider.getCredentials();
    expect([rotated.getAccessKey(), rotated.getSessionToken()]).toEqual(['ak-2', 'token-2']);
  });

  it('keeps the credentials it has while the files cannot be read, and waits between reads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lathe-credentials-'));
    dirs.push(dir);
    const slow = new CredentialsDirProvider(
      dir,
      { accessKey: 'env-ak', secretKey: 'env-sk', sessionToken: 'env-token' },
      60_000,
    );
    // Nothing mounted yet: the environment's credentials.
    expect((await slow.getCredentials()).getAccessKey()).toBe('env-ak');
    writeCredentials(dir, { accessKey: 'ak-1', secretKey: 'sk-1', sessionToken: 't' });
    // Within the recheck interval the files are not read again.
    expect((await slow.getCredentials()).getAccessKey()).toBe('env-ak');
  });
});
