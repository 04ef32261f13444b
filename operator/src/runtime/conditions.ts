/**
 * Status conditions, as the Kubernetes API conventions and kstatus define them.
 *
 * kstatus (what `kubectl wait`, Argo CD and Flux read) looks at three types: `Ready`,
 * `Reconciling` (present and True while work is pending) and `Stalled` (True on an error that
 * will not fix itself). Kind-specific conditions (`Validated`, `ArtifactVerified`, ...) sit
 * beside them. All functions here are pure: the clock is passed in, the input is never changed.
 */

import { type Condition, ConditionType } from '../api/conditions.js';

export type { Condition, ConditionStatus } from '../api/conditions.js';

/** A condition as a controller computes it; `setCondition` supplies the transition time. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export { ConditionType };

/** Kubernetes' limit on a condition message. */
const maxMessageLength = 32_768;
const reasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** RFC 3339 at second precision, as `metav1.Time` serialises. */
export function timestamp(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Returns `conditions` with `input` set: added, or replacing the condition of the same type.
 * `lastTransitionTime` is kept when the status did not change, and set to `now` when it did
 * (or the condition is new). Order is kept; a new type is appended.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date,
): Condition[] {
  if (!reasonPattern.test(input.reason)) {
    throw new Error(`Condition ${input.type} has reason "${input.reason}", which is not CamelCase`);
  }
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message:
      input.message.length > maxMessageLength
        ? `${input.message.slice(0, maxMessageLength - 3)}...`
        : input.message,
    lastTransitionTime:
      existing && existing.status === input.status ? existing.lastTransitionTime : timestamp(now),
    ...(input.observedGeneration !== undefined
      ? { observedGeneration: input.observedGeneration }
      : {}),
  };
  if (!existing) return [...list.map((c) => ({ ...c })), next];
  return list.map((c) => (c.type === input.type ? next : { ...c }));
}

/** Sets several conditions in order. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>(
    (acc, input) => setCondition(acc, input, now),
    [...(conditions ?? [])],
  );
}

export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type).map((c) => ({ ...c }));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** `Ready`: True when the object is in the state its spec asks for. */
export function readyCondition(
  ready: boolean,
  reason: string,
  message: string,
  observedGeneration?: number,
): ConditionInput {
  return {
    type: ConditionType.Ready,
    status: ready ? 'True' : 'False',
    reason,
    message,
    observedGeneration,
  };
}

/** `Reconciling=True`: work is in progress towards the spec. */
export function reconcilingCondition(
  reason: string,
  message: string,
  observedGeneration?: number,
): ConditionInput {
  return { type: ConditionType.Reconciling, status: 'True', reason, message, observedGeneration };
}

/** `Stalled=True`: a terminal error; nothing will change until the spec does. */
export function stalledCondition(
  reason: string,
  message: string,
  observedGeneration?: number,
): ConditionInput {
  return { type: ConditionType.Stalled, status: 'True', reason, message, observedGeneration };
}

/** Where an object stands, as kstatus sees it: the input of `setKstatus`. */
export interface Readiness {
  state: 'ready' | 'progressing' | 'stalled';
  reason: string;
  message: string;
}

/**
 * The kstatus triple for one of three outcomes, applied on top of `conditions`:
 * - `ready`: Ready=True, Reconciling and Stalled removed;
 * - `progressing`: Ready=False and Reconciling=True with the given reason, Stalled removed;
 * - `stalled`: Ready=False and Stalled=True with the given reason, Reconciling removed.
 * kstatus reads an absent Reconciling/Stalled as False, which is the convention for
 * "abnormal-true" conditions.
 */
export function setKstatus(
  conditions: readonly Condition[] | undefined,
  outcome: Readiness,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const { state, reason, message } = outcome;
  switch (state) {
    case 'ready':
      return removeCondition(
        removeCondition(
          setCondition(conditions, readyCondition(true, reason, message, observedGeneration), now),
          'Reconciling',
        ),
        'Stalled',
      );
    case 'progressing':
      return removeCondition(
        setConditions(
          conditions,
          [
            readyCondition(false, reason, message, observedGeneration),
            reconcilingCondition(reason, message, observedGeneration),
          ],
          now,
        ),
        'Stalled',
      );
    case 'stalled':
      return removeCondition(
        setConditions(
          conditions,
          [
            readyCondition(false, reason, message, observedGeneration),
            stalledCondition(reason, message, observedGeneration),
          ],
          now,
        ),
        'Reconciling',
      );
  }
}
