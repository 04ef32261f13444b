import { describe, expect, it } from 'vitest';
import type { ModelVersionObject } from '../lathe-kinds.js';
import {
  type Resolution,
  resolveModelVersion,
  type VersionSelector,
} from './resolve-model-version.js';

function mv(
  version: number,
  stage: string,
  ready: boolean | undefined,
  options: { model?: string; promotedAt?: string } = {},
): ModelVersionObject {
  const model = options.model ?? 'iris';
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `${model}-v${version}`, namespace: 'ns' },
    spec: {
      modelName: model,
      version,
      stage,
      deletionPolicy: 'Retain',
      artifact: {
        uri: `s3://lathe/models/ns/${model}/${version}/`,
        format: 'tfjs',
        digest: `sha256:${String(version).repeat(64)}`,
      },
    },
    status: {
      ...(options.promotedAt ? { stage, stageTransitionTime: options.promotedAt } : {}),
      conditions:
        ready === undefined
          ? []
          : [
              {
                type: 'Ready',
                status: ready ? 'True' : 'False',
                reason: ready ? 'ArtifactVerified' : 'FileMismatch',
                message: 'weights.bin differs',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
            ],
    },
  } as ModelVersionObject;
}

const served = (r: Resolution) =>
  r.ok ? r.modelVersion.metadata.name : `${r.reason}: ${r.message}`;

describe('resolveModelVersion', () => {
  it.each<{
    name: string;
    versions: ModelVersionObject[];
    selector: VersionSelector;
    want: string;
  }>([
    {
      name: 'no selector: the Ready production version',
      versions: [mv(1, 'archived', true), mv(2, 'production', true), mv(3, 'staging', true)],
      selector: {},
      want: 'iris-v2',
    },
    {
      name: 'a stage: the Ready version in it',
      versions: [mv(2, 'production', true), mv(3, 'staging', true)],
      selector: { stage: 'staging' },
      want: 'iris-v3',
    },
    {
      name: 'a pinned version, whatever its stage',
      versions: [mv(1, 'archived', true), mv(2, 'production', true)],
      selector: { version: 1 },
      want: 'iris-v1',
    },
    {
      name: 'a pinned version wins over a stage',
      versions: [mv(1, 'archived', true), mv(2, 'production', true)],
      selector: { version: 1, stage: 'production' },
      want: 'iris-v1',
    },
    {
      name: 'versions of other models are not candidates',
      versions: [mv(7, 'production', true, { model: 'wine' }), mv(2, 'production', true)],
      selector: {},
      want: 'iris-v2',
    },
    {
      name: 'two Ready production versions: the one promoted now (status not caught up) wins',
      versions: [
        mv(2, 'production', true, { promotedAt: '2026-01-01T00:00:00Z' }),
        mv(3, 'production', true),
      ],
      selector: {},
      want: 'iris-v3',
    },
    {
      name: 'two recorded promotions: the later one wins',
      versions: [
        mv(4, 'production', true, { promotedAt: '2026-01-01T00:00:00Z' }),
        mv(3, 'production', true, { promotedAt: '2026-01-02T00:00:00Z' }),
      ],
      selector: {},
      want: 'iris-v3',
    },
    {
      name: 'a newly promoted version that is not Ready does not replace the Ready one',
      versions: [
        mv(2, 'production', true, { promotedAt: '2026-01-01T00:00:00Z' }),
        mv(3, 'production', false),
      ],
      selector: {},
      want: 'iris-v2',
    },
    {
      name: 'no version of the model has the pinned number',
      versions: [mv(1, 'production', true)],
      selector: { version: 9 },
      want: 'ModelNotFound: No ModelVersion of model iris has version 9',
    },
    {
      name: 'the pinned version is not Ready: the reason of its Ready condition',
      versions: [mv(3, 'staging', false)],
      selector: { version: 3 },
      want: 'ModelNotReady: ModelVersion iris-v3 is not Ready (FileMismatch: weights.bin differs)',
    },
    {
      name: 'the pinned version has no Ready condition yet',
      versions: [mv(3, 'staging', undefined)],
      selector: { version: 3 },
      want: 'ModelNotReady: ModelVersion iris-v3 is not Ready',
    },
    {
      name: 'nothing in the stage',
      versions: [mv(1, 'archived', true), mv(7, 'production', true, { model: 'wine' })],
      selector: {},
      want: 'ModelNotFound: No version of model iris is in stage production',
    },
    {
      name: 'versions in the stage, none Ready',
      versions: [mv(3, 'staging', false), mv(4, 'staging', undefined)],
      selector: { stage: 'staging' },
      want: 'ModelNotReady: ModelVersion iris-v3 is not Ready (FileMismatch: weights.bin differs)',
    },
  ])('$name', ({ versions, selector, want }) => {
    expect(served(resolveModelVersion(versions, 'iris', selector))).toBe(want);
  });
});
