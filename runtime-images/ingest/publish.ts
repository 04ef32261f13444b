/**
 * The dataset version: its files, its manifest and its name (the content hash), and the
 * upload — files first, `manifest.json` last, so a reader never sees a half-written version.
 * A version whose manifest is already in the store is complete and identical by construction
 * (same hash), so nothing is uploaded again.
 */

import {
  contentVersionOf,
  type ManifestEntry,
  manifestEntry,
  manifestFromEntries,
} from '../../contract/manifest.js';
import type { ObjectStore } from '../../contract/object-store.js';
import { datasetVersionPrefix, MANIFEST_FILE } from '../../contract/object-store-layout.js';
import type { WrittenFile } from './write.js';

export interface VersionFiles {
  /** Large files on disk (the prepared splits and the raw test split). */
  onDisk: WrittenFile[];
  /** Small files in memory (schema.json, stats.json). */
  inMemory: Record<string, Buffer>;
}

/** The manifest and the version it names (`contentVersionOf`: the start of its sha256). */
export function versionOf(files: VersionFiles): {
  manifest: Buffer;
  digest: string;
  version: string;
} {
  const entries: ManifestEntry[] = [
    ...files.onDisk.map((f) => ({ path: f.name, sizeBytes: f.sizeBytes, sha256: f.sha256 })),
    ...Object.entries(files.inMemory).map(([name, bytes]) => manifestEntry(name, bytes)),
  ];
  const { manifest, digest } = manifestFromEntries(entries);
  return {
    manifest,
    digest,
    version: contentVersionOf(digest),
  };
}

/** Uploads the version unless it is there already; returns whether it was reused. */
export async function publishVersion(
  store: ObjectStore,
  bucket: string,
  location: { namespace: string; name: string },
  files: VersionFiles,
): Promise<{ version: string; digest: string; reused: boolean }> {
  const { manifest, digest, version } = versionOf(files);
  const prefix = datasetVersionPrefix(location.namespace, location.name, version);
  if (await store.exists(bucket, `${prefix}${MANIFEST_FILE}`))
    return { version, digest, reused: true };
  for (const file of files.onDisk) {
    await store.upload(
      bucket,
      `${prefix}${file.name}`,
      file.path,
      file.sizeBytes,
      file.contentType,
    );
  }
  for (const [name, bytes] of Object.entries(files.inMemory)) {
    await store.write(bucket, `${prefix}${name}`, bytes, 'application/json');
  }
  await store.write(bucket, `${prefix}${MANIFEST_FILE}`, manifest, 'application/json');
  return { version, digest, reused: false };
}
