import { describe, expect, it } from 'vitest';
import type { ModelVersion } from '../../api/modelversion.js';
import { alreadyVerified, modelVersionStatus } from './status.js';

const digest = `sha256:${'a'.repeat(64)}`;
const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T01:00:00Z');

function modelVersion(status?: ModelVersion['status']): ModelVersion {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'iris-1', namespace: 'ns', generation: 3 },
    spec: {
      modelName: 'iris',
      version: 1,
      artifact: { uri: 's3://lathe/models/ns/iris/1/', format: 'tfjs', digest },
      stage: 'none',
      deletionPolicy: 'Retain',
    },
    ...(status ? { status } : {}),
  } as ModelVersion;
}

const byType = (status: ModelVersion['status']) =>
  Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c]));

describe('modelVersionStatus', () => {
  it.each([
    [
      'verified',
      { state: 'verified', digest, sizeBytes: 42 },
      { ArtifactVerified: 'True', Ready: 'True' },
      [],
    ],
    [
      'waiting',
      { state: 'waiting', reason: 'ArtifactNotFound', message: 'm' },
      { ArtifactVerified: 'Unknown', Ready: 'False', Reconciling: 'True' },
      ['Stalled'],
    ],
    [
      'failed',
      { state: 'failed', reason: 'DigestMismatch', message: 'm' },
      { ArtifactVerified: 'False', Ready: 'False', Stalled: 'True' },
      ['Reconciling'],
    ],
  ] as const)('%s sets the conditions kstatus expects', (_, outcome, expected, absent) => {
    const status = modelVersionStatus(modelVersion(), outcome, now);
    const conditions = byType(status);
    for (const [type, value] of Object.entries(expected))
      expect(conditions[type]?.status).toBe(value);
    for (const type of absent) expect(conditions[type]).toBeUndefined();
    expect(status.observedGeneration).toBe(3);
    for (const c of status.conditions ?? []) expect(c.observedGeneration).toBe(3);
  });

  it('records the digest and size only when verified', () => {
    expect(
      modelVersionStatus(modelVersion(), { state: 'verified', digest, sizeBytes: 42 }, now),
    ).toMatchObject({
      verifiedDigest: digest,
      sizeBytes: 42,
    });
    const failed = modelVersionStatus(
      modelVersion(),
      { state: 'failed', reason: 'FileMismatch', message: 'm' },
      now,
    );
    expect(failed.verifiedDigest).toBeUndefined();
    expect(byType(failed).Stalled?.reason).toBe('FileMismatch');
  });

  it('carries the model card summary on while the digest stays verified, and drops it for a new artifact', () => {
    const summarised = modelVersion();
    const fairness = { verdict: 'NoRules' as const, message: 'm' };
    summarised.status = { verifiedDigest: digest, sizeBytes: 42, fairness };
    // Verified from status (nothing read): the summary stays, or server-side apply would drop it.
    expect(
      modelVersionStatus(
        summarised,
        { state: 'verified', digest, sizeBytes: 42, fromStatus: true },
        now,
      ).fairness,
    ).toEqual(fairness);
    // Verified anew (another artifact) without a card: none.
    expect(
      modelVersionStatus(summarised, { state: 'verified', digest, sizeBytes: 42 }, now).fairness,
    ).toBeUndefined();
  });

  it('keeps lastTransitionTime when nothing changed', () => {
    const first = modelVersionStatus(
      modelVersion(),
      { state: 'verified', digest, sizeBytes: 42 },
      now,
    );
    const second = modelVersionStatus(
      modelVersion(first),
      { state: 'verified', digest, sizeBytes: 42 },
      later,
    );
    expect(byType(second).Ready?.lastTransitionTime).toBe(byType(first).Ready?.lastTransitionTime);
  });
});

describe('alreadyVerified', () => {
  const verified = modelVersionStatus(
    modelVersion(),
    { state: 'verified', digest, sizeBytes: 42 },
    now,
  );
  it.each([
    ['a verified status for this digest', verified, true],
    ['no status', undefined, false],
    [
      'a verified status for another digest',
      { ...verified, verifiedDigest: `sha256:${'b'.repeat(64)}` },
      false,
    ],
    [
      'a failed verification',
      modelVersionStatus(modelVersion(), { state: 'failed', reason: 'X', message: 'm' }, now),
      false,
    ],
  ])('%s → %s', (_, status, expected) => {
    expect(alreadyVerified(modelVersion(status))).toBe(expected);
  });
});

describe('stage bookkeeping', () => {
  const verifiedOutcome = { state: 'verified', digest, sizeBytes: 1 } as const;
  it('records the stage and when it changed', () => {
    const first = modelVersionStatus(modelVersion(), verifiedOutcome, now);
    expect(first).toMatchObject({ stage: 'none', stageTransitionTime: '2026-01-01T00:00:00Z' });
    const same = modelVersionStatus(modelVersion(first), verifiedOutcome, later);
    expect(same.stageTransitionTime).toBe('2026-01-01T00:00:00Z');
    const promoted = modelVersion(first);
    promoted.spec = { ...promoted.spec, stage: 'production' };
    expect(modelVersionStatus(promoted, verifiedOutcome, later)).toMatchObject({
      stage: 'production',
      stageTransitionTime: '2026-01-01T01:00:00Z',
    });
  });
});
