/**
 * The status of a ModelVersion, computed from what verification found and the stage it is in:
 * pure, no I/O, clock passed in.
 *
 * - verified: `ArtifactVerified=True`, `Ready=True`;
 * - waiting (artifact not uploaded yet, store unreachable): `Ready=False`, `Reconciling=True`;
 * - failed (digest or file mismatch, invalid manifest, unsupported URI, no store configured):
 *   `Ready=False`, `Stalled=True` — nothing changes until the spec or the operator's
 *   configuration does (the controller looks again on every change and resync: a verdict is
 *   never taken as final from the status alone).
 */
import type { ModelVersion, ModelVersionStatus } from '../../api/modelversion.js';
import { type Condition, setCondition, setKstatus, timestamp } from '../../runtime/conditions.js';

export type VerificationOutcome =
  | { state: 'verified'; digest: string; sizeBytes: number }
  | { state: 'waiting'; reason: string; message: string }
  | { state: 'failed'; reason: string; message: string };

/** Whether the status already records a successful verification of the spec's artifact. */
export function alreadyVerified(mv: ModelVersion): boolean {
  const verified = mv.status?.conditions?.find((c) => c.type === 'ArtifactVerified');
  return (
    verified?.status === 'True' &&
    mv.status?.verifiedDigest === mv.spec.artifact.digest &&
    mv.status?.sizeBytes !== undefined
  );
}

export function modelVersionStatus(
  mv: ModelVersion,
  outcome: VerificationOutcome,
  now: Date,
): ModelVersionStatus {
  const generation = mv.metadata?.generation;
  const previous = (mv.status?.conditions ?? []) as Condition[];
  const artifactVerified =
    outcome.state === 'verified'
      ? {
          type: 'ArtifactVerified',
          status: 'True' as const,
          reason: 'DigestMatched',
          message: `Every file matches the manifest; digest ${outcome.digest}`,
          observedGeneration: generation,
        }
      : {
          type: 'ArtifactVerified',
          status: outcome.state === 'waiting' ? ('Unknown' as const) : ('False' as const),
          reason: outcome.reason,
          message: outcome.message,
          observedGeneration: generation,
        };
  const withVerified = setCondition(previous, artifactVerified, now);
  const conditions =
    outcome.state === 'verified'
      ? setKstatus(
          withVerified,
          {
            state: 'ready',
            reason: 'ArtifactVerified',
            message: `Model ${mv.spec.modelName} version ${mv.spec.version} is verified and usable`,
          },
          generation,
          now,
        )
      : setKstatus(
          withVerified,
          {
            state: outcome.state === 'waiting' ? 'progressing' : 'stalled',
            reason: outcome.reason,
            message: outcome.message,
          },
          generation,
          now,
        );

  const stageChanged = mv.status?.stage !== mv.spec.stage;
  const stageTransitionTime = stageChanged
    ? timestamp(now)
    : (mv.status?.stageTransitionTime ?? timestamp(now));
  return {
    observedGeneration: generation,
    conditions,
    ...(outcome.state === 'verified'
      ? { verifiedDigest: outcome.digest, sizeBytes: outcome.sizeBytes }
      : {}),
    stage: mv.spec.stage,
    stageTransitionTime,
  };
}
