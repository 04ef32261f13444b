/**
 * A hostile custom trainer, for the tenancy tests: run as a TrainingJob's custom image, it
 * takes the object-store credentials Lathe gave it and tries to reach data it was not granted.
 *
 * With the endpoint, bucket and credentials of `ObjectStoreEnv` (reading the mounted
 * directory, as Lathe's programs do), it tries, under every prefix of `PROBE_TARGETS`
 * (comma-separated; `-` for the whole bucket), to read, list, write and delete; then it reads
 * `PROBE_OWN_READ` (a key it was granted) and writes `PROBE_OWN_WRITE` (one it may
 * write), so the test knows the credentials work at all. It writes the outcome, JSON, as its
 * termination message, with the sha256 (16 hex digits) of every environment value and every file of the
 * credentials directory, so a test can check that no credential of the operator's is among them.
 *
 * The `lathe.dev/test/tenant-probe` image of the process node (`e2e/node/images.ts`).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as Minio from 'minio';
import { ObjectStore } from '../../contract/object-store.js';
import { objectStoreFromEnv, RESULT_PATH_ENV } from '../../contract/runtime-env.js';

type Outcome = 'allowed' | 'denied' | `error: ${string}`;

const deniedCodes = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);

async function attempt(action: () => Promise<unknown>): Promise<Outcome> {
  try {
    await action();
    return 'allowed';
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? '';
    if (deniedCodes.has(code) || deniedCodes.has(cause)) return 'denied';
    if (error instanceof Error && /access denied/i.test(error.message)) return 'denied';
    return `error: ${(error as Error).message.slice(0, 120)}`;
  }
}

/** The first 16 hex digits of the sha256 of `text`: enough to recognise a known value. */
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

async function main(): Promise<void> {
  const config = objectStoreFromEnv(process.env);
  const url = new URL(config.endpoint);
  const store = new ObjectStore(config);
  // The raw client, for the operations `ObjectStore` does not expose one by one.
  const credentials = {
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
  };
  const client = new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port || 80),
    useSSL: url.protocol === 'https:',
    region: config.region,
    ...credentials,
  });
  const bucket = config.bucket;
  const targets = (process.env.PROBE_TARGETS ?? '').split(',').filter(Boolean);
  const results: Record<string, Record<string, Outcome>> = {};
  for (const target of targets) {
    const prefix = target === '-' ? '' : target;
    results[target] = {
      read: await attempt(() => store.read(bucket, `${prefix}probe-seed.txt`)),
      list: await attempt(
        () =>
          new Promise((resolve, reject) => {
            const stream = client.listObjectsV2(bucket, prefix, true);
            stream.on('data', () => {});
            stream.on('error', reject);
            stream.on('end', resolve);
          }),
      ),
      write: await attempt(() => client.putObject(bucket, `${prefix}probe-written.txt`, 'x')),
      delete: await attempt(() => client.removeObject(bucket, `${prefix}probe-seed.txt`)),
    };
  }
  const ownRead = process.env.PROBE_OWN_READ;
  const ownWrite = process.env.PROBE_OWN_WRITE;
  const own = {
    read: ownRead ? await attempt(() => store.read(bucket, ownRead)) : undefined,
    write: ownWrite ? await attempt(() => client.putObject(bucket, ownWrite, 'x')) : undefined,
  };
  const dir = config.credentialsDir;
  const files = dir
    ? readdirSync(dir)
        .filter((f) => !f.startsWith('.'))
        .map((f) => sha256(readFileSync(path.join(dir, f), 'utf8').trim()))
    : [];
  const values = Object.values(process.env).filter((v): v is string => (v ?? '').length >= 8);
  const digests = [...new Set([...values.map(sha256), ...files])];
  const report = JSON.stringify({ results, own, digests });
  writeFileSync(process.env[RESULT_PATH_ENV] ?? '/dev/termination-log', report);
  process.stdout.write(`${report}\n`);
}

main().catch((error) => {
  process.stderr.write(`tenant-probe: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(2);
});
