/**
 * Where Lathe keeps things in the object store, and the manifest that makes an artifact
 * verifiable. The operator and the runtime images both import this module, so the layout
 * cannot drift between the side that writes and the side that reads.
 *
 * ```
 * datasets/<namespace>/<dataset>/<version>/   train and test splits, schema.json, stats.json, manifest.json
 * models/<namespace>/<model>/<version>/       model.json + weight shards, metrics.json, manifest.json
 * runs/<namespace>/<trainingjob>/             history.json, logs
 * feedback/<namespace>/<inferenceservice>/    sampled prediction logs and ground truth
 * ```
 */
import { z } from 'zod';

export const DEFAULT_BUCKET = 'lathe';

/** The file in every artifact and dataset version that lists the sha256 of every other file. */
export const MANIFEST_FILE = 'manifest.json';

export function datasetVersionPrefix(namespace: string, dataset: string, version: string): string {
  return `datasets/${namespace}/${dataset}/${version}/`;
}

export function modelVersionPrefix(namespace: string, model: string, version: number): string {
  return `models/${namespace}/${model}/${version}/`;
}

export function trainingRunPrefix(namespace: string, trainingJob: string): string {
  return `runs/${namespace}/${trainingJob}/`;
}

export function feedbackPrefix(namespace: string, inferenceService: string): string {
  return `feedback/${namespace}/${inferenceService}/`;
}

/**
 * `manifest.json`: every file of an artifact with its size and sha256. The artifact's digest is
 * the sha256 of this file's bytes, so one digest pins every byte of every file.
 */
export const ArtifactManifestSchema = z.object({
  files: z
    .array(
      z.object({
        path: z
          .string()
          .min(1)
          .max(1024)
          .refine(
            (p) => !p.startsWith('/') && !p.split('/').includes('..') && p !== MANIFEST_FILE,
            {
              message: 'must be a relative path inside the artifact, other than manifest.json',
            },
          ),
        sizeBytes: z.number().int().min(0),
        sha256: z.string().regex(/^[a-f0-9]{64}$/, { message: 'must be 64 lowercase hex digits' }),
      }),
    )
    .min(1)
    .max(10_000),
});
export type ArtifactManifest = z.infer<typeof ArtifactManifestSchema>;

/** A location in an S3-compatible store. */
export interface ObjectLocation {
  bucket: string;
  /** A key, or a prefix ending in `/`. */
  key: string;
}

/**
 * Parses `s3://bucket/key-or-prefix`. Other schemes are not in an object store Lathe can read;
 * the error says so, naming the URI.
 */
export function parseS3Uri(uri: string): ObjectLocation {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
  if (!match) throw new Error(`"${uri}" is not an s3://<bucket>/<key> URI`);
  return { bucket: match[1]!, key: match[2]! };
}

/** The key of `file` inside the artifact rooted at `prefix` (a prefix with or without a trailing slash). */
export function keyInArtifact(prefix: string, file: string): string {
  return `${prefix.replace(/\/?$/, '/')}${file}`;
}
