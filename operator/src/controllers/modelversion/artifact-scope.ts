/**
 * What the artifact finalizer may delete. The operator deletes with its own key, which can
 * reach every namespace's data, so a ModelVersion's word (`artifact.uri`, free text) is not
 * enough: only the version's own prefix in Lathe's layout, in the operator's bucket and the
 * ModelVersion's own namespace — `models/<namespace>/<modelName>/<version>/`, what a
 * TrainingJob registers — is ever deleted. Anything else (a parent such as `s3://lathe/models`,
 * another namespace's or another version's prefix, another bucket) is left as it is, and the
 * ModelVersion is released with a Warning saying why. The API server refuses most such URIs at
 * admission already (`api/modelversion.ts`); it cannot see the namespace or the bucket, this can.
 */
import { modelVersionPrefix, parseS3Uri } from '../../../../contract/object-store-layout.js';

/** The artifact may be deleted: everything under `prefix` in `bucket`. */
export interface DeletableArtifact {
  deletable: true;
  bucket: string;
  /** `models/<namespace>/<modelName>/<version>/`. */
  prefix: string;
}

/** The artifact is not the operator's to delete; `reason` says why, for an event and a log. */
export interface KeptArtifact {
  deletable: false;
  reason: string;
}

/** What a ModelVersion being deleted names, read defensively (its spec may not parse any more). */
export interface DeletionSubject {
  namespace: string;
  modelName: unknown;
  version: unknown;
  uri: string;
}

/**
 * Whether the artifact at `subject.uri` is the ModelVersion's own, in `bucket` (the operator's):
 * its URI, with or without the trailing `/`, is exactly `s3://<bucket>/models/<namespace>/
 * <modelName>/<version>/`.
 */
export function artifactToDelete(
  subject: DeletionSubject,
  bucket: string,
): DeletableArtifact | KeptArtifact {
  const { namespace, modelName, version, uri } = subject;
  if (typeof modelName !== 'string' || typeof version !== 'number' || namespace === '') {
    return { deletable: false, reason: `the artifact ${uri} cannot be tied to a model version` };
  }
  const own = modelVersionPrefix(namespace, modelName, version);
  const expected = `s3://${bucket}/${own}`;
  let location: { bucket: string; key: string };
  try {
    location = parseS3Uri(uri);
  } catch {
    return { deletable: false, reason: `the artifact ${uri} is not an s3:// URI` };
  }
  if (location.bucket !== bucket) {
    return {
      deletable: false,
      reason: `the artifact ${uri} is not in Lathe's bucket "${bucket}"; only ${expected} would be deleted`,
    };
  }
  if (location.key.replace(/\/?$/, '/') !== own) {
    return {
      deletable: false,
      reason: `the artifact ${uri} is not this version's own prefix ${expected}`,
    };
  }
  return { deletable: true, bucket, prefix: own };
}
