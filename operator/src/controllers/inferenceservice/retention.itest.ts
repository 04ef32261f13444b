/**
 * Request-log retention on the local cluster: the InferenceService controller, run in-process
 * by the real manager, deletes the days of `requests/` and `labels/` in MinIO that are older
 * than `spec.requestLogging.retentionDays`, keeps the recent ones and another service's, and
 * records a `RequestLogsExpired` event. The service's model does not exist: retention runs
 * whether or not anything is served. Also: the namespace gets the Secret `lathe-pii` with its
 * own PII key, derived from the test controllers' master key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackFileKey, feedbackPrefix } from '../../../../contract/object-store-layout.js';
import { namespacePiiKey } from '../../../../contract/pii-hash.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../../../e2e/cluster/testenv.js';
import {
  startTestManager,
  TEST_PII_MASTER_KEY,
  testClient,
  testControllers,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import type { SecretObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { latheKinds } from '../lathe-kinds.js';

const { minio } = clusterInfo();
const { store } = testStore();
const client = testClient();
const DAY_MS = 24 * 60 * 60 * 1000;
let namespace: string;
let manager: Manager;

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('lathe-retention');
}, 120_000);

afterAll(async () => {
  await manager?.stop();
  if (namespace) {
    await store.removePrefix(minio.bucket, `feedback/${namespace}/`).catch(() => undefined);
    await deleteTestNamespace(namespace);
  }
});

describe('request-log retention', () => {
  it('deletes the request and label days past retentionDays and keeps the rest', async () => {
    const prefix = feedbackPrefix(namespace, 'churn');
    const now = Date.now();
    const at = (daysAgo: number) => new Date(now - daysAgo * DAY_MS);
    const line = '{"requestId":"r"}\n';
    const old = [
      feedbackFileKey(prefix, 'requests', at(40), 'pod-a', 0),
      feedbackFileKey(prefix, 'requests', at(31.5), 'pod-a', 1),
      feedbackFileKey(prefix, 'labels', at(45), 'pod-a', 0),
    ];
    const kept = [
      feedbackFileKey(prefix, 'requests', at(29), 'pod-a', 2),
      feedbackFileKey(prefix, 'requests', at(0), 'pod-a', 3),
      feedbackFileKey(prefix, 'labels', at(1), 'pod-a', 1),
      // Another service of the namespace, whose name starts the same: not this one's log.
      feedbackFileKey(feedbackPrefix(namespace, 'churn-2'), 'requests', at(40), 'pod-b', 0),
    ];
    for (const key of [...old, ...kept]) await store.write(minio.bucket, key, line);

    manager = startTestManager(namespace, testControllers('inferenceservice'), 'retention');
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'churn', namespace },
      spec: { model: { name: 'absent' }, requestLogging: { sampleRate: 1, retentionDays: 30 } },
    });

    const remaining = await eventually(
      async () => {
        const keys = await store.list(minio.bucket, `feedback/${namespace}/`);
        for (const key of old) if (keys.includes(key)) throw new Error(`${key} is still there`);
        return keys;
      },
      { what: 'the old request-log days deleted', timeoutMs: 60_000 },
    );
    expect(remaining.sort()).toEqual([...kept].sort());

    const events = await eventually(async () => {
      const list = await client.list<KubeObject & { reason?: string; note?: string }>(
        builtin.event,
        { namespace },
      );
      const expired = list.items.filter((e) => e.reason === 'RequestLogsExpired');
      if (expired.length === 0) throw new Error('no RequestLogsExpired event yet');
      return expired;
    });
    expect(events[0]!.note).toContain('older than 30 days');
    expect(events[0]!.note).toContain('labels/');
  });

  it('gives the namespace its own PII key in the Secret lathe-pii, and no master key', async () => {
    const secret = await eventually(() =>
      client.get<SecretObject>(builtin.secret, namespace, 'lathe-pii'),
    );
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('lathe');
    const key = Buffer.from(secret.data?.key ?? '', 'base64').toString();
    expect(key).toBe(namespacePiiKey(TEST_PII_MASTER_KEY, namespace));
    expect(key).not.toBe(namespacePiiKey(TEST_PII_MASTER_KEY, `${namespace}-other`));
    expect(JSON.stringify(secret)).not.toContain(TEST_PII_MASTER_KEY);
  });
});
