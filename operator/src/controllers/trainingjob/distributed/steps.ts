/**
 * The steps of a distributed TrainingJob (`spec.distributed`), in place of the single-pod run's
 * `run` and `job` steps (`training.ts`); the others (storage, dataset, credentials, progress,
 * registration, ttl) are shared and read the same facts.
 *
 * - `distributedRun` finds the group's current attempt among the children of every backend,
 *   or — before the first — chooses the backend (`choose.ts`); observes the attempt; and decides
 *   what a failed one leads to (`group.ts`): the next attempt, or the TrainingJob's failure.
 * - `workerGroup` applies the attempt the run step asked for (the first, or the next after a
 *   failure: created before the old one is deleted, so a crash in between cannot lose the count),
 *   prunes every other child, and carries `spec.suspend` to the attempt.
 *
 * The backend and the attempt number live on the attempt's top object (labels, and the choice's
 * reason as annotations): a wiped status, an operator restart or an engine installed mid-run
 * change nothing about a run already started.
 */
import { parseResult } from '../../../../../contract/results.js';
import type { DistributedBackendName } from '../../../api/trainingjob.js';
import { controllerReference } from '../../../runtime/apply.js';
import type { ReconcileContext } from '../../../runtime/controller.js';
import type { KubeClient } from '../../../runtime/kube-client.js';
import type { KubeObject } from '../../../runtime/resource.js';
import type { Readiness, Step } from '../../../runtime/steps.js';
import { latheKinds, type TrainingJobObject } from '../../lathe-kinds.js';
import { cachedModelVersionOf } from '../registration.js';
import {
  type DistributedFacts,
  failureReadiness,
  jobReadiness,
  runConditions,
  runFinished,
  suspendedCondition,
  type TrainingFacts,
} from '../status.js';
import { suspensionToPatch, type TrainingJobImages, trainingRunOf } from '../training.js';
import { type DistributedBackend, DistributedLabel, type WorkerGroupRun } from './backend.js';
import {
  type BackendChoice,
  chooseBackend,
  type EngineDiscovery,
  unfitBackends,
} from './choose.js';
import {
  attemptOutcome,
  ChoiceAnnotation,
  latestAttempt,
  workerGroupName,
  workerGroupPlan,
} from './group.js';

type TrainingStep = Step<TrainingJobObject, TrainingFacts>;
type Ctx = ReconcileContext<TrainingJobObject>;

export interface DistributedOptions {
  /** The backends this operator has, by name (the Indexed Job always). */
  backends: readonly DistributedBackend[];
  /** The discovery of the engines (one per operator, cached), over the reconcile's client. */
  discovery(client: KubeClient): EngineDiscovery;
}

interface Found {
  backend: DistributedBackend;
  attempt: number;
  object: KubeObject;
}

/** The newest attempt of `group` among the children of every backend. */
function currentAttempt(
  tj: TrainingJobObject,
  ctx: Ctx,
  backends: readonly DistributedBackend[],
  group: string,
): Found | undefined {
  let found: Found | undefined;
  for (const backend of backends) {
    const tops = ctx
      .childrenOf(backend.topKind, tj)
      .filter((o) => o.metadata?.labels?.[DistributedLabel.backend] === backend.name);
    const latest = latestAttempt(tops, group);
    if (latest && (!found || latest.attempt > found.attempt)) found = { backend, ...latest };
  }
  return found;
}

/** The attempt that succeeded, for a registered run (any spec's group). */
async function succeededAttempt(
  tj: TrainingJobObject,
  ctx: Ctx,
  backends: readonly DistributedBackend[],
): Promise<{ found: Found; run: WorkerGroupRun } | undefined> {
  for (const backend of backends) {
    for (const object of ctx.childrenOf(backend.topKind, tj)) {
      if (object.metadata?.labels?.[DistributedLabel.backend] !== backend.name) continue;
      const run = await backend.observe(ctx, object);
      const attempt = Number(object.metadata?.labels?.[DistributedLabel.attempt] ?? 0);
      if (run.phase === 'Succeeded') return { found: { backend, attempt, object }, run };
    }
  }
  return undefined;
}

/** The choice recorded on an attempt's top object. */
function recordedChoice(found: Found): BackendChoice {
  const annotations = found.object.metadata?.annotations ?? {};
  return {
    backend: found.backend.name,
    reason: annotations[ChoiceAnnotation.reason] ?? 'Started',
    message: annotations[ChoiceAnnotation.message] ?? `The run started on ${found.backend.name}`,
  };
}

const waiting = (readiness: Readiness | undefined) => (readiness ? { readiness } : {});
const failed = (run: WorkerGroupRun) => ('message' in run ? run.message : '');

/** `distributedRun`: the backend, the current attempt and where it stands (see the header). */
export function distributedRunStep(options: DistributedOptions): TrainingStep {
  const implemented = new Set<DistributedBackendName>(options.backends.map((b) => b.name));
  return {
    name: 'run',
    async run(tj, ctx) {
      const spec = tj.spec.distributed;
      if (!spec) throw new Error('distributedRun runs only for spec.distributed');
      const registered = cachedModelVersionOf(tj, ctx);
      const group = workerGroupName(tj);
      const done = registered ? await succeededAttempt(tj, ctx, options.backends) : undefined;
      const found = done?.found ?? currentAttempt(tj, ctx, options.backends, group);
      const choice = found
        ? recordedChoice(found)
        : chooseBackend(
            spec.backend,
            await options.discovery(ctx.client).installed(tj.metadata.namespace ?? ''),
            implemented,
            unfitBackends(tj.spec.model.custom?.command),
          );
      const base: DistributedFacts = {
        backend: choice.backend,
        reason: choice.reason,
        message: choice.message,
        workers: spec.workers,
        attempt: found?.attempt,
        failedWorker: undefined,
        restartNext: undefined,
      };
      if (!choice.backend) {
        const facts = { registered, distributed: base };
        return {
          facts,
          conditions: runConditions(facts),
          readiness: { state: 'stalled', reason: choice.reason, message: choice.message },
          halt: true,
        };
      }
      let run = done?.run ?? (found ? await found.backend.observe(ctx, found.object) : undefined);
      const message =
        run?.phase === 'Succeeded' || run?.phase === 'Failed' ? run.terminationMessage : undefined;
      const result = parseResult('train', message);
      const distributed: DistributedFacts = {
        ...base,
        failedWorker: run?.phase === 'Failed' ? run.failedWorker : undefined,
        engineRestarts: run?.restarts,
      };
      let failure: TrainingFacts['failure'];
      if (run && found && !registered) {
        const outcome = attemptOutcome(run, result, found.attempt, spec.maxRestarts);
        if (outcome.kind === 'restart') {
          distributed.restartNext = outcome.next;
          run = { phase: 'Pending', reason: 'Restarting', message: failed(run) };
        } else if (outcome.kind === 'fail') {
          failure = outcome.failure;
        } else if (run.phase === 'Succeeded' && result?.outcome !== 'succeeded') {
          failure = {
            reason: 'NoResult',
            message:
              'Worker 0 finished without reporting a result (see the runtime contract: contract/results.ts)',
          };
        }
      }
      const facts = {
        registered,
        workload: found?.object,
        run,
        result,
        failure,
        distributed,
        attempts: found ? found.attempt + 1 : undefined,
      };
      const poll = found?.backend.pollWhileActiveMs;
      const active = run === undefined || run.phase === 'Pending' || run.phase === 'Running';
      return {
        facts,
        conditions: runConditions(facts),
        ...(failure ? { readiness: failureReadiness(failure) } : {}),
        ...(poll && active && !registered && !failure ? { requeueAfterMs: poll } : {}),
      };
    },
  };
}

/** `workerGroup`: the attempt the run step asked for, applied; the rest pruned; suspension. */
export function workerGroupStep(
  options: DistributedOptions & { images: TrainingJobImages },
): TrainingStep {
  return {
    name: 'workerGroup',
    async run(tj, ctx, facts) {
      const finished = runFinished(facts) && facts.distributed?.restartNext === undefined;
      const conditions = [suspendedCondition(tj, finished)];
      const d = facts.distributed;
      const backend = options.backends.find((b) => b.name === d?.backend);
      if (facts.registered || !d || !backend) return { conditions };
      const group = workerGroupName(tj);
      const next = d.restartNext ?? (facts.workload ? undefined : 0);
      let workload = facts.workload;
      let attempt = d.attempt;
      if (next !== undefined && facts.storage && facts.dataset && !facts.failure) {
        const plan = workerGroupPlan(
          tj,
          trainingRunOf(tj, facts.storage.config, facts.dataset),
          {
            ...options.images,
            store: facts.storage.config,
            owner: controllerReference(tj, latheKinds.trainingJob.resource),
          },
          next,
          { backend: backend.name, reason: d.reason, message: d.message },
        );
        for (const child of backend.desired(plan)) {
          const applied = await ctx.apply(child.kind, child.object);
          if (child.kind === backend.topKind) workload = applied;
        }
        attempt = next;
        const restarted = next > 0;
        await ctx.events.record(
          tj,
          restarted ? 'Warning' : 'Normal',
          restarted ? 'WorkerGroupRestarted' : 'TrainingStarted',
          'Train',
          restarted
            ? `${d.failedWorker === undefined ? 'A worker' : `Worker ${d.failedWorker}`} failed: restarted all ${d.workers} workers as ${plan.name} (restart ${next} of ${tj.spec.distributed?.maxRestarts})`
            : `Created ${backend.name} ${plan.name} with ${d.workers} workers on dataset version ${facts.dataset.version} (${d.message})`,
        );
      }
      // Everything but the current attempt and what it shares with the next goes: older
      // attempts, older specs' groups, a single-pod run's Job.
      if (workload) {
        const keep = new Map<string, Set<string>>();
        const add = (plural: string, name: string) =>
          keep.set(plural, (keep.get(plural) ?? new Set()).add(name));
        add(backend.topKind.resource.plural, workload.metadata?.name ?? '');
        for (const kept of backend.keptAcrossAttempts({ group }))
          add(kept.kind.resource.plural, kept.name);
        const owned = new Map(
          options.backends.flatMap((b) => b.ownedKinds).map((k) => [k.resource.plural, k]),
        );
        for (const [plural, kind] of owned) {
          const stale = await ctx.prune(kind, tj, keep.get(plural) ?? []);
          if (stale.length > 0)
            ctx.log.info({ deleted: stale }, 'Deleted older worker-group children');
        }
      }
      if (workload && !finished && next === undefined) {
        const suspended = backend.isSuspended(workload);
        if (suspensionToPatch(tj, suspended))
          await backend.setSuspended(ctx, workload, tj.spec.suspend);
      }
      return {
        facts: {
          workload,
          distributed: { ...d, attempt, restartNext: undefined },
          attempts: attempt === undefined ? undefined : attempt + 1,
        },
        conditions,
        ...(next === undefined
          ? waiting(jobReadiness(tj, facts.run, finished))
          : {
              readiness: {
                state: 'progressing' as const,
                reason: next > 0 ? 'Restarting' : 'Creating',
                message:
                  next > 0
                    ? `Restarting all ${d.workers} workers (restart ${next}): ${facts.run?.phase === 'Pending' ? facts.run.message : ''}`
                    : `Creating ${d.workers} workers on ${backend.name}`,
              },
            }),
      };
    },
  };
}
