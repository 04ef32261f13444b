/**
 * The generated CRDs on a real API server: examples apply, the invalid corpus is rejected
 * with errors naming the field, defaults and documentation reach users, and the zod schemas
 * agree with the CRD schemas on generated objects.
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  kubectl,
  kubectlOrThrow,
} from '../../../e2e/cluster/testenv.js';
import { transitionViolations } from './cel.js';
import { allKinds, kindByName } from './index.js';
import type { KindDescriptor } from './kind.js';
import { applyChanges } from './testdata/apply-changes.js';
import { arbitraryOf } from './testdata/arbitrary.js';
import { type ExampleKind, exampleFiles, examplesDir, loadExample } from './testdata/examples.js';
import { invalidCorpus } from './testdata/invalid-corpus.js';
import { minimalManifests } from './testdata/minimal.js';
import { schemaOfKind } from './testdata/schemas.js';
import { describeZodError } from './validation-errors.js';

const exampleKinds = Object.keys(exampleFiles) as ExampleKind[];
let namespace: string;

function descriptorOf(kind: string): KindDescriptor {
  const descriptor = kindByName(kind);
  if (!descriptor) throw new Error(`No kind ${kind}`);
  return descriptor;
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('api');
  // The object lists of a fresh CRD can lag its Established condition for a moment.
  await eventually(() => kubectlOrThrow(['get', 'lathe', '-n', namespace]), {
    what: 'kubectl get lathe',
  });
});

afterAll(async () => {
  if (namespace) await deleteTestNamespace(namespace);
});

describe('examples/', () => {
  it.each(exampleKinds)('the %s example applies', async (kind) => {
    const file = path.join(examplesDir, exampleFiles[kind]);
    await kubectlOrThrow(['apply', '--server-side', '-n', namespace, '-f', file]);
  });

  it('kubectl get lathe lists every kind with its printer columns', async () => {
    const out = await kubectlOrThrow(['get', 'lathe', '-n', namespace]);
    for (const kind of allKinds) expect(out).toContain(`${kind.singular}.${kind.group}/`);
    expect(out).toMatch(/MODEL\s+VERSION\s+STAGE\s+ACCURACY\s+LOSS/);
    expect(out).toMatch(/iris-v100\s+iris\s+100\s+staging\s+0\.967/);
    const ml = await kubectlOrThrow(['get', 'ml', '-n', namespace, '-o', 'name']);
    expect(ml.trim().split('\n')).toHaveLength(allKinds.length);
  });

  it.each(allKinds.flatMap((k) => k.shortNames.map((s) => [s, k.kind] as const)))(
    'the short name %s lists %s objects',
    async (shortName, kind) => {
      const out = await kubectlOrThrow(['get', shortName, '-n', namespace, '-o', 'name']);
      expect(out).toContain(`${descriptorOf(kind).singular}.${descriptorOf(kind).group}/`);
    },
  );

  it('kubectl scale sets spec.replicas.min of an InferenceService', async () => {
    await kubectlOrThrow(['scale', 'inferenceservice/iris', '-n', namespace, '--replicas=2']);
    const min = await kubectlOrThrow([
      'get',
      'inferenceservice/iris',
      '-n',
      namespace,
      '-o',
      'jsonpath={.spec.replicas.min}',
    ]);
    expect(min).toBe('2');
    const tooMany = await kubectl([
      'scale',
      'inferenceservice/iris',
      '-n',
      namespace,
      '--replicas=9',
    ]);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toContain('spec.replicas.min');
  });
});

describe('defaults', () => {
  it.each(exampleKinds)('a minimal %s is defaulted on create as zod defaults it', async (kind) => {
    const { manifest, defaultedSpec } = minimalManifests[kind];
    const out = await kubectlOrThrow(['create', '-n', namespace, '-o', 'json', '-f', '-'], {
      input: JSON.stringify(manifest),
    });
    const created = JSON.parse(out) as { spec: unknown };
    expect(created.spec).toEqual(defaultedSpec);
    expect((schemaOfKind[kind].parse(manifest) as { spec: unknown }).spec).toEqual(created.spec);
  });
});

describe('kubectl explain', () => {
  it.each([
    ['datasets.spec.source', 'Exactly one of http, s3, postgres or feedback'],
    ['datasets.spec.source.feedback.since', 'Only labels received in this window'],
    ['datasets.spec.split.testFraction', 'held out as the test split'],
    ['trainingjobs.spec.resources.gpu', 'nvidia.com/gpu'],
    ['trainingjobs.spec.hyperparameters.learningRate', 'Step size of the optimizer'],
    ['modelversions.spec.artifact', 'Immutable'],
    ['modelversions.spec.stage', 'production'],
    ['inferenceservices.spec.replicas.min', 'kubectl scale'],
    ['inferenceservices.spec.canary.trafficPercent', 'Percent of requests'],
    ['retrainpolicies.spec.triggers.schedule.cron', 'Cron schedule'],
    ['retrainpolicies.status.lastPromotion', 'champion/challenger'],
  ])('%s documents the field', async (field, text) => {
    // The API server publishes a new CRD's OpenAPI document a few seconds after it is established.
    const out = await eventually(
      async () => {
        const stdout = await kubectlOrThrow(['explain', field]);
        if (!stdout.includes(text)) throw new Error(`explain ${field} lacks "${text}":\n${stdout}`);
        return stdout;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: `kubectl explain ${field}` },
    );
    expect(out).toContain(text);
  });
});

describe('the invalid corpus', () => {
  it.each(invalidCorpus.map((c, i) => [i, c] as const))(
    'the API server rejects #%d: %s',
    async (index, invalid) => {
      const base = loadExample(invalid.kind);
      let args: string[];
      let manifest: Record<string, unknown>;
      if (invalid.operation === 'create') {
        const named = applyChanges(base, { set: { 'metadata.name': `invalid-${index}` } });
        manifest = applyChanges(named, invalid);
        args = ['create', '--dry-run=server', '-n', namespace, '-f', '-'];
      } else {
        // Update cases change the example object created above, as a user editing it would.
        const plural = descriptorOf(invalid.kind).plural;
        const name = (base.metadata as { name: string }).name;
        const live = JSON.parse(
          await kubectlOrThrow(['get', `${plural}/${name}`, '-n', namespace, '-o', 'json']),
        ) as Record<string, unknown>;
        manifest = applyChanges(live, invalid);
        args = ['replace', '--dry-run=server', '-n', namespace, '-f', '-'];
      }
      const result = await kubectl(args, { input: JSON.stringify(manifest) });
      expect(result.code, `the API server accepted it:\n${result.stdout}`).not.toBe(0);
      expect(result.stderr).toContain(invalid.field);
      if (invalid.message) expect(result.stderr).toContain(invalid.message);
      expect(result.stderr).not.toContain('AlreadyExists');

      // zod agrees: it rejects the same manifest (or the same update), naming the same field.
      const schema = schemaOfKind[invalid.kind];
      const parsed = schema.safeParse(manifest);
      const zodErrors = parsed.success
        ? transitionViolations(schema, schema.parse(base), parsed.data).map(
            (v) => `${v.path}: ${v.message}`,
          )
        : describeZodError(parsed.error).split('\n');
      expect(zodErrors.join('\n')).toContain(invalid.field);
    },
  );
});

describe('zod and the CRD schema agree', () => {
  let api: k8s.CustomObjectsApi;
  // Printed so a failing run can be replayed: LATHE_PROPERTY_SEED=<seed> npm run test:cluster
  const seed = Number(process.env.LATHE_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  beforeAll(() => {
    api = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    console.log(`[property] zod/CRD agreement runs with LATHE_PROPERTY_SEED=${seed}`);
  });

  it.each(allKinds.map((k) => [k.kind, k] as const))(
    'the API server accepts every %s spec zod accepts',
    async (_name, kind) => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(arbitraryOf(kind.spec), async (spec) => {
          const body = {
            apiVersion: kind.apiVersion,
            kind: kind.kind,
            metadata: { name: `prop-${run++}` },
            spec,
          };
          const parsed = kind.schema.safeParse(body);
          expect(parsed.success, parsed.success ? '' : describeZodError(parsed.error)).toBe(true);
          try {
            await api.createNamespacedCustomObject({
              group: kind.group,
              version: kind.version,
              namespace,
              plural: kind.plural,
              body,
              dryRun: 'All',
            });
          } catch (error) {
            const detail = error instanceof k8s.ApiException ? String(error.body) : String(error);
            throw new Error(`the API server rejected what zod accepts: ${detail}`, {
              cause: error,
            });
          }
        }),
        { numRuns: 40, seed },
      );
    },
  );
});
