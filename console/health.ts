/**
 * One word for how an object is doing, derived — never stored — from what its status already
 * says: the kstatus conditions every Lathe kind reports (`Stalled`, `Reconciling`, `Ready`),
 * the kind's own failure fields (a TrainingJob's or BatchPrediction's `Failed` phase, a
 * Dataset's failed ingestion), and the readings a RetrainPolicy acts on (drift above its
 * threshold, live accuracy below its minimum). The same rules as kstatus's `Compute` (Argo CD
 * and Flux health), plus those Lathe-specific ones. Pure.
 *
 * Levels, worst first: `failed` (a run ended in failure), `stalled` (an error retrying will not
 * fix), `drifting` (inputs moved away from the training data), `degraded` (not ready, and not
 * working on it), `progressing`, `healthy`, `unknown` (no status yet). The first four are what
 * the Home page lists under "needs attention".
 */
import type { Condition } from '../operator/src/api/conditions.js';
import type { RetrainPolicyObject } from '../operator/src/controllers/lathe-kinds.js';
import type { ConsoleObjects, KindKey } from './kinds.js';

export const healthLevels = [
  'failed',
  'stalled',
  'drifting',
  'degraded',
  'progressing',
  'healthy',
  'unknown',
] as const;
export type HealthLevel = (typeof healthLevels)[number];

/** An object's health and why. */
export interface Health {
  level: HealthLevel;
  /** CamelCase, from the condition or field it was read from. */
  reason: string;
  message: string;
}

/** Whether `level` belongs under "needs attention". */
export function needsAttention(level: HealthLevel): boolean {
  return level === 'failed' || level === 'stalled' || level === 'drifting' || level === 'degraded';
}

/** Finds the RetrainPolicy a drift reading names (its threshold decides "drifting"). */
export type PolicyLookup = (namespace: string, name: string) => RetrainPolicyObject | undefined;

type AnyObject = ConsoleObjects[KindKey];

/** The health of `obj`, an object of `kind`. */
export function healthOf<K extends KindKey>(
  kind: K,
  obj: ConsoleObjects[K],
  policy: PolicyLookup = () => undefined,
): Health {
  const o = obj as AnyObject;
  const conditions = (o.status?.conditions ?? []) as readonly Condition[];
  const condition = (type: string) => conditions.find((c) => c.type === type);
  const stalled = condition('Stalled');
  if (stalled?.status === 'True') return fromCondition('stalled', stalled);
  const failure = kindFailure(kind, o, condition);
  if (failure) return failure;
  const drift = kindDrift(kind, o, policy);
  if (drift) return drift;
  if (!o.status) return { level: 'unknown', reason: 'NoStatus', message: 'No status yet.' };
  const generation = o.metadata.generation;
  const observed = o.status.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed < generation) {
    return {
      level: 'progressing',
      reason: 'NotObserved',
      message: `Generation ${generation} is not yet observed (status is of ${observed}).`,
    };
  }
  const reconciling = condition('Reconciling');
  if (reconciling?.status === 'True') return fromCondition('progressing', reconciling);
  const running = kindRunning(kind, o);
  if (running) return running;
  const ready = condition('Ready');
  if (ready?.status === 'True') return fromCondition('healthy', ready);
  if (ready) return fromCondition('degraded', ready);
  return { level: 'unknown', reason: 'NoReadyCondition', message: 'No Ready condition yet.' };
}

function fromCondition(level: HealthLevel, c: Condition): Health {
  return { level, reason: c.reason, message: c.message };
}

function kindFailure(
  kind: KindKey,
  o: AnyObject,
  condition: (type: string) => Condition | undefined,
): Health | undefined {
  if (kind === 'trainingJob' || kind === 'batchPrediction') {
    const status = o.status as { phase?: string; failure?: { reason: string; message: string } };
    if (status?.phase !== 'Failed') return undefined;
    const failed = condition('Failed') ?? condition('Complete') ?? condition('Ready');
    return {
      level: 'failed',
      reason: status.failure?.reason ?? failed?.reason ?? 'Failed',
      message: status.failure?.message ?? failed?.message ?? 'The run failed.',
    };
  }
  if (kind === 'dataset') {
    const run = (o as ConsoleObjects['dataset']).status?.lastIngestion;
    if (run?.phase !== 'Failed') return undefined;
    return {
      level: 'failed',
      reason: run.reason ?? 'IngestionFailed',
      message: run.message ?? `Ingestion run ${run.jobName} failed.`,
    };
  }
  return undefined;
}

function kindDrift(kind: KindKey, o: AnyObject, policy: PolicyLookup): Health | undefined {
  if (kind === 'retrainPolicy') {
    const p = o as RetrainPolicyObject;
    const drift = p.status?.lastDrift;
    const threshold = p.spec.triggers.drift?.threshold;
    if (drift && threshold !== undefined && drift.value > threshold) {
      return driftHealth(drift.value, threshold, drift.feature, p.spec.triggers.drift?.metric);
    }
    const accuracy = p.status?.lastAccuracy;
    const minimum = p.spec.triggers.accuracy?.minimum;
    if (accuracy && minimum !== undefined && accuracy.value < minimum) {
      return {
        level: 'degraded',
        reason: 'AccuracyBelowMinimum',
        message: `Live accuracy ${accuracy.value} on ${accuracy.samples} labelled rows is below the minimum ${minimum}.`,
      };
    }
    return undefined;
  }
  if (kind === 'inferenceService') {
    const isvc = o as ConsoleObjects['inferenceService'];
    const drift = isvc.status?.drift;
    if (!drift) return undefined;
    const measuredBy = policy(isvc.metadata.namespace ?? '', drift.retrainPolicy);
    const threshold = measuredBy?.spec.triggers.drift?.threshold;
    if (threshold === undefined || drift.value <= threshold) return undefined;
    return driftHealth(drift.value, threshold, drift.feature, drift.metric);
  }
  return undefined;
}

function driftHealth(value: number, threshold: number, feature?: string, metric = 'psi'): Health {
  return {
    level: 'drifting',
    reason: 'DriftAboveThreshold',
    message: `Drift ${metric} ${value}${feature ? ` (feature ${feature})` : ''} is above the threshold ${threshold}.`,
  };
}

function kindRunning(kind: KindKey, o: AnyObject): Health | undefined {
  if (kind !== 'trainingJob' && kind !== 'batchPrediction') return undefined;
  const phase = (o.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Pending' || phase === 'Running') {
    return { level: 'progressing', reason: phase, message: `The run is ${phase.toLowerCase()}.` };
  }
  if (phase === 'Succeeded')
    return { level: 'healthy', reason: 'Succeeded', message: 'The run succeeded.' };
  return undefined;
}
