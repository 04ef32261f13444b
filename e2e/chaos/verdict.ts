/**
 * What a chaos run is judged by, pure: the world as listed after the faults in, a verdict out.
 *
 * - Convergence, as kstatus (sigs.k8s.io/cli-utils) computes it for a custom resource: `Current`
 *   when the status has observed the object's generation and `Ready=True` (a TrainingJob, a
 *   run-to-completion kind like a Job, when `Succeeded=True`); `Failed` when `Stalled=True` or a
 *   TrainingJob's `Failed=True`; otherwise `InProgress`. Every object of the run must be Current:
 *   nothing in the workload should fail, so a Failed one is a finding, not an accepted end.
 * - Exactly once, from what exists (the children and their labels, the store's listing), never
 *   from the operator's own status: one Job per TrainingJob (one training spec), at most one
 *   succeeded ingestion per Dataset and no two Jobs for one run decision (generation, trigger,
 *   attempt, request), one ModelVersion per TrainingJob run (by its UID label) and one for each
 *   that succeeded, one data version per Dataset (all read the same unchanging file), at most
 *   one `ArtifactVerified` event per ModelVersion (events are best-effort, so none is allowed:
 *   a replica killed between its status write and its event records none).
 * - No lost write: what the store checks found (passed in: artifacts that no longer verify,
 *   dataset versions whose manifest names a missing or changed object).
 */

export interface ObservedCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ObservedObject {
  kind: string;
  metadata: {
    name: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
  };
  status?: { observedGeneration?: number; conditions?: ObservedCondition[] };
}

export interface ObservedJob {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[] };
}

export type Convergence = { state: 'Current' } | { state: 'InProgress' | 'Failed'; reason: string };

const conditionOf = (object: ObservedObject, type: string) =>
  object.status?.conditions?.find((c) => c.type === type);

const describe = (c: ObservedCondition | undefined, type: string) =>
  c ? `${type}=${c.status} ${c.reason ?? ''}: ${c.message ?? ''}`.trim() : `no ${type} condition`;

/** kstatus of one object (see the module header). */
export function convergenceOf(object: ObservedObject): Convergence {
  const generation = object.metadata.generation;
  const observed = object.status?.observedGeneration;
  if (observed === undefined || (generation !== undefined && observed < generation))
    return {
      state: 'InProgress',
      reason: `status observed generation ${observed ?? 'none'} of ${generation ?? '?'}`,
    };
  const stalled = conditionOf(object, 'Stalled');
  if (stalled?.status === 'True') return { state: 'Failed', reason: describe(stalled, 'Stalled') };
  if (object.kind === 'TrainingJob') {
    const failed = conditionOf(object, 'Failed');
    if (failed?.status === 'True') return { state: 'Failed', reason: describe(failed, 'Failed') };
    const succeeded = conditionOf(object, 'Succeeded');
    return succeeded?.status === 'True'
      ? { state: 'Current' }
      : { state: 'InProgress', reason: describe(succeeded, 'Succeeded') };
  }
  const ready = conditionOf(object, 'Ready');
  return ready?.status === 'True'
    ? { state: 'Current' }
    : { state: 'InProgress', reason: describe(ready, 'Ready') };
}

/** Objects of the run not yet Current, with why; empty once the run has converged. */
export function notConverged(
  objects: readonly ObservedObject[],
): { object: string; state: string; reason: string }[] {
  return objects.flatMap((object) => {
    const c = convergenceOf(object);
    return c.state === 'Current'
      ? []
      : [{ object: `${object.kind}/${object.metadata.name}`, state: c.state, reason: c.reason }];
  });
}

/** Labels and annotations the checks read (Lathe's, restated: the test must not trust them blindly). */
export const Marks = {
  trainingJob: 'lathe.dev/trainingjob',
  dataset: 'lathe.dev/dataset',
  trainingJobUid: 'lathe.dev/trainingjob-uid',
  runKey: [
    'lathe.dev/generation',
    'lathe.dev/trigger',
    'lathe.dev/attempt',
    'lathe.dev/refresh-request',
  ],
} as const;

export interface World {
  objects: readonly ObservedObject[];
  jobs: readonly ObservedJob[];
  /** Every ModelVersion in the namespace, the ones the TrainingJobs registered included. */
  modelVersions: readonly ObservedObject[];
  /** Data versions found in the store, by Dataset name. */
  dataVersions: ReadonlyMap<string, readonly string[]>;
  /** `ArtifactVerified` events, by ModelVersion name. */
  verifiedEvents: ReadonlyMap<string, number>;
  /** What the store checks found wrong (artifact or dataset version, and why). */
  lostWrites: readonly string[];
}

export interface Verdict {
  violations: string[];
  counts: {
    jobs: number;
    registeredModelVersions: number;
    dataVersions: number;
    verifiedEvents: number;
  };
}

const succeededJob = (job: ObservedJob) =>
  job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;

function groupBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

const names = (items: readonly { metadata: { name: string } }[]) =>
  items.map((i) => i.metadata.name).join(', ');

/** Every duplicate and every loss the world shows (see the module header). */
export function judge(world: World): Verdict {
  const violations: string[] = [];
  const jobsOf = (mark: string) => groupBy(world.jobs, (j) => j.metadata.labels?.[mark]);

  for (const [tj, jobs] of jobsOf(Marks.trainingJob))
    if (jobs.length > 1)
      violations.push(`TrainingJob ${tj} has ${jobs.length} Jobs: ${names(jobs)}`);

  for (const [dataset, jobs] of jobsOf(Marks.dataset)) {
    const succeeded = jobs.filter(succeededJob);
    if (succeeded.length > 1)
      violations.push(`Dataset ${dataset} ingested ${succeeded.length} times: ${names(succeeded)}`);
    const byRun = groupBy(jobs, (j) =>
      Marks.runKey.map((a) => j.metadata.annotations?.[a] ?? '').join('/'),
    );
    for (const [run, same] of byRun)
      if (same.length > 1)
        violations.push(`Dataset ${dataset} run ${run} has ${same.length} Jobs: ${names(same)}`);
  }

  const registered = groupBy(
    world.modelVersions,
    (mv) => mv.metadata.labels?.[Marks.trainingJobUid],
  );
  for (const tj of world.objects.filter((o) => o.kind === 'TrainingJob')) {
    const versions = registered.get(tj.metadata.uid ?? '') ?? [];
    if (versions.length > 1)
      violations.push(
        `TrainingJob ${tj.metadata.name} registered ${versions.length} ModelVersions: ${names(versions)}`,
      );
    if (versions.length === 0 && convergenceOf(tj).state === 'Current')
      violations.push(
        `TrainingJob ${tj.metadata.name} succeeded but no ModelVersion carries its UID`,
      );
  }

  for (const dataset of world.objects.filter((o) => o.kind === 'Dataset')) {
    const versions = world.dataVersions.get(dataset.metadata.name) ?? [];
    if (versions.length > 1)
      violations.push(
        `Dataset ${dataset.metadata.name} has ${versions.length} data versions of one file: ${versions.join(', ')}`,
      );
    if (versions.length === 0 && convergenceOf(dataset).state === 'Current')
      violations.push(
        `Dataset ${dataset.metadata.name} is Ready but has no data version in the store`,
      );
  }

  for (const [mv, count] of world.verifiedEvents)
    if (count > 1)
      violations.push(`ModelVersion ${mv} was verified ${count} times (ArtifactVerified events)`);

  violations.push(...world.lostWrites.map((w) => `lost write: ${w}`));
  return {
    violations,
    counts: {
      jobs: world.jobs.length,
      registeredModelVersions: world.modelVersions.filter(
        (mv) => mv.metadata.labels?.[Marks.trainingJobUid],
      ).length,
      dataVersions: [...world.dataVersions.values()].reduce((n, v) => n + v.length, 0),
      verifiedEvents: [...world.verifiedEvents.values()].reduce((n, v) => n + v, 0),
    },
  };
}
