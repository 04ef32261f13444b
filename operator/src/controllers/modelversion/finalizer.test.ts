import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../../contract/object-store.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/resource.js';
import { modelVersionController } from './reconcile.js';

/** The finalizer of a controller with a recording store, run on a ModelVersion being deleted. */
async function finalize(uri: string, namespace = 'team-a') {
  const removed: string[] = [];
  const events: string[][] = [];
  const store = {
    removePrefix: async (bucket: string, prefix: string) => {
      removed.push(`${bucket}/${prefix}`);
      return 1;
    },
  } as unknown as ObjectStore;
  const ctx = {
    log: pino({ level: 'silent' }),
    events: {
      record: async (_: KubeObject, type: string, reason: string, _a: string, note: string) => {
        events.push([type, reason, note]);
      },
    },
  } as unknown as ReconcileContext<KubeObject>;
  const mv = {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'iris-v3', namespace },
    spec: { modelName: 'iris', version: 3, deletionPolicy: 'Delete', artifact: { uri } },
  };
  await modelVersionController({ store, bucket: 'lathe' }).finalizer?.finalize(mv, ctx);
  return { removed, events };
}

describe('the artifact finalizer', () => {
  it('deletes the version’s own prefix', async () => {
    expect(await finalize('s3://lathe/models/team-a/iris/3')).toEqual({
      removed: ['lathe/models/team-a/iris/3/'],
      events: [],
    });
  });

  it.each([
    ['s3://lathe/models'],
    ['s3://lathe/models/team-b/iris/3/'],
    ['s3://other/models/team-a/iris/3/'],
  ])('deletes nothing under %s and records a Warning saying why', async (uri) => {
    const { removed, events } = await finalize(uri);
    expect(removed).toEqual([]);
    expect(events).toEqual([
      ['Warning', 'ArtifactKept', expect.stringContaining(`the artifact ${uri} is not`)],
    ]);
    expect(events[0]?.[2]).toContain('nothing was deleted');
  });
});
