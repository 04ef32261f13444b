import { describe, expect, it } from 'vitest';
import { DatasetSchema } from '../operator/src/api/dataset.js';
import { InferenceServiceSchema } from '../operator/src/api/inferenceservice.js';
import { ModelVersionSchema } from '../operator/src/api/modelversion.js';
import { RetrainPolicySchema } from '../operator/src/api/retrainpolicy.js';
import { TrainingJobSchema } from '../operator/src/api/trainingjob.js';
import { consoleFleet, type FleetKind, type FleetObject } from './console-fleet.js';

const schemas = {
  dataset: DatasetSchema,
  trainingJob: TrainingJobSchema,
  modelVersion: ModelVersionSchema,
  inferenceService: InferenceServiceSchema,
  retrainPolicy: RetrainPolicySchema,
} satisfies Record<FleetKind, unknown>;

const now = new Date('2026-12-07T12:00:00Z');
const fleet = consoleFleet(1000, ['bench-a', 'bench-b', 'bench-c'], now);
const ofKind = (kind: FleetKind) => fleet.filter((o) => o.kind === kind);
/** The status fields these tests read, of whichever kind. */
interface SeenStatus {
  phase?: string;
  conditions: { type: string; status: string }[];
  modelVersion?: { name: string };
  servedVersions: { modelVersion: string }[];
  drift: { value: number };
  lastPromotion?: {
    decision: string;
    challenger: { modelVersion: string };
    champion: { modelVersion: string };
  };
}
const statusOf = (o: FleetObject) => o.status as unknown as SeenStatus;
const key = (o: FleetObject) => `${o.object.metadata?.namespace}/${o.object.metadata?.name}`;

describe('consoleFleet', () => {
  it('has exactly the objects asked for, of every kind, in every namespace', () => {
    expect(fleet).toHaveLength(1000);
    for (const kind of Object.keys(schemas) as FleetKind[])
      expect(ofKind(kind).length, kind).toBeGreaterThan(30);
    expect(new Set(fleet.map((o) => o.object.metadata?.namespace))).toEqual(
      new Set(['bench-a', 'bench-b', 'bench-c']),
    );
    expect(consoleFleet(7, ['x'], now)).toHaveLength(7);
  });

  it('parses every object, status included, with its kind’s schema', () => {
    for (const o of fleet) {
      const parsed = schemas[o.kind].safeParse({ ...o.object, status: o.status });
      expect(parsed.success, `${o.kind} ${key(o)}: ${parsed.error?.message}`).toBe(true);
    }
  });

  it('names each object once per kind and namespace', () => {
    for (const kind of Object.keys(schemas) as FleetKind[]) {
      const keys = ofKind(kind).map(key);
      expect(new Set(keys).size, kind).toBe(keys.length);
    }
  });

  it('links runs, versions, services and decisions to objects that exist', () => {
    const versions = new Set(ofKind('modelVersion').map(key));
    const ns = (o: FleetObject) => o.object.metadata?.namespace;
    // A model is whole when its policy (its last object) made the cut.
    const modelOf = (o: FleetObject) => o.object.metadata?.labels?.['bench.lathe.dev/model'];
    const wholeModels = new Set(ofKind('retrainPolicy').map(modelOf));
    expect(wholeModels.size).toBeGreaterThan(40);
    const produced = ofKind('trainingJob')
      .filter((tj) => wholeModels.has(modelOf(tj)))
      .map((tj) => statusOf(tj).modelVersion?.name)
      .filter(Boolean);
    expect(produced.length).toBeGreaterThan(100);
    const versionNames = new Set(ofKind('modelVersion').map((o) => o.object.metadata?.name));
    for (const name of produced) expect(versionNames).toContain(name);
    for (const policy of ofKind('retrainPolicy')) {
      const decision = statusOf(policy).lastPromotion;
      if (!decision) continue;
      expect(versions).toContain(`${ns(policy)}/${decision.challenger.modelVersion}`);
      expect(versions).toContain(`${ns(policy)}/${decision.champion.modelVersion}`);
    }
    for (const isvc of ofKind('inferenceService'))
      for (const served of statusOf(isvc).servedVersions)
        expect(versions).toContain(`${ns(isvc)}/${served.modelVersion}`);
  });

  it('puts at most one version of a model in production', () => {
    const production = ofKind('modelVersion')
      .filter((o) => o.object.spec.stage === 'production')
      .map((o) => `${o.object.metadata?.namespace}/${o.object.spec.modelName}`);
    expect(production.length).toBeGreaterThan(10);
    expect(new Set(production).size).toBe(production.length);
  });

  it('has things that need attention: failed runs, a stalled dataset, drift, a degraded service, a rejected challenger', () => {
    const ready = (o: FleetObject) =>
      statusOf(o).conditions.find((c) => c.type === 'Ready')?.status;
    expect(
      ofKind('trainingJob').filter((o) => statusOf(o).phase === 'Failed').length,
    ).toBeGreaterThan(0);
    expect(
      ofKind('trainingJob').filter((o) => statusOf(o).phase === 'Running').length,
    ).toBeGreaterThan(0);
    expect(ofKind('dataset').filter((o) => ready(o) === 'False').length).toBeGreaterThan(0);
    expect(ofKind('inferenceService').filter((o) => ready(o) === 'False').length).toBeGreaterThan(
      0,
    );
    expect(
      ofKind('inferenceService').filter((o) => statusOf(o).drift.value > 0.2).length,
    ).toBeGreaterThan(0);
    const decisions = ofKind('retrainPolicy').map((o) => statusOf(o).lastPromotion?.decision);
    expect(decisions).toContain('Promoted');
    expect(decisions).toContain('Rejected');
  });

  it('refuses a fleet of no object or no namespace', () => {
    expect(() => consoleFleet(0, ['x'], now)).toThrow('total must be a positive integer, not 0');
    expect(() => consoleFleet(5, [], now)).toThrow('namespaces must name at least one namespace');
  });
});
