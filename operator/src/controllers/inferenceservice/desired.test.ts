import { describe, expect, it } from 'vitest';
import { type InferenceService, InferenceServiceSchema } from '../../api/inferenceservice.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { programView } from '../shared/kubelet-expansion.js';
import { desiredAutoscaler, desiredService, desiredServingDeployment } from './desired.js';

const store = {
  endpoint: 'http://minio:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'access-7c1',
  secretKey: 'secret-7c1',
};
const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'InferenceService',
  name: 'iris',
  uid: 'u',
  controller: true,
  blockOwnerDeletion: true,
};

const isvc = (spec: Record<string, unknown> = {}): InferenceService =>
  InferenceServiceSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace: 'ns', generation: 1 },
    spec: { model: { name: 'iris' }, ...spec },
  });

function mv(
  version: number,
  stage: string,
  ready: boolean,
  promotedAt?: string,
): ModelVersionObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `iris-v${version}`, namespace: 'ns' },
    spec: {
      modelName: 'iris',
      version,
      stage,
      deletionPolicy: 'Retain',
      artifact: {
        uri: `s3://lathe/models/ns/iris/${version}/`,
        format: 'tfjs',
        digest: `sha256:${String(version).repeat(64)}`,
      },
    },
    status: {
      ...(promotedAt ? { stage, stageTransitionTime: promotedAt } : {}),
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'ArtifactVerified' : 'FileMismatch',
          message: 'm',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    },
  } as ModelVersionObject;
}

describe('serving children', () => {
  it('runs the server on the verified artifact with probes, the contract env and no credential', () => {
    const d = desiredServingDeployment(
      isvc({
        batching: { maxBatchSize: 16, maxLatencyMs: 3 },
        requestLogging: { sampleRate: 0.1 },
      }),
      { version: 2, role: 'primary', modelVersion: mv(2, 'production', true), replicas: 3 },
      { image: 'server:1', store, owner },
    );
    const c = d.spec?.template.spec?.containers[0];
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(d.metadata?.name).toBe('iris-v2');
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.selector.matchLabels).toEqual({
      'app.kubernetes.io/managed-by': 'lathe',
      'lathe.dev/inferenceservice': 'iris',
      'lathe.dev/model-version': '2',
    });
    expect(env).toMatchObject({
      LATHE_MODEL_NAME: 'iris',
      LATHE_MODEL_VERSION: '2',
      LATHE_MODEL_URI: 's3://lathe/models/ns/iris/2/',
      LATHE_MODEL_DIGEST: `sha256:${'2'.repeat(64)}`,
      LATHE_MODEL_FORMAT: 'tfjs',
      LATHE_BATCH_MAX_SIZE: '16',
      LATHE_REQUEST_LOG_SAMPLE_RATE: '0.1',
      LATHE_FEEDBACK_URI: 's3://lathe/feedback/ns/iris/',
    });
    expect(c?.readinessProbe?.httpGet?.path).toBe('/v2/health/ready');
    expect(c?.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(JSON.stringify(d)).not.toContain('secret-7c1');
    expect(d.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('passes spec.limits to the server, and keeps its whole-request bound above their sum', () => {
    const d = desiredServingDeployment(
      isvc({ limits: { maxInFlight: 7, headersTimeoutSeconds: 2, bodyTimeoutSeconds: 100 } }),
      { version: 1, role: 'primary', modelVersion: mv(1, 'production', true), replicas: 1 },
      { image: 'server:1', store, owner },
    );
    const c = d.spec?.template.spec?.containers[0];
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      LATHE_MAX_IN_FLIGHT: '7',
      LATHE_MAX_ROWS_PER_REQUEST: '10000',
      LATHE_HEADERS_TIMEOUT_MS: '2000',
      LATHE_BODY_TIMEOUT_MS: '100000',
      LATHE_REQUEST_TIMEOUT_MS: '132000',
    });
    // The server's own check: the whole request may take at least headers + body.
    expect(Number(env.LATHE_REQUEST_TIMEOUT_MS)).toBeGreaterThanOrEqual(
      Number(env.LATHE_HEADERS_TIMEOUT_MS) + Number(env.LATHE_BODY_TIMEOUT_MS),
    );
    // Probes: a model load may take minutes; one slow answer does not take a pod out.
    expect(c?.startupProbe).toMatchObject({ periodSeconds: 2, failureThreshold: 150 });
    expect(c?.readinessProbe).toMatchObject({ timeoutSeconds: 3, failureThreshold: 3 });
    expect(c?.livenessProbe).toMatchObject({ timeoutSeconds: 3, failureThreshold: 6 });
  });

  it.each([
    {
      name: 'nothing when spec.explain is unset (the server has the same defaults)',
      spec: {},
      want: {},
    },
    {
      name: 'the defaults for an empty spec.explain',
      spec: { explain: {} },
      want: {
        LATHE_EXPLAIN_MAX_ROWS: '16',
        LATHE_EXPLAIN_TIMEOUT_MS: '10000',
        LATHE_EXPLAIN_BACKGROUND_ROWS: '50',
        LATHE_EXPLAIN_KERNEL_SAMPLES: '2048',
      },
    },
    {
      name: 'what spec.explain sets, the timeout in milliseconds',
      spec: { explain: { maxRows: 4, timeoutSeconds: 3, backgroundRows: 20, kernelSamples: 500 } },
      want: {
        LATHE_EXPLAIN_MAX_ROWS: '4',
        LATHE_EXPLAIN_TIMEOUT_MS: '3000',
        LATHE_EXPLAIN_BACKGROUND_ROWS: '20',
        LATHE_EXPLAIN_KERNEL_SAMPLES: '500',
      },
    },
  ])('passes spec.explain to the server: $name', ({ spec, want }) => {
    const d = desiredServingDeployment(
      isvc(spec),
      { version: 1, role: 'primary', modelVersion: mv(1, 'production', true), replicas: 1 },
      { image: 'server:1', store, owner },
    );
    const env = (d.spec?.template.spec?.containers[0]?.env ?? []).filter((e) =>
      e.name.startsWith('LATHE_EXPLAIN_'),
    );
    expect(Object.fromEntries(env.map((e) => [e.name, e.value]))).toEqual(want);
  });

  it.each([
    { explain: { maxRows: 0 }, message: /maxRows/ },
    { explain: { timeoutSeconds: 301 }, message: /timeoutSeconds/ },
    { explain: { kernelSamples: 8 }, message: /kernelSamples/ },
    {
      explain: { maxRows: 1000, backgroundRows: 200 },
      message: /maxRows × spec\.explain\.backgroundRows must be at most 100000/,
    },
  ])('refuses spec.explain $explain', ({ explain, message }) => {
    expect(() => isvc({ explain })).toThrow(message);
  });

  it('mounts the feedback token Secret the service names, and nothing without one', () => {
    const planned = {
      version: 2,
      role: 'primary' as const,
      modelVersion: mv(2, 'production', true),
      replicas: 1,
    };
    const d = desiredServingDeployment(
      isvc({ requestLogging: { feedback: { tokenSecretRef: { name: 'iris-feedback' } } } }),
      planned,
      { image: 'server:1', store, owner },
    );
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    expect(c?.env).toContainEqual({
      name: 'LATHE_FEEDBACK_TOKEN_FILE',
      value: '/var/run/lathe/feedback-token/token',
    });
    expect(pod?.volumes).toContainEqual({
      name: 'feedback-token',
      secret: {
        secretName: 'iris-feedback',
        items: [{ key: 'token', path: 'token' }],
        defaultMode: 0o444,
        optional: true,
      },
    });
    expect(c?.volumeMounts).toContainEqual({
      name: 'feedback-token',
      mountPath: '/var/run/lathe/feedback-token',
      readOnly: true,
    });

    const without = desiredServingDeployment(isvc(), planned, { image: 'server:1', store, owner });
    expect(JSON.stringify(without)).not.toContain('feedback-token');
    expect(JSON.stringify(without)).not.toContain('LATHE_FEEDBACK_TOKEN_FILE');
  });

  it('selects every version behind one Service on port 80', () => {
    const s = desiredService(isvc(), owner);
    expect(s.spec?.selector).toEqual({
      'app.kubernetes.io/managed-by': 'lathe',
      'lathe.dev/inferenceservice': 'iris',
    });
    expect(s.spec?.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
  });

  it.each([
    [
      'cpu',
      70,
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ],
    [
      'concurrency',
      8,
      {
        type: 'Pods',
        pods: {
          metric: { name: 'lathe_inference_requests_in_flight' },
          target: { type: 'AverageValue', averageValue: '8' },
        },
      },
    ],
  ])('in hpa mode scales the primary on %s', (metric, target, expected) => {
    const hpa = desiredAutoscaler(
      isvc({ autoscaling: { mode: 'hpa', metric, target }, replicas: { min: 2, max: 5 } }),
      2,
      owner,
    );
    expect(hpa.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 5,
      scaleTargetRef: { kind: 'Deployment', name: 'iris-v2' },
      metrics: [expected],
    });
  });
});

describe('serving children: user text reaches the server literally', () => {
  it('a hand-registered artifact URI with $(LATHE_OBJECT_STORE_SECRET_KEY) is not expanded', () => {
    const version = mv(2, 'production', true);
    const uri = 's3://lathe/models/ns/$(LATHE_OBJECT_STORE_SECRET_KEY)/2/';
    version.spec.artifact.uri = uri;
    const d = desiredServingDeployment(
      isvc(),
      { version: 2, role: 'primary', modelVersion: version, replicas: 1 },
      { image: 'server:1', store, owner },
    );
    const view = programView(d.spec!.template.spec!.containers[0]!, () => 'the-operator-secret');
    expect(view.env.LATHE_MODEL_URI).toBe(uri);
  });
});
