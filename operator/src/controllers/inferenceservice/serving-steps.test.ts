import { describe, expect, it } from 'vitest';
import type { DeploymentObject, PodObject } from '../../runtime/builtin-kinds.js';
import type { Resolution } from '../shared/resolve-model-version.js';
import { servableResolution, servedDeployment } from './serving-steps.js';

const deployment = (
  labels: Record<string, string>,
  spec: DeploymentObject['spec'] | undefined,
  status: DeploymentObject['status'] = {},
): DeploymentObject =>
  ({
    metadata: { name: 'iris-v2', labels },
    ...(spec ? { spec } : {}),
    status,
  }) as DeploymentObject;
const pod = (version: string, waiting?: string): PodObject =>
  ({
    metadata: { name: `iris-v${version}-abc`, labels: { 'lathe.dev/model-version': version } },
    status: {
      containerStatuses: [
        {
          name: 'server',
          restartCount: 0,
          state: waiting ? { waiting: { reason: waiting, message: `${waiting}!` } } : {},
        },
      ],
    },
  }) as unknown as PodObject;
const v2 = { 'lathe.dev/model-version': '2', 'lathe.dev/role': 'primary' };

describe('servedDeployment', () => {
  it.each<{ why: string; d: DeploymentObject; pods: PodObject[]; want: object }>([
    {
      why: 'version, role and replicas from the Deployment',
      d: deployment(v2, { replicas: 3 } as DeploymentObject['spec'], {
        availableReplicas: 2,
        readyReplicas: 1,
      }),
      pods: [],
      want: { version: 2, role: 'primary', replicas: 3, availableReplicas: 2, readyReplicas: 1 },
    },
    {
      why: 'a canary; an HPA-scaled Deployment without replicas counts one; no status counts none',
      d: deployment({ ...v2, 'lathe.dev/role': 'canary' }, undefined, undefined),
      pods: [],
      want: { role: 'canary', replicas: 1, availableReplicas: 0, readyReplicas: 0 },
    },
    {
      why: 'its own pods that cannot pull their image',
      d: deployment(v2, undefined),
      pods: [pod('2', 'ImagePullBackOff')],
      want: { failure: { reason: 'ImagePullFailed', message: 'ImagePullBackOff!' } },
    },
    {
      why: 'the progress deadline the Deployment reports comes first',
      d: deployment(v2, undefined, {
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'too slow',
          },
        ],
      } as DeploymentObject['status']),
      pods: [pod('2', 'ImagePullBackOff')],
      want: { failure: { reason: 'ProgressDeadlineExceeded', message: 'too slow' } },
    },
  ])('$why', ({ d, pods, want }) => {
    expect(servedDeployment(d, pods)).toMatchObject(want);
  });

  it("another version's failing pods are not this version's failure", () => {
    expect(servedDeployment(deployment(v2, undefined), [pod('3', 'ErrImagePull')]).failure).toBe(
      undefined,
    );
  });
});

describe('servableResolution', () => {
  const resolved = (format: string) =>
    ({
      ok: true,
      modelVersion: {
        metadata: { name: 'iris-v4' },
        spec: { artifact: { format, uri: 's3://lathe/models/ns/iris/4/', digest: 'sha256:0' } },
      },
    }) as unknown as Resolution;

  it.each(['tfjs', 'onnx'])('keeps a version of format %s', (format) => {
    expect(servableResolution(resolved(format))).toEqual(resolved(format));
  });

  it.each(['joblib', 'savedmodel', 'torchscript', 'other'])(
    'refuses a version of format %s, naming it and what is served',
    (format) => {
      expect(servableResolution(resolved(format))).toEqual({
        ok: false,
        reason: 'UnsupportedModelFormat',
        message: `ModelVersion iris-v4 is a ${format} artifact; the inference server runs tfjs and onnx models (export the model to ONNX)`,
      });
    },
  );

  it('passes an unresolved verdict through', () => {
    const unresolved: Resolution = { ok: false, reason: 'ModelNotFound', message: 'none' };
    expect(servableResolution(unresolved)).toBe(unresolved);
  });
});
