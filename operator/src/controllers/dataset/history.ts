/**
 * A Dataset's version history, from the object store alone: pure, from a listing of
 * `datasets/<namespace>/<dataset>/` and the current version. The store is the record of which
 * versions exist — never the Dataset's previous status, which a user may wipe — so the history
 * in status, and which versions are deleted, come out the same however often they are
 * computed.
 *
 * A version is complete once its `manifest.json` is written (the ingestion program writes it
 * last); the manifest's time in the store is when the version was first produced. A prefix
 * without a manifest is a version being uploaded (or an upload that failed): it is neither in
 * the history nor ever deleted here.
 *
 * The history is the current version, then the other versions newest first, `limit` in all.
 * The current version leads even when its files are older (a source that went back to earlier
 * data reuses that version): it is the one most recently produced. Versions beyond the
 * history are deleted oldest first, except those a ModelVersion's lineage or a TrainingJob
 * still refers to.
 */
import type { ListedObject } from '../../../../contract/object-store.js';
import { MANIFEST_FILE } from '../../../../contract/object-store-layout.js';
import { DATASET_VERSION_PATTERN } from '../../api/dataset.js';
import { timestamp } from '../../runtime/conditions.js';

/** A complete version in the store. */
export interface StoredVersion {
  version: string;
  /** When its manifest was written: when the version was first produced (RFC 3339). */
  createdAt: string;
}

/**
 * The complete versions in a listing of `prefix` (a `datasetPrefix`), newest first (ties by
 * version, so the order is total).
 */
export function storedVersionsOf(
  prefix: string,
  objects: readonly ListedObject[],
): StoredVersion[] {
  const versions: StoredVersion[] = [];
  for (const { key, lastModified } of objects) {
    if (!key.startsWith(prefix)) continue;
    const [version, file, ...rest] = key.slice(prefix.length).split('/');
    if (file !== MANIFEST_FILE || rest.length > 0 || !DATASET_VERSION_PATTERN.test(version ?? ''))
      continue;
    versions.push({
      version: version!,
      createdAt: timestamp(lastModified ?? new Date(0)),
    });
  }
  return newestVersionsFirst(versions);
}

/** The versions newest first by creation time, then by version. */
export function newestVersionsFirst(versions: readonly StoredVersion[]): StoredVersion[] {
  return [...versions].sort(
    (a, b) => b.createdAt.localeCompare(a.createdAt) || b.version.localeCompare(a.version),
  );
}

export interface Retention {
  /** The history status shows: the current version first, then newest first; `limit` at most. */
  history: StoredVersion[];
  /** Versions beyond the history that nothing refers to: delete these, oldest first. */
  deletable: StoredVersion[];
  /** Versions beyond the history kept because something refers to them, oldest first. */
  referenced: StoredVersion[];
}

/**
 * Which stored versions the history keeps and which may be deleted. `stored` is newest first
 * (as `storedVersionsOf` gives it), `current` the current version (which is always kept, even
 * when it is not in the listing), `referenced` the versions a ModelVersion or TrainingJob
 * refers to.
 */
export function retention(
  stored: readonly StoredVersion[],
  current: string | undefined,
  limit: number,
  referenced: ReadonlySet<string>,
): Retention {
  const ordered = newestVersionsFirst(stored);
  const lead = ordered.find((v) => v.version === current);
  const rest = ordered.filter((v) => v.version !== current);
  const history = [...(lead ? [lead] : []), ...rest].slice(0, Math.max(1, limit));
  const kept = new Set(history.map((v) => v.version));
  if (current) kept.add(current);
  const beyond = ordered.filter((v) => !kept.has(v.version)).reverse();
  return {
    history,
    deletable: beyond.filter((v) => !referenced.has(v.version)),
    referenced: beyond.filter((v) => referenced.has(v.version)),
  };
}
