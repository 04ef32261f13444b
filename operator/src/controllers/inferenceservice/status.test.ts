import { describe, expect, it } from 'vitest';
import { type InferenceService, InferenceServiceSchema } from '../../api/inferenceservice.js';
import type { DeploymentObject } from '../../runtime/builtin-kinds.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import type { Resolution } from '../shared/resolve-model-version.js';
import type { RolloutPlan, RolloutState, ServedDeployment } from './rollout.js';
import {
  inferenceServiceStatus,
  modelResolvedCondition,
  rolloutEvent,
  rolloutReadiness,
  type ServingFacts,
} from './status.js';

const isvc = (spec: Record<string, unknown> = {}): InferenceService =>
  InferenceServiceSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace: 'ns', generation: 2 },
    spec: { model: { name: 'iris' }, ...spec },
  });
const resolved = (version: number): Resolution => ({
  ok: true,
  modelVersion: {
    metadata: { name: `iris-v${version}` },
    spec: { version },
  } as unknown as ModelVersionObject,
});
const notFound: Resolution = {
  ok: false,
  reason: 'ModelNotFound',
  message: 'No version of model iris is in stage production',
};
const served = (
  version: number,
  role: 'primary' | 'canary',
  replicas: number,
  ready: number,
): ServedDeployment => ({
  deployment: {
    metadata: {
      name: `iris-v${version}`,
      annotations: { 'lathe.dev/model-version-name': `iris-v${version}` },
    },
  } as DeploymentObject,
  version,
  role,
  replicas,
  availableReplicas: ready,
  readyReplicas: ready,
});
const plan = (rollout: RolloutState): RolloutPlan => ({ apply: [], delete: [], rollout });

describe('modelResolvedCondition', () => {
  it.each<{ why: string; spec?: Record<string, unknown>; canary?: Resolution; want: object }>([
    {
      why: 'the production stage by default',
      want: { status: 'True', reason: 'Resolved', message: 'Serving iris-v2 (stage production)' },
    },
    {
      why: 'a pinned version',
      spec: { model: { name: 'iris', version: 2 } },
      want: { message: 'Serving iris-v2 (pinned version 2)' },
    },
    {
      why: 'with its canary',
      canary: resolved(3),
      want: { message: 'Serving iris-v2 (stage production); canary iris-v3' },
    },
    {
      why: 'a canary that does not resolve is said, not fatal',
      canary: notFound,
      want: {
        status: 'True',
        message: expect.stringContaining('canary unresolved (ModelNotFound'),
      },
    },
  ])('$why', ({ spec, canary, want }) => {
    const condition = modelResolvedCondition(isvc(spec), resolved(2), canary);
    expect(condition).toMatchObject({ type: 'ModelResolved', ...want });
  });

  it('says why nothing resolves', () => {
    expect(modelResolvedCondition(isvc(), notFound, undefined)).toEqual({
      type: 'ModelResolved',
      status: 'False',
      reason: 'ModelNotFound',
      message: notFound.message,
    });
  });
});

describe('rolloutReadiness', () => {
  it.each<{
    why: string;
    primary: Resolution;
    rollout: RolloutState;
    served: ServedDeployment[];
    want: object;
  }>([
    {
      why: 'stable: ready',
      primary: resolved(2),
      rollout: { state: 'Stable', message: 'Serving version 2 (1/1 available)' },
      served: [served(2, 'primary', 1, 1)],
      want: { state: 'ready', reason: 'Serving', message: 'Serving version 2 (1/1 available)' },
    },
    {
      why: 'rolling out: progressing',
      primary: resolved(2),
      rollout: { state: 'RollingOut', message: 'Rolling out version 2' },
      served: [],
      want: { state: 'progressing', reason: 'RollingOut' },
    },
    {
      why: 'a version that will not become ready: stalled with the reason',
      primary: resolved(2),
      rollout: { state: 'Failed', reason: 'ServerCrashing', message: 'keeps failing' },
      served: [],
      want: { state: 'stalled', reason: 'ServerCrashing', message: 'keeps failing' },
    },
    {
      why: 'nothing resolves: progressing with the resolution reason; what serves is said',
      primary: notFound,
      rollout: { state: 'Unresolved', message: notFound.message },
      served: [served(1, 'primary', 2, 2), served(3, 'canary', 1, 0)],
      want: {
        state: 'progressing',
        reason: 'ModelNotFound',
        message: `${notFound.message}; v1 keeps serving`,
      },
    },
    {
      why: 'nothing resolves and nothing serves',
      primary: notFound,
      rollout: { state: 'Unresolved', message: notFound.message },
      served: [],
      want: { state: 'progressing', reason: 'ModelNotFound', message: notFound.message },
    },
  ])('$why', ({ primary, rollout, served, want }) => {
    expect(rolloutReadiness(primary, plan(rollout), served)).toEqual(expect.objectContaining(want));
  });
});

describe('inferenceServiceStatus', () => {
  const stable = plan({ state: 'Stable', message: 'm' });
  it.each<{ why: string; facts: Partial<ServingFacts>; want: Record<string, unknown> }>([
    {
      why: 'before the deployments step ran (an error): only the URL; the rest keeps its value',
      facts: { primary: resolved(2) },
      want: { url: 'http://iris.ns.svc.cluster.local', load: undefined },
    },
    {
      why: 'one version serving',
      facts: { primary: resolved(2), plan: stable, served: [served(2, 'primary', 2, 2)] },
      want: {
        url: 'http://iris.ns.svc.cluster.local',
        load: undefined,
        servedVersions: [
          {
            version: 2,
            modelVersion: 'iris-v2',
            role: 'primary',
            replicas: 2,
            readyReplicas: 2,
            trafficPercent: 100,
          },
        ],
        replicas: 2,
        selector:
          'app.kubernetes.io/managed-by=lathe,lathe.dev/inferenceservice=iris,lathe.dev/model-version=2',
      },
    },
    {
      why: 'a canary: primary first, traffic by ready replicas',
      facts: {
        primary: resolved(2),
        plan: stable,
        served: [served(3, 'canary', 1, 1), served(2, 'primary', 3, 3)],
      },
      want: {
        servedVersions: [
          expect.objectContaining({ version: 2, role: 'primary', trafficPercent: 75 }),
          expect.objectContaining({ version: 3, role: 'canary', trafficPercent: 25 }),
        ],
        replicas: 3,
      },
    },
    {
      why: 'nothing resolves: the primary that still serves is the selector; no traffic when none is ready',
      facts: { primary: notFound, plan: stable, served: [served(1, 'primary', 1, 0)] },
      want: {
        servedVersions: [expect.objectContaining({ version: 1, trafficPercent: 0 })],
        replicas: 1,
        selector: expect.stringContaining('lathe.dev/model-version=1'),
      },
    },
    {
      why: 'a new primary not created yet: no replicas of it',
      facts: { primary: resolved(4), plan: stable, served: [served(2, 'primary', 2, 2)] },
      want: { replicas: 0, selector: expect.stringContaining('lathe.dev/model-version=4') },
    },
    {
      why: 'measured load: the total rate and the concurrency per replica',
      facts: {
        primary: resolved(2),
        plan: stable,
        served: [],
        load: { requestsPerSecond: 12.34567, concurrency: 3, replicas: 2 },
      },
      want: { load: { requestsPerSecond: 12.346, concurrency: 1.5 }, servedVersions: [] },
    },
  ])('$why', ({ facts, want }) => {
    const status = inferenceServiceStatus(isvc(), facts);
    expect(status).toEqual(expect.objectContaining(want));
    if (!facts.served) expect(Object.keys(status).sort()).toEqual(['drift', 'load', 'url']);
  });

  it('does not read the previous status', () => {
    const withStatus = {
      ...isvc(),
      status: { load: { requestsPerSecond: 9, concurrency: 9 }, replicas: 9 },
    } as InferenceService;
    const facts = { primary: resolved(2), plan: stable, served: [served(2, 'primary', 1, 1)] };
    expect(inferenceServiceStatus(withStatus, facts)).toEqual(
      inferenceServiceStatus(isvc(), facts),
    );
  });
});

describe('rolloutEvent', () => {
  const status = (ready: 'True' | 'False', reason: string) => ({
    conditions: [{ type: 'Ready', status: ready, reason, message: `${reason} message` }],
  });
  it.each<{
    why: string;
    before: Record<string, unknown> | undefined;
    after: object;
    want?: string;
  }>([
    {
      why: 'first rollout starts',
      before: undefined,
      after: status('False', 'RollingOut'),
      want: 'RolloutStarted',
    },
    {
      why: 'a promotion starts a rollout',
      before: status('True', 'Serving'),
      after: status('False', 'RollingOut'),
      want: 'RolloutStarted',
    },
    {
      why: 'still rolling out',
      before: status('False', 'RollingOut'),
      after: status('False', 'RollingOut'),
    },
    {
      why: 'a rollout finishes',
      before: status('False', 'RollingOut'),
      after: status('True', 'Serving'),
      want: 'RolloutFinished',
    },
    {
      why: 'a failed rollout is fixed',
      before: status('False', 'ServerCrashing'),
      after: status('True', 'Serving'),
      want: 'RolloutFinished',
    },
    {
      why: 'a rollout fails',
      before: status('False', 'RollingOut'),
      after: status('False', 'ServerCrashing'),
      want: 'RolloutFailed',
    },
    {
      why: 'it fails another way',
      before: status('False', 'ServerCrashing'),
      after: status('False', 'ProgressDeadlineExceeded'),
      want: 'RolloutFailed',
    },
    {
      why: 'a wiped status rebuilt: nothing rolled out',
      before: {},
      after: status('True', 'Serving'),
    },
    {
      why: 'a passing error: not a rollout',
      before: status('True', 'Serving'),
      after: status('False', 'ChildConflict'),
    },
    {
      why: 'back from a passing error',
      before: status('False', 'ChildConflict'),
      after: status('True', 'Serving'),
    },
    { why: 'no Ready condition', before: undefined, after: {} },
  ])('$why', ({ before, after, want }) => {
    expect(rolloutEvent(before, after as Record<string, unknown>)?.reason).toBe(want);
  });

  it('a failure is a Warning with the message of the Ready condition', () => {
    expect(rolloutEvent(status('False', 'RollingOut'), status('False', 'ImagePullFailed'))).toEqual(
      {
        type: 'Warning',
        reason: 'RolloutFailed',
        message: 'ImagePullFailed message',
      },
    );
  });
});
