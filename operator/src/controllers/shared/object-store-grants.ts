/**
 * What each pod Lathe starts may do in Lathe's bucket (a `Grant`), and the S3 session policy
 * that says so to the store's STS (`sessionPolicy`). Pure; the prefixes come from
 * `contract/object-store-layout.ts`. `object-store-access.ts` issues and delivers them.
 */
import {
  datasetPrefix,
  feedbackPrefix,
  isReadableByNamespace,
  namespacePrefixes,
  parseS3Uri,
  SHARED_PREFIX,
} from '../../../../contract/object-store-layout.js';

/** What one pod may do in Lathe's bucket: keys under `read` it reads, under `write` it writes. */
export interface Grant {
  read: string[];
  write: string[];
}

/** What the pods of each role need (pure; the prefixes come from `object-store-layout.ts`). */
export const grants = {
  /**
   * Ingestion: reads its namespace's own prefixes and `shared/` (an S3 source in Lathe's
   * bucket without credentials of its own, a feedback source), writes its dataset's versions.
   */
  ingestion(namespace: string, dataset: string): Grant {
    return {
      read: [...namespacePrefixes(namespace), SHARED_PREFIX],
      write: [datasetPrefix(namespace, dataset)],
    };
  },
  /** A trainer (Lathe's or a custom image): reads one dataset version, writes its run. */
  training(datasetVersionPrefix: string, runPrefix: string): Grant {
    return { read: [datasetVersionPrefix], write: [runPrefix] };
  },
  /** A server: reads the artifacts it serves, appends to its service's request log. */
  serving(namespace: string, inferenceService: string, artifactPrefixes: string[]): Grant {
    return { read: artifactPrefixes, write: [feedbackPrefix(namespace, inferenceService)] };
  },
  /** A BatchPrediction's shards: read the model and the input, write the run's output. */
  batch(artifactPrefix: string | undefined, inputPrefixes: string[], runPrefix: string): Grant {
    return {
      read: [...(artifactPrefix ? [artifactPrefix] : []), ...inputPrefixes],
      write: [runPrefix],
    };
  },
  /** A champion evaluation: reads the challenger's dataset version and the champion's artifact. */
  evaluation(datasetVersionPrefix: string, artifactPrefix: string | undefined): Grant {
    return { read: [datasetVersionPrefix, ...(artifactPrefix ? [artifactPrefix] : [])], write: [] };
  },
};

/**
 * The prefix of an artifact that `namespace`'s pods may be granted: the artifact's directory in
 * Lathe's `bucket`, when it lies under the namespace's own prefixes; undefined otherwise (an
 * artifact elsewhere is not readable with Lathe's credentials, and the server says so).
 */
export function artifactGrantPrefix(
  uri: string,
  bucket: string,
  namespace: string,
): string | undefined {
  let location: { bucket: string; key: string };
  try {
    location = parseS3Uri(uri);
  } catch {
    return undefined;
  }
  const prefix = location.key.replace(/\/?$/, '/');
  if (location.bucket !== bucket || !isReadableByNamespace(prefix, namespace)) return undefined;
  if (prefix === SHARED_PREFIX) return undefined;
  return prefix;
}

/** `grant` with each list sorted and without repeats, so equal needs compare equal. */
export function normalizedGrant(grant: Grant): Grant {
  const tidy = (prefixes: string[]) => [...new Set(prefixes)].sort();
  return { read: tidy(grant.read), write: tidy(grant.write) };
}

/**
 * The S3 session policy of `grant` in `bucket` (IAM policy grammar, as MinIO and AWS read it):
 * get and list under every prefix it reads or writes, put (multipart included) under those it
 * writes; nothing else — no delete, no other bucket.
 */
export function sessionPolicy(bucket: string, grant: Grant): Record<string, unknown> {
  const { read, write } = normalizedGrant(grant);
  const readable = [...new Set([...read, ...write])].sort();
  const objects = (prefixes: string[]) => prefixes.map((p) => `arn:aws:s3:::${bucket}/${p}*`);
  const statements: Record<string, unknown>[] = [
    {
      Sid: 'Location',
      Effect: 'Allow',
      Action: ['s3:GetBucketLocation'],
      Resource: [`arn:aws:s3:::${bucket}`],
    },
  ];
  if (readable.length > 0) {
    statements.push(
      { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects(readable) },
      {
        Sid: 'List',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`arn:aws:s3:::${bucket}`],
        Condition: { StringLike: { 's3:prefix': readable.flatMap((p) => [p, `${p}*`]) } },
      },
    );
  }
  if (write.length > 0) {
    statements.push({
      Sid: 'Write',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: objects(write),
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}
