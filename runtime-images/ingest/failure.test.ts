import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ObjectAccessDeniedError,
  ObjectNotFoundError,
  StorageUnavailableError,
} from '../../contract/object-store.js';
import { exitCodeFor, IngestExitCode, redact } from './failure.js';
import { postgresFailure } from './postgres.js';
import { secretsOf, settingsFromEnv } from './settings.js';
import { displayUrl, readHeaderFiles, s3Failure } from './sources.js';

describe('failure reasons', () => {
  it.each([
    [
      { code: '28P01', message: 'password authentication failed for user "u"' },
      'SourceUnauthorized',
    ],
    [{ code: '3D000', message: 'database "x" does not exist' }, 'SourceNotFound'],
    [{ code: '42P01', message: 'relation "t" does not exist' }, 'SourceNotFound'],
    [{ code: '42601', message: 'syntax error at or near "SELEC"' }, 'QueryFailed'],
    [{ code: '42501', message: 'permission denied for table t' }, 'QueryFailed'],
    [{ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }, 'QueryFailed'],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }, 'SourceUnavailable'],
    [
      { code: '57P01', message: 'terminating connection due to administrator command' },
      'SourceUnavailable',
    ],
  ])('maps PostgreSQL error %j to %s, quoting it', (error, reason) => {
    const failure = postgresFailure(Object.assign(new Error(error.message), { code: error.code }));
    expect(failure.reason).toBe(reason);
    expect(failure.message).toContain(error.message);
  });

  it.each([
    [new ObjectNotFoundError('s3://b/k does not exist'), false, 'SourceNotFound'],
    [new ObjectAccessDeniedError('s3://b/k: access denied'), false, 'SourceUnauthorized'],
    [new StorageUnavailableError('connect ECONNREFUSED'), false, 'SourceUnavailable'],
    [new StorageUnavailableError('connect ECONNREFUSED'), true, 'StorageUnavailable'],
  ])('maps object-store error %s (operator store: %s) to %s', (error, own, reason) => {
    expect(s3Failure(error, own).reason).toBe(reason);
  });

  it('exits 75 when a retry can help, 1 when the spec or data must change', () => {
    expect(exitCodeFor('SourceUnavailable')).toBe(IngestExitCode.transient);
    expect(exitCodeFor('StorageUnavailable')).toBe(75);
    for (const reason of [
      'ValidationFailed',
      'InvalidData',
      'SourceNotFound',
      'QueryFailed',
    ] as const)
      expect(exitCodeFor(reason)).toBe(IngestExitCode.failed);
  });
});

describe('credentials stay out of messages', () => {
  it('redacts known secrets and URL user-info', () => {
    expect(
      redact('GET https://bob:hunter22@host/x failed; token s3cr3t-token seen', ['s3cr3t-token']),
    ).toBe('GET https://***@host/x failed; token *** seen');
  });

  it('shows a URL without its query string', () => {
    expect(displayUrl('https://u:p@host.test/a/b.csv?X-Amz-Signature=abc')).toBe(
      'https://host.test/a/b.csv?…',
    );
  });

  const env = {
    LATHE_DATASET_NAMESPACE: 'ns',
    LATHE_DATASET_NAME: 'd',
    LATHE_OBJECT_STORE_ENDPOINT: 'http://127.0.0.1:9000',
    LATHE_OBJECT_STORE_ACCESS_KEY: 'store-access',
    LATHE_OBJECT_STORE_SECRET_KEY: 'store-secret',
    LATHE_SOURCE_POSTGRES_URI: 'postgresql://u:pa%24sword@db:5432/x',
    LATHE_DATASET_SPEC: JSON.stringify({
      source: { postgres: { connectionSecretRef: { name: 's' }, query: 'SELECT 1' } },
      schema: { label: 'y' },
    }),
  };

  it('lists every credential of the settings, the decoded password too', () => {
    const secrets = secretsOf(settingsFromEnv(env), { Authorization: 'Bearer abc123' });
    expect(secrets).toEqual(
      expect.arrayContaining([
        'store-secret',
        'pa$sword',
        'Bearer abc123',
        env.LATHE_SOURCE_POSTGRES_URI,
      ]),
    );
  });

  it.each([
    [{ LATHE_DATASET_SPEC: '{' }, 'LATHE_DATASET_SPEC: not valid JSON'],
    [{ LATHE_DATASET_SPEC: '{"source":{},"schema":{"label":"y"}}' }, 'spec.source'],
    [{ LATHE_SOURCE_POSTGRES_URI: undefined }, 'LATHE_SOURCE_POSTGRES_URI: required'],
    [{ LATHE_DATASET_NAME: undefined }, 'LATHE_DATASET_NAME'],
  ])('names the variable at fault in %j', (overrides, message) => {
    expect(() => settingsFromEnv({ ...env, ...overrides })).toThrow(message);
  });

  it('reads mounted header files, skipping Kubernetes dot entries', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-headers-'));
    try {
      await mkdir(path.join(dir, '..2026_01_01'));
      await writeFile(path.join(dir, '..2026_01_01', 'Authorization'), 'Bearer xyz\n');
      await symlink('..2026_01_01', path.join(dir, '..data'));
      await symlink('..data/Authorization', path.join(dir, 'Authorization'));
      expect(await readHeaderFiles(dir)).toEqual({ Authorization: 'Bearer xyz' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
