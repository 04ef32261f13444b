import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crdFileName, customResourceDefinitionOf, openApiSchemaOf, renderCrdYaml } from './crd.js';
import type { StructuralSchema } from './crd-schema.js';
import { allKinds } from './index.js';
import { examplesDir } from './testdata/examples.js';

const crdDir = path.resolve(examplesDir, '../crds');

/**
 * Short names of built-in kinds (kubectl api-resources on 1.33) and of the ML operators a
 * Lathe cluster is likely to run beside (KServe, Kubeflow, Argo, Knative, KEDA, Seldon).
 */
const TAKEN_SHORT_NAMES = [
  'cm',
  'ep',
  'ev',
  'limits',
  'ns',
  'no',
  'pvc',
  'pv',
  'po',
  'rc',
  'quota',
  'sa',
  'svc',
  'crd',
  'crds',
  'ds',
  'deploy',
  'rs',
  'sts',
  'hpa',
  'cj',
  'csr',
  'ing',
  'netpol',
  'pdb',
  'pc',
  'sc',
  'ev',
  'vac',
  'isvc',
  'tm',
  'ig',
  'sr',
  'ksvc',
  'kcfg',
  'rev',
  'route',
  'wf',
  'cwf',
  'wftmpl',
  'so',
  'sj',
  'sdep',
  'tj',
  'mv',
  'job',
  'jobs',
  'pj',
  'tfjob',
  'nb',
];

function visit(
  schema: StructuralSchema,
  at: string,
  each: (s: StructuralSchema, at: string) => void,
) {
  each(schema, at);
  for (const [key, child] of Object.entries(schema.properties ?? {}))
    visit(child, `${at}.${key}`, each);
  if (schema.items) visit(schema.items, `${at}[*]`, each);
  if (schema.additionalProperties) visit(schema.additionalProperties, `${at}.*`, each);
}

describe.each(allKinds.map((k) => [k.kind, k] as const))('the %s CRD', (_name, kind) => {
  it('is checked in as generated (run npm run generate)', () => {
    const checkedIn = readFileSync(path.join(crdDir, crdFileName(kind)), 'utf8');
    expect(checkedIn).toBe(renderCrdYaml(kind));
  });

  it('has a status subresource, the lathe and ml categories and a free short name', () => {
    const crd = customResourceDefinitionOf(kind) as {
      spec: { versions: { subresources: Record<string, unknown> }[] };
    };
    expect(crd.spec.versions[0]?.subresources.status).toEqual({});
    expect(kind.categories).toEqual(['lathe', 'ml']);
    expect(kind.shortNames.length).toBeGreaterThan(0);
    for (const shortName of kind.shortNames) expect(TAKEN_SHORT_NAMES).not.toContain(shortName);
  });

  it('types every node, documents every field and bounds every list', () => {
    visit(openApiSchemaOf(kind), kind.kind, (node, at) => {
      const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true;
      expect(typed, `${at} has no type`).toBe(true);
      if (
        at.split('.').length > 1 &&
        at !== `${kind.kind}.metadata` &&
        !at.endsWith('[*]') &&
        !at.endsWith('.*')
      ) {
        expect(node.description, `${at} has no description`).toBeTruthy();
      }
      if (node.type === 'array' && !at.startsWith(`${kind.kind}.status`)) {
        expect(node.maxItems, `${at} has no maxItems`).toBeDefined();
      }
    });
  });

  it('reports observedGeneration and kstatus conditions keyed by type', () => {
    const status = openApiSchemaOf(kind).properties?.status;
    expect(status?.properties?.observedGeneration?.type).toBe('integer');
    const conditions = status?.properties?.conditions;
    expect(conditions?.['x-kubernetes-list-type']).toBe('map');
    expect(conditions?.['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions?.description).toContain('Ready, Reconciling, Stalled');
    expect(conditions?.items?.required).toEqual([
      'type',
      'status',
      'reason',
      'message',
      'lastTransitionTime',
    ]);
  });
});

describe('InferenceService', () => {
  it('has a scale subresource on spec.replicas.min', () => {
    const isvc = allKinds.find((k) => k.kind === 'InferenceService');
    expect(isvc?.scale).toEqual({
      specReplicasPath: '.spec.replicas.min',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
  });
});

describe('all kinds', () => {
  it('have distinct plural and short names', () => {
    const names = allKinds.flatMap((k) => [k.plural, k.singular, ...k.shortNames]);
    expect(new Set(names).size).toBe(names.length);
  });
});
