/**
 * Lost object-store writes, looked for after a chaos run: what the cluster says was written
 * must be in the store, whole. Every ModelVersion that is Ready must still verify against its
 * artifact's manifest (the copy a TrainingJob's registration made included); every Dataset
 * version in the store must have its manifest, named by its content, and every object the
 * manifest lists, with the size and sha256 it records. A version directory without a manifest
 * is an ingestion cut off before its last write (the manifest is written last): counted, not a
 * loss, because nothing points at it.
 */
import {
  type ArtifactReader,
  checkEntryAgainstManifest,
  verifyArtifact,
  verifyDatasetManifest,
} from '../../contract/manifest.js';
import { ObjectNotFoundError, type ObjectStore } from '../../contract/object-store.js';
import { datasetPrefix, MANIFEST_FILE } from '../../contract/object-store-layout.js';
import type { ObservedObject } from './verdict.js';

interface ModelVersionView extends ObservedObject {
  spec?: { artifact?: { uri: string; digest: string } };
  status?: ObservedObject['status'] & { verifiedDigest?: string };
}

/** Ready ModelVersions whose artifact does not verify now, or whose verified digest is another. */
export async function lostArtifacts(
  store: ArtifactReader,
  modelVersions: readonly ModelVersionView[],
): Promise<string[]> {
  const lost: string[] = [];
  const byArtifact = new Map<string, ModelVersionView[]>();
  for (const mv of modelVersions) {
    const ready = mv.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const artifact = mv.spec?.artifact;
    if (!ready || !artifact) continue;
    if (mv.status?.verifiedDigest !== artifact.digest)
      lost.push(
        `ModelVersion ${mv.metadata.name} is Ready with digest ${mv.status?.verifiedDigest}, its spec names ${artifact.digest}`,
      );
    const key = `${artifact.uri} ${artifact.digest}`;
    byArtifact.set(key, [...(byArtifact.get(key) ?? []), mv]);
  }
  for (const versions of byArtifact.values()) {
    const artifact = versions[0]!.spec!.artifact!;
    const verification = await verifyArtifact(store, artifact);
    if (!verification.verified) {
      const names = versions.map((v) => v.metadata.name);
      lost.push(
        `ModelVersion ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` (+${names.length - 3})` : ''}: ${verification.reason}: ${verification.message}`,
      );
    }
  }
  return lost;
}

export interface DataVersionFindings {
  /** Complete versions (with a manifest), by Dataset. */
  versions: Map<string, string[]>;
  /** Version directories without a manifest (cut-off ingestions). */
  partial: number;
  lost: string[];
}

/** The data versions of each Dataset in the store, each checked against its manifest. */
export async function checkDataVersions(
  store: ObjectStore,
  bucket: string,
  namespace: string,
  datasets: readonly (ObservedObject & { status?: { currentVersion?: string } })[],
): Promise<DataVersionFindings> {
  const findings: DataVersionFindings = { versions: new Map(), partial: 0, lost: [] };
  for (const dataset of datasets) {
    const name = dataset.metadata.name;
    const prefix = datasetPrefix(namespace, name);
    const keys = await store.list(bucket, prefix);
    const dirs = new Map<string, string[]>();
    for (const key of keys) {
      const [version, ...rest] = key.slice(prefix.length).split('/');
      if (version && rest.length) dirs.set(version, [...(dirs.get(version) ?? []), rest.join('/')]);
    }
    const complete: string[] = [];
    for (const [version, files] of dirs) {
      if (!files.includes(MANIFEST_FILE)) {
        findings.partial++;
        continue;
      }
      complete.push(version);
      const manifest = verifyDatasetManifest(
        await store.read(bucket, `${prefix}${version}/${MANIFEST_FILE}`),
        version,
      );
      if (!manifest.verified) {
        findings.lost.push(
          `Dataset ${name} version ${version}: ${manifest.reason}: ${manifest.message}`,
        );
        continue;
      }
      for (const entry of manifest.manifest.files) {
        const actual = await store
          .digestOf(bucket, `${prefix}${version}/${entry.path}`)
          .catch((error: unknown) =>
            error instanceof ObjectNotFoundError ? undefined : Promise.reject(error),
          );
        const problem = actual
          ? checkEntryAgainstManifest(manifest.manifest, {
              path: entry.path,
              sizeBytes: actual.sizeBytes,
              sha256: actual.digest.slice('sha256:'.length),
            })
          : `${entry.path} is listed in ${MANIFEST_FILE} but missing`;
        if (problem) findings.lost.push(`Dataset ${name} version ${version}: ${problem}`);
      }
    }
    const current = dataset.status?.currentVersion;
    if (current && !complete.includes(current))
      findings.lost.push(
        `Dataset ${name}'s current version ${current} has no manifest in the store`,
      );
    findings.versions.set(name, complete);
  }
  return findings;
}
