/**
 * The status of a ModelVersion, computed from what verification found and the stage it is in:
 * pure, no I/O, clock passed in.
 *
 * - verified: `ArtifactVerified=True`, `Ready=True`;
 * - waiting (artifact not uploaded yet): `Ready=False`, `Reconciling=True`;
 * - failed (digest or file mismatch, invalid manifest, unsupported URI, no store configured):
 *   `Ready=False`, `Stalled=True` — nothing changes until the spec or the operator's
 *   configuration does (the controller looks again on every change and resync: a verdict is
 *   never taken as final from the status alone).
 * The step runner (`runtime/steps.ts`) sets the kstatus triple from `modelVersionReadiness`;
 * `modelVersionStatus` composes the whole status the same way, for tests and readers.
 */
import type { ModelVersion, ModelVersionStatus } from '../../api/modelversion.js';
import { type ConditionInput, type Readiness, timestamp } from '../../runtime/conditions.js';
import type { KubeObject } from '../../runtime/resource.js';
import { composeStatus } from '../../runtime/steps.js';
import { fairnessCheckedCondition, modelCardSummary, type parseModelCard } from './model-card.js';

export type VerificationOutcome =
  | {
      state: 'verified';
      digest: string;
      sizeBytes: number;
      /** True when the status already recorded this digest verified: nothing was read. */
      fromStatus?: boolean;
      /**
       * The artifact's model card, read with this verification (absent when the status already
       * recorded the digest, or the artifact has none): a card, or why it could not be read.
       */
      card?: ReturnType<typeof parseModelCard>;
    }
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

/**
 * The conditions of an outcome besides `ArtifactVerified`: `FairnessChecked` when a model card
 * with a fairness section was just read (else none: the condition status has is kept).
 */
export function modelCardConditions(
  outcome: VerificationOutcome,
): Omit<ConditionInput, 'observedGeneration'>[] {
  if (outcome.state !== 'verified' || !outcome.card) return [];
  if (outcome.card.problem !== undefined) {
    return [
      {
        type: 'FairnessChecked',
        status: 'Unknown',
        reason: 'ModelCardInvalid',
        message: outcome.card.problem,
      },
    ];
  }
  const condition = fairnessCheckedCondition(outcome.card.card);
  return condition ? [condition] : [];
}

/** The `ArtifactVerified` condition of an outcome. */
export function artifactVerifiedCondition(
  outcome: VerificationOutcome,
): Omit<ConditionInput, 'observedGeneration'> {
  return outcome.state === 'verified'
    ? {
        type: 'ArtifactVerified',
        status: 'True',
        reason: 'DigestMatched',
        message: `Every file matches the manifest; digest ${outcome.digest}`,
      }
    : {
        type: 'ArtifactVerified',
        status: outcome.state === 'waiting' ? 'Unknown' : 'False',
        reason: outcome.reason,
        message: outcome.message,
      };
}

/** Where a ModelVersion stands, for the kstatus triple. */
export function modelVersionReadiness(mv: ModelVersion, outcome: VerificationOutcome): Readiness {
  if (outcome.state === 'verified') {
    return {
      state: 'ready',
      reason: 'ArtifactVerified',
      message: `Model ${mv.spec.modelName} version ${mv.spec.version} is verified and usable`,
    };
  }
  return {
    state: outcome.state === 'waiting' ? 'progressing' : 'stalled',
    reason: outcome.reason,
    message: outcome.message,
  };
}

/**
 * The status fields besides the conditions. With no outcome (verification could not run) the
 * digest and size are left undefined, so the runner keeps what status says.
 */
export function modelVersionStatusFields(
  mv: ModelVersion,
  outcome: VerificationOutcome | undefined,
  now: Date,
): Record<string, unknown> {
  const stageChanged = mv.status?.stage !== mv.spec.stage;
  const card = outcome?.state === 'verified' ? outcome.card?.card : undefined;
  // The card is read once, with the artifact; the status writes (server-side apply) carry its
  // summary on while the verified digest is the same, and drop it when the artifact changes.
  const kept =
    outcome === undefined || (outcome.state === 'verified' && outcome.fromStatus)
      ? {
          importance: mv.status?.importance,
          fairness: mv.status?.fairness,
          modelCard: mv.status?.modelCard,
        }
      : {};
  return {
    ...(card ? modelCardSummary(card, mv.spec.artifact.uri) : kept),
    verifiedDigest: outcome?.state === 'verified' ? outcome.digest : undefined,
    sizeBytes: outcome?.state === 'verified' ? outcome.sizeBytes : undefined,
    stage: mv.spec.stage,
    stageTransitionTime: stageChanged
      ? timestamp(now)
      : (mv.status?.stageTransitionTime ?? timestamp(now)),
  };
}

/** The whole status a reconcile that verified with `outcome` writes. */
export function modelVersionStatus(
  mv: ModelVersion,
  outcome: VerificationOutcome,
  now: Date,
): ModelVersionStatus {
  const readiness = modelVersionReadiness(mv, outcome);
  return composeStatus(
    mv as unknown as KubeObject,
    {
      facts: {},
      conditions: [artifactVerifiedCondition(outcome), ...modelCardConditions(outcome)],
      readiness,
      requeueAfterMs: undefined,
    },
    modelVersionStatusFields(mv, outcome, now),
    readiness,
    now,
  ) as ModelVersionStatus;
}
