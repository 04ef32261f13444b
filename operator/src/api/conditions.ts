/**
 * Status conditions in the shape of `metav1.Condition`, with the kstatus condition types, so
 * `kubectl wait`, Argo CD and Flux read Lathe's status without knowing Lathe.
 *
 * kstatus semantics: `Reconciling=True` while the controller has work to do, `Stalled=True` on
 * an error it cannot fix by retrying, `Ready=True` when the object does what its spec says.
 */
import { z } from 'zod';
import { mapList, timestamp } from './common.js';

/** Condition types every kind reports. */
export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
} as const;

/** The three values a condition's status may take. */
export const ConditionStatusSchema = z
  .enum(['True', 'False', 'Unknown'])
  .describe('Status of the condition: True, False or Unknown.');
export type ConditionStatus = z.infer<typeof ConditionStatusSchema>;

/** The most conditions one object carries; kstatus's three plus a few kind-specific ones. */
export const MAX_CONDITIONS = 16;

/** One condition, as `metav1.Condition` defines it (same names, bounds and patterns). */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
        {
          message: 'must be a CamelCase condition type such as "Ready"',
        },
      )
      .describe(
        'Type of condition in CamelCase: Ready, Reconciling, Stalled, or a kind-specific one.',
      ),
    status: ConditionStatusSchema,
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/, {
        message: 'must be a CamelCase reason such as "DatasetNotReady"',
      })
      .describe(
        'A CamelCase, programmatic reason for the last transition, e.g. DatasetNotReady or InsufficientGPU.',
      ),
    message: z
      .string()
      .max(32768)
      .describe('A human-readable explanation of the reason; quotes the underlying error.'),
    lastTransitionTime: timestamp('When the condition last changed from one status to another.'),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .describe('The metadata.generation the condition was set for.')
      .optional(),
  })
  .describe('One aspect of the current state of the object.');
export type Condition = z.infer<typeof ConditionSchema>;

/** The `status.conditions` list: a map keyed by `type`, as server-side apply expects. */
export function conditionsList(kindSpecific: readonly string[]) {
  const types = [
    ConditionType.Ready,
    ConditionType.Reconciling,
    ConditionType.Stalled,
    ...kindSpecific,
  ];
  return mapList(
    ConditionSchema,
    ['type'],
    { max: MAX_CONDITIONS },
    `Latest observations of the object's state. Types: ${types.join(', ')}.`,
  );
}
