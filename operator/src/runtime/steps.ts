/**
 * A controller as a list of ordered steps, in the manner of KServe's raw-deployment
 * sub-reconcilers: each step owns one child kind or one concern, reads the caches, applies what
 * it owns, and returns its part of the status — it never writes status itself. The runner runs
 * the steps in order, stops at the first error (or at a step that says the rest cannot run
 * yet), merges the parts and writes the status once, on every path:
 *
 * - success: the status the controller's pure `status` builder makes of what the steps found,
 *   with the kstatus triple of the worst readiness a step reported (`Ready=True` when none
 *   reported anything);
 * - transient error: `Ready=False`, `Reconciling=True` with the error as message; the status
 *   fields the steps before it computed are written, the others keep their last value;
 * - terminal error (`TerminalError`, an API 422), or a step that reports `stalled` readiness:
 *   `Ready=False`, `Stalled=True` with its reason.
 * Then the error is rethrown (a stalled readiness becomes a `TerminalError`), so the runtime retries it with backoff (or, terminal, waits for
 * a change) and records the Warning event, as for any reconcile.
 *
 * The steps pass what they found to later steps and to the status builder as typed facts
 * (`F`): a step reads the facts of the steps before it and returns its own. Facts are rebuilt
 * on every pass from what exists (children, their labels, the object store), never read back
 * from the object's previous status, so wiping the status changes nothing that matters.
 */
import {
  type Condition,
  type ConditionInput,
  type Readiness,
  setConditions,
  setKstatus,
} from './conditions.js';
import {
  type ControllerDefinition,
  defineController,
  done,
  isTerminalError,
  type ReconcileContext,
  type Result,
  reasonOf,
  requeueAfter,
  TerminalError,
} from './controller.js';
import type { KubeObject } from './resource.js';

export type { Readiness };

/** What one step found and wants. */
export interface StepPart<F> {
  /** Facts for later steps and the status builder. */
  facts?: Partial<F>;
  /** Kind-specific conditions (`Validated`, `Trained`, …); kstatus's three are the runner's. */
  conditions?: Omit<ConditionInput, 'observedGeneration'>[];
  /** This step's verdict; the worst of all steps wins (stalled, then progressing, then ready). */
  readiness?: Readiness;
  /** Look again after this long (the shortest of all steps' wins). */
  requeueAfterMs?: number;
  /** The later steps cannot run yet (waiting for a dependency): stop here; not an error. */
  halt?: boolean;
}

export interface Step<T extends KubeObject, F> {
  /** Short, for logs and the error message: `deployments`. */
  name: string;
  run(
    obj: T,
    ctx: ReconcileContext<T>,
    facts: Readonly<Partial<F>>,
  ): Promise<StepPart<F> | undefined>;
}

export interface StepControllerDefinition<T extends KubeObject, F>
  extends Omit<ControllerDefinition<T>, 'reconcile'> {
  steps: readonly Step<T, F>[];
  /**
   * Pure: the status fields (all but `conditions` and `observedGeneration`) from the facts the
   * steps that ran found. A field left undefined is not written on an error path, so it keeps
   * its last value; on success it is removed.
   */
  status(obj: T, facts: Readonly<Partial<F>>, now: Date): Record<string, unknown>;
  /** The `Ready=True` reason and message when no step reported another readiness. */
  ready(obj: T, facts: Readonly<Partial<F>>): { reason: string; message: string };
  /** Called after the status is written (on every path): events on a transition. */
  afterStatus?(
    obj: T,
    before: Record<string, unknown> | undefined,
    after: Record<string, unknown>,
    ctx: ReconcileContext<T>,
  ): Promise<void>;
}

/** What the runner collected from the steps that ran. */
export interface StepsOutcome<F> {
  facts: Partial<F>;
  conditions: Omit<ConditionInput, 'observedGeneration'>[];
  readiness: Readiness | undefined;
  requeueAfterMs: number | undefined;
  /** The step that failed and its error, if one did. */
  failure?: { step: string; error: unknown };
}

const severity = { ready: 0, progressing: 1, stalled: 2 } as const;

/** Merges a step's part into what the steps before it collected. Pure. */
export function mergeStepPart<F>(
  acc: StepsOutcome<F>,
  part: StepPart<F> | undefined,
): StepsOutcome<F> {
  if (!part) return acc;
  const worse =
    part.readiness &&
    (!acc.readiness || severity[part.readiness.state] > severity[acc.readiness.state]);
  const requeues = [acc.requeueAfterMs, part.requeueAfterMs].filter(
    (ms): ms is number => ms !== undefined,
  );
  return {
    facts: { ...acc.facts, ...part.facts },
    conditions: [...acc.conditions, ...(part.conditions ?? [])],
    readiness: worse ? part.readiness : acc.readiness,
    requeueAfterMs: requeues.length > 0 ? Math.min(...requeues) : undefined,
  };
}

/** The readiness an error gives: terminal ones stall, the rest are retried. Pure. */
export function readinessOfError(error: unknown): Readiness {
  const terminal = isTerminalError(error);
  return {
    state: terminal ? 'stalled' : 'progressing',
    reason: reasonOf(error, terminal),
    message: (error as Error)?.message ?? String(error),
  };
}

/**
 * The status to write, from the object, what the steps found and the builder's fields. Pure.
 * On an error path the fields the builder left undefined keep their last value.
 */
export function composeStatus<T extends KubeObject, F>(
  obj: T,
  outcome: StepsOutcome<F>,
  fields: Record<string, unknown>,
  ready: { reason: string; message: string },
  now: Date,
): Record<string, unknown> {
  const generation = obj.metadata?.generation;
  const previous = (obj.status ?? {}) as Record<string, unknown>;
  const readiness: Readiness = outcome.failure
    ? readinessOfError(outcome.failure.error)
    : (outcome.readiness ?? { state: 'ready', ...ready });
  const kindSpecific = setConditions(
    previous.conditions as Condition[] | undefined,
    outcome.conditions.map((c) => ({ ...c, observedGeneration: generation })),
    now,
  );
  const conditions = setKstatus(kindSpecific, readiness, generation, now);
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const base = outcome.failure
    ? Object.fromEntries(
        Object.entries(previous).filter(([k]) => k !== 'conditions' && k !== 'observedGeneration'),
      )
    : {};
  return { ...base, ...defined, observedGeneration: generation, conditions };
}

/**
 * Declares a controller made of ordered steps (see the module header). Everything else —
 * watches, ownership, finalizer, permissions — is declared as for `defineController`.
 */
export function defineStepController<T extends KubeObject, F>(
  definition: StepControllerDefinition<T, F>,
): ControllerDefinition<KubeObject> {
  const { steps, status, ready, afterStatus, ...rest } = definition;
  return defineController<T>({
    ...rest,
    async reconcile(obj: T, ctx: ReconcileContext<T>): Promise<Result> {
      let outcome: StepsOutcome<F> = {
        facts: {},
        conditions: [],
        readiness: undefined,
        requeueAfterMs: undefined,
      };
      for (const step of steps) {
        let part: StepPart<F> | undefined;
        try {
          part = await step.run(obj, ctx, outcome.facts);
        } catch (error) {
          outcome = { ...outcome, failure: { step: step.name, error } };
          break;
        }
        outcome = mergeStepPart(outcome, part);
        if (part?.halt) break;
      }
      const now = ctx.now();
      const fields = status(obj, outcome.facts, now);
      const next = composeStatus(obj, outcome, fields, ready(obj, outcome.facts), now);
      const before = obj.status as Record<string, unknown> | undefined;
      try {
        await ctx.patchStatus(obj, next);
        if (afterStatus) await afterStatus(obj, before, next, ctx);
      } catch (error) {
        // The step's error is the one worth reporting; a failed status write after it is logged.
        if (!outcome.failure) throw error;
        ctx.log.warn({ err: error }, 'Failed to write the status of a failed reconcile');
      }
      if (outcome.failure) {
        ctx.log.debug({ step: outcome.failure.step }, 'A reconcile step failed');
        throw outcome.failure.error;
      }
      if (outcome.readiness?.state === 'stalled') {
        // A step found what retrying cannot fix: terminal, as if it had thrown it.
        throw new TerminalError(outcome.readiness.message, { reason: outcome.readiness.reason });
      }
      return outcome.requeueAfterMs !== undefined ? requeueAfter(outcome.requeueAfterMs) : done();
    },
  });
}
