/**
 * An object store in memory, for the tests of the trainer image's modes (train, evaluate,
 * batch): what `ObjectStore` offers them — whole reads and writes, digests, uploads from disk,
 * streams and byte ranges — without a server. Streams come in 7-byte chunks, so lines and UTF-8
 * characters straddle them. `calls` counts writes and uploads.
 */
import { readFileSync } from 'node:fs';
import { sha256Digest } from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';

export function memoryStore(objects: Map<string, Buffer> = new Map()) {
  const calls = { writes: 0, uploads: 0 };
  const get = (bucket: string, key: string) => {
    const found = objects.get(`${bucket}/${key}`);
    if (!found) throw new ObjectNotFoundError(`s3://${bucket}/${key} does not exist`);
    return found;
  };
  const chunked = (bytes: Buffer) =>
    (async function* () {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    })();
  return {
    objects,
    calls,
    /** Puts `files` (name → bytes) under `prefix` of bucket `lathe`. */
    put(prefix: string, files: Record<string, Buffer>) {
      for (const [file, bytes] of Object.entries(files))
        objects.set(`lathe/${prefix}${file}`, bytes);
    },
    read: async (bucket: string, key: string) => get(bucket, key),
    write: async (bucket: string, key: string, body: Buffer | string) => {
      calls.writes++;
      objects.set(`${bucket}/${key}`, Buffer.from(body));
    },
    upload: async (bucket: string, key: string, filePath: string, sizeBytes: number) => {
      calls.uploads++;
      const bytes = readFileSync(filePath);
      if (bytes.length !== sizeBytes) throw new Error(`${filePath} is not ${sizeBytes} bytes`);
      objects.set(`${bucket}/${key}`, bytes);
    },
    digestOf: async (bucket: string, key: string) => {
      const bytes = get(bucket, key);
      return { digest: sha256Digest(bytes), sizeBytes: bytes.length };
    },
    openRead: async (bucket: string, key: string) => chunked(get(bucket, key)),
    openReadRange: async (bucket: string, key: string, offset: number, length?: number) =>
      chunked(
        get(bucket, key).subarray(offset, length === undefined ? undefined : offset + length),
      ),
  };
}
