import { describe, expect, it } from 'vitest';
import {
  convergenceOf,
  judge,
  notConverged,
  type ObservedJob,
  type ObservedObject,
  type World,
} from './verdict.js';

const ready = { type: 'Ready', status: 'True', reason: 'Ready' };
const object = (
  kind: string,
  name: string,
  status: ObservedObject['status'],
  extra: Partial<ObservedObject['metadata']> = {},
): ObservedObject => ({
  kind,
  metadata: { name, generation: 2, uid: `uid-${name}`, ...extra },
  status,
});

describe('convergenceOf', () => {
  it.each<[string, ObservedObject, string]>([
    [
      'Ready at the current generation',
      object('Dataset', 'd', { observedGeneration: 2, conditions: [ready] }),
      'Current',
    ],
    ['no status yet', object('Dataset', 'd', undefined), 'InProgress'],
    [
      'Ready, but for an older generation',
      object('ModelVersion', 'm', { observedGeneration: 1, conditions: [ready] }),
      'InProgress',
    ],
    [
      'Ready=False',
      object('InferenceService', 'i', {
        observedGeneration: 2,
        conditions: [{ type: 'Ready', status: 'False', reason: 'ModelNotReady' }],
      }),
      'InProgress',
    ],
    [
      'Stalled, whatever Ready says',
      object('ModelVersion', 'm', {
        observedGeneration: 2,
        conditions: [ready, { type: 'Stalled', status: 'True', reason: 'DigestMismatch' }],
      }),
      'Failed',
    ],
    [
      'a TrainingJob Succeeded',
      object('TrainingJob', 't', {
        observedGeneration: 2,
        conditions: [{ type: 'Succeeded', status: 'True' }],
      }),
      'Current',
    ],
    [
      'a TrainingJob still training (Ready is not its signal)',
      object('TrainingJob', 't', {
        observedGeneration: 2,
        conditions: [ready, { type: 'Succeeded', status: 'Unknown' }],
      }),
      'InProgress',
    ],
    [
      'a TrainingJob Failed',
      object('TrainingJob', 't', {
        observedGeneration: 2,
        conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }],
      }),
      'Failed',
    ],
  ])('%s: %s', (_, o, state) => {
    expect(convergenceOf(o).state).toBe(state);
  });

  it('says why an object is not Current', () => {
    const o = object('InferenceService', 'i', {
      observedGeneration: 2,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'ModelNotReady',
          message: 'chaos-model-0 v1 not found',
        },
      ],
    });
    expect(
      notConverged([o, object('Dataset', 'd', { observedGeneration: 2, conditions: [ready] })]),
    ).toEqual([
      {
        object: 'InferenceService/i',
        state: 'InProgress',
        reason: 'Ready=False ModelNotReady: chaos-model-0 v1 not found',
      },
    ]);
  });
});

const job = (
  name: string,
  labels: Record<string, string>,
  complete = true,
  annotations: Record<string, string> = {},
): ObservedJob => ({
  metadata: { name, labels, annotations },
  status: {
    conditions: complete
      ? [{ type: 'Complete', status: 'True' }]
      : [{ type: 'Failed', status: 'True' }],
  },
});
const run = (attempt: string) => ({
  'lathe.dev/generation': '1',
  'lathe.dev/trigger': attempt === '1' ? 'SpecChanged' : 'Retry',
  'lathe.dev/attempt': attempt,
});
const tjDone = object('TrainingJob', 'tj', {
  observedGeneration: 2,
  conditions: [{ type: 'Succeeded', status: 'True' }],
});
const dsReady = object('Dataset', 'ds', { observedGeneration: 2, conditions: [ready] });
const registered = (name: string, tjUid = 'uid-tj') =>
  object(
    'ModelVersion',
    name,
    { observedGeneration: 1, conditions: [ready] },
    { labels: { 'lathe.dev/trainingjob-uid': tjUid } },
  );

/** A world in which everything happened once. */
const clean: World = {
  objects: [tjDone, dsReady],
  jobs: [
    job('tj-abc', { 'lathe.dev/trainingjob': 'tj' }),
    job('ds-1', { 'lathe.dev/dataset': 'ds' }, true, run('1')),
  ],
  modelVersions: [registered('m-v1')],
  dataVersions: new Map([['ds', ['0123456789abcdef']]]),
  verifiedEvents: new Map([['m-v1', 1]]),
  lostWrites: [],
};

describe('judge', () => {
  it('finds nothing wrong when everything happened once, and counts it', () => {
    expect(judge(clean)).toEqual({
      violations: [],
      counts: { jobs: 2, registeredModelVersions: 1, dataVersions: 1, verifiedEvents: 1 },
    });
  });

  it('accepts a failed ingestion attempt followed by a retry that succeeded', () => {
    const jobs = [
      job('ds-1', { 'lathe.dev/dataset': 'ds' }, false, run('1')),
      job('ds-2', { 'lathe.dev/dataset': 'ds' }, true, run('2')),
      clean.jobs[0]!,
    ];
    expect(judge({ ...clean, jobs }).violations).toEqual([]);
  });

  it('accepts a ModelVersion verified with its event lost (a replica killed between the two writes)', () => {
    expect(judge({ ...clean, verifiedEvents: new Map() }).violations).toEqual([]);
  });

  it.each<[string, Partial<World>, RegExp]>([
    [
      'a second Job for a TrainingJob',
      { jobs: [...clean.jobs, job('tj-def', { 'lathe.dev/trainingjob': 'tj' })] },
      /TrainingJob tj has 2 Jobs: tj-abc, tj-def/,
    ],
    [
      'a Dataset ingested twice',
      { jobs: [...clean.jobs, job('ds-1b', { 'lathe.dev/dataset': 'ds' }, true, run('2'))] },
      /Dataset ds ingested 2 times/,
    ],
    [
      'two Jobs for one run decision',
      { jobs: [...clean.jobs, job('ds-1b', { 'lathe.dev/dataset': 'ds' }, false, run('1'))] },
      /Dataset ds run 1\/SpecChanged\/1\/ has 2 Jobs/,
    ],
    [
      'a second ModelVersion for one run',
      { modelVersions: [registered('m-v1'), registered('m-v2')] },
      /TrainingJob tj registered 2 ModelVersions: m-v1, m-v2/,
    ],
    [
      'a succeeded run with no ModelVersion',
      { modelVersions: [registered('m-v1', 'uid-other')] },
      /TrainingJob tj succeeded but no ModelVersion carries its UID/,
    ],
    [
      'two data versions of one file',
      { dataVersions: new Map([['ds', ['aaaaaaaaaaaa', 'bbbbbbbbbbbb']]]) },
      /Dataset ds has 2 data versions/,
    ],
    [
      'a Ready Dataset with no data in the store',
      { dataVersions: new Map() },
      /Dataset ds is Ready but has no data version/,
    ],
    [
      'a ModelVersion verified twice',
      { verifiedEvents: new Map([['m-v1', 2]]) },
      /ModelVersion m-v1 was verified 2 times/,
    ],
    [
      'an artifact that no longer verifies',
      { lostWrites: ['ModelVersion m-v1: weights.bin missing'] },
      /lost write: ModelVersion m-v1: weights.bin missing/,
    ],
  ])('finds %s', (_, change, message) => {
    const { violations } = judge({ ...clean, ...change });
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(message);
  });
});
